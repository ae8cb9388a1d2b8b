/**
 * Cost reports: the ledger grouped by crew, agent, model or day over a time range, with totals; JSON or CSV; and
 * optionally each day split by crew, agent or model (`stack`) for a chart over time.
 */
import { attributedAgent, CostReport } from '../../protocol';
import { errors } from '../errors';
import type { LedgerAggregate, LedgerFilter, LedgerRepository } from '../store/repositories';
import { picoToUsd } from './money';

export class ReportService {
  constructor(private readonly ledger: LedgerRepository) {}

  async report(p: CostReport.Params): Promise<CostReport.Result> {
    const by = p.by ?? 'model';
    const filter: LedgerFilter = {};
    if (p.from) filter.from = parseInstant('from', p.from);
    if (p.to) filter.to = parseInstant('to', p.to);
    if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
      throw errors.invalidParams('from: must not be after "to"', {
        field: 'from',
        issues: [{ field: 'from', message: 'after "to"' }],
      });
    if (p.crew) filter.crew = p.crew;
    // `crew: ops, agent: researcher` is the agent `ops/researcher`, as the ledger holds it.
    if (p.agent) filter.agent = attributedAgent(p.crew, p.agent)!;
    if (p.model) filter.model = p.model;
    const groups = await this.ledger.aggregate(filter, by);
    groups.sort(
      by === 'day'
        ? (a, b) => a.key.localeCompare(b.key)
        : (a, b) => (b.costPico > a.costPico ? 1 : b.costPico < a.costPico ? -1 : a.key.localeCompare(b.key)),
    );
    const total = groups.reduce(
      (t, g) => ({
        calls: t.calls + g.calls,
        promptTokens: t.promptTokens + g.promptTokens,
        completionTokens: t.completionTokens + g.completionTokens,
        cachedTokens: t.cachedTokens + g.cachedTokens,
        reasoningTokens: t.reasoningTokens + g.reasoningTokens,
        costPico: t.costPico + g.costPico,
        estimatedPico: t.estimatedPico + g.estimatedPico,
        errors: t.errors + g.errors,
      }),
      {
        calls: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico: 0n,
        estimatedPico: 0n,
        errors: 0,
      },
    );
    const rows = groups.map((g) => ({ key: g.key, ...figures(g) }));
    const result: CostReport.Result = {
      by,
      from: filter.from === undefined ? null : new Date(filter.from).toISOString(),
      to: filter.to === undefined ? null : new Date(filter.to).toISOString(),
      rows,
      total: figures({ ...total, key: '' }),
    };
    if (p.format === 'csv') result.csv = toCsv(result);
    if (p.stack) result.stacked = await this.stacked(filter, p.stack, by === 'day' ? groups : undefined);
    return result;
  }

