/**
 * What ChatService records per call for the savings recommendations, beyond the ledger row: the call's long
 * system prompt (hashed, with its share of the real prompt tokens) and the completion-token histogram buckets.
 * Everything here runs on the call path, so it stays a few microseconds: one pass over the messages, and a
 * hash only when the prefix is long enough to matter.
 */
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../../protocol';

/**
 * Providers cache prefixes of at least 1024 tokens (Anthropic, OpenAI), and a token is never less than a byte,
 * so a shorter prefix cannot qualify: it is not even hashed.
 */
export const MIN_CACHEABLE_PREFIX_TOKENS = 1024;

/** A provider's prompt cache lives ~5 minutes after its last use; a call after a longer gap writes it again. */
export const CACHE_LIFETIME_MS = 5 * 60_000;

/**
 * The call's system prompt — its first message, when that is a system message — as `{sha256, tokens}`: tokens are
 * the real prompt tokens scaled by its share of the prompt's bytes. Null when there is none or it is too short to
 * be cached. Only the first message, because that is where the cache breakpoint goes (`cacheSystemPrompt`): a
 * later system message that changes from call to call (memories packed for a task) must not hide a stable prompt.
 */
export function systemPrefix(
  messages: readonly ChatMessage[],
  promptTokens: number,
): { sha256: string; tokens: number } | null {
  const first = messages[0];
  if (!first || first.role !== 'system') return null;
  const prefixBytes = Buffer.byteLength(first.content, 'utf8');
  if (prefixBytes < MIN_CACHEABLE_PREFIX_TOKENS) return null;
  let promptBytes = prefixBytes;
  for (let i = 1; i < messages.length; i++) promptBytes += Buffer.byteLength(messages[i]!.content, 'utf8');
  const tokens = Math.round((promptTokens * prefixBytes) / promptBytes);
  if (tokens < MIN_CACHEABLE_PREFIX_TOKENS) return null;
  return { sha256: createHash('sha256').update(first.content).digest('hex').slice(0, 32), tokens };
}

// ── completion-token histogram ─────────────────────────────────────────

/** Buckets per doubling: each bucket spans ×2^(1/4) ≈ 19 %, so a percentile read from it is within 19 %. */
const PER_DOUBLING = 4;

/** 0 for 0 tokens; n ≥ 1 covers [2^((n−1)/4), 2^(n/4)). */
export function tokenBucket(tokens: number): number {
  return tokens <= 0 ? 0 : 1 + Math.floor(PER_DOUBLING * Math.log2(tokens));
}

/** The largest token count bucket `b` holds. */
export function bucketUpperBound(b: number): number {
  return b <= 0 ? 0 : Math.ceil(2 ** (b / PER_DOUBLING)) - 1;
}

/** Adds `from` into `into` (bucket → count). */
export function mergeHistogram(into: Record<string, number>, from: Record<string, number>): void {
  for (const [b, n] of Object.entries(from)) into[b] = (into[b] ?? 0) + n;
}

/** The upper bound of the bucket holding the q-quantile, never above `max` (the largest value seen). */
export function histogramQuantile(histogram: Record<string, number>, q: number, max: number): number {
  const buckets = Object.entries(histogram)
    .map(([b, n]) => [Number(b), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [b, n] of buckets) {
    seen += n;
    if (seen >= rank) return Math.min(max, bucketUpperBound(b));
  }
  return max;
}
