/**
 * The entity repositories on PostgreSQL across instances (each instance its own connection pool on one database,
 * as `backend.peer()` gives): a write through one is read through another at once, or — for what an instance holds
 * in memory (settings, call profiles) — after the notification, or after its listener reconnects; an alert key
 * fires once under concurrency; two instances' call profiles add up; the unique keys hold under concurrent writes;
 * trimming as the local store trims; and a lost connection is StoreUnavailable (1206), with nothing recorded lost.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { ErrorCodes } from '../../protocol';
import { tokenBucket } from '../../server/costs/call-profiles';
import type { PgDatabase } from '../../server/store/postgres/db';
import { openEntities, type PgEntities } from '../../server/store/postgres/entities';
import { MAX_ALERT_HISTORY, MAX_FIRED_KEYS } from '../../server/store/postgres/alerts';
import { MAX_APPLIED_RECOMMENDATIONS } from '../../server/store/postgres/applied-recommendations';
import { Channels } from '../../server/store/postgres/shared';
import { connectPostgres, postgresBackend, quietLog, type PostgresBackend } from './backends';
import { alert, budget, crew, shape, uid } from './entity-fixtures';

const T = (iso: string) => Date.parse(iso);

/** Retries `check` until it passes (notifications arrive asynchronously), at most `ms`. */
async function eventually(check: () => void | Promise<void>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function rejectsWith(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: { code?: number; message: string }) => {
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, new ones refused) and restore. */
class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe('entity repositories across PostgreSQL instances', function () {
  this.timeout(60_000);
  let backend: PostgresBackend;
  let peerDb: PgDatabase;
  let a: PgEntities;
  let b: PgEntities;
  const opened: PgEntities[] = [];
  const open = async (db: PgDatabase, id: string) => {
    const e = await openEntities(db, id, quietLog, { callProfileDebounceMs: 60_000 });
    opened.push(e);
    return e;
  };

  before(async () => {
    backend = await postgresBackend();
    peerDb = await backend.peer();
    a = await open(backend.db, 'instance-a');
    b = await open(peerDb, 'instance-b');
  });
  after(async () => {
    for (const e of opened) await e.close().catch(() => undefined);
    await backend?.close();
  });

  describe('budgets', () => {
    it('a budget written through one instance is read through another at once, limit in picodollars', async () => {
      const x = budget({ id: uid('b'), scope: `crew:${uid('c')}`, limit: '12.000000000001' });
      await a.budgets.put(x);
      assert.deepEqual(await b.budgets.get(x.id), x);
      assert.ok((await b.budgets.list()).some((r) => r.id === x.id));
      const [row] = await peerDb.query<{ limit_pico: string; scope: string; period: string; week_start: number }>(
        'select limit_pico, scope, period, week_start from crew_budgets where id = $1',
        [x.id],
      );
      assert.deepEqual(row, { limit_pico: '12000000000001', scope: x.scope, period: 'daily', week_start: 1 });
      await b.budgets.put({ ...x, limit: '0.5', action: 'warn' });
      assert.equal((await a.budgets.get(x.id))?.limit, '0.5');
      const [after] = await backend.db.query<{ limit_pico: string; action: string }>(
        'select limit_pico, action from crew_budgets where id = $1',
        [x.id],
      );
      assert.deepEqual(after, { limit_pico: '500000000000', action: 'warn' });
      assert.equal(await b.budgets.delete(x.id), true);
      assert.equal(await a.budgets.get(x.id), undefined);
    });

    it('the counters go when scope, period or week start change, and stay when only the limit does', async () => {
      const x = budget({ id: uid('b'), scope: `crew:${uid('c')}`, period: 'weekly' });
      await a.budgets.put(x);
      const counters = async () =>
        (
          await backend.db.query<{ n: string }>('select count(*) as n from crew_budget_counters where budget_id = $1', [
            x.id,
          ])
        )[0]!.n;
      const derive = () =>
        backend.db.query("select crew_counter($1, crew_period_start('weekly', 1, $2))", [x.id, Date.now()]);
      await derive();
      assert.equal(await counters(), '1');
      await a.budgets.put({ ...x, limit: '20', thresholds: [90] });
      assert.equal(await counters(), '1');
      await a.budgets.put({ ...x, weekStart: 0 });
      assert.equal(await counters(), '0');
      await derive();
      await a.budgets.put({ ...x, weekStart: 0, period: 'monthly' });
      assert.equal(await counters(), '0');
      await derive();
      await a.budgets.put({ ...x, weekStart: 0, period: 'monthly', scope: `crew:${uid('moved')}` });
      assert.equal(await counters(), '0');
    });

    it('two instances creating one scope and period at once make one budget; the other gets a Conflict', async () => {
      for (let round = 0; round < 5; round++) {
        const scope = `crew:${uid('race')}`;
        const results = await Promise.allSettled([
          a.budgets.put(budget({ id: uid('b'), scope })),
          b.budgets.put(budget({ id: uid('b'), scope })),
        ]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const refused = results.find((r) => r.status === 'rejected');
        assert.equal((refused?.reason as { code: number }).code, ErrorCodes.Conflict);
        assert.equal((await a.budgets.list()).filter((r) => r.scope === scope).length, 1);
      }
    });

    it('a write notifies the other instances (instance and ids), delivered at commit', async () => {
      const got: unknown[] = [];
      const stop = await peerDb.listen(Channels.budgets, { notify: (p) => got.push(JSON.parse(p)) });
      try {
        const x = budget({ id: uid('b'), scope: `crew:${uid('c')}` });
        await a.budgets.put(x);
        await eventually(() => assert.deepEqual(got, [{ instance: 'instance-a', ids: [x.id] }]));
        // A refused write sends nothing.
        await rejectsWith(a.budgets.put({ ...x, id: uid('b') }), ErrorCodes.Conflict);
        await a.budgets.delete(x.id);
        await eventually(() => assert.equal(got.length, 2));
        assert.deepEqual(got[1], { instance: 'instance-a', ids: [x.id], deleted: true });
      } finally {
        stop();
      }
    });
  });

  describe('alerts', () => {
    it('of 30 concurrent markFired of one key from three instances, exactly one is true', async () => {
      const c = await open(await backend.peer(), 'instance-c');
      for (let round = 0; round < 5; round++) {
        const key = `${uid('b')}|1768435200000|threshold|80`;
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.alerts.markFired(key)),
        );
        assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
        assert.equal(await b.alerts.markFired(key), false);
      }
    });

    it('an alert appended on one instance is listed on another', async () => {
      const x = alert({ id: uid('a'), budgetId: uid('b'), at: '2026-01-15T12:00:00.000Z' });
      await a.alerts.append(x);
      assert.deepEqual(await b.alerts.list({ budgetId: x.budgetId, limit: 5 }), [x]);
    });

    it('history keeps the newest 5,000 alerts and 20,000 fired keys, as the local store does', async () => {
      await backend.db.query('delete from crew_alerts');
      await backend.db.query(
        `insert into crew_alerts (id, at, budget_id, record)
         select 'old-' || i, now(), 'bulk', jsonb_build_object('id', 'old-' || i) from generate_series(1, $1) i`,
        [MAX_ALERT_HISTORY],
      );
      const x = alert({ id: uid('a'), budgetId: 'bulk', at: '2026-01-15T12:00:00.000Z' });
      await b.alerts.append(x);
      const ids = (await a.alerts.list({ budgetId: 'bulk', limit: 10_000 })).map((r) => r.id);
      assert.equal(ids.length, MAX_ALERT_HISTORY);
      assert.equal(ids[0], x.id);
      assert.equal(ids.at(-1), 'old-2');

      await backend.db.query(
        `insert into crew_alerts_fired (key, at)
         select 'old-' || i, now() - interval '1 day' + i * interval '1 ms' from generate_series(1, $1) i`,
        [MAX_FIRED_KEYS],
      );
      const before = (await backend.db.query<{ n: string }>('select count(*) as n from crew_alerts_fired'))[0]!.n;
      assert.ok(Number(before) > MAX_FIRED_KEYS);
      assert.equal(await a.alerts.markFired('fresh-key'), true);
      const [{ n }] = (await backend.db.query<{ n: string }>('select count(*) as n from crew_alerts_fired')) as [
        { n: string },
      ];
      assert.equal(Number(n), MAX_FIRED_KEYS);
      assert.equal(await b.alerts.markFired('fresh-key'), false);
      assert.equal(await b.alerts.markFired(`old-${MAX_FIRED_KEYS}`), false);
      // The oldest went, so it could fire again (its period is long past).
      assert.equal(await b.alerts.markFired('old-1'), true);
    });
  });

  describe('webhooks, models cache, applied recommendations', () => {
    it('a webhook registered on one instance is there on the other at once; removal too', async () => {
      const h = { id: uid('w'), url: 'https://example.test/h', budgetId: null, createdAt: '2026-01-15T12:00:00.000Z' };
      await a.webhooks.addWebhook(h);
      assert.deepEqual(
        (await b.webhooks.webhooks()).find((x) => x.id === h.id),
        h,
      );
      assert.equal(await b.webhooks.removeWebhook(h.id), true);
      assert.equal(
        (await a.webhooks.webhooks()).find((x) => x.id === h.id),
        undefined,
      );
    });

    it('the models cache saved by one instance loads on another, with a notification', async () => {
      const got: string[] = [];
      const stop = await peerDb.listen(Channels.models, { notify: (p) => got.push(p) });
      try {
        const cache = { fetchedAt: '2026-02-01T00:00:00.000Z', models: [{ id: 'm/one', context_length: 8192 }] };
        await a.models.save(cache);
        assert.deepEqual(await b.models.load(), cache);
        await eventually(() =>
          assert.deepEqual(
            got.map((p) => JSON.parse(p) as unknown),
            [{ instance: 'instance-a', fetchedAt: cache.fetchedAt }],
          ),
        );
      } finally {
        stop();
      }
    });

    it('applied recommendations: shared, and kept to the newest 1,000', async () => {
      await backend.db.query(
        `insert into crew_applied_recommendations (id, record)
         select 'old-' || i, jsonb_build_object('id', 'old-' || i) from generate_series(1, $1) i`,
        [MAX_APPLIED_RECOMMENDATIONS],
      );
      const e = {
        id: uid('rec'),
        kind: 'cheaper-model' as const,
        title: 'Use a cheaper model',
        savingsUsd: 3,
        changes: [],
        appliedAt: '2026-01-15T12:00:00.000Z',
      };
      await a.appliedRecommendations.append(e);
      assert.deepEqual(await b.appliedRecommendations.get(e.id), e);
      const all = await b.appliedRecommendations.list(5_000);
      assert.equal(all.length, MAX_APPLIED_RECOMMENDATIONS);
      assert.deepEqual(all[0], e);
      assert.equal(all.at(-1)?.id, 'old-2');
      assert.equal(await b.appliedRecommendations.get('old-1'), undefined);
    });
  });

  describe('settings', () => {
    it("another instance's get() follows a set after the notification; a new instance reads it at open", async () => {
      await a.settings.set({ embedder: 'openrouter:x/embed-1' });
      assert.equal(a.settings.get().embedder, 'openrouter:x/embed-1');
      await eventually(() => assert.deepEqual(b.settings.get(), { embedder: 'openrouter:x/embed-1' }));
      await b.settings.set({ embedder: 'local' });
      await eventually(() => assert.deepEqual(a.settings.get(), { embedder: 'local' }));
      const c = await open(await backend.peer(), 'instance-d');
      assert.deepEqual(c.settings.get(), { embedder: 'local' });
    });

    it('concurrent sets on two instances end with both showing what the database holds', async () => {
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).settings.set({ embedder: `e-${i}` })));
      const [row] = await backend.db.query<{ value: string }>("select value from crew_settings where key = 'embedder'");
      await eventually(() => {
        assert.equal(a.settings.get().embedder, row!.value);
        assert.equal(b.settings.get().embedder, row!.value);
      });
    });

    it('a change whose notification was missed arrives when the listener reconnects (resync)', async () => {
      await a.settings.set({ embedder: 'before' });
      await eventually(() => assert.equal(b.settings.get().embedder, 'before'));
      // Written without a notification: only a resync can tell the instances.
      await backend.db.query(`update crew_settings set value = '"missed"' where key = 'embedder'`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(b.settings.get().embedder, 'before');
      await backend.db.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and application_name = 'crew-server listen'`,
      );
      await eventually(() => {
        assert.equal(a.settings.get().embedder, 'missed');
        assert.equal(b.settings.get().embedder, 'missed');
      }, 15_000);
    });
  });

  describe('crews and crew tokens', () => {
    it('a crew written on one instance is read on another at once; a taken name (any case) is a Conflict', async () => {
      const name = uid('Ops');
      const x = crew({ id: uid('crew'), name });
      await a.crews.put(x);
      assert.deepEqual(await b.crews.get(x.id), x);
      await rejectsWith(
        b.crews.put(crew({ id: uid('crew'), name: name.toUpperCase() })),
        ErrorCodes.Conflict,
        new RegExp(`a crew named "${name}" already exists \\(${x.id}\\)`),
      );
      // Renaming into a taken name is refused; a crew changing its own name's case is not.
      const y = crew({ id: uid('crew'), name: uid('other') });
      await b.crews.put(y);
      await rejectsWith(a.crews.put({ ...y, name: name.toLowerCase() }), ErrorCodes.Conflict);
      await a.crews.put({ ...x, name: name.toUpperCase() });
      assert.equal((await b.crews.get(x.id))?.name, name.toUpperCase());
    });

    it('two instances creating one name at once: exactly one crew has it', async () => {
      for (let round = 0; round < 5; round++) {
        const name = uid('Race');
        const results = await Promise.allSettled([
          a.crews.put(crew({ id: uid('crew'), name })),
          b.crews.put(crew({ id: uid('crew'), name: name.toLowerCase() })),
        ]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        assert.equal((await a.crews.list()).filter((c) => c.name.toLowerCase() === name.toLowerCase()).length, 1);
      }
    });

    it('a token put on one instance is read on another at once; one hash is one crew; changes notify', async () => {
      const got: unknown[] = [];
      const stop = await peerDb.listen(Channels.crewTokens, { notify: (p) => got.push(JSON.parse(p)) });
      try {
        const t = { crewId: uid('crew'), sha256: '1'.repeat(64), createdAt: '2026-01-15T12:00:00.000Z' };
        await a.crewTokens.put(t);
        assert.deepEqual(await b.crewTokens.get(t.crewId), t);
        await rejectsWith(b.crewTokens.put({ ...t, crewId: uid('crew') }), ErrorCodes.Conflict);
        assert.equal(await b.crewTokens.delete(t.crewId), true);
        assert.equal(await a.crewTokens.get(t.crewId), undefined);
        await eventually(() =>
          assert.deepEqual(got, [
            { instance: 'instance-a', crewId: t.crewId },
            { instance: 'instance-b', crewId: t.crewId, deleted: true },
          ]),
        );
      } finally {
        stop();
      }
    });
  });

  const day = '2026-05-01';
  const at = (m: number) => T(`${day}T09:00:00.000Z`) + m * 60_000;

  describe('call profiles', () => {
    it("two instances' calls both count: each sees the sum once the other has flushed", async () => {
      const c = uid('cp');
      const prefix = { sha256: 'a'.repeat(32), tokens: 1200 };
      a.callProfiles.record(shape({ at: at(0), crew: c, maxTokens: 100, completionTokens: 10, prefix }));
      a.callProfiles.record(shape({ at: at(1), crew: c, maxTokens: 300, completionTokens: 30, prefix }));
      b.callProfiles.record(shape({ at: at(20), crew: c, maxTokens: 200, completionTokens: 500, prefix }));
      b.callProfiles.record(shape({ at: at(21), crew: c, maxTokens: 50, completionTokens: 5, cachedTokens: 9 }));
      b.callProfiles.record(shape({ at: at(22), crew: c, maxTokens: 1, completionTokens: 0 }));
      const mine = (e: PgEntities) => {
        const q = e.callProfiles.query({ fromDay: day, toDay: day });
        return { agents: q.agents.filter((x) => x.crew === c), prefixes: q.prefixes.filter((x) => x.crew === c) };
      };
      // Nothing of B's is visible to A before B flushes.
      assert.equal(mine(a).agents[0]?.calls, 2);
      await a.callProfiles.flush();
      await b.callProfiles.flush();
      const want = {
        agents: [
          {
            day,
            crew: c,
            agent: `${c}/writer`,
            model: 'openai/gpt-4o',
            calls: 5,
            maxTokensSum: 651,
            maxTokensMax: 300,
            completionSum: 545,
            completionMax: 500,
            completionHistogram: {
              [tokenBucket(10)]: 1,
              [tokenBucket(30)]: 1,
              [tokenBucket(500)]: 1,
              [tokenBucket(5)]: 1,
              [tokenBucket(0)]: 1,
            },
          },
        ],
        prefixes: [
          {
            day,
            crew: c,
            agent: `${c}/writer`,
            model: 'openai/gpt-4o',
            sha256: prefix.sha256,
            calls: 3,
            cachedCalls: 0,
            prefixTokens: 3600,
            // A's first call, and B's (B had not seen A's calls, and 19 minutes is past the cache's lifetime anyway).
            writes: 2,
            lastAt: at(20),
          },
        ],
      };
      await eventually(() => assert.deepEqual(mine(a), want));
      await eventually(() => assert.deepEqual(mine(b), want));
      // One row per key in the database, and a new instance reads the same.
      const [{ n }] = (await backend.db.query<{ n: string }>(
        'select count(*) as n from crew_call_profile_agents where crew = $1',
        [c],
      )) as [{ n: string }];
      assert.equal(n, '1');
      const fresh = await open(await backend.peer(), 'instance-e');
      assert.deepEqual(mine(fresh), want);
    });

    it('many keys flushed by two instances at once: every call counted exactly once', async () => {
      const crews = Array.from({ length: 12 }, () => uid('many'));
      for (let i = 0; i < 240; i++) {
        const e = i % 2 ? a : b;
        e.callProfiles.record(
          shape({
            at: at(i),
            crew: crews[i % crews.length]!,
            model: i % 3 ? 'm/one' : 'm/two',
            completionTokens: i,
            prefix: { sha256: (i % 4).toString().repeat(32), tokens: 10 },
          }),
        );
      }
      await Promise.all([a.callProfiles.flush(), b.callProfiles.flush()]);
      const [sums] = await backend.db.query<{ calls: string; completion: string; prefix_calls: string }>(
        `select (select sum(calls) from crew_call_profile_agents where crew like 'many-%') as calls,
                (select sum(completion_sum) from crew_call_profile_agents where crew like 'many-%') as completion,
                (select sum(calls) from crew_call_profile_prefixes where crew like 'many-%') as prefix_calls`,
      );
      assert.deepEqual(sums, { calls: '240', completion: String((239 * 240) / 2), prefix_calls: '240' });
      const total = (e: PgEntities) =>
        e.callProfiles
          .query({ fromDay: day, toDay: day })
          .agents.filter((x) => crews.includes(x.crew!))
          .reduce((s, x) => s + x.calls, 0);
      await eventually(() => {
        assert.equal(total(a), 240);
        assert.equal(total(b), 240);
      });
    });

    it('days RETENTION_DAYS before the newest recorded are dropped from the database on flush', async () => {
      const c = uid('old');
      a.callProfiles.record(shape({ at: T('2024-01-01T10:00:00.000Z'), crew: c }));
      await a.callProfiles.flush();
      const count = async () =>
        (
          await backend.db.query<{ n: string }>('select count(*) as n from crew_call_profile_agents where crew = $1', [
            c,
          ])
        )[0]!.n;
      assert.equal(await count(), '1');
      a.callProfiles.record(shape({ at: T('2025-03-01T10:00:00.000Z'), crew: c }));
      await a.callProfiles.flush();
      assert.equal(await count(), '1');
      assert.deepEqual(
        a.callProfiles.query({ fromDay: '2024-01-01', toDay: '2024-01-01' }).agents.filter((x) => x.crew === c),
        [],
      );
    });
  });

  describe('a lost connection', () => {
    it('is StoreUnavailable (1206), never swallowed; call profiles recorded meanwhile are written once it is back', async () => {
      const target = new URL(backend.url);
      const proxy = new CuttableProxy(target.hostname, Number(target.port || 5432));
      await proxy.open();
      const url = new URL(backend.url);
      url.port = String(proxy.port);
      const db = await connectPostgres(url.toString());
      let e: PgEntities | undefined;
      try {
        e = await openEntities(db, 'instance-proxied', quietLog, { callProfileDebounceMs: 60_000 });
        const c = uid('lost');
        e.callProfiles.record(shape({ at: at(0), crew: c, completionTokens: 77 }));
        await proxy.cut();
        await rejectsWith(e.budgets.put(budget({ id: uid('b'), scope: `crew:${c}` })), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.budgets.list(), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.alerts.markFired(uid('k')), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.crews.put(crew({ id: uid('crew'), name: uid('n') })), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.webhooks.webhooks(), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.settings.set({ embedder: 'x' }), ErrorCodes.StoreUnavailable);
        await rejectsWith(e.callProfiles.flush(), ErrorCodes.StoreUnavailable);
        // Still there to query, and still pending.
        assert.equal(e.callProfiles.query({ fromDay: day, toDay: day }).agents.find((x) => x.crew === c)?.calls, 1);
        e.callProfiles.record(shape({ at: at(1), crew: c, completionTokens: 3 }));
        await proxy.open();
        await e.callProfiles.flush();
        const [row] = await backend.db.query<{ calls: string; completion_sum: string }>(
          'select calls, completion_sum from crew_call_profile_agents where crew = $1',
          [c],
        );
        assert.deepEqual(row, { calls: '2', completion_sum: '80' });
        await e.callProfiles.flush();
        const [again] = await backend.db.query<{ calls: string }>(
          'select calls from crew_call_profile_agents where crew = $1',
          [c],
        );
        assert.equal(again!.calls, '2');
      } finally {
        await e?.close().catch(() => undefined);
        await db.close();
        await proxy.cut();
      }
    });
  });
});
