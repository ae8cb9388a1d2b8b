/**
 * A restart keeps everything: budgets, ledger rows, alerts (history and which fired) and webhooks survive
 * SIGTERM + a new server on the same data dir, and budget spend is re-derived from the ledger.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BudgetAlerts, BudgetSet, BudgetStatus, ChatComplete, LedgerList } from '../../protocol';
import { makeTempDir, pico, removeTempDir, startServer, USER, useFake } from '../helpers';

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
    await c.notifications.waitForCount(
      'budget/alert',
      2,
      (a: { budgetId: string; kind: string }) => a.budgetId === budget.id && a.kind === 'threshold',
    );
    const before = {
      status: (await c.request<{ budgets: BudgetStatus[] }>('budget/status')).budgets,
      ledger: await c.request<LedgerList.Result>('ledger/list', { limit: 100 }),
      alerts: await c.request<BudgetAlerts.Result>('budget/alerts', {}),
    };
    assert.equal(before.ledger.total, 3);
    assert.ok(before.alerts.alerts.length >= 2);
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
