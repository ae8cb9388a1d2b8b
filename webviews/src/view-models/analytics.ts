/**
 * The Analytics page's view model: a squarified treemap of topic clusters (area ∝ size) and the hour × weekday
 * heatmap's shading. Layout only: every count shown is the server's.
 */
import type { ClusteringInfo, CrewSummary } from '../../../protocol';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Tile<T> extends Rect {
  item: T;
}

/**
 * Squarified treemap (Bruls, Huizing, van Wijk): items laid out row by row along the shorter side, each row kept
 * while adding an item does not worsen its worst aspect ratio. Items with no weight get no tile. Largest first.
 */
export function treemap<T>(items: readonly T[], weight: (t: T) => number, box: Rect): Tile<T>[] {
  const sorted = items.filter((t) => weight(t) > 0).sort((a, b) => weight(b) - weight(a));
  const total = sorted.reduce((s, t) => s + weight(t), 0);
  if (!sorted.length || box.w <= 0 || box.h <= 0) return [];
  const scale = (box.w * box.h) / total;
  const areas = sorted.map((t) => ({ item: t, area: weight(t) * scale }));
  const out: Tile<T>[] = [];
  let free = { ...box };
  let row: typeof areas = [];

  const worst = (r: typeof areas, side: number) => {
    const sum = r.reduce((s, a) => s + a.area, 0);
    let max = 0;
    for (const a of r) {
      const ratio = Math.max((side * side * a.area) / (sum * sum), (sum * sum) / (side * side * a.area));
      max = Math.max(max, ratio);
    }
    return max;
  };
  const place = (r: typeof areas) => {
    const sum = r.reduce((s, a) => s + a.area, 0);
    if (free.w >= free.h) {
      // A column on the left, as wide as the row's area needs.
      const w = sum / free.h;
      let y = free.y;
      for (const a of r) {
        const h = a.area / w;
        out.push({ item: a.item, x: free.x, y, w, h });
        y += h;
      }
      free = { x: free.x + w, y: free.y, w: free.w - w, h: free.h };
    } else {
      const h = sum / free.w;
      let x = free.x;
      for (const a of r) {
        const w = a.area / h;
        out.push({ item: a.item, x, y: free.y, w, h });
        x += w;
      }
      free = { x: free.x, y: free.y + h, w: free.w, h: free.h - h };
    }
  };

  for (const a of areas) {
    const side = Math.min(free.w, free.h);
    if (row.length === 0 || worst([...row, a], side) <= worst(row, side)) row.push(a);
    else {
      place(row);
      row = [a];
    }
  }
  if (row.length) place(row);
  return out;
}

/** The crews analytics knows, by name; the saved choice if it is still one of them, else the first. */
export function chooseCrew(crews: readonly string[], saved: string | undefined): string | undefined {
  return saved !== undefined && crews.includes(saved) ? saved : crews[0];
}

export interface HeatCell {
  weekday: number;
  hour: number;
  count: number;
  /** Shade, 0 … 1 of the busiest cell (0 for none). */
  level: number;
}

/** 7 × 24 cells (Sunday first, as the server sends them); null when the server has no hour × weekday figures. */
export function heatmap(summary: CrewSummary): HeatCell[] | null {
  const m = summary.byWeekdayHour;
  if (!m || m.length !== 7) return null;
  const max = Math.max(0, ...m.flat());
  return m.flatMap((row, weekday) =>
    row.map((count, hour) => ({ weekday, hour, count, level: max > 0 ? count / max : 0 })),
  );
}

/** Clusters as treemap items: label, size and their strongest terms. */
export function topicItems(c: ClusteringInfo): { id: number; label: string; size: number; terms: string[] }[] {
  return c.clusters.map((k) => ({
    id: k.id,
    label: k.label,
    size: k.size,
    terms: k.terms.slice(0, 5).map((t) => t.term),
  }));
}
