/**
 * Proof against OpenRouter's own books (issue 13, part 4): `cost/verify` checks the ledger's rows against GET
 * /generation (and the period totals against GET /key), `cost/verification` reads what the last check found.
 * Amounts are USD (floats at the edge; the server compares exact picodollars), times ISO 8601.
 *
 * `VERIFY_METHODS` is spread into `METHODS` (methods.ts) so the router, the audit log and the contract snapshot
 * see them.
 */
import { RequestType } from 'vscode-jsonrpc';

/** Differences up to this (USD, absolute, per call) are rounding, not drift: a millionth of a dollar. */
export const DEFAULT_DRIFT_THRESHOLD_USD = 0.000001;
/** Without `from`, a verification looks back this many days. */
export const DEFAULT_VERIFY_DAYS = 7;
/** The most calls one verification checks (one GET /generation each); a larger range is refused. */
export const MAX_VERIFY_ROWS = 5_000;
/** A correction row names the row it corrects with this tag prefix (`correction-of:<row id>`). */
export const CORRECTION_TAG_PREFIX = 'correction-of:';

/** A call whose cost in the ledger is not what OpenRouter billed. */
export interface DriftedCall {
  /** The ledger row. */
  id: number;
  generationId: string;
  model: string;
  crew: string | null;
  agent: string | null;
  /** When the call completed. */
  at: string;
  /** What the ledger holds for the call: its row plus any correction appended since. */
  ledgerUsd: number;
  /** GET /generation's `total_cost`. */
  upstreamUsd: number;
  /** upstreamUsd − ledgerUsd, computed exactly. */
  differenceUsd: number;
  /** The row is an estimate that reconciliation has not settled yet (no alert is raised for it). */
  estimated: boolean;
  /** With `fix`: the correction row appended (or, for an estimate, the row itself, settled); else null. */
  fixedBy: number | null;
}

/** A call OpenRouter does not know (404). Calls of the last minutes may simply not be available yet. */
export interface MissingCall {
  id: number;
  generationId: string;
  model: string;
  at: string;
  ledgerUsd: number;
}

/** A call with tokens but no cost in the ledger, which OpenRouter did not confirm as free. */
export interface ZeroCostCall {
  id: number;
  /** null: the call has no generation id, so it could not be checked. */
  generationId: string | null;
  model: string;
  at: string;
  promptTokens: number;
  completionTokens: number;
  /** What OpenRouter billed; null when it could not be asked or does not know the call. */
  upstreamUsd: number | null;
}

export type KeyUsagePeriod = 'day' | 'week' | 'month' | 'total';

/** One of GET /key's usage figures beside the ledger's total for the same UTC period. */
export interface KeyUsageFigure {
  period: KeyUsagePeriod;
  /** Start of the UTC period (weeks start on Monday, as OpenRouter's do); null for `total`. */
  from: string | null;
  ledgerUsd: number;
  upstreamUsd: number;
  /** upstreamUsd − ledgerUsd. Calls made with the key outside this product (or with another key here) show here. */
  differenceUsd: number;
}

export interface KeyUsageComparison {
  label: string | null;
  periods: KeyUsageFigure[];
}

/** What a verification found, in short: what `cost/verification` returns and the Costs dashboard shows. */
export interface VerificationSummary {
  verifiedAt: string;
  from: string;
  to: string;
  thresholdUsd: number;
  checked: number;
  matched: number;
  drifted: number;
  missing: number;
  zeroCost: number;
  /** Corrections appended (and estimates settled) by this verification. */
  fixed: number;
  /** Sum of upstreamUsd − ledgerUsd over the drifted calls (before any fix). */
  driftUsd: number;
  keyUsage: KeyUsageComparison | null;
}

export namespace CostVerify {
  export const method = 'cost/verify';
  export interface Params {
    /** ISO date or date-time, inclusive; default DEFAULT_VERIFY_DAYS days ago. */
    from?: string;
    /** ISO date or date-time, exclusive; default now. */
    to?: string;
    /**
     * Append a correction row for each drifted call (the original row stays; the correction carries the difference,
     * is dated now and counts on the budgets' current periods); an unsettled estimate is settled instead.
     */
    fix?: boolean;
    /** Absolute difference in USD per call above which a call has drifted; default DEFAULT_DRIFT_THRESHOLD_USD. */
    threshold?: number;
  }
  export interface Result {
    from: string;
    to: string;
    thresholdUsd: number;
    /** Calls in the range with a generation id, each looked up with GET /generation. */
    checked: number;
    matched: number;
    drifted: DriftedCall[];
    missing: MissingCall[];
    /** May overlap `drifted` and `missing`: a list of calls worth a look, not a verdict. */
    zeroCost: ZeroCostCall[];
    /** Calls in the range without a generation id (nothing to check them against). */
    unchecked: number;
    fixed: number;
    /** Whether a `ledger_drift` alert went out (once per distinct finding). */
    alerted: boolean;
    /** Absent when GET /key could not be read with this key; `keyUsageUnavailable` says why. */
    keyUsage?: KeyUsageComparison;
    keyUsageUnavailable?: string;
    verifiedAt: string;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace CostVerification {
  export const method = 'cost/verification';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    /** null until the ledger was first verified. */
    last: VerificationSummary | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). `cost/verify` records what it found (and with `fix`, appends corrections). */
export const VERIFY_METHODS = {
  [CostVerify.method]: { mutating: true },
  [CostVerification.method]: { mutating: false },
} as const satisfies Record<string, { mutating: boolean }>;
