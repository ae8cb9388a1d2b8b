/**
 * The Costs page's view model: which report to ask for, and server results turned into chart series. It only
 * reshapes and labels figures; every amount is the server's.
 */
import type { BudgetForecast, CostReport, VerificationSummary } from '../../../protocol';
import {
  counted,
  formatCount,
  formatDate,
  formatDateTime,
  formatDay,
  formatPercent,
  formatUsd,
} from '../../../protocol/format';

export const RANGES = [7, 30, 90] as const;
export type RangeDays = (typeof RANGES)[number];
export type StackBy = 'model' | 'agent';

export interface CostsState {
  days: RangeDays;
  stack: StackBy;
  /** The budget whose forecast is drawn; undefined: the most constrained one. */
  budgetId?: string;
}

export const DEFAULT_COSTS_STATE: CostsState = { days: 30, stack: 'model' };

export function costsState(saved: Partial<CostsState> | undefined): CostsState {
  const days = RANGES.includes(saved?.days as RangeDays) ? (saved!.days as RangeDays) : DEFAULT_COSTS_STATE.days;
  const stack = saved?.stack === 'agent' ? 'agent' : 'model';
  return saved?.budgetId ? { days, stack, budgetId: saved.budgetId } : { days, stack };
}

const DAY_MS = 86_400_000;

/** The last `days` UTC days, today included: whole days, so the chart has exactly `days` bars. */
export function reportParams(state: CostsState, now: number): CostReport.Params {
  const tomorrow = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  return {
    by: state.stack,
    stack: state.stack,
    from: new Date(tomorrow - state.days * DAY_MS).toISOString(),
    to: new Date(tomorrow).toISOString(),
  };
}

export interface StackedChart {
  labels: string[];
  /** Day keys as the server sent them, for tooltips and tests. */
  days: string[];
  datasets: { label: string; data: number[]; color: string }[];
}

export function stackedChart(stacked: CostReport.Stacked, palette: readonly string[]): StackedChart {
  return {
    labels: stacked.days.map(formatDay),
    days: stacked.days,
    datasets: stacked.series.map((s, i) => ({
      label: s.key,
      data: s.costUsd,
      color: palette[i % palette.length] ?? '#888888',
    })),
  };
}

export interface Spender {
  key: string;
  costUsd: number;
  calls: number;
  /** Bar length relative to the top spender, 0 … 1 (drawing only; not a figure shown). */
  bar: number;
}

/** The report's rows are already sorted by cost, largest first. */
export function topSpenders(report: CostReport.Result, n = 10): Spender[] {
  const rows = report.rows.slice(0, n);
  const top = rows[0]?.costUsd ?? 0;
  return rows.map((r) => ({ key: r.key, costUsd: r.costUsd, calls: r.calls, bar: top > 0 ? r.costUsd / top : 0 }));
}

/** The forecast to draw: the one chosen, else the budget most likely to run out (the server's order otherwise). */
export function pickForecast(forecasts: BudgetForecast[], budgetId: string | undefined): BudgetForecast | undefined {
  return (
    forecasts.find((f) => f.budgetId === budgetId) ??
    [...forecasts].sort((a, b) => b.projectedUsd / (b.limitUsd || 1) - a.projectedUsd / (a.limitUsd || 1))[0]
  );
}

export interface Point {
  x: number;
  y: number;
}

export interface ForecastChart {
  spent: Point[];
  projected: Point[];
  low: Point[];
  high: Point[];
  limit: Point[];
}

/**
 * Lines through the server's figures: spend from the period's start (nothing spent yet) to now, the projection from
 * now to the horizon with its range, and the limit across.
 */
export function forecastChart(f: BudgetForecast, at: string): ForecastChart {
  const now = Date.parse(at);
  const end = Date.parse(f.horizonEnd);
  const start = f.periodStart ? Date.parse(f.periodStart) : now;
  const here = { x: now, y: f.spentUsd };
  return {
    spent: f.periodStart ? [{ x: start, y: 0 }, here] : [here],
    projected: [here, { x: end, y: f.projectedUsd }],
    low: [here, { x: end, y: f.low }],
    high: [here, { x: end, y: f.high }],
    limit: [
      { x: start, y: f.limitUsd },
      { x: end, y: f.limitUsd },
    ],
  };
}

/**
 * The forecast's sentence. A budget already at or over its limit has no "will": it says when the limit was reached
 * and how far past it the spend is, rather than projecting a date that is today or behind.
 */
export function forecastVerdict(f: BudgetForecast, at: string): string {
  const today = at.slice(0, 10);
  if (f.limitUsd > 0 && f.spentUsd >= f.limitUsd)
    return (
      `The limit was reached${f.exhaustionDate ? ` on ${formatDay(f.exhaustionDate)}` : ''}: ` +
      `${formatUsd(f.spentUsd)} spent, ${formatPercent((f.spentUsd / f.limitUsd) * 100)} of ${formatUsd(f.limitUsd)}.`
    );
  if (!f.exhaustionDate) return 'At this pace the limit is not reached in this period.';
  return f.exhaustionDate <= today
    ? 'At this pace the limit is reached today.'
    : `At this pace the limit is reached on ${formatDay(f.exhaustionDate)}.`;
}

export interface VerificationView {
  /** `never`: not verified yet; `agrees`; `drift`: calls differed from OpenRouter's books; `look`: none drifted, but
   * some are unknown to OpenRouter or have tokens without a cost. */
  state: 'never' | 'agrees' | 'drift' | 'look';
  headline: string;
  details: string[];
}

/** What the last `cost/verify` found, in words for the Costs page. */
export function verificationView(v: VerificationSummary | null): VerificationView {
  if (!v)
    return {
      state: 'never',
      headline: "Not verified against OpenRouter's books yet.",
      details: ['Run crew cost verify to check every call against what OpenRouter billed.'],
    };
  const headline =
    `Last verified ${formatDateTime(v.verifiedAt)}: ${counted(v.checked, 'call')} from ${formatDate(v.from)} ` +
    `to ${formatDate(v.to)}, ${formatCount(v.matched)} matching OpenRouter.`;
  const details: string[] = [];
  if (v.drifted) {
    const sign = v.driftUsd > 0 ? '+' : '';
    details.push(
      `${counted(v.drifted, 'call')} drifted (${sign}${formatUsd(v.driftUsd)} against the ledger)` +
        (v.fixed ? `, ${counted(v.fixed, 'correction')} made.` : ': crew cost verify --fix appends corrections.'),
    );
  }
  if (v.missing) details.push(`${counted(v.missing, 'call')} unknown to OpenRouter.`);
  if (v.zeroCost) details.push(`${counted(v.zeroCost, 'call')} with tokens but no cost.`);
  const month = v.keyUsage?.periods.find((p) => p.period === 'month');
  if (month)
    details.push(
      `This month: ledger ${formatUsd(month.ledgerUsd)}, OpenRouter's key ${v.keyUsage?.label ? `"${v.keyUsage.label}" ` : ''}${formatUsd(month.upstreamUsd)}.`,
    );
  const state = v.drifted > v.fixed ? 'drift' : v.missing || v.zeroCost ? 'look' : 'agrees';
  return { state, headline, details };
}
