/**
 * The budget gate over PostgreSQL, shared by every instance on the database: each step is one SQL function call
 * (migrations/001-money.ts, 005-batched-gate.ts), so a reservation, a settlement or a release is one round trip and
 * one transaction, shared by the calls that arrived together.
 * Reservations carry this instance's id; the instance heartbeats, and any instance releases the reservations of
 * one that stopped heartbeating (crashed, killed, cut off) once its lease has run out, so a crash never freezes a
 * budget.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../../clock';
import type {
  BudgetGate,
  CallScope,
  GateBudget,
  GateReservation,
  ReserveOutcome,
  SettleOutcome,
} from '../../costs/gate';
import { scopesOf } from '../../costs/gate';
import { periodBounds, periodEndOf } from '../../costs/periods';
import type { BudgetPeriod } from '../../../protocol';
import type { Logger } from '../../log';
import type { BudgetRecord, LedgerRow, NewLedgerRow } from '../repositories';
import type { PgDatabase } from './db';
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import type { PendingSettlement, PendingSettlements } from './pending-settlements';
import { Batcher } from './batcher';

/** How long a settling call waits for an away database before its caller hears StoreUnavailable. */
const SETTLE_WAIT_MS = 10_000;

const isUnavailable = (e: unknown) => e instanceof DomainError && e.code === ErrorCodes.StoreUnavailable;

/** Actions that refuse a call without room (`warn` lets it through; `fit` refuses, then asks again smaller). */
const ENFORCING = ['block', 'downgrade', 'fit'];

export interface LeaseTiming {
  /** How often this instance says it is alive. */
  heartbeatMs: number;
  /** How long after its last heartbeat an instance's reservations are released. */
  leaseMs: number;
}

export const DEFAULT_LEASE: LeaseTiming = { heartbeatMs: 5_000, leaseMs: 20_000 };

interface Figure {
  id: string;
  start: number | null;
  end: number | null;
  limit: string;
  spent: string;
  reserved: string;
}

const toBudget = (f: Figure): GateBudget => ({
  id: f.id,
  limit: BigInt(f.limit),
  spent: BigInt(f.spent),
  reserved: BigInt(f.reserved),
  periodStart: f.start === null ? null : Number(f.start),
  periodEnd: f.end === null ? null : Number(f.end),
});

/** A budget's figures as crew_gate_batch returns them: [id, period, period start (-1: total), limit, spent, reserved]. */
type BatchFigure = [string, BudgetPeriod, string | number, string, string, string];

const fromBatch = ([id, period, start, limit, spent, reserved]: BatchFigure): GateBudget => {
  const s = Number(start);
  return {
    id,
    limit: BigInt(limit),
    spent: BigInt(spent),
    reserved: BigInt(reserved),
    periodStart: s < 0 ? null : s,
    periodEnd: s < 0 ? null : periodEndOf(period, s),
  };
};

/** The starts of the periods holding `now`, as crew_gate_batch takes them: daily, monthly, weekly by week start. */
const currentStarts = (now: number): number[] => [
  periodBounds('daily', now).start!,
  periodBounds('monthly', now).start!,
  ...[0, 1, 2, 3, 4, 5, 6].map((w) => periodBounds('weekly', now, w).start!),
];

/**
 * Calls' scopes as the rows of the two-dimensional arrays crew_gate_batch takes. Every row of a round is as long
 * as its longest (PostgreSQL arrays are rectangular, and the function joins the settlements' rows to the
 * reservations'): four for a call of one model, more for a call with fallbacks (a scope per model of its chain).
 */
const padded = (rows: string[][], width: number): (string | null)[][] =>
  rows.map((scopes) => [...scopes, ...Array<null>(width - scopes.length).fill(null)]);

/** A named statement: each gate connection parses and plans it once. */
const ROUND = {
  name: 'crew_gate_round',
  text: 'select crew_gate_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) as out',
};

