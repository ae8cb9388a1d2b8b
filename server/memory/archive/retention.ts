/**
 * The retention score: how much a memory is worth keeping at hand, 0..1, with no query involved. Archival policies
 * compare it with `belowScore`. It is the search ranking (../search/ranking.ts) without relevance, its remaining
 * weights rescaled to sum to 1 (with the defaults 0.5·recency + 0.375·importance + 0.125·frequency), so that a
 * memory the ranking would rarely surface is the one archived first.
 *
 * Two deliberate differences from the ranking:
 *  - recency runs from the last *activity* — created, updated, accessed, or restored from an archive — not only
 *    the last access: an edit is a use, and a memory just brought back must not be archived again by the next run;
 *  - frequency is absolute (ln(1 + count) / ln(1 + 100), capped at 1) instead of relative to the query's best
 *    candidate, so a memory's score does not depend on which other memories happen to be considered.
 */
import { DEFAULT_RANKING, recencyScore } from '../search/ranking';
import type { AccessCounters, MemoryRecord } from '../../store/repositories';

/** Accesses at which the frequency term saturates. */
export const FREQUENCY_SATURATION = 100;

const W = DEFAULT_RANKING.weights;
const SUM = W.recency + W.importance + W.frequency;
export const RETENTION_WEIGHTS = Object.freeze({
  recency: W.recency / SUM,
  importance: W.importance / SUM,
  frequency: W.frequency / SUM,
});

/** The latest of created, updated, last accessed and (when known) restored, epoch ms. */
export function lastActiveAt(
  record: Pick<MemoryRecord, 'createdAt' | 'updatedAt'>,
  counters: AccessCounters,
  restoredAt?: number | null,
): number {
  return Math.max(record.createdAt, record.updatedAt, counters.last ?? -Infinity, restoredAt ?? -Infinity);
}

export function retentionScore(
  record: Pick<MemoryRecord, 'createdAt' | 'updatedAt' | 'importance'>,
  counters: AccessCounters,
  now: number,
  restoredAt?: number | null,
): number {
  const active = lastActiveAt(record, counters, restoredAt);
  const recency = recencyScore(active, record.createdAt, now, DEFAULT_RANKING.halfLifeMs);
  const frequency = Math.min(1, Math.log1p(counters.count) / Math.log1p(FREQUENCY_SATURATION));
  const importance = Math.min(1, Math.max(0, record.importance));
  const score =
    RETENTION_WEIGHTS.recency * recency +
    RETENTION_WEIGHTS.importance * importance +
    RETENTION_WEIGHTS.frequency * frequency;
  // Clamped so rounding noise never takes a score outside the documented 0..1.
  return Math.min(1, Math.max(0, score));
}
