/** Text shared by hover, completion and diagnostics: exact prices, token counts, a model's retirement. */
import type { ModelInfo } from '../../protocol';
import { formatPico, parseUsd } from '../costs/money';

/** Exact USD with at least two decimals: "$0.15" → "$0.15", 0.6 → "$0.60", 0.0375 → "$0.0375". */
export function usd(pico: bigint): string {
  const [whole, frac = ''] = formatPico(pico).split('.');
  return `$${whole}.${frac.padEnd(2, '0')}`;
}

/** A price string from the catalog (per request, per image) as it is. */
export function exactUsd(price: string): string {
  try {
    return usd(parseUsd(price));
  } catch {
    return `(unreadable price "${price}")`;
  }
}

/** A per-token price string from the catalog, per million tokens, computed exactly (no float). */
export function perMillion(price: string): string {
  try {
    return usd(parseUsd(price) * 1_000_000n);
  } catch {
    return `(unreadable price "${price}")`;
  }
}

export function tokens(n: number | null): string {
  return n === null ? 'not stated' : `${n.toLocaleString('en-US')} tokens`;
}

/** "$0.15 / $0.60 per 1M tokens (prompt / completion)". */
export function priceSummary(m: ModelInfo): string {
  return `${perMillion(m.pricing.prompt)} / ${perMillion(m.pricing.completion)} per 1M tokens (prompt / completion)`;
}

export interface Retirement {
  date: string;
  past: boolean;
}

/** The catalog's `expirationDate`, and whether it has passed at `now`; null for a model with none. */
export function retirement(m: ModelInfo, now: number): Retirement | null {
  if (!m.expirationDate) return null;
  const at = Date.parse(m.expirationDate);
  return { date: m.expirationDate, past: !Number.isNaN(at) && at <= now };
}

export function retirementText(r: Retirement): string {
  return r.past ? `retired on ${r.date}` : `to be retired on ${r.date}`;
}

/** Escapes catalog text (model names) placed mid-line in Markdown, where only these characters act. */
export function md(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, '\\$&');
}
