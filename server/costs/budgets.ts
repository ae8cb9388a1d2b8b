/**
 * Budgets: the domain logic over the gate (./gate.ts). Before a call, its worst-case cost is reserved against every
 * budget in scope in one atomic step of the gate, so concurrent calls can never together go past a limit (across
 * instances, with the PostgreSQL gate); after the call the reservation becomes the real cost, or is released.
 * Here: actions (block, warn, downgrade), thresholds and alerts, the refusal's figures, and budget writes.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_FIT_MIN_TOKENS,
  type AlertKind,
  type BudgetSet,
  type BudgetState,
  type BudgetStatus,
  type Budget,
} from '../../protocol';
import type { Clock } from '../clock';
import { errors } from '../errors';
import type { BudgetRecord, BudgetRepository, LedgerRow, NewLedgerRow } from '../store/repositories';
import type { AlertFacts, AlertService } from './alerts';
import type { Ceiling } from './ceiling';
import type { BudgetGate, CallScope, GateBudget, GateReservation } from './gate';
import { scopesOf } from './gate';
import { formatPercent } from '../../protocol/format';
import { formatPico, parseUsd, picoToUsd, usdText } from './money';

/** Refusals a call may meet from `fit` budgets before it is refused: one per budget in a usual scope, and a race. */
const FIT_ROUNDS = 4;

export type { CallScope } from './gate';

export const DEFAULT_THRESHOLDS = [50, 80, 100];

/** The alerts the gate's figures raise (the others come from forecasts and downgrades). */
type GateAlertKind = Extract<AlertKind, 'threshold' | 'blocked' | 'over_limit'>;

interface Known {
  record: BudgetRecord;
  // Derived once per install, because budget/status is read far more often than budgets change.
  view: Budget;
  warnAt: number;
  /** Alerts already sent, per period start, so a hot budget does not ask the store again on every call. */
  notified: Set<string>;
  notifiedPeriod: number | null | undefined;
}

export interface Reservation {
  id: string;
  model: string;
  /**
   * Who the call is attributed to, with the model (and fallbacks) it was reserved on. Its real cost counts in the
   * budgets of this scope with the model that answered in place of the chain.
   */
  call: CallScope;
  amount: bigint;
  /** The gate's handle. */
  held: GateReservation;
  /** The ceiling the call also holds room on (with what it holds), until it settles or is released. */
  ceiling: { of: Ceiling; amount: bigint } | null;
  /** Set when a `downgrade` budget switched the model. */
  downgradedBy: string | null;
  /** Set when a `fit` budget lowered the call's `max_tokens` to this, so that its worst case fits. */
  fittedMaxTokens: number | null;
  warnings: string[];
}

/** What limited a call: a budget, or a ceiling (./ceiling.ts). */
interface Limiter {
  scope: string;
  period: string;
  limit: bigint;
  ceiling?: boolean;
}

const limiterOf = (r: BudgetRecord): Limiter => ({ scope: r.scope, period: r.period, limit: parseUsd(r.limit) });

/**
 * How a call's worst case depends on its completion budget: what `fit` budgets need to lower it. `maxTokens` is
 * what the call asks for now; `cost(model, n)` its worst case with `n` completion tokens.
 */
export interface FitPlan {
  maxTokens: (model: string) => number | undefined;
  cost: (model: string, maxTokens: number) => bigint | undefined;
}

export class BudgetService {
  private readonly known = new Map<string, Known>();
  private readonly pendingAlerts = new Set<Promise<void>>();
  /** Budget writes run one at a time, so two `set`s of one scope and period find each other (one budget, not two). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: BudgetRepository,
    private readonly gate: BudgetGate,
    private readonly alerts: AlertService,
    private readonly clock: Clock,
  ) {}

  /** Loads budgets (at start and after a store restore); calls in flight keep their reservations. */
  async init(): Promise<void> {
    const records = await this.repo.list();
    const ids = new Set(records.map((r) => r.id));
    for (const id of [...this.known.keys()]) if (!ids.has(id)) this.forget(id);
    for (const r of records) this.install(r);
  }

  private install(record: BudgetRecord): Known {
    const prev = this.known.get(record.id);
    const k: Known = {
      record,
      view: toBudget(record),
      warnAt: Math.max(...record.thresholds.filter((t) => t < 100), 0) || 80,
      notified: prev?.notified ?? new Set(),
      notifiedPeriod: prev?.notifiedPeriod,
    };
    this.known.set(record.id, k);
    this.gate.installed(record);
    return k;
  }

