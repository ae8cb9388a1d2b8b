/**
 * Bounded selection of the best k items: a min-heap of size k whose root is the worst kept item, so each of n
 * offers costs O(1) when it loses and O(log k) when it wins — never a sort of everything.
 */

/** Best first: higher score, then smaller id (a deterministic tie-break, so equal scores never flap). */
export function better(aScore: number, aId: string, bScore: number, bId: string): boolean {
  return aScore > bScore || (aScore === bScore && aId < bId);
}

export interface Scored {
  id: string;
  score: number;
}

/** Keeps the k best `Scored` items by (score desc, id asc). */
export class TopK<T extends Scored> {
  private readonly heap: T[] = [];

  constructor(readonly k: number) {}

  get size(): number {
    return this.heap.length;
  }

  /** Would an item with this score and id be kept? (Lets callers skip building the item.) */
  accepts(score: number, id: string): boolean {
    if (this.heap.length < this.k) return this.k > 0;
    const root = this.heap[0]!;
    return better(score, id, root.score, root.id);
  }

  offer(item: T): void {
    const h = this.heap;
    if (h.length < this.k) {
      h.push(item);
      this.up(h.length - 1);
    } else if (this.k > 0 && better(item.score, item.id, h[0]!.score, h[0]!.id)) {
      h[0] = item;
      this.down(0);
    }
  }

  /** The kept items, best first. Leaves the heap empty. */
  drain(): T[] {
    return this.heap.splice(0).sort((a, b) => (better(a.score, a.id, b.score, b.id) ? -1 : 1));
  }

  private up(i: number): void {
    const h = this.heap;
    const item = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      // The root is the worst: move up while the item is worse than its parent.
      if (!better(parent.score, parent.id, item.score, item.id)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const item = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && better(h[c]!.score, h[c]!.id, h[r]!.score, h[r]!.id)) c = r;
      const child = h[c]!;
      if (!better(item.score, item.id, child.score, child.id)) break;
      h[i] = child;
      i = c;
    }
    h[i] = item;
  }
}
