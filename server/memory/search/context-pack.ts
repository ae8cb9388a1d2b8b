/**
 * `memory/context`: the best memories for a query, packed into a token budget for a crew run's prompt.
 *
 * Tokens are estimated as UTF-8 bytes / 4, rounded up — an over-estimate for English and code with common
 * tokenizers, which is the safe side for a budget — plus a fixed per-memory overhead for the framing the prompt
 * puts around each memory (a bullet, a kind/date label, the newline). Memories are taken in score order; one that
 * does not fit is skipped and smaller ones after it may still fit.
 */
import type { MemorySearchIndex, SearchOptions, SearchQuery, SearchResult } from './ranking';

export const DEFAULT_FRAMING_TOKENS = 8;

export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

export interface PackCandidate {
  id: string;
  text: string;
  score: number;
}

export interface PackOptions {
  budgetTokens: number;
  /** Tokens added per packed memory for its framing (default 8). */
  framingTokens?: number;
}

export interface PackedMemory extends PackCandidate {
  /** Estimated tokens of this memory including its framing. */
  tokens: number;
}

export interface PackResult {
  packed: PackedMemory[];
  usedTokens: number;
  budgetTokens: number;
  /** Ids that were candidates but did not fit. */
  skipped: string[];
}

/** Greedy by score (then id), skipping what does not fit. Never exceeds the budget. */
export function packContext(candidates: readonly PackCandidate[], options: PackOptions): PackResult {
  const { budgetTokens } = options;
  const framing = options.framingTokens ?? DEFAULT_FRAMING_TOKENS;
  if (!Number.isInteger(budgetTokens) || budgetTokens < 0) throw new RangeError('budgetTokens must be an integer ≥ 0');
  if (!Number.isInteger(framing) || framing < 0) throw new RangeError('framingTokens must be an integer ≥ 0');
  const ordered = [...candidates].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const packed: PackedMemory[] = [];
  const skipped: string[] = [];
  let used = 0;
  for (const c of ordered) {
    const tokens = estimateTokens(c.text) + framing;
    if (used + tokens <= budgetTokens) {
      packed.push({ ...c, tokens });
      used += tokens;
    } else {
      skipped.push(c.id);
    }
  }
  return { packed, usedTokens: used, budgetTokens, skipped };
}

export interface ContextOptions extends Omit<SearchOptions, 'record'>, PackOptions {
  /** The memory's text by id (the store holds texts; the index does not). Missing ones are left out. */
  textOf: (id: string) => string | undefined;
}

/**
 * Search (k candidates, access not yet recorded), pack what fits, and record an access only for the memories
 * that were packed — those are the ones a run actually used.
 */
export function buildContext(
  index: MemorySearchIndex,
  query: SearchQuery,
  options: ContextOptions,
): PackResult & { search: SearchResult } {
  const { textOf, budgetTokens, framingTokens, ...searchOptions } = options;
  const search = index.search(query, { ...searchOptions, record: false });
  const candidates: PackCandidate[] = [];
  for (const h of search.hits) {
    const text = textOf(h.id);
    if (text !== undefined) candidates.push({ id: h.id, text, score: h.score });
  }
  const result = packContext(candidates, { budgetTokens, ...(framingTokens !== undefined && { framingTokens }) });
  index.recordAccess(
    result.packed.map((p) => p.id),
    options.now,
  );
  return { ...result, search };
}
