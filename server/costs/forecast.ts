/**
 * Spend forecasts per budget and spend anomalies (issue 4), both computed from the ledger's exact picodollar sums;
 * the statistics run on float picodollars (they are estimates) and only their results are rounded to USD.
 *
 * Forecast. pace/day = w · current + (1 − w) · trailing, where `current` is the period's spend so far over the
 * (fractional) days elapsed, `trailing` the average of the last 28 complete UTC days (zero-filled, counted from the
 * scope's first spend if that is more recent), and w = elapsed / (elapsed + 7): the current period weighs as much
 * as its own days against a 7-day prior from history. With only one of the two, it alone is the pace.
 * projected = spent + pace · remainingDays, to the period's end (a `total` budget looks 30 days ahead). Range:
 * projected ± 1.645 · σ_daily · √remainingDays (≈ 90 % if days are independent), σ_daily the standard deviation
 * of the trailing daily spend (of the current period's complete days when there is no history); the low end is
 * never below what is spent. Exhaustion: the first UTC day whose cumulative spend — actual, then projected — reaches
 * the limit. A projection that reaches the limit fires one `forecast` alert per budget and period.
 *
 * Anomalies. Each day (or hour) bucket of the look-back is scored against the median and MAD of the 28 days before
 * it (of the same UTC hour on the 14 days before it: hourly spend follows the working day) — the bucket itself
 * excluded, buckets before the scope's first spend left out, at least 7 needed — with the robust
 * z-score 0.6745 · (x − median) / MAD′. MAD′ is the MAD, or 0.8453 × the mean absolute deviation when the MAD is 0
 * (the two agree for normal data), floored at max(5 % of the median, $0.001) so a flat baseline does not make every
 * cent an outlier. A bucket is an anomaly when score ≥ threshold (3.5 by default) and it spent at least $0.01; each
 * fires one `anomaly` alert naming the crew, agent and model that drove it.
 */
import { attributedAgent, type BudgetStatus } from '../../protocol';
import type {
  AnomalyDriver,
  AnomalyGranularity,
  BudgetForecast,
  CostAnomalies,
  CostForecast,
  SpendAnomaly,
} from '../../protocol/forecast';
import type { Clock } from '../clock';
import type { LedgerFilter, LedgerRepository } from '../store/repositories';
import type { AlertFacts, AlertService } from './alerts';
import type { BudgetService } from './budgets';
import { formatShare, formatUsd } from '../../protocol/format';
import { parseUsd } from './money';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const PICO = 1e12;

export const FORECAST_TRAILING_DAYS = 28;
/** Days of history the current period's average is weighed against. */
export const FORECAST_PRIOR_DAYS = 7;
export const FORECAST_TOTAL_HORIZON_DAYS = 30;
/** Two-sided 90 % normal quantile. */
const Z90 = 1.645;

export const ANOMALY_DEFAULTS = { granularity: 'day' as AnomalyGranularity, days: 7, threshold: 3.5 };
const BASELINE_BUCKETS: Record<AnomalyGranularity, number> = { day: 28, hour: 14 };
/** Fewer baseline buckets than this (a young ledger) and the bucket is not scored. */
const MIN_BASELINE: Record<AnomalyGranularity, number> = { day: 7, hour: 7 };
const MIN_ANOMALY_PICO = 0.01 * PICO;
const MAD_FLOOR_PICO = 0.001 * PICO;
const MAD_FLOOR_SHARE = 0.05;
/** MAD/σ ÷ mean-absolute-deviation/σ for normal data (0.6745 / 0.7979). */
const MEAN_AD_TO_MAD = 0.8453;

/** The budget-side view the service needs; BudgetService provides it. */
export type BudgetStatusSource = Pick<BudgetService, 'status'>;
export type AlertSink = Pick<AlertService, 'fire'>;

