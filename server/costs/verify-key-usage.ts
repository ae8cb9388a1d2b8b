/**
 * GET /key's usage beside the ledger's totals for the same UTC periods (OpenRouter's day, week from Monday, month
 * and the key's whole life). The key may also be used outside this product, and the ledger may hold calls made with
 * another key, so a difference here is a fact to show, not drift to correct.
 */
import type { KeyUsageComparison, KeyUsageFigure, KeyUsagePeriod } from '../../protocol/verify';
import type { KeyInfo } from '../openrouter/client';
import type { LedgerRepository } from '../store/repositories';
import { parseUsd, picoToUsd } from './money';

const DAY_MS = 86_400_000;

export async function compareKeyUsage(
  ledger: LedgerRepository,
  key: KeyInfo,
  now: number,
): Promise<KeyUsageComparison> {
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const starts: [KeyUsagePeriod, number | null, number | null][] = [
    ['day', day, key.usageDaily],
    ['week', day - ((d.getUTCDay() + 6) % 7) * DAY_MS, key.usageWeekly],
    ['month', Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), key.usageMonthly],
    ['total', null, key.usage],
  ];
  const periods: KeyUsageFigure[] = [];
  for (const [period, from, upstreamUsd] of starts) {
    if (upstreamUsd === null) continue;
    const spent = await ledger.sumCost(from === null ? {} : { from });
    const upstream = parseUsd(upstreamUsd);
    periods.push({
      period,
      from: from === null ? null : new Date(from).toISOString(),
      ledgerUsd: picoToUsd(spent),
      upstreamUsd,
      differenceUsd: picoToUsd(upstream - spent),
    });
  }
  return { label: key.label, periods };
}