type GateRequest =
  { kind: 'reserve'; id: string; scopes: string[]; amount: string } | { kind: 'settle'; settlement: PendingSettlement };
/** [ledger id, figures] of a settlement; [blocker or null, figures] of a reservation. */
type GateAnswer = [string | null, BatchFigure[]];

export class PgGate implements BudgetGate {
  readonly shared = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * The settlements and reservations that arrive while the previous round is in the database go together as the
   * next round (./batcher.ts, migrations/005): one transaction and one lock of the counters for all of them.
   */
  private readonly rounds = new Batcher<GateRequest, GateAnswer>((reqs) => this.round(reqs), isUnavailable);

  constructor(
    private readonly db: PgDatabase,
    readonly instanceId: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly lease: LeaseTiming = DEFAULT_LEASE,
    /** Where settlements wait while the database is away (none: they fail with it). */
    private readonly pending?: PendingSettlements,
  ) {}

  /** Registers this instance and starts its heartbeat (and the sweep of instances that stopped). */
  async start(): Promise<void> {
    await this.db.query(
      `insert into crew_instances (id, host, pid) values ($1, $2, $3)
       on conflict (id) do update set heartbeat_at = now()`,
      [this.instanceId, os.hostname(), process.pid],
    );
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.lease.heartbeatMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      const [row] = await this.db.query<{ missing: boolean }>(
        `update crew_instances set heartbeat_at = now() where id = $1 returning false as missing`,
        [this.instanceId],
      );
      // Swept while cut off from the database: our reservations are gone; register again.
      if (!row)
        await this.db.query(`insert into crew_instances (id, host, pid) values ($1, $2, $3) on conflict do nothing`, [
          this.instanceId,
          os.hostname(),
          process.pid,
        ]);
      const [swept] = await this.db.query<{ n: number }>('select crew_sweep($1) as n', [this.lease.leaseMs]);
      if (swept && swept.n > 0)
        this.log.warn(`released ${swept.n} reservation(s) of crew-server instances that stopped responding`);
    } catch (e) {
      this.log.warn(`heartbeat to ${this.db.location.display} failed: ${(e as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // A clean stop leaves nothing for the others to sweep.
    await this.db
      .query('select crew_release(id) from crew_reservations where instance_id = $1', [this.instanceId])
      .catch(() => undefined);
    await this.db.query('delete from crew_instances where id = $1', [this.instanceId]).catch(() => undefined);
  }

  async reserve(call: CallScope, amount: bigint): Promise<ReserveOutcome> {
    const id = randomUUID();
    const [blocker, figures] = await this.rounds.submit({
      kind: 'reserve',
      id,
      scopes: scopesOf(call),
      amount: amount.toString(),
    });
    const budgets = figures.map(fromBatch);
    if (blocker !== null) return { reservation: null, blocker: budgets.find((b) => b.id === blocker)!, budgets };
    return { reservation: { id, amount }, blocker: null, budgets };
  }

  /**
   * A call answered upstream is paid for: if the database is away when it settles, the settlement is kept durably
   * in the data directory and retried until the database has it (a restart replays it). The caller waits up to
   * SETTLE_WAIT_MS for that; past it, it hears StoreUnavailable while the retries go on.
   */
  async settle(
    reservation: GateReservation | null,
    call: CallScope,
    row: NewLedgerRow,
    _alone: boolean,
  ): Promise<SettleOutcome> {
    const p: PendingSettlement = {
      key: reservation?.id ?? randomUUID(),
      reservationId: reservation?.id ?? null,
      call,
      row,
    };
    try {
      return await this.settleOnce(p);
    } catch (e) {
      if (!isUnavailable(e) || !this.pending) throw e;
      await this.pending.add(p);
      this.log.warn(
        `the database is away: the ledger row of a ${row.model} call ($${row.cost}) is kept in the data directory ` +
          'until it is back',
      );
      const settled = this.settleEventually(p);
      // Retries go on after the caller gave up waiting; their failure (a stop) is the log's, not the caller's.
      settled.catch((err: Error) => this.log.warn(`a kept settlement is still waiting: ${err.message}`));
      const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), SETTLE_WAIT_MS).unref());
      const out = await Promise.race([settled, timeout]);
      if (out) return out;
      throw e;
    }
  }

  private async settleOnce(p: PendingSettlement): Promise<SettleOutcome> {
    const [ledgerId, figures] = await this.rounds.submit({ kind: 'settle', settlement: p });
    const stored: LedgerRow = { ...p.row, id: Number(ledgerId), latencyMs: Math.round(p.row.latencyMs) };
    return { row: stored, budgets: figures.map(fromBatch) };
  }

  /** One round: the settlements first (what they free is room for the reservations), then the reservations. */
  private async round(reqs: GateRequest[]): Promise<GateAnswer[]> {
    const settles: PendingSettlement[] = [];
    const reserves: Extract<GateRequest, { kind: 'reserve' }>[] = [];
    for (const q of reqs)
      if (q.kind === 'settle') settles.push(q.settlement);
      else reserves.push(q);
    const settleScopes = settles.map((p) => scopesOf(p.call));
    let width = 4;
    for (const s of settleScopes) if (s.length > width) width = s.length;
    for (const q of reserves) if (q.scopes.length > width) width = q.scopes.length;
    const params = [
      this.instanceId,
      currentStarts(this.clock.now()),
      settles.map((p) => p.key),
      settles.map((p) => p.reservationId),
      padded(settleScopes, width),
      JSON.stringify(settles.map((p) => p.row)),
      reserves.map((q) => q.id),
      reserves.map((q) => q.amount),
      padded(
        reserves.map((q) => q.scopes),
        width,
      ),
      ENFORCING,
    ];
    type Out = { out: { s: GateAnswer[]; r: GateAnswer[] } };
    // A period's first round creates counters and locks again, out of order: PostgreSQL may then break a deadlock
    // by failing it; nothing of it was written, so it is tried again.
    const [r] = await this.db.gateQuery<Out>(ROUND, params).catch((e: Error & { code?: string }) => {
      if (e?.code === '40P01') return this.db.gateQuery<Out>(ROUND, params);
      throw e;
    });
    let si = 0;
    let ri = 0;
    return reqs.map((q) => (q.kind === 'settle' ? r!.out.s[si++]! : r!.out.r[ri++]!));
  }

  /** Retries a kept settlement until the database has it, then crosses it out. */
  private async settleEventually(p: PendingSettlement): Promise<SettleOutcome> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const out = await this.settleOnce(p);
        await this.pending!.done(p.key);
        return out;
      } catch (e) {
        if (!isUnavailable(e) || this.stopped) throw e;
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  /** Settles what a previous run kept because the database was away (called at start). */
  async replayPending(): Promise<number> {
    if (!this.pending) return 0;
    const list = await this.pending.load();
    for (const p of list) await this.settleEventually(p);
    return list.length;
  }

  async release(reservation: GateReservation): Promise<void> {
    await this.db.query('select crew_release($1)', [reservation.id]);
  }

  async adjust(call: CallScope, delta: bigint, ts: number): Promise<GateBudget[]> {
    const [r] = await this.db.query<{ f: Figure[] }>('select crew_charge($1, $2, $3, null) as f', [
      scopesOf(call),
      ts,
      delta.toString(),
    ]);
    return r!.f.map(toBudget);
  }

  async figures(ids?: string[]): Promise<GateBudget[]> {
    const [r] = await this.db.query<{ f: Figure[] }>('select crew_figures($1, $2) as f', [
      this.clock.now(),
      ids ?? null,
    ]);
    return r!.f.map(toBudget);
  }

  installed(_record: BudgetRecord): void {
    // The database is the truth: crew_reserve reads budgets in the same transaction.
  }

  removed(_id: string): void {
    // As installed.
  }
}