export class ForecastService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly budgets: BudgetStatusSource,
    private readonly alerts: AlertSink,
    private readonly clock: Clock,
  ) {}

  async forecast(p: CostForecast.Params = {}): Promise<CostForecast.Result> {
    const now = this.clock.now();
    const filter: { id?: string; scope?: string } = {};
    if (p.budgetId !== undefined) filter.id = p.budgetId;
    if (p.scope !== undefined) filter.scope = p.scope;
    const forecasts: BudgetForecast[] = [];
    for (const status of await this.budgets.status(filter)) {
      const f = await this.forecastOne(status, now);
      forecasts.push(f);
      // A budget already at its limit has had its threshold alerts; a forecast of it would only repeat them.
      if (f.willExceed && status.alertsEnabled && f.spentUsd < status.limitUsd) await this.alertForecast(status, f);
    }
    return { at: new Date(now).toISOString(), forecasts };
  }

  private async forecastOne(s: BudgetStatus, now: number): Promise<BudgetForecast> {
    const scope = scopeFilter(s.scope);
    const start = s.periodStart === null ? null : Date.parse(s.periodStart);
    const end = s.periodEnd === null ? null : Date.parse(s.periodEnd);
    const today = floorTo(now, DAY);
    const horizonEnd = end ?? now + FORECAST_TOTAL_HORIZON_DAYS * DAY;
    const limit = Number(parseUsd(String(s.limitUsd)));

    // Actual spend per day of the period (all time for `total`), as budgets count it (from the start, no end).
    const days = (await this.ledger.aggregate({ ...scope, ...(start === null ? {} : { from: start }) }, 'day'))
      .map((a) => ({ day: a.key, pico: Number(a.costPico) }))
      .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
    const spent = days.reduce((sum, d) => sum + d.pico, 0);

    const trailing = await this.dailyHistory(scope, today, FORECAST_TRAILING_DAYS);
    const trailingPace = trailing.length ? mean(trailing) : null;
    const elapsed = start === null ? 0 : Math.max(0, (now - start) / DAY);
    const currentPace = start !== null && elapsed > 0 ? spent / elapsed : null;
    const w = currentPace === null ? 0 : trailingPace === null ? 1 : elapsed / (elapsed + FORECAST_PRIOR_DAYS);
    const pace = w * (currentPace ?? 0) + (1 - w) * (trailingPace ?? 0);

    const remaining = Math.max(0, (horizonEnd - now) / DAY);
    const projected = spent + pace * remaining;
    let spread = trailing;
    if (!spread.length && start !== null) spread = zeroFilled(days, start, today);
    const sigma = stddev(spread);
    const margin = Z90 * sigma * Math.sqrt(remaining);

    const exhaustion = exhaustionDay(days, limit, spent, pace, now, horizonEnd);
    const method =
      (currentPace !== null && trailingPace !== null
        ? `pace = ${fix(w)} × current period (${usd(currentPace)}/day over ${fix(elapsed, 1)} days) + ${fix(1 - w)} × ` +
          `trailing ${trailing.length} days (${usd(trailingPace)}/day)`
        : currentPace !== null
          ? `pace = current period (${usd(currentPace)}/day over ${fix(elapsed, 1)} days; no history)`
          : trailingPace !== null
            ? `pace = trailing ${trailing.length} days (${usd(trailingPace)}/day)`
            : 'pace = 0 (no spend in the period or its history)') +
      `; projected = spent + pace × ${fix(remaining, 2)} days to ${end === null ? `${FORECAST_TOTAL_HORIZON_DAYS} days ahead` : 'period end'}` +
      `; range ± 1.645 × σ_daily (${usd(sigma)}) × √days (≈ 90%)`;

    return {
      budgetId: s.id,
      scope: s.scope,
      period: s.period,
      limitUsd: s.limitUsd,
      spentUsd: toUsd(spent),
      periodStart: s.periodStart,
      periodEnd: s.periodEnd,
      horizonEnd: new Date(horizonEnd).toISOString(),
      projectedUsd: toUsd(projected),
      low: toUsd(Math.max(spent, projected - margin)),
      high: toUsd(projected + margin),
      exhaustionDate: exhaustion,
      willExceed: exhaustion !== null,
      method,
      pacePerDayUsd: toUsd(pace),
      currentPacePerDayUsd: currentPace === null ? null : toUsd(currentPace),
      trailingPacePerDayUsd: trailingPace === null ? null : toUsd(trailingPace),
    };
  }

  /**
   * Spend of each of the `n` complete UTC days before `today`, zero-filled, oldest first — starting at the scope's
   * first spend when that is more recent (days before anyone spent are not history). Empty when there is none.
   */
  private async dailyHistory(scope: LedgerFilter, today: number, n: number): Promise<number[]> {
    const from = today - n * DAY;
    const byDay = new Map(
      (await this.ledger.aggregate({ ...scope, from, to: today }, 'day')).map((a) => [
        dayStart(a.key),
        Number(a.costPico),
      ]),
    );
    let first = from;
    if ((await this.ledger.sumCost({ ...scope, to: from })) === 0n) {
      const spentDays = [...byDay.entries()].filter(([, v]) => v !== 0).map(([k]) => k);
      if (!spentDays.length) return [];
      first = Math.min(...spentDays);
    }
    const out: number[] = [];
    for (let d = first; d < today; d += DAY) out.push(byDay.get(d) ?? 0);
    return out;
  }

  private async alertForecast(s: BudgetStatus, f: BudgetForecast): Promise<void> {
    const horizon =
      s.periodEnd === null ? `in the next ${FORECAST_TOTAL_HORIZON_DAYS} days` : 'by the end of the period';
    await this.fire({
      budgetId: s.id,
      scope: s.scope,
      kind: 'forecast',
      threshold: null,
      spentUsd: f.spentUsd,
      limitUsd: s.limitUsd,
      percentUsed: s.limitUsd > 0 ? round((f.projectedUsd / s.limitUsd) * 100, 2) : 100,
      periodStart: s.periodStart === null ? null : Date.parse(s.periodStart),
      message:
        `Budget ${s.scope} (${s.period}) is projected to spend ${formatUsd(f.projectedUsd)} of its ` +
        `${formatUsd(s.limitUsd)} limit ${horizon} (${range(f.low, f.high)}); at ${formatUsd(f.pacePerDayUsd)}/day it ` +
        `runs out on ${f.exhaustionDate}`,
    });
  }

  async anomalies(p: CostAnomalies.Params = {}): Promise<CostAnomalies.Result> {
    const granularity = p.granularity ?? ANOMALY_DEFAULTS.granularity;
    const lookbackDays = p.days ?? ANOMALY_DEFAULTS.days;
    const threshold = p.threshold ?? ANOMALY_DEFAULTS.threshold;
    const size = granularity === 'day' ? DAY : HOUR;
    const n = BASELINE_BUCKETS[granularity];
    const now = this.clock.now();
    const scope: LedgerFilter = {};
    if (p.crew !== undefined) scope.crew = p.crew;
    if (p.agent !== undefined) scope.agent = attributedAgent(p.crew, p.agent) ?? p.agent;
    if (p.model !== undefined) scope.model = p.model;

    // The buckets examined: the look-back's days, up to and including the bucket now is in.
    const evalFrom = floorTo(now, DAY) - (lookbackDays - 1) * DAY;
    const evalTo = floorTo(now, size) + size;
    // Baseline buckets are one day apart: the n days before a day, or the same UTC hour on the n days before an
    // hour (hourly spend follows the working day, so its neighbours are not its baseline).
    const seriesFrom = evalFrom - n * DAY;
    const stride = DAY / size;
    const series = await this.buckets(scope, granularity, seriesFrom, evalTo);
    let historyStart = seriesFrom;
    if ((await this.ledger.sumCost({ ...scope, to: seriesFrom })) === 0n) {
      const i = series.findIndex((v) => v !== 0);
      historyStart = i < 0 ? evalTo : seriesFrom + i * size;
    }

    const anomalies: SpendAnomaly[] = [];
    for (let b = evalFrom; b < evalTo; b += size) {
      const idx = (b - seriesFrom) / size;
      const x = series[idx] ?? 0;
      if (x < MIN_ANOMALY_PICO) continue;
      const baseline: number[] = [];
      for (let k = 1; k <= n && b - k * DAY >= historyStart; k++) baseline.push(series[idx - k * stride] ?? 0);
      if (baseline.length < MIN_BASELINE[granularity]) continue;
      const med = median(baseline);
      const mad = median(baseline.map((v) => Math.abs(v - med)));
      const scale = Math.max(
        mad > 0 ? mad : MEAN_AD_TO_MAD * mean(baseline.map((v) => Math.abs(v - med))),
        MAD_FLOOR_SHARE * med,
        MAD_FLOOR_PICO,
      );
      const score = (0.6745 * (x - med)) / scale;
      if (score < threshold) continue;
      const range = { ...scope, from: b, to: b + size };
      anomalies.push({
        at: new Date(b).toISOString(),
        granularity,
        spentUsd: toUsd(x),
        baselineUsd: toUsd(med),
        madUsd: toUsd(mad),
        score: round(score, 2),
        drivers: {
          crew: await this.topDriver(range, 'crew', x),
          agent: await this.topDriver(range, 'agent', x),
          model: await this.topDriver(range, 'model', x),
        },
      });
    }
    for (const a of anomalies) await this.alertAnomaly(a, scopeLabel(p));
    return {
      granularity,
      threshold,
      baselineBuckets: n,
      from: new Date(evalFrom).toISOString(),
      to: new Date(evalTo).toISOString(),
      anomalies,
    };
  }

  /** Spend per bucket over [from, to), as float picodollars: one ledger aggregate for days, one sum per hour. */
  private async buckets(
    scope: LedgerFilter,
    granularity: AnomalyGranularity,
    from: number,
    to: number,
  ): Promise<number[]> {
    if (granularity === 'day') {
      const byDay = new Map(
        (await this.ledger.aggregate({ ...scope, from, to }, 'day')).map((a) => [dayStart(a.key), Number(a.costPico)]),
      );
      const out: number[] = [];
      for (let d = from; d < to; d += DAY) out.push(byDay.get(d) ?? 0);
      return out;
    }
    const out: number[] = [];
    for (let h = from; h < to; h += HOUR)
      out.push(Number(await this.ledger.sumCost({ ...scope, from: h, to: h + HOUR })));
    return out;
  }

  private async topDriver(
    range: LedgerFilter,
    by: 'crew' | 'agent' | 'model',
    total: number,
  ): Promise<AnomalyDriver | null> {
    let top: { key: string; pico: bigint } | null = null;
    for (const a of await this.ledger.aggregate(range, by)) {
      if (!top || a.costPico > top.pico || (a.costPico === top.pico && a.key < top.key))
        top = { key: a.key, pico: a.costPico };
    }
    if (!top) return null;
    return {
      key: top.key,
      spentUsd: toUsd(Number(top.pico)),
      share: total > 0 ? round(Number(top.pico) / total, 4) : 0,
    };
  }

  private async alertAnomaly(a: SpendAnomaly, scope: string): Promise<void> {
    const when = a.granularity === 'day' ? a.at.slice(0, 10) : `${a.at.slice(0, 13)}:00Z`;
    const d = a.drivers;
    const driven = [
      d.crew && `crew ${d.crew.key} (${formatShare(d.crew.share)})`,
      d.agent && `agent ${d.agent.key} (${formatShare(d.agent.share)})`,
      d.model && `model ${d.model.key} (${formatShare(d.model.share)})`,
    ].filter(Boolean);
    await this.fire({
      // Not a budget: one pseudo-id per granularity and scope, so each bucket alerts once (AlertService's key).
      budgetId: `anomaly/${a.granularity}/${scope}`,
      scope,
      kind: 'anomaly',
      threshold: null,
      spentUsd: a.spentUsd,
      // The baseline stands in for the limit, so percentUsed reads as "% of usual".
      limitUsd: a.baselineUsd,
      percentUsed: a.baselineUsd > 0 ? round((a.spentUsd / a.baselineUsd) * 100, 2) : 0,
      periodStart: Date.parse(a.at),
      message:
        `Spend ${a.granularity === 'day' ? 'on' : 'in the hour'} ${when} (${scope}) was ${formatUsd(a.spentUsd)} ` +
        `against a usual ${formatUsd(a.baselineUsd)} (robust z ${fix(a.score, 1)}); driven by ${driven.join(', ') || 'unknown'}`,
    });
  }

  private async fire(f: AlertFacts): Promise<void> {
    try {
      await this.alerts.fire(f);
    } catch {
      // The store refused the write; AlertService has logged it, and the figures are still worth answering.
    }
  }
}