  /**
   * One aggregate per day that has calls, each over that day's slice of the ledger only (rows are in time order, so
   * a slice is found by binary search): about two passes over the range in all, through the repository's own
   * interface, so every backend answers it.
   */
  private async stacked(
    filter: LedgerFilter,
    by: CostReport.StackBy,
    byDay?: LedgerAggregate[],
  ): Promise<CostReport.Stacked> {
    let first = filter.from !== undefined ? Math.floor(filter.from / DAY_MS) : undefined;
    let last = filter.to !== undefined ? Math.floor((filter.to - 1) / DAY_MS) : undefined;
    // A bounded range needs no pass to find its days: an empty day's slice costs two binary searches.
    let days: number[] | undefined;
    if (first === undefined || last === undefined || last - first >= MAX_STACK_DAYS || byDay) {
      days = (byDay ?? (await this.ledger.aggregate(filter, 'day'))).map((g) => dayNumber(g.key)).sort((a, b) => a - b);
      first ??= days[0];
      last ??= days[days.length - 1];
      // An absurdly wide range is cut to the days that have calls, so the answer stays small.
      if (first !== undefined && last !== undefined && last - first >= MAX_STACK_DAYS) {
        first = Math.max(first, days[0] ?? Infinity);
        last = Math.min(last, days[days.length - 1] ?? -Infinity);
      }
    }
    if (first === undefined || last === undefined || last < first) return { by, days: [], series: [] };
    const n = last - first + 1;
    const cells = new Map<string, { cost: bigint[]; calls: number[]; total: bigint }>();
    for (const d of days ?? Array.from({ length: n }, (_, i) => first + i)) {
      if (d < first || d > last) continue;
      const slice: LedgerFilter = {
        ...filter,
        from: Math.max(filter.from ?? -Infinity, d * DAY_MS),
        to: Math.min(filter.to ?? Infinity, (d + 1) * DAY_MS),
      };
      for (const g of await this.ledger.aggregate(slice, by)) {
        let c = cells.get(g.key);
        if (!c) {
          c = { cost: new Array<bigint>(n).fill(0n), calls: new Array<number>(n).fill(0), total: 0n };
          cells.set(g.key, c);
        }
        c.cost[d - first] = g.costPico;
        c.calls[d - first] = g.calls;
        c.total += g.costPico;
      }
    }
    const ranked = [...cells.entries()].sort(([ka, a], [kb, b]) =>
      b.total > a.total ? 1 : b.total < a.total ? -1 : ka.localeCompare(kb),
    );
    const max = CostReport.STACK_SERIES_MAX;
    if (ranked.length > max) {
      const rest = ranked.splice(max - 1);
      const other = { cost: new Array<bigint>(n).fill(0n), calls: new Array<number>(n).fill(0), total: 0n };
      for (const [, c] of rest) {
        for (let i = 0; i < n; i++) {
          other.cost[i]! += c.cost[i]!;
          other.calls[i]! += c.calls[i]!;
        }
        other.total += c.total;
      }
      ranked.push([OTHER_KEY, other]);
    }
    return {
      by,
      days: Array.from({ length: n }, (_, i) => new Date((first + i) * DAY_MS).toISOString().slice(0, 10)),
      series: ranked.map(([key, c]) => ({
        key,
        costUsd: c.cost.map(picoToUsd),
        calls: c.calls,
        totalUsd: picoToUsd(c.total),
      })),
    };
  }
}

const DAY_MS = 86_400_000;
/** Wider ranges are cut to the days that have calls (ten years of days is still a small answer). */
const MAX_STACK_DAYS = 3660;
const OTHER_KEY = '(other)';

function dayNumber(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00.000Z`) / DAY_MS);
}

function figures(g: Omit<LedgerAggregate, 'key'> & { key: string }): Omit<CostReport.Row, 'key'> {
  return {
    calls: g.calls,
    promptTokens: g.promptTokens,
    completionTokens: g.completionTokens,
    cachedTokens: g.cachedTokens,
    reasoningTokens: g.reasoningTokens,
    costUsd: picoToUsd(g.costPico),
    estimatedCostUsd: picoToUsd(g.estimatedPico),
    errors: g.errors,
  };
}

function parseInstant(field: string, value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw errors.invalidParams(`${field}: "${value}" is not an ISO date or date-time`, {
      field,
      issues: [{ field, message: 'expected an ISO 8601 date or date-time' }],
    });
  return t;
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(r: CostReport.Result): string {
  // The token columns added later go last, so a sheet that reads columns by position keeps working.
  const header = [
    r.by,
    'calls',
    'prompt_tokens',
    'completion_tokens',
    'cost_usd',
    'estimated_cost_usd',
    'errors',
    'cached_tokens',
    'reasoning_tokens',
  ];
  const line = (key: string, x: Omit<CostReport.Row, 'key'>) =>
    [
      key,
      x.calls,
      x.promptTokens,
      x.completionTokens,
      x.costUsd,
      x.estimatedCostUsd,
      x.errors,
      x.cachedTokens,
      x.reasoningTokens,
    ]
      .map(csvCell)
      .join(',');
  return [header.join(','), ...r.rows.map((row) => line(row.key, row)), line('TOTAL', r.total)].join('\n') + '\n';
}
