/**
 * A team on one PostgreSQL: two real crew-server processes (two data directories, as two machines) with
 * `--store postgres://…` on one real database (test/helpers/postgres.ts), against the fake OpenRouter.
 * 200 concurrent calls split across both with room for 20 → exactly 20 succeed, spent ≤ limit, and the ledger sums
 * to what the fake billed; a budget set on A is enforced on B at once; an alert fires once for the team; a
 * notification raised on A reaches a client of B; a memory added on A is found by a search on B; a kill -9 of an
 * instance with a call in flight leaves no reservation behind once its lease runs out.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes } from '../../protocol';
import type {
  BudgetAlerts,
  BudgetExceededData,
  BudgetSet,
  BudgetStatus,
  ChatComplete,
  CostReport,
  LedgerList,
  MemorySearch,
  ServerInfo,
} from '../../protocol';
import {
  launchServer,
  makeTempDir,
  pico,
  removeTempDir,
  rpcError,
  RpcFailure,
  startServer,
  USER,
  useFake,
  usd,
  type RpcClient,
  type ServerProcess,
} from '../helpers';
import { createTestDatabase } from '../helpers/postgres';

/** Polls `probe` until it answers `want` (a notification between instances takes milliseconds), bounded. */
async function eventuallyStatus(probe: () => Promise<number>, want: number): Promise<void> {
  const started = Date.now();
  let got = await probe();
  while (got !== want) {
    assert.ok(Date.now() - started < 5_000, `still ${got}, expected ${want}`);
    await new Promise((r) => setTimeout(r, 50));
    got = await probe();
  }
}

