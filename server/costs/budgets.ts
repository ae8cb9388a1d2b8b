/**
 * Budgets and the gate. Before a call, its worst-case cost is reserved against every budget in scope in one
 * synchronous step (no await between check and reserve), so concurrent calls can never together go past a
 * limit; after the call the reservation is replaced by the real cost, or released.
 *
 * Spent-per-period is kept in memory, seeded from the ledger and re-derived from it when a period rolls over.
 */
import { randomUUID } from 'node:crypto';
import type { BudgetSet, BudgetState, BudgetStatus, Budget } from '../../protocol';
import type { Clock } from '../clock';
import { errors } from '../errors';
import type { BudgetRecord, BudgetRepository, LedgerFilter, LedgerRepository } from '../store/repositories';
import type { AlertFacts, AlertService } from './alerts';
import { formatPico, parseUsd, picoToUsd } from './money';
import { periodBounds } from './periods';

export const DEFAULT_THRESHOLDS = [50, 80, 100];

export interface CallScope {
  crew: string | null;
  agent: string | null;
  model: string;
}

interface LiveBudget {
  record: BudgetRecord;
  limit: bigint;
  start: number | null;
  end: number | null;
  spent: bigint;
  /** Ledger rows with ids up to this were counted by the last re-derivation of `spent` (ids are dense from 1). */
  derivedThrough: number;
  reserved: bigint;
  /** Alerts already sent this period, so a hot budget does not ask the store again on every call. */
  notified: Set<string>;
  // Derived once per install / period, because budget/status is read far more often than budgets change.
  view: Budget;
  warnAt: number;
  startIso: string | null;
  endIso: string | null;
}

export interface Reservation {
  id: string;
  model: string;
  /** Who the call is attributed to (with the model it was reserved on): the budgets its real cost counts in. */
  call: CallScope;
  amount: bigint;
  /** The budgets that hold this reservation (in scope when it was made). */
  budgetIds: string[];
  /** Set when a `downgrade` budget switched the model. */
  downgradedBy: string | null;
  warnings: string[];
}

export class BudgetService {
  private readonly live = new Map<string, LiveBudget>();
  private readonly byScope = new Map<string, LiveBudget[]>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly pendingAlerts = new Set<Promise<void>>();
  /** Reservations live only in memory, so a counter is a unique enough id. */
  private reservationSeq = 0;
  /** Budget writes run one at a time, so two `set`s of one scope and period find each other (one budget, not two). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: BudgetRepository,
    private readonly ledger: LedgerRepository,
    private readonly alerts: AlertService,
    private readonly clock: Clock,
  ) {}

  /** Loads budgets and derives their spend from the ledger (at start and after a store restore). */
  async init(): Promise<void> {
    // Calls in flight (during a restore) keep their reservations: they settle against these budgets later.
    const previous = new Map(this.live);
    this.live.clear();
    this.byScope.clear();
    for (const r of await this.repo.list()) this.install(r).reserved = previous.get(r.id)?.reserved ?? 0n;
  }

  private install(record: BudgetRecord): LiveBudget {
    const prev = this.live.get(record.id);
    if (prev) this.unindex(prev);
    const b: LiveBudget = {
      record,
      limit: parseUsd(record.limit),
      start: null,
      end: null,
      spent: 0n,
      derivedThrough: 0,
      reserved: prev?.reserved ?? 0n,
      notified: new Set(),
      view: toBudget(record),
      warnAt: Math.max(...record.thresholds.filter((t) => t < 100), 0) || 80,
      startIso: null,
      endIso: null,
    };
    this.rollover(b, true);
    this.live.set(record.id, b);
    const list = this.byScope.get(record.scope) ?? [];
    list.push(b);
    this.byScope.set(record.scope, list);
    return b;
  }

  private unindex(b: LiveBudget): void {
    const list = (this.byScope.get(b.record.scope) ?? []).filter((x) => x.record.id !== b.record.id);
    if (list.length) this.byScope.set(b.record.scope, list);
    else this.byScope.delete(b.record.scope);
    this.live.delete(b.record.id);
  }

  /**
   * Moves the budget to the current period when the clock has left the one it tracks, re-deriving its spend from
   * the ledger; true when it did.
   */
  private rollover(b: LiveBudget, force = false): boolean {
    const now = this.clock.now();
    if (!force && (b.end === null || now < b.end) && (b.start === null || now >= b.start)) return false;
    const { start, end } = periodBounds(b.record.period, now, b.record.weekStart);
    if (start !== b.start) b.notified.clear();
    b.start = start;
    b.end = end;
    b.startIso = start === null ? null : new Date(start).toISOString();
    b.endIso = end === null ? null : new Date(end).toISOString();
    b.spent = this.ledger.sumCost({ ...scopeFilter(b.record.scope), ...(start === null ? {} : { from: start }) });
    b.derivedThrough = this.ledger.count();
    return true;
  }

