/**
 * The two recommendations read from the calls' recorded shapes (call-profiles), not from the ledger alone.
 *
 * `prompt-caching`: an agent + model whose calls repeat the same long system prefix (≥ 1024 tokens) without
 * being served cached tokens, on a model with a cache-read price. Per prefix, of its n uncached calls, `writes`
 * came more than 5 minutes after the previous one (the cache would have expired: each writes it again) and the
 * rest would have read it:
 *   savings = (n − writes) × prefixTokens × (prompt − cacheRead) − writes × prefixTokens × max(0, cacheWrite − prompt)
 * summed over the agent's prefixes (caching is switched on per agent, so a prefix that would lose counts too).
 * prefixTokens is the prefix's mean share of the calls' real prompt tokens.
 *
 * `max-tokens`: an agent whose max_tokens is far above what its replies use (p95 of completion tokens × 4 < the
 * mean max_tokens asked, over at least 20 calls). Lowering it saves no spend — only generated tokens are billed —
 * so savings are 0; what it frees is budget headroom: every call reserves max_tokens × completion price until it
 * settles, so an over-large cap refuses calls a budget could afford. The headroom held over the window,
 * Σ (max_tokens − completion tokens) × completion price, is in the evidence.
 */
import type { ModelInfo } from '../../protocol';
import type { LedgerUsage } from '../store/repositories';
import { histogramQuantile, MIN_CACHEABLE_PREFIX_TOKENS } from './call-profiles';
import { formatPico, picoToUsd } from './money';
import {
  bigMax,
  dollars,
  groupKey,
  perMillion,
  plural,
  pricesOf,
  type AgentProfile,
  type Finding,
  type PrefixProfile,
} from './recommendations-common';

export const MAX_TOKENS_MIN_CALLS = 20;
/** Flag when p95 × this < the typical max_tokens. */
export const MAX_TOKENS_RATIO = 4;
/** The suggestion: this × p95 (or the longest reply seen, if longer), rounded up to a multiple of MAX_TOKENS_STEP. */
export const MAX_TOKENS_MARGIN = 1.5;
export const MAX_TOKENS_STEP = 64;

function spentOf(usage: LedgerUsage[]): (crew: string | null, agent: string | null, model: string) => bigint {
  const byKey = new Map(usage.map((u) => [groupKey(u.crew, u.agent, u.model), u.costPico]));
  return (crew, agent, model) => byKey.get(groupKey(crew, agent, model)) ?? 0n;
}

export function findPromptCaching(
  prefixes: PrefixProfile[],
  usage: LedgerUsage[],
  models: ReadonlyMap<string, ModelInfo>,
): Finding[] {
  const groups = new Map<string, PrefixProfile[]>();
  for (const p of prefixes) {
    const key = groupKey(p.crew, p.agent, p.model);
    const list = groups.get(key);
    if (list) list.push(p);
    else groups.set(key, [p]);
  }
  const spent = spentOf(usage);
  const findings: Finding[] = [];
  for (const list of groups.values()) {
    const { crew, agent, model } = list[0]!;
    const info = models.get(model);
    const prices = info && pricesOf(info);
    if (!prices || prices.cacheRead === null || prices.cacheRead >= prices.prompt) continue;
    const readGain = prices.prompt - prices.cacheRead;
    const writeLoss = bigMax(0n, (prices.cacheWrite ?? prices.prompt) - prices.prompt);
    let savings = 0n;
    let calls = 0;
    let uncached = 0;
    let writes = 0;
    let cacheable = 0;
    let top: { tokens: number; calls: number } | undefined;
    for (const p of list) {
      const tokens = Math.round(p.prefixTokens / p.calls);
      if (tokens < MIN_CACHEABLE_PREFIX_TOKENS) continue;
      const n = p.calls - p.cachedCalls;
      const w = Math.min(p.writes, n);
      savings += BigInt(n - w) * BigInt(tokens) * readGain - BigInt(w) * BigInt(tokens) * writeLoss;
      calls += p.calls;
      uncached += n;
      writes += w;
      cacheable++;
      if (!top || p.calls > top.calls) top = { tokens, calls: p.calls };
    }
    if (!top || savings <= 0n) continue;
    const firstAndGaps = `(the first, and any after more than 5 minutes without a call, when the cache has expired)`;
    const writeText =
      writeLoss > 0n
        ? `, and ${plural(writes, 'call')} ${firstAndGaps} would have written it at ${perMillion(prices.cacheWrite!)} ` +
          `instead of ${perMillion(prices.prompt)}`
        : `; ${plural(writes, 'call')} ${firstAndGaps} would have paid the normal price to fill it`;
    findings.push({
      kind: 'prompt-caching',
      crew,
      agent,
      model,
      savingsPico: savings,
      spentPico: spent(crew, agent, model),
      action: `cache the system prompt on ${model}`,
      detail:
        `${uncached} of ${plural(calls, 'call')} on ${model} sent the same ${cacheable === 1 ? `${top.tokens}-token system prompt` : `long system prompts (${cacheable} distinct, the most used ${top.tokens} tokens)`} ` +
        `without being served from a prompt cache. Cached, ${uncached - writes} of them would have read it at ` +
        `${perMillion(prices.cacheRead)} instead of ${perMillion(prices.prompt)}${writeText}: ${dollars(savings)} less.`,
      evidence: {
        calls,
        uncachedCalls: uncached,
        cacheWrites: writes,
        prefixes: cacheable,
        prefixTokens: top.tokens,
        promptPrice: formatPico(prices.prompt),
        cacheReadPrice: formatPico(prices.cacheRead),
        cacheWritePrice: formatPico(prices.cacheWrite ?? prices.prompt),
      },
      set: { field: 'promptCache', value: true },
      manualHint: "send its system prompt with cache_control: {type: 'ephemeral'} where it is configured",
    });
  }
  return findings;
}

