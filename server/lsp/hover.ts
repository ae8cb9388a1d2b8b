/** The hover on a model id: what it costs per million tokens, how much it can take, what it has cost here. */
import type { ModelInfo } from '../../protocol';
import { exactUsd, md, perMillion, retirement, retirementText, tokens, usd } from './format';
import type { ModelLookup } from './model-index';
import type { ModelSpend, SpendFigures } from './spend';

export function hoverMarkdown(lookup: ModelLookup, spend: ModelSpend, now: number): string {
  const m = lookup.model;
  const lines = [`**${md(m.name)}** \`${lookup.routing ? `${m.id}:${lookup.routing}` : m.id}\``, ''];
  if (lookup.routing) lines.push(`\`:${lookup.routing}\` is a routing option; prices are those of \`${m.id}\`.`, '');
  const r = retirement(m, now);
  if (r) lines.push(`⚠ Deprecated: ${retirementText(r)}.`, '');
  lines.push(
    `- Prompt: ${perMillion(m.pricing.prompt)} per 1M tokens`,
    `- Completion: ${perMillion(m.pricing.completion)} per 1M tokens`,
    ...extraPrices(m),
    `- Context length: ${tokens(m.contextLength)}`,
    `- Max completion: ${tokens(m.maxCompletionTokens)}`,
    '',
    '**Spend in this data directory**',
    '',
    `- This month (since ${new Date(spend.monthStart).toISOString().slice(0, 10)} UTC): ${figures(spend.month)}`,
    `- All time: ${figures(spend.allTime)}`,
  );
  return lines.join('\n');
}

function extraPrices(m: ModelInfo): string[] {
  const out: string[] = [];
  const { request } = m.pricing;
  // Only a fee that is actually charged is worth a line; most models say "0".
  if (request && Number(request) > 0) out.push(`- Per request: ${exactUsd(request)}`);
  return out;
}

function figures(f: SpendFigures): string {
  return f.calls === 0 ? 'no calls' : `${usd(f.costPico)} over ${f.calls} call${f.calls === 1 ? '' : 's'}`;
}
