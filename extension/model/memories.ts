/** How a memory reads in the tree, its tooltip and its read-only document (plain data; no `vscode` import). */
import type { Memory } from '../../protocol';

/** The first line, cut at 60 characters; importance as stars and the tags beside it. */
export function memoryLabel(m: Memory): { label: string; description: string } {
  const first = m.content.trim().split('\n')[0] ?? '';
  const label = first.length > 60 ? `${first.slice(0, 59)}…` : first;
  const stars = '★'.repeat(Math.round(m.importance * 5)).padEnd(5, '☆');
  return { label, description: [stars, ...m.tags.map((t) => `#${t}`)].join(' ') };
}

export function memoryTooltip(m: Memory): string {
  const facts = [
    `${m.kind} · importance ${m.importance}${m.pinned ? ' · pinned' : ''}`,
    `${m.accessCount} access${m.accessCount === 1 ? '' : 'es'}${m.lastAccessedAt ? `, last ${day(m.lastAccessedAt)}` : ''}`,
    `created ${day(m.createdAt)}${m.updatedAt !== m.createdAt ? `, updated ${day(m.updatedAt)}` : ''}`,
  ];
  if (m.tags.length) facts.push(`tags: ${m.tags.join(', ')}`);
  const body = m.content.length > 600 ? `${m.content.slice(0, 600)}…` : m.content;
  return `${escapeMd(body)}\n\n---\n\n${facts.join('  \n')}`;
}

/** The read-only document a memory opens as: its content, then its facts. */
export function memoryDocument(m: Memory): string {
  return [
    m.content,
    '',
    '---',
    `id:          ${m.id}`,
    `crew:        ${m.crew}${m.agent ? ` (agent ${m.agent})` : ''}`,
    `kind:        ${m.kind}`,
    `importance:  ${m.importance}${m.pinned ? ' (pinned)' : ''}`,
    `tags:        ${m.tags.join(', ') || '—'}`,
    `created:     ${m.createdAt}`,
    `updated:     ${m.updatedAt}`,
    `accessed:    ${m.accessCount} time(s)${m.lastAccessedAt ? `, last ${m.lastAccessedAt}` : ''}`,
    `expires:     ${m.expiresAt ?? 'never'}`,
    `embedding:   ${m.embedding ? `${m.embedding.embedderId} (${m.embedding.dimensions} dims)` : 'not yet'}`,
    '',
  ].join('\n');
}

/** Tags as typed in an input box: comma or space separated, `#` optional, duplicates dropped. */
export function parseTags(input: string): string[] {
  return [
    ...new Set(
      input
        .split(/[,\s]+/)
        .map((t) => t.replace(/^#/, '').trim())
        .filter(Boolean),
    ),
  ];
}

const day = (iso: string) => iso.slice(0, 10);
const escapeMd = (s: string) => s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