export function findMaxTokens(
  agents: AgentProfile[],
  usage: LedgerUsage[],
  models: ReadonlyMap<string, ModelInfo>,
): Finding[] {
  const spent = spentOf(usage);
  const findings: Finding[] = [];
  for (const a of agents) {
    if (a.calls < MAX_TOKENS_MIN_CALLS) continue;
    const p95 = histogramQuantile(a.completionHistogram, 0.95, a.completionMax);
    const typical = a.maxTokensSum / a.calls;
    if (!(p95 * MAX_TOKENS_RATIO < typical)) continue;
    const wanted = Math.max(Math.ceil(MAX_TOKENS_MARGIN * p95), a.completionMax, 1);
    const suggested = Math.ceil(wanted / MAX_TOKENS_STEP) * MAX_TOKENS_STEP;
    if (suggested >= typical) continue;
    const info = models.get(a.model);
    const prices = info && pricesOf(info);
    const unused = BigInt(Math.max(0, a.maxTokensSum - a.completionSum));
    const headroom = prices ? unused * prices.completion : null;
    const typicalRounded = Math.round(typical);
    findings.push({
      kind: 'max-tokens',
      crew: a.crew,
      agent: a.agent,
      model: a.model,
      savingsPico: 0n,
      spentPico: spent(a.crew, a.agent, a.model),
      action: `lower max_tokens from ${typicalRounded} to ${suggested}`,
      detail:
        `${plural(a.calls, 'call')} on ${a.model} asked for ${typicalRounded} max_tokens on average (up to ${a.maxTokensMax}) ` +
        `while 95 % of the replies used at most ${p95} tokens (the longest ${a.completionMax}). Lowering it saves no ` +
        `spend — only generated tokens are billed — but every call reserves max_tokens × the completion price ` +
        `against its budgets until it ends: over the window, the ${unused} tokens asked for and not used held ` +
        `${headroom === null ? 'an unknown amount (the model is not in the catalog)' : dollars(headroom)} of budget ` +
        `headroom, which can make a budget refuse calls it could afford. ${suggested} (${MAX_TOKENS_MARGIN} × p95 or ` +
        `the longest reply, rounded up to a multiple of ${MAX_TOKENS_STEP}) would have cut no reply seen.`,
      evidence: {
        calls: a.calls,
        typicalMaxTokens: typicalRounded,
        maxMaxTokens: a.maxTokensMax,
        p95CompletionTokens: p95,
        maxCompletionTokens: a.completionMax,
        suggestedMaxTokens: suggested,
        unusedTokens: Number(unused),
        ...(headroom === null ? {} : { headroom: formatPico(headroom), headroomUsd: picoToUsd(headroom) }),
      },
      set: { field: 'maxTokens', value: suggested },
      manualHint: `set its max_tokens to ${suggested} where it is configured`,
    });
  }
  return findings;
}