  private forget(id: string): void {
    this.known.delete(id);
    this.gate.removed(id);
  }

  /** The budget behind a gate figure; another instance may have created it (then it is read from the store). */
  private async knownOf(id: string): Promise<Known | undefined> {
    const k = this.known.get(id);
    if (k || !this.gate.shared) return k;
    const record = await this.repo.get(id);
    return record ? this.install(record) : undefined;
  }

  /**
   * Reserves the worst-case cost of a call on `model` (priced by `worstCase`, which may be asked again for a
   * downgrade target). Throws BudgetExceeded naming the first budget that has no room. `downgrade: false` for a
   * call that cannot change model (an embedding: another model's vectors are another embedder's): a `downgrade`
   * budget without room refuses it like a `block` one. A call with `fallbacks` (an OpenRouter `models` chain) is
   * held on the budgets of every model of its chain, and `worstCase(call.model)` (and `fit`'s prices) must price the
   * whole chain, its largest worst case; a downgrade sends the call to its target alone, without the chain.
   */
  async reserve(
    call: CallScope,
    worstCase: (model: string) => bigint | undefined,
    opts: { downgrade?: boolean; fit?: FitPlan; ceiling?: Ceiling } = {},
  ): Promise<Reservation> {
    let model = call.model;
    let fallbacks = call.fallbacks?.length ? call.fallbacks : undefined;
    let downgradedBy: string | null = null;
    let fitted: { maxTokens: number; by: Limiter } | null = null;
    const ceiling = opts.ceiling;
    // Each refusal may switch the model (downgrade) or lower max_tokens (fit, once per budget in scope at most).
    for (let attempt = 0; attempt < 3 + FIT_ROUNDS; attempt++) {
      const amount = fitted ? opts.fit!.cost(model, fitted.maxTokens) : worstCase(model);
      if (amount === undefined) break;
      // The ceiling first: it is this process's alone, so a refusal there costs the gate nothing.
      if (ceiling && !ceiling.hold(amount)) {
        const g = ceiling.figures();
        const by: Limiter = { scope: ceiling.scope, period: 'total', limit: ceiling.limit, ceiling: true };
        const fit: number | null = opts.fit ? this.fitTokens(ceiling.minTokens, g, model, opts.fit, fitted) : null;
        if (fit !== null) {
          fitted = { maxTokens: fit, by };
          continue;
        }
        throw this.exceeded(by, g, amount);
      }
      const scoped: CallScope = { crew: call.crew, agent: call.agent, model, fallbacks };
      let outcome;
      try {
        outcome = await this.gate.reserve(scoped, amount);
      } catch (e) {
        ceiling?.release(amount);
        throw e;
      }
      if (outcome.reservation) {
        const warnings: string[] = [];
        for (const g of outcome.budgets) {
          if (g.spent + g.reserved <= g.limit) continue;
          const k = await this.knownOf(g.id);
          if (k?.record.action !== 'warn') continue;
          // Only the caller hears of a limit this call may cross: the alert waits for what was really spent
          // (checkThresholds), so a large worst case that costs a cent alerts nobody.
          warnings.push(
            g.spent >= g.limit
              ? `budget ${k.record.scope} (${k.record.period}) is over its ${usdText(g.limit)} limit (${usdText(g.spent)} spent)`
              : `budget ${k.record.scope} (${k.record.period}) may go over its ${usdText(g.limit)} limit with this call`,
          );
        }
        if (downgradedBy) await this.notifyDowngrade(downgradedBy, call.model, model);
        if (fitted)
          warnings.push(
            `${fitted.by.ceiling ? 'ceiling' : 'budget'} ${fitted.by.scope} (${fitted.by.period}) fit the call: max_tokens lowered to ` +
              `${fitted.maxTokens} so that its worst case fits the ${usdText(fitted.by.limit)} limit`,
          );
        return {
          id: outcome.reservation.id,
          model,
          call: scoped,
          amount,
          held: outcome.reservation,
          ceiling: ceiling ? { of: ceiling, amount } : null,
          downgradedBy,
          fittedMaxTokens: fitted?.maxTokens ?? null,
          warnings,
        };
      }
      ceiling?.release(amount);
      const blocker = outcome.blocker!;
      const k = await this.knownOf(blocker.id);
      const fit: number | null =
        k?.record.action === 'fit' && opts.fit
          ? this.fitTokens(k.record.minTokens ?? DEFAULT_FIT_MIN_TOKENS, blocker, model, opts.fit, fitted)
          : null;
      if (fit !== null) {
        fitted = { maxTokens: fit, by: limiterOf(k!.record) };
        continue;
      }
      const target = k?.record.downgradeTo;
      if (k?.record.action === 'downgrade' && opts.downgrade !== false && target && target !== model) {
        downgradedBy = blocker.id;
        model = target;
        fallbacks = undefined;
        continue;
      }
      if (k) this.notify(k, blocker, 'blocked');
      throw this.exceeded(k ? limiterOf(k.record) : undefined, blocker, amount);
    }
    throw errors.conflict(`cannot price model "${model}" for the budget check`);
  }

