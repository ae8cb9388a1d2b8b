/**
 * `cost/verify` on a team's PostgreSQL: two real crew-server processes on one database. Both fixing the same drift at
 * once correct it once (one instance verifies at a time); the correction counts on the shared budget; and what one
 * instance found is what `cost/verification` answers on the other.
 */
import assert from 'node:assert/strict';
import type { BudgetSet, BudgetStatus, ChatComplete, CostVerification, CostVerify, LedgerList } from '../../protocol';
import {
  eventually,
  makeTempDir,
  pico,
  removeTempDir,
  startServer,
  USER,
  useFake,
  type RpcClient,
  type ServerProcess,
} from '../helpers';
import { createTestDatabase } from '../helpers/postgres';

describe('cost/verify on one PostgreSQL shared by two crew-server processes', function () {
  this.timeout(120_000);
  const up = useFake();
  let db: { url: string; drop(): Promise<void> };
  const servers: ServerProcess[] = [];
  let a: RpcClient;
  let b: RpcClient;

  before(async () => {
    db = await createTestDatabase('crew_verify');
    const start = async () => {
      const s = await startServer({
        transport: 'socket',
        dataDir: makeTempDir(),
        upstreamUrl: up.fake.url,
        args: ['--store', db.url],
      });
      servers.push(s.server);
      return s.client;
    };
    [a, b] = await Promise.all([start(), start()]);
  });
  after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) await s.stop();
      await removeTempDir(s.dataDir);
    }
    await db?.drop();
  });

  it('two instances fixing one drift at once correct it once; the shared budget and the other instance follow', async () => {
    const { budget } = await a.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:team',
      period: 'monthly',
      limitUsd: 10,
    });
    const from = new Date().toISOString();
    up.fake.behave({ billedExtra: '0.002' });
    const call = await b.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER('billed twice over?'),
      crew: 'team',
    });
    up.fake.behave({});
    const billed = up.fake.generations.get(call.generationId!)!.billedCost!;

    const both = await Promise.allSettled([
      a.request<CostVerify.Result>('cost/verify', { from, fix: true }),
      b.request<CostVerify.Result>('cost/verify', { from, fix: true }),
    ]);
    const done = both.filter((x) => x.status === 'fulfilled').map((x) => x.value);
    assert.ok(done.length >= 1, JSON.stringify(both));
    for (const x of both)
      if (x.status === 'rejected')
        assert.match(String((x.reason as Error).message), /another crew-server instance is verifying/);
    assert.equal(
      done.reduce((n, r) => n + r.fixed, 0),
      1,
      'one correction between them',
    );

    const rows = (await a.request<LedgerList.Result>('ledger/list', { crew: 'team' })).entries;
    assert.equal(rows.length, 2, 'the original and one correction');
    assert.equal(rows.find((e) => e.tags.some((t) => t.startsWith('correction-of:')))?.cost, '0.002');
    const spent = (await b.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
    assert.equal(pico(spent.spentUsd), pico(billed), 'the shared budget holds what OpenRouter billed');

    const again = await b.request<CostVerify.Result>('cost/verify', { from });
    assert.equal(again.matched, 1);
    assert.deepEqual(again.drifted, []);
    // B's last verification reaches A through the database's settings notification.
    await eventually(async () => {
      const { last } = await a.request<CostVerification.Result>('cost/verification');
      return last?.verifiedAt === again.verifiedAt;
    }, "A to hear of B's verification");
  });
});
