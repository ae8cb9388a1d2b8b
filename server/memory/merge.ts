/**
 * `memory/merge` as a pure plan: given the kept memory, the ones merged into it and the params, what the kept
 * record becomes, which ids go, and what its access counters become. The memory service applies the plan (it owns
 * the repositories, the embedder and the events); keeping the rules here lets them be tested without a store.
 *
 * Rules, chosen so a merge never loses what made any member worth keeping:
 * - content: the params' if given, else the kept memory's (a merge is not an edit unless asked to be);
 * - tags: the params' if given, else the union of every member's;
 * - importance: the params' if given, else the highest of the set;
 * - pinned if any member was (a person pinned that knowledge);
 * - expiry: the latest of the set, none if any member never expires (the knowledge lives as long as its longest
 *   holder did);
 * - access counters: counts summed, last access the latest — every read of a duplicate was a read of this memory.
 */
import type { MemoryMerge } from '../../protocol/analytics';
import { errors } from '../errors';
import type { AccessCounters, MemoryRecord } from '../store/repositories';
import { contentHash } from './normalize';
import { estimateTokens } from './search/context-pack';

export interface MergePlan {
  /** The kept memory after the merge (a new `merged` history entry included), to put. */
  record: MemoryRecord;
  /** To delete (with their vectors and counters), in the order given. */
  removeIds: string[];
  /** The content changed: the kept memory needs a new vector. */
  contentChanged: boolean;
  /** For AccessRepository.restore, after the removed ids' counters were read (i.e. before deleting them). */
  counters: { id: string; count: number; last: number | null };
  /** Estimated tokens of every member before minus the kept memory's after. */
  tokensSaved: number;
}

/**
 * Checks that the merge makes sense (distinct ids, the keeper not among them, one crew) and plans it. The caller
 * has resolved the ids to records (a missing one is its NotFound), checks the content's size, and checks that no
 * other memory of the crew — outside this set — already has the merged content.
 */
export function planMerge(
  keep: MemoryRecord,
  others: readonly MemoryRecord[],
  p: MemoryMerge.Params,
  now: number,
  counters: (id: string) => AccessCounters,
): MergePlan {
  if (others.length === 0) throw invalid('mergeIds', 'name at least one memory to merge into keepId');
  const seen = new Set<string>();
  for (const r of others) {
    if (r.id === keep.id) throw invalid('mergeIds', `${r.id} is keepId; a memory cannot be merged into itself`);
    if (seen.has(r.id)) throw invalid('mergeIds', `${r.id} is named twice`);
    seen.add(r.id);
    if (r.crew !== keep.crew)
      throw invalid('mergeIds', `memory ${r.id} belongs to crew ${r.crew}, not to ${keep.crew} as ${keep.id} does`);
  }
  const all = [keep, ...others];
  const content = p.content ?? keep.content;
  const tags = normalizeTags(p.tags ?? all.flatMap((r) => r.tags));
  const importance = p.importance ?? Math.max(...all.map((r) => r.importance));
  const pinned = all.some((r) => r.pinned);
  const expiresAt = all.some((r) => r.expiresAt === null) ? null : Math.max(...all.map((r) => r.expiresAt!));

  const previous: MemoryRecord['history'][number]['previous'] = {};
  const next: MemoryRecord = { ...keep, history: [...keep.history], updatedAt: now };
  const contentChanged = content !== keep.content;
  if (contentChanged) {
    previous.content = keep.content;
    next.content = content;
    next.contentHash = contentHash(content);
  }
  if (tags.join('\u0000') !== keep.tags.join('\u0000')) {
    previous.tags = keep.tags;
    next.tags = tags;
  }
  if (importance !== keep.importance) {
    previous.importance = keep.importance;
    next.importance = importance;
  }
  if (pinned !== keep.pinned) {
    previous.pinned = keep.pinned;
    next.pinned = pinned;
  }
  if (expiresAt !== keep.expiresAt) {
    previous.expiresAt = keep.expiresAt === null ? null : new Date(keep.expiresAt).toISOString();
    next.expiresAt = expiresAt;
  }
  next.history.push({
    version: keep.history.length + 1,
    at: new Date(now).toISOString(),
    change: 'merged',
    previous,
    note: `merged ${others.map((r) => r.id).join(', ')}`,
  });

  let count = 0;
  let last: number | null = null;
  for (const r of all) {
    const c = counters(r.id);
    count += c.count;
    if (c.last !== null && (last === null || c.last > last)) last = c.last;
  }
  const before = all.reduce((sum, r) => sum + estimateTokens(r.content), 0);
  return {
    record: next,
    removeIds: others.map((r) => r.id),
    contentChanged,
    counters: { id: keep.id, count, last },
    tokensSaved: before - estimateTokens(content),
  };
}

/** As the memory service stores tags: trimmed, lower case, distinct, sorted. */
export function normalizeTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
}

function invalid(field: string, message: string) {
  return errors.invalidParams(`${field}: ${message}`, { field, issues: [{ field, message }] });
}
