/**
 * What ChatService records per call for the savings recommendations, beyond the ledger row: the call's long
 * system prefix (hashed, with its share of the real prompt tokens) and the completion-token histogram buckets.
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
 * The leading system message(s) of a call, as `{sha256, tokens}`: tokens are the real prompt tokens scaled by the
 * prefix's share of the prompt's bytes. Null when there is none or it is too short to be cached.
 */
export function systemPrefix(
  messages: readonly ChatMessage[],
  promptTokens: number,
): { sha256: string; tokens: number } | null {
  let prefixBytes = 0;
  let promptBytes = 0;
  let leading = 0;
  let inPrefix = true;
  for (const m of messages) {
    const bytes = Buffer.byteLength(m.content, 'utf8');
    promptBytes += bytes;
    if (inPrefix && m.role === 'system') {
      prefixBytes += bytes;
      leading++;
    } else inPrefix = false;
  }
  if (prefixBytes < MIN_CACHEABLE_PREFIX_TOKENS || promptBytes === 0) return null;
  const tokens = Math.round((promptTokens * prefixBytes) / promptBytes);
  if (tokens < MIN_CACHEABLE_PREFIX_TOKENS) return null;
  const hash = createHash('sha256');
  for (let i = 0; i < leading; i++) hash.update(messages[i]!.content).update('\0');
  return { sha256: hash.digest('hex').slice(0, 32), tokens };
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
