/**
 * The in-process gate of the local store: counters in memory, seeded from the ledger and re-derived from it when a
 * period rolls over. The check and the reservation are one synchronous step (no await between them), so
 * concurrent calls can never together go past a limit; only this process writes the data directory.
 */
import type { Clock } from '../clock';
import type { BudgetRecord, LedgerFilter, LedgerRow, NewLedgerRow } from '../store/repositories';
import type { BudgetGate, CallScope, GateBudget, GateReservation, ReserveOutcome, SettleOutcome } from './gate';
import { scopesOf } from './gate';
import { parseUsd } from './money';
import { periodBounds } from './periods';

/** What the local gate needs of the ledger: synchronous sums over what is in memory, and a durable append. */
export interface LocalLedger {
  append(row: NewLedgerRow, opts?: { alone?: boolean }): Promise<LedgerRow>;
  sumCostNow(filter: LedgerFilter): bigint;
  countNow(): number;
}

interface Counter {
  record: BudgetRecord;
  limit: bigint;
  start: number | null;
  end: number | null;
  spent: bigint;
  /** Ledger rows with ids up to this were counted by the last re-derivation of `spent` (ids are dense from 1). */
  derivedThrough: number;
  reserved: bigint;
}

interface Held {
  amount: bigint;
  budgetIds: string[];
}

export class LocalGate implements BudgetGate {
  readonly shared = false;
  private readonly counters = new Map<string, Counter>();
  private readonly byScope = new Map<string, Counter[]>();
  private readonly held = new Map<string, Held>();
  /** Reservations live only in memory, so a counter is a unique enough id. */
  private seq = 0;

  constructor(
    private readonly ledger: LocalLedger,
    private readonly clock: Clock,
  ) {}

  installed(record: BudgetRecord): void {
    const prev = this.counters.get(record.id);
    if (prev) this.unindex(prev);
    const c: Counter = {
      record,
      limit: parseUsd(record.limit),
      start: null,
      end: null,
      spent: 0n,
      derivedThrough: 0,
      // Calls in flight keep their reservations on a budget that is replaced (edited, or a store restore).
      reserved: prev?.reserved ?? 0n,
    };
    this.rollover(c, true);
    this.counters.set(record.id, c);
    const list = this.byScope.get(record.scope) ?? [];
    list.push(c);
    this.byScope.set(record.scope, list);
  }

  removed(id: string): void {
    const c = this.counters.get(id);
    if (c) this.unindex(c);
  }

  private unindex(c: Counter): void {
    const list = (this.byScope.get(c.record.scope) ?? []).filter((x) => x.record.id !== c.record.id);
    if (list.length) this.byScope.set(c.record.scope, list);
    else this.byScope.delete(c.record.scope);
    this.counters.delete(c.record.id);
  }

  /** Moves the counter to the current period when the clock has left the one it tracks; true when it did. */
  private rollover(c: Counter, force = false): boolean {
    const now = this.clock.now();
    if (!force && (c.end === null || now < c.end) && (c.start === null || now >= c.start)) return false;
    const { start, end } = periodBounds(c.record.period, now, c.record.weekStart);
    c.start = start;
    c.end = end;
    c.spent = this.ledger.sumCostNow({ ...scopeFilter(c.record.scope), ...(start === null ? {} : { from: start }) });
    c.derivedThrough = this.ledger.countNow();
    return true;
  }

  private inScope(call: CallScope): Counter[] {
    const out: Counter[] = [];
    for (const key of scopesOf(call)) {
      const l = this.byScope.get(key);
      if (l) out.push(...l);
    }
    return out;
  }

  reserve(call: CallScope, amount: bigint): Promise<ReserveOutcome> {
    const budgets = this.inScope(call);
    let blocker: GateBudget | null = null;
    for (const c of budgets) {
      this.rollover(c);
      if (blocker || c.record.action === 'warn' || c.spent + c.reserved + amount <= c.limit) continue;
      blocker = view(c);
    }
    if (blocker) return Promise.resolve({ reservation: null, blocker, budgets: budgets.map(view) });
    const reservation: GateReservation = { id: `r${++this.seq}`, amount };
    for (const c of budgets) c.reserved += amount;
    this.held.set(reservation.id, { amount, budgetIds: budgets.map((c) => c.record.id) });
    return Promise.resolve({ reservation, blocker: null, budgets: budgets.map(view) });
  }

  /**
   * The reservation comes off the budgets that hold it; the real cost goes onto every budget the call is in scope
   * of now, including one created (or re-scoped) while the call was in flight, whose spend was derived from a
   * ledger that did not have this call yet. A budget whose spend was derived since the append (created after it,
   * or a period rollover) has counted the row already, so every budget counts the call exactly once.
   */
  async settle(
    reservation: GateReservation | null,
    call: CallScope,
    row: NewLedgerRow,
    alone: boolean,
  ): Promise<SettleOutcome> {
    const stored = await this.ledger.append(row, { alone });
    const touched = reservation ? this.unhold(reservation.id) : new Set<Counter>();
    const inScope = this.inScope(call);
    for (const c of inScope) touched.add(c);
    const actual = BigInt(stored.costPico);
    for (const c of touched) {
      this.rollover(c);
      const counted = stored.id <= c.derivedThrough;
      if (inScope.includes(c) && !counted && within(c, stored.ts)) c.spent += actual;
    }
    return { row: stored, budgets: inScope.map(view) };
  }

  private unhold(id: string): Set<Counter> {
    const touched = new Set<Counter>();
    const h = this.held.get(id);
    if (!h) return touched;
    this.held.delete(id);
    for (const budgetId of h.budgetIds) {
      const c = this.counters.get(budgetId);
      if (!c) continue;
      c.reserved -= h.amount;
      touched.add(c);
    }
    return touched;
  }

  release(reservation: GateReservation): Promise<void> {
    this.unhold(reservation.id);
    return Promise.resolve();
  }

  adjust(call: CallScope, delta: bigint, ts: number): Promise<GateBudget[]> {
    const budgets = this.inScope(call);
    for (const c of budgets) {
      const rederived = this.rollover(c);
      if (!rederived && within(c, ts)) c.spent += delta;
    }
    return Promise.resolve(budgets.map(view));
  }

  figures(ids?: string[]): Promise<GateBudget[]> {
    const out: GateBudget[] = [];
    for (const c of ids ? ids.map((id) => this.counters.get(id)) : this.counters.values()) {
      if (!c) continue;
      this.rollover(c);
      out.push(view(c));
    }
    return Promise.resolve(out);
  }
}

const within = (c: Counter, ts: number) => (c.start === null || ts >= c.start) && (c.end === null || ts < c.end);

function view(c: Counter): GateBudget {
  return {
    id: c.record.id,
    limit: c.limit,
    spent: c.spent,
    reserved: c.reserved,
    periodStart: c.start,
    periodEnd: c.end,
  };
}

export function scopeFilter(scope: string): LedgerFilter {
  if (scope === 'global') return {};
  const i = scope.indexOf(':');
  const kind = scope.slice(0, i) as 'crew' | 'agent' | 'model';
  return { [kind]: scope.slice(i + 1) };
}
