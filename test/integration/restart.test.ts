/**
 * A restart keeps everything: budgets, ledger rows, alerts (history and which fired) and webhooks survive
 * SIGTERM + a new server on the same data dir, and budget spend is re-derived from the ledger. A kill -9 the
 * moment a chat/complete is answered loses nothing that was answered: the row was on disk before the answer.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BudgetAlerts, BudgetSet, BudgetStatus, ChatComplete, LedgerList } from '../../protocol';
import { makeTempDir, pico, removeTempDir, startServer, USER, useFake } from '../helpers';
import type { RpcClient } from '../helpers/rpc';

describe('restart keeps everything (SIGTERM, then a new server on the same data dir)', function () {
  this.timeout(30_000);
  const up = useFake();
  // A webhook that answers at once, so shutdown has no delivery to wait for.
  const hook = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  let hookUrl: string;
  before(async () => {
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((r) => hook.close(() => r())));

  it('budgets, ledger, alerts, webhooks survive; spent is re-derived from the ledger', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const c = first.client;
    const { budget } = await c.request<BudgetSet.Result>('budget/set', {
      scope: 'agent:writer',
      period: 'monthly',
      limitUsd: 0.00002,
      action: 'warn',
      thresholds: [25, 50],
    });
    await c.request<BudgetSet.Result>('budget/set', { scope: 'global', period: 'daily', limitUsd: 5, action: 'block' });
    await c.request('budget/configureAlerts', { webhookUrl: hookUrl });
    const costs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await c.request<ChatComplete.Result>('chat/complete', {
        model: 'openai/gpt-4o-mini',
        messages: USER(`draft number ${i}`),
        agent: 'writer',
        tags: ['restart'],
      });
      costs.push(r.cost);
    }
    // The calls cross 25 and 50 % at once: one alert, naming the higher.
    await c.notifications.waitFor(
      'budget/alert',
      (a: { budgetId: string; kind: string; threshold: number }) =>
        a.budgetId === budget.id && a.kind === 'threshold' && a.threshold === 50,
    );
    const before = {
      status: (await c.request<{ budgets: BudgetStatus[] }>('budget/status')).budgets,
      ledger: await c.request<LedgerList.Result>('ledger/list', { limit: 100 }),
      alerts: await c.request<BudgetAlerts.Result>('budget/alerts', {}),
    };
    assert.equal(before.ledger.total, 3);
    assert.ok(before.alerts.alerts.length >= 1);
    const exit = await first.server.stop('SIGTERM');
    assert.equal(exit.code, 0);

    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const c2 = second.client;
    const after = {
      status: (await c2.request<{ budgets: BudgetStatus[] }>('budget/status')).budgets,
      ledger: await c2.request<LedgerList.Result>('ledger/list', { limit: 100 }),
      alerts: await c2.request<BudgetAlerts.Result>('budget/alerts', {}),
    };
    assert.deepEqual(after.ledger, before.ledger, 'ledger rows identical');
    assert.deepEqual(after.alerts, before.alerts, 'alert history and webhooks identical');
    assert.deepEqual(after.status, before.status, 'budgets and their derived figures identical');
    const writer = after.status.find((b) => b.id === budget.id)!;
    assert.equal(
      pico(writer.spentUsd),
      costs.map(pico).reduce((a, b) => a + b, 0n),
      'spent re-derived exactly from the ledger',
    );
    assert.equal(writer.reservedUsd, 0);

    // Alerts that fired before the restart do not fire again in the same period. A budget made now, in the same
    // scope, fires with the same call: once its alert is out, a repeat of the old ones would be too.
    const probe = await c2.request<BudgetSet.Result>('budget/set', {
      scope: 'agent:writer',
      period: 'total',
      limitUsd: 0.00002,
      action: 'warn',
      thresholds: [10],
    });
    await c2.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('one more'), agent: 'writer' });
    await c2.notifications.waitFor('budget/alert', (a: { budgetId: string }) => a.budgetId === probe.budget.id);
    const again = await c2.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
    const thresholds = again.alerts.filter((a) => a.kind === 'threshold').map((a) => a.threshold);
    assert.equal(new Set(thresholds).size, thresholds.length, `a threshold fired twice: ${thresholds.join(', ')}`);
    assert.equal(
      (await c2.request<LedgerList.Result>('ledger/list', {})).total,
      4,
      'new rows append after the old ones',
    );

    assert.equal((await second.server.stop()).code, 0);
    await removeTempDir(dataDir);
  });
});

describe('kill -9 right after an acknowledged chat/complete (socket)', function () {
  this.timeout(30_000);
  const up = useFake();

  const ledgerOf = async (c: RpcClient) => (await c.request<LedgerList.Result>('ledger/list', { limit: 100 })).entries;

  it('every answered call has its ledger row after a restart, with its exact cost; spend is derived from them', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const { budget } = await first.client.request<BudgetSet.Result>('budget/set', {
      scope: 'global',
      period: 'total',
      limitUsd: 1,
    });
    // One call alone first, then a burst (grouped ledger writes); SIGKILL goes out in the same tick as the first
    // answer of the burst arrives, so the server gets no chance to do anything after answering.
    const alone = await first.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER('the one before the burst'),
    });
    const answered: ChatComplete.Result[] = [alone];
    let killed = false;
    const burst = Array.from({ length: 8 }, (_, i) =>
      first.client
        .request<ChatComplete.Result>('chat/complete', {
          model: i % 2 ? 'openai/gpt-4o' : 'openai/gpt-4o-mini',
          messages: USER(`burst call ${i}`),
          crew: 'kill9',
          stream: i % 3 === 0,
        })
        .then(
          (r) => {
            answered.push(r);
            if (!killed) {
              killed = true;
              first.server.child.kill('SIGKILL');
            }
          },
          () => undefined, // cut off by the kill: never answered, so nothing is promised about it
        ),
    );
    await Promise.all(burst);
    const exit = await first.server.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(answered.length >= 2, 'at least one call of the burst was answered before the kill');

    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const rows = await ledgerOf(second.client);
    for (const r of answered) {
      const row = rows.find((e) => e.id === r.ledgerId);
      assert.ok(row, `ledger row ${r.ledgerId} of an answered call is missing after kill -9`);
      assert.equal(row.cost, r.cost, 'the exact cost as answered');
      assert.equal(row.costUsd, r.costUsd);
      assert.equal(row.costEstimated, r.costEstimated);
      assert.deepEqual(row.usage, r.usage);
      assert.equal(row.model, r.model);
    }
    const status = (await second.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id }))
      .budgets[0]!;
    assert.equal(
      pico(status.spentUsd),
      rows.map((e) => pico(e.cost)).reduce((a, b) => a + b, 0n),
      'spend re-derived from the rows on disk',
    );
    assert.equal(status.reservedUsd, 0, 'reservations of calls cut off by the kill are not carried over');
    assert.equal((await second.server.stop()).code, 0);
    await removeTempDir(dataDir);
  });
});