function scopeFilter(scope: string): LedgerFilter {
  if (scope === 'global') return {};
  const i = scope.indexOf(':');
  const kind = scope.slice(0, i) as 'crew' | 'agent' | 'model';
  return { [kind]: scope.slice(i + 1) };
}

function scopeLabel(p: CostAnomalies.Params): string {
  const parts: string[] = [];
  if (p.crew !== undefined) parts.push(`crew:${p.crew}`);
  if (p.agent !== undefined) parts.push(`agent:${p.agent}`);
  if (p.model !== undefined) parts.push(`model:${p.model}`);
  return parts.length ? parts.join(',') : 'global';
}

/**
 * The UTC day on which cumulative spend first reaches `limit`: among the actual days first, then projecting `pace`
 * per day from `now` to `horizonEnd`. Null when it does not within the horizon.
 */
function exhaustionDay(
  days: { day: string; pico: number }[],
  limit: number,
  spent: number,
  pace: number,
  now: number,
  horizonEnd: number,
): string | null {
  // Half a picodollar of slack for the float projection (the actual sums are exact integers).
  const reached = (cum: number) => cum >= limit - 0.5;
  let cum = 0;
  for (const d of days) {
    cum += d.pico;
    if (reached(cum)) return d.day;
  }
  cum = spent;
  if (pace <= 0) return null;
  for (let d = floorTo(now, DAY); d < horizonEnd; d += DAY) {
    const dayEnd = Math.min(d + DAY, horizonEnd);
    cum += (pace * (dayEnd - Math.max(now, d))) / DAY;
    if (reached(cum)) return isoDay(d);
  }
  return null;
}

function zeroFilled(days: { day: string; pico: number }[], from: number, to: number): number[] {
  const byDay = new Map(days.map((d) => [dayStart(d.day), d.pico]));
  const out: number[] = [];
  for (let d = floorTo(from, DAY); d < to; d += DAY) out.push(byDay.get(d) ?? 0);
  return out;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function stddev(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length);
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const floorTo = (t: number, size: number) => Math.floor(t / size) * size;
const dayStart = (day: string) => Date.parse(`${day}T00:00:00.000Z`);
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);
/** Float picodollars → USD, exact to the picodollar. */
const toUsd = (pico: number) => Math.round(pico) / PICO;
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const fix = (x: number, digits = 2) => x.toFixed(digits);
const usd = (pico: number) => formatUsd(pico / PICO);
/** "range $1.20–$3.40", or the one amount when there is no spread. */
const range = (low: number, high: number) =>
  formatUsd(low) === formatUsd(high) ? `no spread: ${formatUsd(low)}` : `range ${formatUsd(low)}–${formatUsd(high)}`;
