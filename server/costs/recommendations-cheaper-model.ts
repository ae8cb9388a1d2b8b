/**
 * `cheaper-model`: each (agent, model) with spend in the window, re-priced on every catalog model that could
 * have served the same calls — at least the context length the agent actually used (its largest prompt +
 * completion), at least its longest reply, text in and text out (our calls are text), not an embeddings model,
 * not a `:free` variant (rate-limited, not for production), not zero-priced, not expired. The cheapest of them is
 * the recommendation; savings = what the calls cost (the ledger's real costs) − the same token counts at its
 * prices: prompt (cached tokens at its cache-read price when it has one) + completion + per-request fee.
 */
import type { ModelInfo } from '../../protocol';
import type { LedgerUsage } from '../store/repositories';
import { formatPico } from './money';
import { dollars, plural, pricesOf, type Finding, type Prices } from './recommendations-common';

export const MAX_ALTERNATIVES = 3;

interface Candidate {
  model: ModelInfo;
  prices: Prices;
}

export function eligibleModels(models: Iterable<ModelInfo>, now: number): Candidate[] {
  const out: Candidate[] = [];
  for (const m of models) {
    if (m.id.endsWith(':free')) continue;
    if (!m.inputModalities.includes('text') || !m.outputModalities.includes('text')) continue;
    if (m.outputModalities.includes('embeddings')) continue;
    if (m.contextLength === null) continue;
    if (m.expirationDate !== null && Date.parse(m.expirationDate) <= now) continue;
    const prices = pricesOf(m);
    if (!prices || prices.prompt + prices.completion === 0n) continue;
    out.push({ model: m, prices });
  }
  return out;
}

/** The group's token counts at these prices, exactly. */
export function reprice(p: Prices, u: LedgerUsage): bigint {
  const cached = BigInt(Math.min(u.cachedTokens, u.promptTokens));
  const uncached = BigInt(u.promptTokens) - cached;
  return (
    p.prompt * uncached +
    (p.cacheRead ?? p.prompt) * cached +
    p.completion * BigInt(u.completionTokens) +
    p.request * BigInt(u.calls)
  );
}

export function findCheaperModels(usage: LedgerUsage[], models: Iterable<ModelInfo>, now: number): Finding[] {
  const candidates = eligibleModels(models, now);
  const findings: Finding[] = [];
  for (const u of usage) {
    if (u.calls === 0 || u.costPico <= 0n) continue;
    const cheaper = candidates
      .filter(
        (c) =>
          c.model.id !== u.model &&
          c.model.contextLength! >= u.maxContextTokens &&
          (c.model.maxCompletionTokens === null || c.model.maxCompletionTokens >= u.maxCompletionTokens),
      )
      .map((c) => ({ model: c.model, cost: reprice(c.prices, u) }))
      .filter((c) => c.cost < u.costPico)
      .sort((a, b) => (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : a.model.id.localeCompare(b.model.id)))
      .slice(0, MAX_ALTERNATIVES);
    const best = cheaper[0];
    if (!best) continue;
    const savings = u.costPico - best.cost;
    const alternatives = cheaper.map((c) => `${c.model.id} ${dollars(c.cost)}`).join('; ');
    findings.push({
      kind: 'cheaper-model',
      crew: u.crew,
      agent: u.agent,
      model: u.model,
      savingsPico: savings,
      spentPico: u.costPico,
      action: `switch ${u.model} to ${best.model.id}`,
      detail:
        `${plural(u.calls, 'call')} on ${u.model} (${u.promptTokens} prompt + ${u.completionTokens} completion tokens; ` +
        `the largest used ${u.maxContextTokens} tokens of context) cost ${dollars(u.costPico)}. ` +
        `The same tokens on ${best.model.id} (context ${best.model.contextLength}, text in and out) would have cost ` +
        `${dollars(best.cost)}: ${dollars(savings)} less. Cheapest that fit: ${alternatives}. ` +
        `Token counts are ${u.model}'s (another tokenizer counts a little differently), and a cheaper model may ` +
        `answer less well: try it on a sample of this agent's tasks first.`,
      evidence: {
        calls: u.calls,
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        cachedTokens: u.cachedTokens,
        maxContextTokens: u.maxContextTokens,
        maxCompletionTokens: u.maxCompletionTokens,
        suggestedModel: best.model.id,
        repricedCost: formatPico(best.cost),
        alternatives,
      },
      set: { field: 'model', value: best.model.id },
      manualHint: `switch it to ${best.model.id} where it is configured`,
    });
  }
  return findings;
}
