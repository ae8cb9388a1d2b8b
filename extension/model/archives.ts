/** How an archive reads in the tree (plain data; no `vscode` import). */
import type { Archive, ArchiveRestore } from '../../protocol';
import { counted, formatBytes as bytes, formatRatio as ratio } from '../../protocol/format';

export function archiveRow(a: Archive): { label: string; description: string; tooltip: string } {
  const restored = a.restoredIds.length;
  return {
    label: `${a.crews.join(', ') || '—'} · ${counted(a.count, 'memory', 'memories')}`,
    description: `${bytes(a.bytesOut)} · ${ratio(a.ratio)} · ${a.createdAt.slice(0, 10)}${a.state === 'restored' ? ' · restored' : restored ? ` · ${restored} restored` : ''}`,
    tooltip: [
      `Archive ${a.id} (${a.state})`,
      `${counted(a.count, 'memory', 'memories')} of ${a.crews.join(', ')}`,
      `${bytes(a.bytesIn)} → ${bytes(a.bytesOut)} (${ratio(a.ratio)})`,
      `created ${a.createdAt}`,
      a.policy ? `policy ${JSON.stringify(a.policy)}` : 'chosen by id',
      `sha256 ${a.sha256}`,
    ].join('\n'),
  };
}

/** What a restore did, in words: how many memories came back, how many were live already. */
export function restoredMessage(r: Pick<ArchiveRestore.Result, 'restored' | 'skipped'>): string {
  const n = (k: number) => counted(k, 'memory', 'memories');
  const back = r.restored.length ? `Restored ${n(r.restored.length)}.` : 'Nothing to restore.';
  return r.skipped.length
    ? `${back} ${n(r.skipped.length)} ${r.skipped.length === 1 ? 'was' : 'were'} live already.`
    : back;
}