  private inScope(call: CallScope): LiveBudget[] {
    const out: LiveBudget[] = [];
    const add = (key: string) => {
      const l = this.byScope.get(key);
      if (l) out.push(...l);
    };
    add('global');
    if (call.crew) add(`crew:${call.crew}`);
    if (call.agent) add(`agent:${call.agent}`);
    add(`model:${call.model}`);
    return out;
  }

  /**
   * Reserves the worst-case cost of a call on `model` (priced by `worstCase`, which may be asked again for a
   * downgrade target). Throws BudgetExceeded naming the first budget that has no room. `downgrade: false` for a
   * call that cannot change model (an embedding: another model's vectors are another embedder's): a `downgrade`
   * budget without room refuses it like a `block` one.
   */
  reserve(
    call: CallScope,
    worstCase: (model: string) => bigint | undefined,
    opts: { downgrade?: boolean } = {},
  ): Reservation {
    let model = call.model;
    let downgradedBy: string | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const amount = worstCase(model);
      if (amount === undefined) break;
      const budgets = this.inScope({ ...call, model });
      const warnings: string[] = [];
      let blocker: LiveBudget | undefined;
      for (const b of budgets) {
        this.rollover(b);
        if (b.spent + b.reserved + amount <= b.limit) continue;
        if (b.record.action === 'warn') {
          warnings.push(`budget ${b.record.scope} (${b.record.period}) is over its $${formatPico(b.limit)} limit`);
          continue;
        }
        blocker = b;
        break;
      }
      if (!blocker) {
        const r: Reservation = {
          id: `r${++this.reservationSeq}`,
          model,
          call: { crew: call.crew, agent: call.agent, model },
          amount,
          budgetIds: budgets.map((b) => b.record.id),
          downgradedBy,
          warnings,
        };
        for (const b of budgets) b.reserved += amount;
        this.reservations.set(r.id, r);
        if (downgradedBy) this.notifyDowngrade(downgradedBy, call.model, model);
        for (const b of budgets)
          if (b.record.action === 'warn' && b.spent + b.reserved > b.limit) this.notify(b, 'blocked');
        return r;
      }
      const target = blocker.record.downgradeTo;
      if (blocker.record.action === 'downgrade' && opts.downgrade !== false && target && target !== model) {
        downgradedBy = blocker.record.id;
        model = target;
        continue;
      }
      this.notify(blocker, 'blocked');
      throw this.exceeded(blocker, amount);
    }
    throw errors.conflict(`cannot price model "${model}" for the budget check`);
  }

  private exceeded(b: LiveBudget, amount: bigint) {
    const r = b.record;
    return errors.budgetExceeded(
      `budget ${r.scope} (${r.period}) would be exceeded: limit $${formatPico(b.limit)}, spent $${formatPico(b.spent)}, ` +
        `reserved $${formatPico(b.reserved)}, this call needs up to $${formatPico(amount)}`,
      {
        budgetId: r.id,
        scope: r.scope,
        period: r.period,
        limitUsd: picoToUsd(b.limit),
        spentUsd: picoToUsd(b.spent),
        reservedUsd: picoToUsd(b.reserved),
        requestedUsd: picoToUsd(amount),
        periodEnd: b.end === null ? null : new Date(b.end).toISOString(),
      },
    );
  }

  /**
   * Replaces the reservation with the real cost of the ledger row `rowId` (already appended) stamped `ts`.
   *
   * The reservation comes off the budgets that hold it; the real cost goes onto every budget the call is in scope
   * of now — including one created (or re-scoped) while the call was in flight, whose spend was derived from a
   * ledger that did not have this call yet. A budget whose spend was derived since the append (created after it,
   * or a period rollover) has counted the row already, so every budget counts the call exactly once.
   */
  settle(reservationId: string, actual: bigint, ts: number, rowId?: number): void {
    const r = this.reservations.get(reservationId);
    if (!r) return;
    this.reservations.delete(reservationId);
    const touched = new Set<LiveBudget>();
    for (const id of r.budgetIds) {
      const b = this.live.get(id);
      if (!b) continue;
      b.reserved -= r.amount;
      touched.add(b);
    }
    const inScope = new Set(this.inScope(r.call));
    for (const b of inScope) touched.add(b);
    for (const b of touched) {
      this.rollover(b);
      const counted = rowId !== undefined && rowId <= b.derivedThrough;
      if (inScope.has(b) && !counted && (b.start === null || ts >= b.start) && (b.end === null || ts < b.end))
        b.spent += actual;
      this.checkThresholds(b);
    }
  }

  release(reservationId: string): void {
    this.settle(reservationId, 0n, this.clock.now());
  }

  /** A reconciled ledger row (already corrected in the ledger) changed cost by `delta`. */
  adjust(call: CallScope, delta: bigint, ts: number): void {
    for (const b of this.inScope(call)) {
      const rederived = this.rollover(b);
      if (!rederived && (b.start === null || ts >= b.start) && (b.end === null || ts < b.end)) b.spent += delta;
      this.checkThresholds(b);
    }
  }

  private checkThresholds(b: LiveBudget): void {
    if (!b.record.alertsEnabled || b.limit <= 0n) return;
    const pct = percent(b.spent, b.limit);
    for (const t of b.record.thresholds) if (pct >= t) this.notify(b, 'threshold', t);
  }

  private notify(b: LiveBudget, kind: 'threshold' | 'blocked', threshold: number | null = null): void {
    if (!b.record.alertsEnabled) return;
    const seen = `${kind}|${threshold ?? ''}`;
    if (b.notified.has(seen)) return;
    b.notified.add(seen);
    const r = b.record;
    const pct = percent(b.spent, b.limit);
    const message =
      kind === 'blocked'
        ? r.action === 'warn'
          ? `Budget ${r.scope} (${r.period}) is over its limit of $${formatPico(b.limit)}; calls continue (action: warn)`
          : `Budget ${r.scope} (${r.period}) refused a call: $${formatPico(b.spent)} of $${formatPico(b.limit)} spent`
        : `Budget ${r.scope} (${r.period}) crossed ${threshold} %: $${formatPico(b.spent)} of $${formatPico(b.limit)} spent`;
    this.fire({
      budgetId: r.id,
      scope: r.scope,
      kind,
      threshold,
      spentUsd: picoToUsd(b.spent),
      limitUsd: picoToUsd(b.limit),
      percentUsed: pct,
      periodStart: b.start,
      message,
    });
  }

  /**
   * Alerts are recorded off the gate's synchronous path; callers that answer a client await
   * `alertsRecorded()` so the alert a call triggered is in the history (and pushed) before the answer.
   */
  private fire(facts: AlertFacts): void {
    const job = this.alerts.fire(facts).then(
      () => undefined,
      () => undefined, // the store refused the write; AlertService has logged it
    );
    this.pendingAlerts.add(job);
    void job.finally(() => this.pendingAlerts.delete(job));
  }

  /** Resolves once every alert fired so far is recorded. */
  async alertsRecorded(): Promise<void> {
    if (this.pendingAlerts.size) await Promise.all([...this.pendingAlerts]);
  }

  private notifyDowngrade(budgetId: string, from: string, to: string): void {
    const b = this.live.get(budgetId);
    if (!b) return;
    this.fire({
      budgetId,
      scope: b.record.scope,
      kind: 'downgraded',
      threshold: null,
      spentUsd: picoToUsd(b.spent),
      limitUsd: picoToUsd(b.limit),
      percentUsed: percent(b.spent, b.limit),
      periodStart: b.start,
      message: `Budget ${b.record.scope} (${b.record.period}) is at its limit: calls to ${from} now go to ${to}`,
    });
  }

  /** Runs budget writes one after another (each sees what the one before it stored). */
  private serial<T>(write: () => Promise<T>): Promise<T> {
    const next = this.writes.then(write, write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  /**
   * Creates or updates a budget: the one named by `id`, else the one of the same scope and period. Concurrent calls
   * for one scope and period make one budget: the first creates it, the others update it, in the order they came.
   */
  set(p: BudgetSet.Params): Promise<BudgetSet.Result> {
    return this.serial(() => this.write(p));
  }

  private async write(p: BudgetSet.Params): Promise<BudgetSet.Result> {
    validateScope(p.scope);
    const now = new Date(this.clock.now()).toISOString();
    const existing = p.id
      ? this.live.get(p.id)?.record
      : [...this.live.values()].find((b) => b.record.scope === p.scope && b.record.period === p.period)?.record;
    if (p.id && !existing) throw errors.notFound('budget', p.id);
    const action = p.action ?? existing?.action ?? 'block';
    const downgradeTo = p.downgradeTo ?? (action === 'downgrade' ? (existing?.downgradeTo ?? null) : null);
    if (action === 'downgrade' && !downgradeTo)
      throw errors.invalidParams('downgradeTo: a budget with action "downgrade" needs the model to downgrade to', {
        field: 'downgradeTo',
        issues: [{ field: 'downgradeTo', message: 'required when action is "downgrade"' }],
      });
    const record: BudgetRecord = {
      id: existing?.id ?? randomUUID(),
      scope: p.scope,
      period: p.period,
      limit: formatPico(parseUsd(p.limitUsd)),
      action,
      downgradeTo,
      thresholds: [...new Set(p.thresholds ?? existing?.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b),
      alertsEnabled: existing?.alertsEnabled ?? true,
      weekStart: p.weekStart ?? existing?.weekStart ?? 1,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.repo.put(record);
    this.install(record);
    return { budget: toBudget(record), created: !existing };
  }

  configure(budgetId: string | undefined, change: { thresholds?: number[]; enabled?: boolean }): Promise<Budget[]> {
    return this.serial(() => this.reconfigure(budgetId, change));
  }

  private async reconfigure(
    budgetId: string | undefined,
    change: { thresholds?: number[]; enabled?: boolean },
  ): Promise<Budget[]> {
    const targets = budgetId ? [this.live.get(budgetId)] : [...this.live.values()];
    if (budgetId && !targets[0]) throw errors.notFound('budget', budgetId);
    const now = new Date(this.clock.now()).toISOString();
    const records = targets.map((b) => ({
      ...b!.record,
      ...(change.thresholds ? { thresholds: [...new Set(change.thresholds)].sort((x, y) => x - y) } : {}),
      ...(change.enabled !== undefined ? { alertsEnabled: change.enabled } : {}),
      updatedAt: now,
    }));
    if (change.thresholds || change.enabled !== undefined) {
      await this.repo.putMany(records);
      records.forEach((r) => this.install(r));
    }
    return records.map(toBudget);
  }

  delete(id: string): Promise<void> {
    return this.serial(async () => {
      const b = this.live.get(id);
      if (!b) throw errors.notFound('budget', id);
      await this.repo.delete(id);
      this.unindex(b);
    });
  }

  has(id: string): boolean {
    return this.live.has(id);
  }

  status(filter: { scope?: string; id?: string } = {}): BudgetStatus[] {
    if (filter.id && !this.live.has(filter.id)) throw errors.notFound('budget', filter.id);
    const out: BudgetStatus[] = [];
    for (const b of this.live.values()) {
      if (filter.id && b.record.id !== filter.id) continue;
      if (filter.scope && b.record.scope !== filter.scope) continue;
      this.rollover(b);
      const remaining = b.limit - b.spent - b.reserved;
      const pct = percent(b.spent, b.limit);
      const state: BudgetState = b.spent >= b.limit ? 'exceeded' : pct >= b.warnAt ? 'warning' : 'ok';
      const v = b.view;
      // Spelled out rather than spread: object spread is a slow path in V8 and this runs on every status call.
      out.push({
        id: v.id,
        scope: v.scope,
        period: v.period,
        limitUsd: v.limitUsd,
        action: v.action,
        downgradeTo: v.downgradeTo,
        thresholds: v.thresholds,
        alertsEnabled: v.alertsEnabled,
        weekStart: v.weekStart,
        createdAt: v.createdAt,
        updatedAt: v.updatedAt,
        spentUsd: picoToUsd(b.spent),
        reservedUsd: picoToUsd(b.reserved),
        remainingUsd: picoToUsd(remaining > 0n ? remaining : 0n),
        percentUsed: pct,
        state,
        periodStart: b.startIso,
        periodEnd: b.endIso,
      });
    }
    return out.sort((a, b) => b.percentUsed - a.percentUsed || (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
  }
}

export function validateScope(scope: string): void {
  if (scope === 'global') return;
  const m = /^(crew|agent|model):(.+)$/.exec(scope);
  if (!m || m[2]!.trim() === '')
    throw errors.invalidParams(`scope: "${scope}" is not a scope; use global, crew:<id>, agent:<id> or model:<id>`, {
      field: 'scope',
      issues: [{ field: 'scope', message: 'expected global, crew:<id>, agent:<id> or model:<id>' }],
    });
}

function scopeFilter(scope: string): LedgerFilter {
  if (scope === 'global') return {};
  const i = scope.indexOf(':');
  const kind = scope.slice(0, i) as 'crew' | 'agent' | 'model';
  return { [kind]: scope.slice(i + 1) };
}

/** Percent with two decimals, computed on integers. */
function percent(spent: bigint, limit: bigint): number {
  if (limit <= 0n) return spent > 0n ? 100 : 0;
  return Number((spent * 10_000n) / limit) / 100;
}

export function toBudget(r: BudgetRecord): Budget {
  return {
    id: r.id,
    scope: r.scope,
    period: r.period,
    limitUsd: Number(r.limit),
    action: r.action,
    downgradeTo: r.downgradeTo,
    thresholds: r.thresholds,
    alertsEnabled: r.alertsEnabled,
    weekStart: r.weekStart,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
