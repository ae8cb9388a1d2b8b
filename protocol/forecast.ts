/**
 * Spend forecasting and anomaly detection (issue 4): one namespace per method, as in methods.ts. Amounts are USD
 * (floats at the edge; the server sums picodollars), times ISO 8601, days UTC `YYYY-MM-DD`.
 *
 * `FORECAST_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';
import type { BudgetPeriod, ScopeString } from './types';

// ── cost/forecast ──────────────────────────────────────────────────────

export interface BudgetForecast {
  budgetId: string;
  scope: ScopeString;
  period: BudgetPeriod;
  limitUsd: number;
  /** Spent in the current period so far (from the ledger). */
  spentUsd: number;
  /** null for `total` budgets. */
  periodStart: string | null;
  /** null for `total` budgets. */
  periodEnd: string | null;
  /** The end of the projection: the period's end, or 30 days from now for a `total` budget. */
  horizonEnd: string;
  /** Projected spend at `horizonEnd`: spent + pace × remaining days. */
  projectedUsd: number;
  /** Lower end of the range (never below what is already spent). */
  low: number;
  /** Upper end of the range. */
  high: number;
  /**
   * The UTC day (`YYYY-MM-DD`) on which cumulative spend (actual, then projected) first reaches the limit; null when
   * it does not within the horizon. A day in the past when the limit is already reached.
   */
  exhaustionDate: string | null;
  /** projectedUsd ≥ limitUsd. */
  willExceed: boolean;
  /** How the figure was made (pace blend, range), in words. */
  method: string;
  /** The blended daily pace the projection uses. */
  pacePerDayUsd: number;
  /** The two inputs of the blend: the current period's average per day (null before any time has passed, or for
   * `total`) and the trailing history's (null when the scope has no history). */
  currentPacePerDayUsd: number | null;
  trailingPacePerDayUsd: number | null;
}

export namespace CostForecast {
  export const method = 'cost/forecast';
  export interface Params {
    /** One budget; default: every budget (optionally only those of `scope`). */
    budgetId?: string;
    scope?: ScopeString;
  }
  export interface Result {
    at: string;
    forecasts: BudgetForecast[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── cost/anomalies ─────────────────────────────────────────────────────

export type AnomalyGranularity = 'day' | 'hour';

export interface AnomalyDriver {
  /** The crew, agent or model id; `(none)` for calls without a crew or agent. */
  key: string;
  spentUsd: number;
  /** Its share of the bucket's spend, 0..1. */
  share: number;
}

export interface SpendAnomaly {
  /** Start of the bucket (ISO). */
  at: string;
  granularity: AnomalyGranularity;
  spentUsd: number;
  /** Median of the baseline buckets (the bucket itself excluded; see Result.baselineBuckets). */
  baselineUsd: number;
  /** Median absolute deviation of the baseline, before any floor. */
  madUsd: number;
  /**
   * Robust z-score 0.6745·(spent − median)/MAD′, where MAD′ = MAD, or 0.8453 × the mean absolute deviation when MAD
   * is 0 (a mostly-constant baseline), and never less than max(5 % of the median, $0.001).
   */
  score: number;
  /** Who drove the bucket's spend: the top crew, agent and model in it, with their share. */
  drivers: { crew: AnomalyDriver | null; agent: AnomalyDriver | null; model: AnomalyDriver | null };
}

export namespace CostAnomalies {
  export const method = 'cost/anomalies';
  export interface Params {
    /** Bucket size; default `day`. */
    granularity?: AnomalyGranularity;
    /** How many UTC days back to look for anomalies, today included; default 7. */
    days?: number;
    /** Robust z-score at or above which a bucket is an anomaly; default 3.5. */
    threshold?: number;
    crew?: string;
    agent?: string;
    model?: string;
  }
  export interface Result {
    granularity: AnomalyGranularity;
    threshold: number;
    /** Baseline length in buckets: the 28 days before a day, or the same UTC hour on the 14 days before an hour. */
    baselineBuckets: number;
    /** The buckets examined: from (inclusive) and to (exclusive), ISO. */
    from: string;
    to: string;
    /** Oldest first. */
    anomalies: SpendAnomaly[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). Both may fire alerts (once each), but change no state a client set. */
export const FORECAST_METHODS = {
  [CostForecast.method]: { mutating: false },
  [CostAnomalies.method]: { mutating: false },
} as const satisfies Record<string, { mutating: boolean }>;
