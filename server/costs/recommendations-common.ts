/**
 * What the savings finders share: the finding they return (a recommendation before it is given an id and matched
 * to a crew agent), exact per-token prices, and the per-day profiles summed over a window. All money is bigint
 * picodollars; floats appear only in the result's USD numbers.
 */
import type { ModelInfo } from '../../protocol';
import type { CostRecommendationKind } from '../../protocol/recommendations';
import type { AgentDayProfile, PrefixDayProfile } from '../store/repositories';
import { mergeHistogram } from './call-profiles';
import { formatPico, parseUsd } from './money';

/** A crew agent's setting that applying a recommendation changes. */
export type AgentSetting =
  { field: 'model'; value: string } | { field: 'maxTokens'; value: number } | { field: 'promptCache'; value: boolean };

export interface Finding {
  kind: CostRecommendationKind;
  /** As attributed in the ledger (the crew's name for crew runs). */
  crew: string | null;
  agent: string | null;
  model: string | null;
  savingsPico: bigint;
  spentPico: bigint;
  /** The title after "<who>: ", e.g. "switch openai/gpt-4o to openai/gpt-4o-mini". */
  action: string;
  detail: string;
  evidence: Record<string, number | string>;
  /** Agent kinds: the crew agent's setting to change. */
  set?: AgentSetting;
  /** What to tell the owner of an agent that is not a crew member (it has no setting we can change). */
  manualHint?: string;
  /** unused-memories: the crew (by id) and the memories to archive. */
  crewId?: string;
  memoryIds?: string[];
}

/** A model's per-token prices in picodollars; null when a price is missing, unreadable or negative. */
export interface Prices {
  prompt: bigint;
  completion: bigint;
  request: bigint;
  cacheRead: bigint | null;
  cacheWrite: bigint | null;
}

export function pricesOf(m: ModelInfo): Prices | null {
  const read = (v: string | undefined): bigint | null | undefined => {
    if (v === undefined || v === '') return undefined;
    try {
      const p = parseUsd(v);
      return p < 0n ? null : p;
    } catch {
      return null;
    }
  };
  const prompt = read(m.pricing.prompt);
  const completion = read(m.pricing.completion);
  const request = read(m.pricing.request);
  const cacheRead = read(m.pricing.inputCacheRead);
  const cacheWrite = read(m.pricing.inputCacheWrite);
  // OpenRouter marks variable pricing (routers) with "-1": nothing can be priced on such a model.
  if (prompt === undefined || prompt === null || completion === undefined || completion === null) return null;
  if (request === null || cacheRead === null || cacheWrite === null) return null;
  return { prompt, completion, request: request ?? 0n, cacheRead: cacheRead ?? null, cacheWrite: cacheWrite ?? null };
}

/** "1 call", "2 calls". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `$0.000123` exactly (never a float): the figures in a detail can be checked by hand. */
export const dollars = (pico: bigint): string => `${pico < 0n ? '-' : ''}$${formatPico(pico < 0n ? -pico : pico)}`;

/** A per-token price as USD per million tokens: `$2.5/M`. */
export const perMillion = (price: bigint): string => `$${formatPico(price * 1_000_000n)}/M`;

export const bigMax = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** Who a finding is about, for its title: the agent, else the crew, else "calls without an agent". */
export function whoOf(f: Pick<Finding, 'crew' | 'agent'>): string {
  return f.agent ?? (f.crew !== null ? `${f.crew} (no agent)` : 'calls without an agent');
}

export const groupKey = (crew: string | null, agent: string | null, model: string | null): string =>
  JSON.stringify([crew, agent, model]);

// ── profiles summed over a window ──────────────────────────────────────

export type AgentProfile = Omit<AgentDayProfile, 'day'>;
export type PrefixProfile = Omit<PrefixDayProfile, 'day' | 'lastAt'>;

export function sumAgentProfiles(days: AgentDayProfile[]): AgentProfile[] {
  const out = new Map<string, AgentProfile>();
  for (const d of days) {
    const key = groupKey(d.crew, d.agent, d.model);
    const s = out.get(key);
    if (!s) {
      out.set(key, {
        crew: d.crew,
        agent: d.agent,
        model: d.model,
        calls: d.calls,
        maxTokensSum: d.maxTokensSum,
        maxTokensMax: d.maxTokensMax,
        completionSum: d.completionSum,
        completionMax: d.completionMax,
        completionHistogram: { ...d.completionHistogram },
      });
      continue;
    }
    s.calls += d.calls;
    s.maxTokensSum += d.maxTokensSum;
    s.maxTokensMax = Math.max(s.maxTokensMax, d.maxTokensMax);
    s.completionSum += d.completionSum;
    s.completionMax = Math.max(s.completionMax, d.completionMax);
    mergeHistogram(s.completionHistogram, d.completionHistogram);
  }
  return [...out.values()];
}

export function sumPrefixProfiles(days: PrefixDayProfile[]): PrefixProfile[] {
  const out = new Map<string, PrefixProfile>();
  for (const d of days) {
    const key = `${groupKey(d.crew, d.agent, d.model)}${d.sha256}`;
    const s = out.get(key);
    if (!s) {
      const { day: _day, lastAt: _lastAt, ...rest } = d;
      out.set(key, rest);
      continue;
    }
    s.calls += d.calls;
    s.cachedCalls += d.cachedCalls;
    s.prefixTokens += d.prefixTokens;
    s.writes += d.writes;
  }
  return [...out.values()];
}