  /**
   * The most completion tokens with which the call's worst case fits the room `g` has left (every other budget is
   * asked again by the gate), or null when that is below `floor` or no smaller than what is asked now. Room is
   * read from the refusal; a call made meanwhile may take it, and the next attempt then fits smaller still.
   */
  private fitTokens(
    floor: number,
    g: GateBudget,
    model: string,
    plan: FitPlan,
    fitted: { maxTokens: number } | null,
  ): number | null {
    const asked = fitted?.maxTokens ?? plan.maxTokens(model);
    if (asked === undefined || asked <= floor) return null;
    const room = g.limit - g.spent - g.reserved;
    const at = (n: number) => plan.cost(model, n);
    const cheapest = at(floor);
    if (cheapest === undefined || cheapest > room) return null;
    // The worst case grows with n: the largest n in [floor, asked) that fits, by bisection.
    let lo = floor;
    let hi = asked - 1;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (at(mid)! <= room) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private exceeded(by: Limiter | undefined, g: GateBudget, amount: bigint) {
    const scope = by?.scope ?? '(a budget)';
    const period = by?.period ?? 'total';
    return errors.budgetExceeded(
      `${by?.ceiling ? 'ceiling' : 'budget'} ${scope} (${period}) would be exceeded: limit ${usdText(g.limit)}, spent ${usdText(g.spent)}, ` +
        `reserved ${usdText(g.reserved)}, this call needs up to ${usdText(amount)}`,
      {
        budgetId: g.id,
        scope,
        period,
        limitUsd: picoToUsd(g.limit),
        spentUsd: picoToUsd(g.spent),
        reservedUsd: picoToUsd(g.reserved),
        requestedUsd: picoToUsd(amount),
        periodEnd: g.periodEnd === null ? null : new Date(g.periodEnd).toISOString(),
      },
    );
  }

  /**
   * Records a finished call: its ledger row is stored and its reservation (if any) becomes its real cost on every
   * budget in scope of it now (./gate.ts says how each gate counts it exactly once); thresholds are checked.
   */
  async settle(reservation: Reservation | null, call: CallScope, row: NewLedgerRow, alone = false): Promise<LedgerRow> {
    const out = await this.gate.settle(reservation?.held ?? null, call, row, alone);
    const c = reservation?.ceiling;
    if (c) {
      reservation.ceiling = null;
      c.of.settle(c.amount, BigInt(out.row.costPico));
    }
    await this.checkThresholds(out.budgets);
    return out.row;
  }

  /** Drops a reservation without a ledger row (nothing was sent, nothing is owed). */
  release(reservation: Reservation): Promise<void> {
    const c = reservation.ceiling;
    if (c) {
      reservation.ceiling = null;
      c.of.release(c.amount);
    }
    return this.gate.release(reservation.held);
  }

  /** A reconciled ledger row (already corrected in the ledger) changed cost by `delta`. */
  async adjust(call: CallScope, delta: bigint, ts: number): Promise<void> {
    await this.checkThresholds(await this.gate.adjust(call, delta, ts));
  }

  /**
   * One alert per call and budget: a call that crosses 50, 80 and 100 % at once raises the 100 % one, and the
   * lower ones count as raised (three alerts for one call said the same thing three times). Another instance that
   * has not seen them finds the highest one already fired in the store.
   */
  private async checkThresholds(budgets: GateBudget[]): Promise<void> {
    for (const g of budgets) {
      const k = await this.knownOf(g.id);
      if (!k || !k.record.alertsEnabled || g.limit <= 0n) continue;
      const pct = percent(g.spent, g.limit);
      const crossed = k.record.thresholds.filter((t) => pct >= t).sort((a, b) => a - b);
      const highest = crossed.at(-1);
      if (highest === undefined) continue;
      // A warn budget that spent past its limit lets calls go on: over_limit (a warning) says so, once a period.
      if (k.record.action === 'warn' && g.spent > g.limit) this.notify(k, g, 'over_limit');
      else this.notify(k, g, 'threshold', highest);
      for (const t of crossed) this.seen(k, g, 'threshold', t);
    }
  }

  /** Marks an alert as raised for this period; false when it already was. */
  private seen(k: Known, g: GateBudget, kind: GateAlertKind, threshold: number | null): boolean {
    if (k.notifiedPeriod !== g.periodStart) {
      k.notified.clear();
      k.notifiedPeriod = g.periodStart;
    }
    const key = `${kind}|${threshold ?? ''}`;
    if (k.notified.has(key)) return false;
    k.notified.add(key);
    return true;
  }

  private notify(k: Known, g: GateBudget, kind: GateAlertKind, threshold: number | null = null): void {
    if (!k.record.alertsEnabled) return;
    if (!this.seen(k, g, kind, threshold)) return;
    const r = k.record;
    const pct = percent(g.spent, g.limit);
    const message =
      kind === 'over_limit'
        ? `Budget ${r.scope} (${r.period}) is over its limit of ${usdText(g.limit)}: ${usdText(g.spent)} spent; ` +
          'calls continue (action: warn)'
        : kind === 'blocked'
          ? `Budget ${r.scope} (${r.period}) refused a call: ${usdText(g.spent)} of ${usdText(g.limit)} spent`
          : `Budget ${r.scope} (${r.period}) crossed ${formatPercent(threshold ?? 0)}: ${usdText(g.spent)} of ${usdText(g.limit)} spent`;
    this.fire({
      budgetId: r.id,
      scope: r.scope,
      kind,
      // Only a budget that refuses calls makes reaching its limit critical; a warn budget's calls go on.
      enforcing: r.action !== 'warn',
      threshold,
      spentUsd: picoToUsd(g.spent),
      limitUsd: picoToUsd(g.limit),
      percentUsed: pct,
      periodStart: g.periodStart,
      message,
    });
  }

  /**
   * Alerts are recorded off the gate's path; callers that answer a client await `alertsRecorded()` so the alert a
   * call triggered is in the history (and pushed) before the answer.
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

  private async notifyDowngrade(budgetId: string, from: string, to: string): Promise<void> {
    const k = this.known.get(budgetId);
    const [g] = await this.gate.figures([budgetId]);
    if (!k || !g) return;
    this.fire({
      budgetId,
      scope: k.record.scope,
      kind: 'downgraded',
      threshold: null,
      spentUsd: picoToUsd(g.spent),
      limitUsd: picoToUsd(g.limit),
      percentUsed: percent(g.spent, g.limit),
      periodStart: g.periodStart,
      message: `Budget ${k.record.scope} (${k.record.period}) is at its limit: calls to ${from} now go to ${to}`,
    });
  }

  /** Runs budget writes one after another (each sees what the one before it stored). */
  private serial<T>(write: () => Promise<T>): Promise<T> {
    const next = this.writes.then(write, write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  /** With a shared gate, other instances write budgets too: read them before deciding. */
  private async fresh(): Promise<void> {
    if (this.gate.shared) await this.init();
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
    await this.fresh();
    const now = new Date(this.clock.now()).toISOString();
    const existing = p.id
      ? this.known.get(p.id)?.record
      : [...this.known.values()].find((b) => b.record.scope === p.scope && b.record.period === p.period)?.record;
    if (p.id && !existing) throw errors.notFound('budget', p.id);
    const action = p.action ?? existing?.action ?? 'block';
    const downgradeTo = p.downgradeTo ?? (action === 'downgrade' ? (existing?.downgradeTo ?? null) : null);
    if (action === 'downgrade' && !downgradeTo)
      throw errors.invalidParams('downgradeTo: a budget with action "downgrade" needs the model to downgrade to', {
        field: 'downgradeTo',
        issues: [{ field: 'downgradeTo', message: 'required when action is "downgrade"' }],
      });
    if (p.minTokens !== undefined && action !== 'fit')
      throw errors.invalidParams('minTokens: only a budget with action "fit" lowers max_tokens', {
        field: 'minTokens',
        issues: [{ field: 'minTokens', message: 'needs action "fit"' }],
      });
    const minTokens = action === 'fit' ? (p.minTokens ?? existing?.minTokens ?? null) : null;
    const record: BudgetRecord = {
      id: existing?.id ?? randomUUID(),
      scope: p.scope,
      period: p.period,
      limit: formatPico(parseUsd(p.limitUsd)),
      action,
      downgradeTo,
      ...(minTokens !== null ? { minTokens } : {}),
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
    await this.fresh();
    const targets = budgetId ? [this.known.get(budgetId)] : [...this.known.values()];
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
      await this.fresh();
      if (!this.known.has(id)) throw errors.notFound('budget', id);
      await this.repo.delete(id);
      this.forget(id);
    });
  }

  /**
   * The tightest room a call of `call`'s scope has: the least of what every enforcing budget in scope (and the
   * ceiling, when given) has left, with who it belongs to; null when nothing limits the call.
   */
  async headroom(call: CallScope, ceiling?: Ceiling): Promise<{ scope: string; remaining: bigint } | null> {
    await this.fresh();
    const scopes = new Set(scopesOf(call));
    const ids = [...this.known.values()]
      .filter((k) => k.record.action !== 'warn' && scopes.has(k.record.scope))
      .map((k) => k.record.id);
    let best: { scope: string; remaining: bigint } | null = ceiling
      ? { scope: ceiling.scope, remaining: ceiling.remaining() }
      : null;
    for (const g of ids.length ? await this.gate.figures(ids) : []) {
      const left = g.limit - g.spent - g.reserved;
      const remaining = left > 0n ? left : 0n;
      if (!best || remaining < best.remaining) best = { scope: this.known.get(g.id)!.record.scope, remaining };
    }
    return best;
  }

  async has(id: string): Promise<boolean> {
    return (await this.knownOf(id)) !== undefined;
  }

  async status(filter: { scope?: string; id?: string } = {}): Promise<BudgetStatus[]> {
    await this.fresh();
    if (filter.id && !this.known.has(filter.id)) throw errors.notFound('budget', filter.id);
    const wanted: string[] = [];
    for (const k of this.known.values()) {
      if (filter.id && k.record.id !== filter.id) continue;
      if (filter.scope && k.record.scope !== filter.scope) continue;
      wanted.push(k.record.id);
    }
    const out: BudgetStatus[] = [];
    for (const g of await this.gate.figures(wanted)) {
      const k = this.known.get(g.id);
      if (!k) continue;
      const remaining = g.limit - g.spent - g.reserved;
      const pct = percent(g.spent, g.limit);
      const state: BudgetState = g.spent >= g.limit ? 'exceeded' : pct >= k.warnAt ? 'warning' : 'ok';
      const v = k.view;
      // Spelled out rather than spread: object spread is a slow path in V8 and this runs on every status call.
      out.push({
        id: v.id,
        scope: v.scope,
        period: v.period,
        limitUsd: v.limitUsd,
        action: v.action,
        downgradeTo: v.downgradeTo,
        minTokens: v.minTokens ?? null,
        thresholds: v.thresholds,
        alertsEnabled: v.alertsEnabled,
        weekStart: v.weekStart,
        createdAt: v.createdAt,
        updatedAt: v.updatedAt,
        spentUsd: picoToUsd(g.spent),
        reservedUsd: picoToUsd(g.reserved),
        remainingUsd: picoToUsd(remaining > 0n ? remaining : 0n),
        percentUsed: pct,
        state,
        periodStart: g.periodStart === null ? null : new Date(g.periodStart).toISOString(),
        periodEnd: g.periodEnd === null ? null : new Date(g.periodEnd).toISOString(),
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
    minTokens: r.minTokens ?? null,
    thresholds: r.thresholds,
    alertsEnabled: r.alertsEnabled,
    weekStart: r.weekStart,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
