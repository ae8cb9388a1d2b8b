/**
 * The PostgreSQL gate (server/store/postgres/gate.ts) as two instances would use it: two PgGates on two
 * connection pools of one real database. 200 concurrent calls with room for 20 → exactly 20 reserved, and the
 * spend after settling equals the sum of the ledger rows; an instance that stops heartbeating has its
 * reservations released once its lease runs out; a budget created while a call is in flight counts it once.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../server/clock';
import type { CallScope } from '../../server/costs/gate';
import { PgGate } from '../../server/store/postgres/gate';
import type { NewLedgerRow } from '../../server/store/repositories';
import { postgresBackend, quietLog, type PostgresBackend } from './backends';

const CALL: CallScope = { crew: 'ops', agent: 'ops/w', model: 'm/x' };
const PICO = 1_000_000_000_000n;

function rowOf(clock: ManualClock, costPico: bigint, call: CallScope = CALL): NewLedgerRow {
  return {
    ts: clock.now(),
    model: call.model,
    crew: call.crew,
    agent: call.agent,
    tags: [],
    promptTokens: 3,
    completionTokens: 5,
    cachedTokens: 1,
    reasoningTokens: 2,
    costPico: Number(costPico),
    cost: (Number(costPico) / 1e12).toString(),
    estimated: false,
    generationId: 'gen',
    latencyMs: 1.6,
    status: 'ok',
    stream: false,
  };
}

async function addBudget(pg: PostgresBackend, id: string, scope: string, limitUsd: number, period = 'daily') {
  await pg.db.query(
    `insert into crew_budgets (id, scope, period, week_start, action, limit_pico, record)
     values ($1, $2, $3, 1, 'block', $4, '{}')`,
    [id, scope, period, (BigInt(limitUsd * 1_000_000) * 1_000_000n).toString()],
  );
}

describe('PostgreSQL gate: two instances on one database', function () {
  this.timeout(60_000);
  let pg: PostgresBackend;
  let a: PgGate;
  let b: PgGate;

  beforeEach(async () => {
    pg = await postgresBackend(new ManualClock(Date.UTC(2026, 2, 10, 12)));
    const peer = await pg.peer();
    a = new PgGate(pg.db, 'instance-a', pg.clock, quietLog, { heartbeatMs: 100, leaseMs: 400 });
    b = new PgGate(peer, 'instance-b', pg.clock, quietLog, { heartbeatMs: 100, leaseMs: 400 });
    await a.start();
    await b.start();
  });
  afterEach(async () => {
    await a?.stop();
    await b?.stop();
    await pg?.close();
  });

  it('200 concurrent calls split across both with room for 20: exactly 20 go through, spent ≤ limit, = the ledger', async () => {
    await addBudget(pg, 'g', 'global', 0.2);
    await addBudget(pg, 'c', 'crew:ops', 5, 'monthly');
    const worst = PICO / 100n; // $0.01 each: room for 20
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const gate = i % 2 ? a : b;
        const r = await gate.reserve(CALL, worst);
        if (!r.reservation) {
          assert.equal(r.blocker?.id, 'g');
          return 0n;
        }
        // Billed at the worst case, so no settle frees room for a 21st call.
        const cost = worst;
        await gate.settle(r.reservation, CALL, rowOf(pg.clock, cost), false);
        return cost;
      }),
    );
    assert.equal(outcomes.filter((c) => c > 0n).length, 20);
    const billed = outcomes.reduce((x, y) => x + y, 0n);
    const [g] = await a.figures(['g']);
    assert.equal(g!.reserved, 0n);
    assert.equal(g!.spent, billed);
    assert.ok(g!.spent <= g!.limit);
    const [{ s }] = (await pg.db.query<{ s: string }>('select sum(cost_pico)::text as s from crew_ledger')) as [
      { s: string },
    ];
    assert.equal(BigInt(s), billed);
    const [c] = await b.figures(['c']);
    assert.equal(c!.spent, billed, 'every budget in scope counted every call once');
  });

  it('an instance that stops heartbeating has its reservations released by the other once its lease runs out', async () => {
    await addBudget(pg, 'g', 'global', 1);
    const held = await a.reserve(CALL, PICO / 2n);
    assert.ok(held.reservation);
    assert.equal((await b.reserve(CALL, PICO / 2n + 1n)).reservation, null, 'a holds half; more does not fit');
    // a dies: no heartbeat, no clean stop.
    clearInterval((a as unknown as { timer: NodeJS.Timeout }).timer);
    const started = Date.now();
    for (;;) {
      const [g] = await b.figures(['g']);
      if (g!.reserved === 0n) break;
      assert.ok(Date.now() - started < 5_000, 'the reservation of the dead instance was never released');
      await new Promise((r) => setTimeout(r, 50));
    }
    const again = await b.reserve(CALL, PICO / 2n + 1n);
    assert.ok(again.reservation, 'the released room is usable');
  });

  it('a budget created while a call is in flight counts it once; one created after sees it in the ledger', async () => {
    const r = await a.reserve(CALL, PICO);
    assert.deepEqual(r.budgets, [], 'no budget yet');
    await addBudget(pg, 'late', 'crew:ops', 5);
    await a.settle(r.reservation, CALL, rowOf(pg.clock, PICO / 4n), false);
    await addBudget(pg, 'later', 'agent:ops/w', 5);
    const figures = await b.figures();
    assert.deepEqual(
      figures.map((f) => [f.id, f.spent, f.reserved]),
      [
        ['late', PICO / 4n, 0n],
        ['later', PICO / 4n, 0n],
      ],
    );
  });

  it('period figures: start and end of the current period, a new period is a new counter', async () => {
    await addBudget(pg, 'd', 'global', 1);
    const r = await a.reserve(CALL, PICO / 10n);
    await a.settle(r.reservation, CALL, rowOf(pg.clock, PICO / 10n), false);
    let [d] = await a.figures(['d']);
    assert.equal(d!.periodStart, Date.UTC(2026, 2, 10));
    assert.equal(d!.periodEnd, Date.UTC(2026, 2, 11));
    assert.equal(d!.spent, PICO / 10n);
    pg.clock.set(Date.UTC(2026, 2, 11, 0, 0, 0, 1));
    [d] = await b.figures(['d']);
    assert.equal(d!.periodStart, Date.UTC(2026, 2, 11));
    assert.equal(d!.spent, 0n);
  });

  it('one round carries settlements and reservations together: a settlement frees room for a reservation after it, a refusal leaves the others', async () => {
    await addBudget(pg, 'g', 'global', 1);
    const first = await a.reserve(CALL, (PICO * 6n) / 10n);
    const rounds: number[] = [];
    const gateQuery = pg.db.gateQuery.bind(pg.db);
    pg.db.gateQuery = (sql: string, params?: unknown[]) => {
      rounds.push((params![2] as unknown[]).length + (params![6] as unknown[]).length);
      return gateQuery(sql, params);
    };
    // The first goes alone; the four that arrive while it is in the database go as the next round.
    const opener = a.reserve(CALL, 1n);
    const settled = a.settle(first.reservation, CALL, rowOf(pg.clock, PICO / 10n), false);
    const fits = a.reserve(CALL, PICO / 2n);
    const refused = a.reserve(CALL, PICO / 2n);
    const smaller = a.reserve(CALL, (PICO * 3n) / 10n);
    await opener;
    assert.ok((await settled).row.id > 0);
    assert.ok((await fits).reservation);
    const no = await refused;
    assert.equal(no.reservation, null);
    assert.equal(no.blocker!.spent, PICO / 10n, 'the refusal saw the settlement before it');
    assert.equal(no.blocker!.reserved, (PICO * 5n) / 10n + 1n);
    assert.ok((await smaller).reservation, 'a refusal in the middle of a round leaves the requests after it');
    assert.deepEqual(rounds, [1, 4]);
    const [g] = await b.figures(['g']);
    assert.equal(g!.spent, PICO / 10n);
    assert.equal(g!.reserved, (PICO * 8n) / 10n + 1n);
  });

  it('one round carries a fallback chain (a scope per model) beside a settlement of one model', async () => {
    await addBudget(pg, 'g', 'global', 1);
    await addBudget(pg, 'mb', 'model:m/b', 1);
    const first = await a.reserve(CALL, PICO / 10n);
    const rounds: { settles: number; reserves: number; width: number }[] = [];
    const gateQuery = pg.db.gateQuery.bind(pg.db);
    pg.db.gateQuery = (sql: string, params?: unknown[]) => {
      const settles = params![4] as unknown[][];
      const reserves = params![8] as unknown[][];
      rounds.push({ settles: settles.length, reserves: reserves.length, width: (reserves[0] ?? settles[0])!.length });
      return gateQuery(sql, params);
    };
    // The first goes alone; the settlement and the chain's reservation arrive while it runs and go together.
    const opener = a.reserve(CALL, 1n);
    const settled = a.settle(first.reservation, CALL, rowOf(pg.clock, PICO / 20n), false);
    const chained = a.reserve({ ...CALL, fallbacks: ['m/b', 'm/c'] }, PICO / 10n);
    await opener;
    await settled;
    const r = await chained;
    assert.ok(r.reservation);
    assert.deepEqual(rounds.slice(1), [{ settles: 1, reserves: 1, width: 6 }]);
    assert.deepEqual(
      r.budgets.map((f) => [f.id, f.reserved]),
      [
        ['g', PICO / 10n + 1n],
        ['mb', PICO / 10n],
      ],
    );
    // Settled to m/b: the reservation comes off both, the cost counts on both.
    await b.settle(
      r.reservation,
      { ...CALL, model: 'm/b' },
      rowOf(pg.clock, PICO / 20n, { ...CALL, model: 'm/b' }),
      false,
    );
    const figures = await b.figures(['g', 'mb']);
    assert.deepEqual(
      figures.map((f) => [f.id, f.spent, f.reserved]),
      [
        ['g', PICO / 10n, 1n],
        ['mb', PICO / 20n, 0n],
      ],
    );
  });

  it('a settlement tried again after its answer was lost is the same ledger row, counted once', async () => {
    await addBudget(pg, 'g', 'global', 1);
    const r = await a.reserve(CALL, PICO / 2n);
    const once = await a.settle(r.reservation, CALL, rowOf(pg.clock, PICO / 10n), false);
    const again = await b.settle(r.reservation, CALL, rowOf(pg.clock, PICO / 10n), false);
    assert.equal(again.row.id, once.row.id);
    const [g] = await a.figures(['g']);
    assert.deepEqual([g!.spent, g!.reserved], [PICO / 10n, 0n]);
    const [{ n }] = (await pg.db.query<{ n: number }>('select count(*)::int as n from crew_ledger')) as [{ n: number }];
    assert.equal(n, 1);
  });

  it('a call that began before midnight frees its reservation on the old day and is charged to the new one', async () => {
    await addBudget(pg, 'd', 'global', 1);
    pg.clock.set(Date.UTC(2026, 2, 10, 23, 59, 59, 900));
    const r = await a.reserve(CALL, PICO / 2n);
    pg.clock.set(Date.UTC(2026, 2, 11, 0, 0, 0, 100));
    const out = await a.settle(r.reservation, CALL, rowOf(pg.clock, PICO / 10n), false);
    assert.deepEqual(
      out.budgets.map((f) => [f.periodStart, f.spent, f.reserved]),
      [[Date.UTC(2026, 2, 11), PICO / 10n, 0n]],
    );
    const old = await pg.db.query<{ reserved: string }>(
      'select reserved_pico::text as reserved from crew_budget_counters where period_start = $1',
      [Date.UTC(2026, 2, 10)],
    );
    assert.deepEqual(old, [{ reserved: '0' }]);
  });
});
