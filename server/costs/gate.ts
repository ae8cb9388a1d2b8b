/**
 * The budget gate: the counters behind budgets, and the one atomic step that checks and reserves. Two
 * implementations: in-process for the local store (./local-gate.ts) and transactional for PostgreSQL
 * (server/store/postgres/gate.ts), shared by every instance on the database. BudgetService holds the domain logic
 * over either (actions, downgrade, thresholds and alerts, the refusal's figures), written once.
 *
 * The rule both keep: a reservation is made on every budget in scope (current periods) or on none; a budget whose
 * action is `warn` never refuses; the cost of a settled call counts exactly once on every budget in scope of it
 * when it settles, including one created while it was in flight.
 *
 * A call sent with fallbacks (OpenRouter's `models` chain) may be answered by any model of it: it reserves on the
 * model budgets of every one of them, and settles with the scope of the one that answered (no fallbacks), so its
 * reservation comes off everything it was held on and its cost counts only where the answering model is in scope.
 */
import type { BudgetRecord, LedgerRow, NewLedgerRow } from '../store/repositories';

export interface CallScope {
  crew: string | null;
  agent: string | null;
  model: string;
  /** The models OpenRouter may answer with after `model` fails (its `models` chain), in order; none when absent. */
  fallbacks?: readonly string[];
}

/** The scope keys a call is in: global, its crew, its agent, its model (and each fallback model). */
export function scopesOf(call: CallScope): string[] {
  const out = ['global'];
  if (call.crew) out.push(`crew:${call.crew}`);
  if (call.agent) out.push(`agent:${call.agent}`);
  out.push(`model:${call.model}`);
  // Each scope once: a budget listed twice would hold the reservation twice.
  if (call.fallbacks)
    for (const m of call.fallbacks) {
      const key = `model:${m}`;
      if (!out.includes(key)) out.push(key);
    }
  return out;
}

/** One budget's counters in its current period, as the gate has them. */
export interface GateBudget {
  id: string;
  limit: bigint;
  spent: bigint;
  reserved: bigint;
  /** ms; null for a `total` budget. */
  periodStart: number | null;
  periodEnd: number | null;
}

export interface GateReservation {
  id: string;
  amount: bigint;
}

export interface ReserveOutcome {
  /** Null when a budget refused. */
  reservation: GateReservation | null;
  /** The first enforcing budget without room (figures before this call), when refused. */
  blocker: GateBudget | null;
  /** Every budget in scope, with its figures (after the reservation when one was made). */
  budgets: GateBudget[];
}

export interface SettleOutcome {
  row: LedgerRow;
  /** Every budget in scope of the call now, with its figures after this call. */
  budgets: GateBudget[];
}

export interface BudgetGate {
  /** Whether several instances share the counters (then budget records may change behind this instance's back). */
  readonly shared: boolean;
  /** Reserves `amount` on every budget in scope of `call`, or on none. */
  reserve(call: CallScope, amount: bigint): Promise<ReserveOutcome>;
  /**
   * Records a finished call: the ledger row is stored (durably) and the reservation (if any) becomes its real
   * cost on every budget in scope now, in one step. `alone`: no other call is in flight (write at once).
   */
  settle(
    reservation: GateReservation | null,
    call: CallScope,
    row: NewLedgerRow,
    alone: boolean,
  ): Promise<SettleOutcome>;
  /** Drops a reservation without a ledger row (nothing was sent). */
  release(reservation: GateReservation): Promise<void>;
  /** A reconciled ledger row changed cost by `delta` (the ledger already has the new cost). */
  adjust(call: CallScope, delta: bigint, ts: number): Promise<GateBudget[]>;
  /** Current-period counters of the given budgets (all when omitted). */
  figures(ids?: string[]): Promise<GateBudget[]>;
  /** A budget was created or changed (local gates index it; a shared gate reads the database). */
  installed(record: BudgetRecord): void;
  removed(id: string): void;
}
