/**
 * Memory Browser: crew → kind → memories (newest first, 200 per kind shown). A memory opens as a read-only
 * document; importance, tags and delete are in its context menu. Refreshed on `memory/changed`.
 */
import * as vscode from 'vscode';
import type { AnalyticsSummary, Memory, MemoryKind, MemoryList } from '../../protocol';
import { memoryLabel, memoryTooltip } from '../model/memories';
import { collapsed, Row, ServerTree, setContext } from './tree';

const PAGE = 200;
const KIND_ICONS: Record<MemoryKind, string> = {
  fact: 'symbol-constant',
  insight: 'lightbulb',
  lesson: 'mortar-board',
  result: 'check-all',
  note: 'note',
};

export type MemoryRow =
  | Row<'memoryCrew', { crew: string; byKind: Record<MemoryKind, number> }>
  | Row<'memoryKind', { crew: string; kind: MemoryKind; count: number }>
  | Row<'memory', Memory>
  | Row<'more', { crew: string; kind: MemoryKind; shown: number; total: number }>;

export class MemoryView extends ServerTree<MemoryRow> {
  protected async roots(): Promise<MemoryRow[]> {
    const summary = await this.server.request<AnalyticsSummary.Result>('analytics/summary', { days: 1 });
    const crews = summary.crews.filter((c) => c.total > 0);
    void setContext('hasMemories', crews.length > 0);
    return crews.map((c) => {
      const r = new Row('memoryCrew', { crew: c.crew, byKind: c.byKind }, c.crew, collapsed) as MemoryRow;
      r.id = `memcrew:${c.crew}`;
      r.description = `${c.total} memor${c.total === 1 ? 'y' : 'ies'}${c.pinned ? ` · ${c.pinned} pinned` : ''}`;
      r.iconPath = new vscode.ThemeIcon('database');
      return r;
    });
  }

  protected async children(row: MemoryRow): Promise<MemoryRow[]> {
    if (row.kind === 'memoryCrew') {
      const { crew, byKind } = row.data;
      return (Object.entries(byKind) as [MemoryKind, number][])
        .filter(([, n]) => n > 0)
        .map(([kind, count]) => {
          const r = new Row('memoryKind', { crew, kind, count }, kind, collapsed) as MemoryRow;
          r.id = `memkind:${crew}/${kind}`;
          r.description = String(count);
          r.iconPath = new vscode.ThemeIcon(KIND_ICONS[kind]);
          return r;
        });
    }
    if (row.kind !== 'memoryKind') return [];
    const { crew, kind } = row.data as { crew: string; kind: MemoryKind };
    const res = await this.server.request<MemoryList.Result>('memory/list', { crew, kind, limit: PAGE });
    const rows: MemoryRow[] = res.memories.map((m) => {
      const view = memoryLabel(m);
      const r = new Row('memory', m, view.label) as MemoryRow;
      r.id = `memory:${m.id}`;
      r.description = view.description;
      r.tooltip = new vscode.MarkdownString(memoryTooltip(m));
      r.iconPath = new vscode.ThemeIcon(m.pinned ? 'pinned' : KIND_ICONS[m.kind]);
      r.command = { command: 'openrouterCrew.openMemory', title: 'Open Memory', arguments: [r] };
      return r;
    });
    if (res.total > res.memories.length) {
      const more = new Row('more', { crew, kind, shown: res.memories.length, total: res.total }, '…') as MemoryRow;
      more.description = `${res.total - res.memories.length} more: search to find them`;
      more.command = { command: 'openrouterCrew.searchMemories', title: 'Search Memories' };
      rows.push(more);
    }
    return rows;
  }
}