describe('a team on one PostgreSQL: two crew-server processes, one database', function () {
  this.timeout(120_000);
  const up = useFake();
  let db: { url: string; drop(): Promise<void> };
  const servers: ServerProcess[] = [];
  let a: RpcClient;
  let b: RpcClient;
  let bServer: ServerProcess;

  // A short lease, so the crash case below is over in seconds (the default is 20 s, heartbeats every 5 s).
  const start = async (
    transport: 'socket' | 'http' = 'socket',
    env: Record<string, string> = { CREW_LEASE_MS: '1500', CREW_HEARTBEAT_MS: '300' },
  ) => {
    const s = await startServer({
      transport,
      dataDir: makeTempDir(),
      upstreamUrl: up.fake.url,
      args: ['--rate-limit', '0', '--store', db.url],
      env,
    });
    servers.push(s.server);
    return s;
  };

  before(async () => {
    db = await createTestDatabase('crew_team');
    // Both start at once: the migrations run once, under the advisory lock.
    // A over its socket, B over HTTP (its gateway serves the crew-token case).
    const [first, second] = await Promise.all([start('socket'), start('http')]);
    a = first.client;
    b = second.client;
    bServer = second.server;
  });
  after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) await s.stop();
      await removeTempDir(s.dataDir);
    }
    await db?.drop();
  });

  const params = (crew: string, maxTokens = 256) => ({
    model: 'anthropic/claude-3.5-haiku',
    messages: USER('Estimate the cost of this very call'),
    maxTokens,
    crew,
  });

  it('server/info names the shared store, never its password', async () => {
    const info = await a.request<ServerInfo.Result>('server/info');
    assert.equal(info.store?.kind, 'postgres');
    assert.match(info.store.location, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/crew_team_/);
  });

  it('200 concurrent calls across both instances with room for 20: exactly 20 succeed, spent = the ledger = billed', async () => {
    await a.request('budget/set', { scope: 'crew:probe', period: 'total', limitUsd: 0 });
    const probe = await rpcError(b.request('chat/complete', params('probe')), ErrorCodes.BudgetExceeded);
    const worst = pico((probe.data as BudgetExceededData).requestedUsd);
    const limit = ((worst * 20n + worst / 2n) / 1000n) * 1000n;
    const { budget } = await a.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:storm',
      period: 'daily',
      limitUsd: usd(limit),
    });
    up.fake.behave({ latencyMs: 1_500, completionTokens: 40 });
    const billedBefore = [...up.fake.generations.values()].length;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? a : b).request<ChatComplete.Result>('chat/complete', params('storm')),
      ),
    );
    up.fake.behave({});
    const ok = outcomes.filter((o): o is PromiseFulfilledResult<ChatComplete.Result> => o.status === 'fulfilled');
    for (const o of outcomes)
      if (o.status === 'rejected') {
        assert.ok(o.reason instanceof RpcFailure, String(o.reason));
        assert.equal(o.reason.code, ErrorCodes.BudgetExceeded, o.reason.message);
      }
    assert.equal(ok.length, 20, `${ok.length} calls succeeded across both; room was for exactly 20`);
    const billed = [...up.fake.generations.values()].slice(billedBefore);
    assert.equal(billed.length, 20, 'only admitted calls reached OpenRouter');
    const billedPico = billed.map((g) => pico(g.cost)).reduce((x, y) => x + y, 0n);
    for (const client of [a, b]) {
      const st = (await client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
      assert.equal(pico(st.spentUsd), billedPico, 'spent is what the upstream billed, on both instances');
      assert.ok(pico(st.spentUsd) <= limit);
      assert.equal(st.reservedUsd, 0);
      const rows = await client.request<LedgerList.Result>('ledger/list', { crew: 'storm', limit: 1000 });
      assert.equal(rows.total, 20);
      const report = await client.request<CostReport.Result>('cost/report', { crew: 'storm', by: 'crew' });
      assert.equal(pico(report.total.costUsd), billedPico);
    }
  });

  it('a budget set on A is enforced on B at once; its alert fires once for the team and reaches a client of B', async () => {
    const { budget } = await a.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:tight',
      period: 'daily',
      limitUsd: 0.000001,
      thresholds: [50],
    });
    const mine = (x: { budgetId: string }) => x.budgetId === budget.id;
    const blocked = b.notifications.waitFor('budget/alert', mine);
    const e = await rpcError(b.request('chat/complete', params('tight')), ErrorCodes.BudgetExceeded);
    assert.equal((e.data as BudgetExceededData).budgetId, budget.id);
    // A's clients hear of it too (raised on B, carried over NOTIFY).
    await a.notifications.waitFor('budget/alert', mine);
    await blocked;
    await rpcError(a.request('chat/complete', params('tight')), ErrorCodes.BudgetExceeded);
    const alerts = await a.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
    assert.equal(alerts.alerts.filter((x) => x.kind === 'blocked').length, 1, 'one blocked alert for the team');
  });

  it('a webhook registered on A gets an alert raised on B once, though both instances send deliveries', async () => {
    const bodies: string[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      await a.request('webhook/register', { url, events: ['budget.alert'] });
      const { budget } = await a.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:hooked',
        period: 'daily',
        limitUsd: 0.000001,
      });
      await rpcError(b.request('chat/complete', params('hooked')), ErrorCodes.BudgetExceeded);
      const mine = () =>
        bodies.filter((x) => (JSON.parse(x) as { data: { budgetId: string } }).data.budgetId === budget.id);
      await eventuallyStatus(async () => mine().length, 1);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(mine().length, 1, 'one delivery for the team');
    } finally {
      hook.close();
    }
  });

  it('spend made on A reaches a client of B as a notification', async () => {
    const heard = b.notifications.waitFor('usage/recorded', (x: { crew: string }) => x.crew === 'notes');
    await a.request('chat/complete', { ...params('notes', 16) });
    assert.equal((await heard).crew, 'notes');
  });

  it('a crew token issued on A opens the gateway of B; revoked on A, B refuses it', async () => {
    await a.request('crew/create', { name: 'gw', agents: [{ name: 'w', model: 'openai/gpt-4o-mini' }] });
    const { token } = await a.request<{ token: string }>('crew/token', { crew: 'gw', action: 'create' });
    const call = () =>
      fetch(`${bBase}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'openai/gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 8,
        }),
      }).then((r) => r.status);
    const bBase = await bServer.httpBase();
    await eventuallyStatus(call, 200);
    await a.request('crew/token', { crew: 'gw', action: 'revoke' });
    await eventuallyStatus(call, 401);
  });

  it('a memory added on A is found by a search on B', async () => {
    await a.request('memory/add', {
      crew: 'ops',
      kind: 'fact',
      content: 'Tuning Postgres indexes made the nightly report 10x faster',
    });
    const started = Date.now();
    for (;;) {
      const r = await b.request<MemorySearch.Result>('memory/search', {
        crew: 'ops',
        query: 'database index performance',
      });
      if (r.hits.some((h) => h.memory.content.includes('Postgres indexes'))) break;
      assert.ok(Date.now() - started < 5_000, 'B never found the memory added on A');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('kill -9 of an instance with a call in flight: its reservation is released within the lease; nothing acknowledged is lost', async () => {
    const { server: c, client: cc } = await start();
    const { budget } = await cc.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:lease',
      period: 'daily',
      limitUsd: 1,
    });
    const done = await cc.request<ChatComplete.Result>('chat/complete', params('lease', 16));
    up.fake.behave({ latencyMs: 30_000 });
    void cc.request('chat/complete', params('lease')).catch(() => undefined);
    const held = async () =>
      (await a.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
    for (let i = 0; (await held()).reservedUsd === 0; i++) {
      assert.ok(i < 100, 'the call never reserved');
      await new Promise((r) => setTimeout(r, 20));
    }
    c.child.kill('SIGKILL');
    await c.exited;
    up.fake.behave({});
    const started = Date.now();
    // A and B sweep at every heartbeat; C's lease runs out 1.5 s after its last one.
    while ((await held()).reservedUsd !== 0) {
      assert.ok(Date.now() - started < 10_000, 'the dead instance kept its reservation');
      await new Promise((r) => setTimeout(r, 200));
    }
    const after = await held();
    assert.equal(pico(after.spentUsd), pico(done.cost), 'the acknowledged call is counted, nothing else');
  });
});

describe('bad team settings are refused at start, naming what is wrong', function () {
  this.timeout(30_000);
  const refused = async (args: string[], env: Record<string, string> = {}) => {
    const server = await launchServer({ transport: 'socket', upstreamUrl: 'http://127.0.0.1:9/api/v1', args, env });
    const exit = await server.exited;
    await removeTempDir(server.dataDir);
    return { code: exit.code, stderr: server.stderr };
  };

  it('a store URL that is not PostgreSQL, or names no database, is a usage error (exit 2)', async () => {
    for (const [url, said] of [
      ['mysql://root@127.0.0.1/crew', /"mysql:" is not supported/],
      ['postgres://postgres@127.0.0.1:5432', /names no database/],
      ['not a url', /is not a URL/],
    ] as const) {
      const r = await refused(['--store', url]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, said);
    }
  });

  it('a database nobody answers for stops the start naming host and port (exit 4)', async () => {
    const r = await refused(['--store', 'postgres://postgres@127.0.0.1:9/crew']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /cannot reach PostgreSQL at 127\.0\.0\.1:9 \(database "crew"\)/);
  });

  it('a lease or heartbeat that is not a sane number of ms is a usage error (exit 2)', async () => {
    const envs: Record<string, string>[] = [
      { CREW_HEARTBEAT_MS: 'soon' },
      { CREW_HEARTBEAT_MS: '0' },
      { CREW_LEASE_MS: '100' },
    ];
    for (const env of envs) {
      const r = await refused([], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /CREW_(HEARTBEAT|LEASE)_MS/);
    }
  });
});
