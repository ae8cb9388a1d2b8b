/**
 * The PostgreSQL schema and its gate functions against a real PostgreSQL (test/helpers/postgres.ts): migrations
 * under the advisory lock (two at once apply each migration once), periods computed in SQL exactly as
 * server/costs/periods.ts computes them, and the reservation holding a limit under 200 concurrent calls from two
 * connection pools (as two instances).
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import { periodBounds } from '../../server/costs/periods';
import { createLogger } from '../../server/log';
import { PgDatabase } from '../../server/store/postgres/db';
import { PgLedger } from '../../server/store/postgres/ledger';
import { migrate } from '../../server/store/postgres/migrate';
import { MIGRATIONS } from '../../server/store/postgres/migrations/index';
import { parseStoreLocation } from '../../server/store/location';
import { createTestDatabase } from '../helpers/postgres';

const quiet = createLogger(() => undefined, 'error');

async function connect(url: string, max = 8): Promise<PgDatabase> {
  const loc = parseStoreLocation(url, '/unused');
  if (loc.kind !== 'postgres') throw new Error(`not a PostgreSQL URL: ${url}`);
  return PgDatabase.connect(loc, quiet, { max });
}

describe('PostgreSQL schema and gate functions (real PostgreSQL)', function () {
  this.timeout(60_000);
  let drop: () => Promise<void>;
  let url: string;
  let a: PgDatabase;
  let b: PgDatabase;

  before(async () => {
    const db = await createTestDatabase();
    url = db.url;
    drop = () => db.drop();
    a = await connect(url);
    b = await connect(url);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  it('two instances migrating at once apply every migration exactly once', async () => {
    const [x, y] = await Promise.all([migrate(a, quiet), migrate(b, quiet)]);
    assert.deepEqual([...x.applied, ...y.applied].sort(), MIGRATIONS.map((m) => m.version).sort());
    const rows = await a.query<{ version: number }>('select version from crew_schema order by version');
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.deepEqual((await migrate(a, quiet)).applied, []);
  });

  it('a database of a newer schema is refused, untouched', async () => {
    await a.query("insert into crew_schema (version, name) values (9999, 'from the future')");
    try {
      await assert.rejects(migrate(b, quiet), (e: { code: number; message: string }) => {
        assert.equal(e.code, ErrorCodes.StoreTooNew);
        assert.match(e.message, /schema version 9999/);
        return true;
      });
    } finally {
      await a.query('delete from crew_schema where version = 9999');
    }
  });

  it('an unreachable database is a clear error naming host and port', async () => {
    await assert.rejects(connect('postgres://postgres@127.0.0.1:9/nothing'), (e: { code: number; message: string }) => {
      assert.equal(e.code, ErrorCodes.StoreUnavailable);
      assert.match(e.message, /127\.0\.0\.1:9 \(database "nothing"\)/);
      return true;
    });
  });

  it('crew_period_start agrees with periodBounds for every period and week start', async () => {
    const times: number[] = [];
    for (let i = 0; i < 200; i++)
      times.push(Date.UTC(2020, 0, 1) + Math.floor(((i * 7919) % 2000) * 86_400_000 * 1.37) + i * 3_600_007);
    times.push(Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(2026, 11, 31, 12));
    for (const period of ['daily', 'weekly', 'monthly', 'total'] as const)
      for (const weekStart of period === 'weekly' ? [0, 1, 2, 3, 4, 5, 6] : [1]) {
        const rows = await a.query<{ s: string }>(
          'select crew_period_start($1, $2, t) as s from unnest($3::bigint[]) as t',
          [period, weekStart, times],
        );
        rows.forEach((r, i) => {
          const want = periodBounds(period, times[i]!, weekStart).start ?? -1;
          assert.equal(Number(r.s), want, `${period}/${weekStart} at ${new Date(times[i]!).toISOString()}`);
        });
      }
  });

  it('200 concurrent reservations from two pools with room for 20: exactly 20 are made, the limit holds', async () => {
    const now = Date.now();
    await a.query('delete from crew_budgets');
    await a.query(
      `insert into crew_budgets (id, scope, period, week_start, action, limit_pico, record) values
       ('b-global', 'global', 'daily', 1, 'block', 20000000000, '{}'),
       ('b-crew', 'crew:ops', 'monthly', 1, 'block', 100000000000, '{}'),
       ('b-warn', 'model:m', 'daily', 1, 'warn', 1, '{}')`,
    );
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? a : b).query<{ p_blocker: string | null }>(
          'select p_blocker from crew_reserve($1, $2, $3, $4, $5, $6)',
          [`r${i}`, i % 2 ? 'A' : 'B', now, ['global', 'crew:ops', 'model:m'], 1_000_000_000, ['block', 'downgrade']],
        ),
      ),
    );
    const made = outcomes.filter(([r]) => r!.p_blocker === null).length;
    assert.equal(made, 20);
    assert.ok(outcomes.every(([r]) => r!.p_blocker === null || r!.p_blocker === 'b-global'));
    const [g] = await a.query<{ spent_pico: string; reserved_pico: string }>(
      "select spent_pico, reserved_pico from crew_budget_counters where budget_id = 'b-global'",
    );
    assert.equal(BigInt(g!.spent_pico) + BigInt(g!.reserved_pico), 20_000_000_000n);
    // Settling each at a quarter of its reservation moves reserved to spent exactly.
    const reserved = (await a.query<{ id: string }>('select id from crew_reservations')).map((r) => r.id);
    await Promise.all(
      reserved.map((id, i) =>
        (i % 2 ? a : b).query('select p_ledger_id from crew_settle($1, $2, $3, $4, $1)', [
          id,
          now,
          ['global', 'crew:ops', 'model:m'],
          JSON.stringify({
            ts: now,
            model: 'm',
            crew: 'ops',
            agent: 'ops/w',
            tags: [],
            promptTokens: 1,
            completionTokens: 1,
            cachedTokens: 0,
            reasoningTokens: 0,
            costPico: '250000000',
            cost: '0.00025',
            estimated: false,
            generationId: null,
            latencyMs: 1,
            status: 'ok',
            stream: false,
          }),
        ]),
      ),
    );
    const after = await a.query<{ budget_id: string; spent_pico: string; reserved_pico: string }>(
      'select budget_id, spent_pico, reserved_pico from crew_budget_counters order by budget_id',
    );
    for (const c of after) {
      assert.equal(c.reserved_pico, '0', c.budget_id);
      assert.equal(c.spent_pico, '5000000000', c.budget_id);
    }
    const [{ n }] = (await a.query<{ n: string }>('select count(*) as n from crew_ledger')) as [{ n: string }];
    assert.equal(n, '20');
  });

  it('a budget created after the calls derives its spend from the ledger', async () => {
    await a.query(
      `insert into crew_budgets (id, scope, period, week_start, action, limit_pico, record)
       values ('b-agent', 'agent:ops/w', 'total', 1, 'block', 10000000000, '{}')`,
    );
    await a.query("select crew_counter('b-agent', -1)");
    const [c] = await a.query<{ spent_pico: string }>(
      "select spent_pico from crew_budget_counters where budget_id = 'b-agent'",
    );
    assert.equal(c!.spent_pico, '5000000000');
  });
});

describe('PostgreSQL migrations from the previous schema version (real PostgreSQL)', function () {
  this.timeout(60_000);

  it('a database at schema 3 with a ledger moves to schema 4 and its reports read the same, from the roll-ups', async () => {
    const created = await createTestDatabase();
    const db = await connect(created.url);
    try {
      const previous = MIGRATIONS.filter((m) => m.version < 4);
      assert.deepEqual((await migrate(db, quiet, previous)).applied, [1, 2, 3]);
      // Rows written by a schema-3 server (its settle took no settle key): three hours, two crews.
      const t = Date.UTC(2026, 0, 10, 9);
      await db.query(
        `insert into crew_ledger (ts, model, crew, agent, tags, prompt_tokens, completion_tokens, cached_tokens,
           reasoning_tokens, cost_pico, cost, estimated, generation_id, latency_ms, status, stream)
         select $1::bigint + (g % 3) * 3600000 + g, 'm', case when g % 2 = 0 then 'ops' else 'dev' end, null, '{}',
           10, 5, 0, 0, 1000 * g, (1000 * g / 1e12)::text, false, null, 1, 'ok', false
         from generate_series(1, 300) as g`,
        [t],
      );
      const { applied, version } = await migrate(db, quiet);
      assert.deepEqual(applied, [4, 5, 6, 7]);
      assert.equal(version, 7);
      const ledger = new PgLedger(db, () => Promise.reject(new Error('not used')));
      const before = (await ledger.aggregate({}, 'crew')).sort((x, y) => x.key.localeCompare(y.key));
      assert.equal(await ledger.fold(1_000, 0), 300, 'the old rows fold into the new roll-ups');
      const after = (await ledger.aggregate({}, 'crew')).sort((x, y) => x.key.localeCompare(y.key));
      assert.deepEqual(after, before);
      assert.equal(
        before.reduce((s, g) => s + g.costPico, 0n),
        1000n * ((300n * 301n) / 2n),
      );
    } finally {
      await db.close();
      await created.drop();
    }
  });
});
