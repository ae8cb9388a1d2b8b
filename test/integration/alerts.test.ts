/**
 * Budget alerts end to end: thresholds 50/80/100 fire once each, as `budget/alert` notifications on a connected
 * client (SSE for HTTP), as POSTs to a webhook registered with budget/configureAlerts, and in budget/alerts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BudgetAlert, BudgetAlerts, BudgetConfigureAlerts, BudgetSet, ChatComplete } from '../../protocol';
import { exactCost, promptTokensOf } from '../fixtures/fake-openrouter';
import { decimal, forEachTransport, pico, USER, useFake, useServer, usd } from '../helpers';

const MODEL = 'openai/gpt-4o-mini';
const MESSAGES = USER('ping the budget');

interface Hook {
  url: string;
  bodies: { type: string; alert: BudgetAlert }[];
  /** Resolves once `n` threshold alerts arrived. */
  thresholds(n: number): Promise<BudgetAlert[]>;
  close(): Promise<void>;
}

/** A tiny webhook receiver on 127.0.0.1. */
async function webhookServer(): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Hook['bodies'][number]);
      res.writeHead(204).end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const thresholdAlerts = () => bodies.map((b) => b.alert).filter((a) => a.kind === 'threshold');
  return {
    url,
    bodies,
    async thresholds(n) {
      const deadline = Date.now() + 10_000;
      while (thresholdAlerts().length < n) {
        if (Date.now() > deadline)
          throw new Error(`the webhook got ${thresholdAlerts().length} threshold alerts, expected ${n}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 1_000).unref();
        });
      }
      return thresholdAlerts();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

forEachTransport((transport) => {
  describe(`budget alerts (${transport})`, function () {
    this.timeout(30_000);
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url }));
    let hook: Hook;
    before(async () => {
      hook = await webhookServer();
    });
    after(async () => hook?.close());

    it('50/80/100 fire once each: notification, webhook POST and history', async () => {
      // Every call costs exactly `one`; the limit is 10 calls, so calls 5, 8 and 10 cross 50, 80 and 100 %.
      const one = pico(exactCost(MODEL, promptTokensOf(MESSAGES).tokens, 16));
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:alerts',
        period: 'daily',
        limitUsd: usd(one * 10n),
        action: 'warn',
        thresholds: [50, 80, 100],
      });
      const conf = await s.client.request<BudgetConfigureAlerts.Result>('budget/configureAlerts', {
        webhookUrl: hook.url,
      });
      assert.equal(conf.webhooks.length, 1);
      assert.equal(conf.webhooks[0]!.url, hook.url);

      const isMine = (a: BudgetAlert) => a.budgetId === budget.id && a.kind === 'threshold';
      const crossedAt: Record<number, number> = {};
      for (let call = 1; call <= 12; call++) {
        const r = await s.client.request<ChatComplete.Result>('chat/complete', {
          model: MODEL,
          messages: MESSAGES,
          crew: 'alerts',
        });
        assert.equal(pico(r.cost), one, `call ${call} cost ${r.cost}, expected ${decimal(one)}`);
        if (call === 5 || call === 8 || call === 10) {
          const threshold = ({ 5: 50, 8: 80, 10: 100 } as Record<number, number>)[call]!;
          const a = await s.client.notifications.waitFor<BudgetAlert>(
            'budget/alert',
            (x) => isMine(x) && x.threshold === threshold,
          );
          crossedAt[threshold] = call;
          assert.equal(a.scope, 'crew:alerts');
          assert.equal(a.limitUsd, usd(one * 10n));
          assert.equal(pico(a.spentUsd), one * BigInt(call));
          assert.equal(a.percentUsed, threshold);
        }
      }
      assert.deepEqual(crossedAt, { 50: 5, 80: 8, 100: 10 });

      const notified = s.client.notifications.of<BudgetAlert>('budget/alert', isMine);
      assert.deepEqual(
        notified.map((a) => a.threshold),
        [50, 80, 100],
        'each threshold once, in order',
      );
      // A warn budget's calls go on at its limit: its 100% alert is a warning, not critical.
      assert.deepEqual(
        notified.map((a) => a.severity),
        ['info', 'warning', 'warning'],
      );
      // Calls 11 and 12 spent past the limit: one over_limit alert for the period.
      const over = s.client.notifications.of<BudgetAlert>(
        'budget/alert',
        (a) => a.budgetId === budget.id && a.kind === 'over_limit',
      );
      assert.deepEqual(
        over.map((a) => [a.severity, pico(a.spentUsd)]),
        [['warning', one * 11n]],
      );

      const posted = (await hook.thresholds(3)).filter(isMine);
      assert.deepEqual(
        posted.map((a) => a.threshold).sort((x, y) => x! - y!),
        [50, 80, 100],
      );
      assert.deepEqual(
        new Set(posted.map((a) => a.id)),
        new Set(notified.map((a) => a.id)),
        'the webhook got the same alerts',
      );
      assert.ok(hook.bodies.every((b) => b.type === 'budget.alert'));

      const history = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
      const thresholds = history.alerts.filter((a) => a.kind === 'threshold');
      assert.deepEqual(
        thresholds.map((a) => a.threshold),
        [100, 80, 50],
        'history lists them newest first',
      );
      assert.deepEqual(new Set(thresholds.map((a) => a.id)), new Set(notified.map((a) => a.id)));
      assert.equal(history.webhooks[0]!.url, hook.url);
    });

    it('one call that crosses 50, 80 and 100 % at once raises one alert, the 100 % one; the next raises none', async () => {
      const one = pico(exactCost(MODEL, promptTokensOf(MESSAGES).tokens, 16));
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:leap',
        period: 'daily',
        limitUsd: usd(one),
        action: 'warn',
        thresholds: [50, 80, 100],
      });
      const isMine = (a: BudgetAlert) => a.budgetId === budget.id && a.kind === 'threshold';
      for (let call = 0; call < 2; call++)
        await s.client.request('chat/complete', { model: MODEL, messages: MESSAGES, crew: 'leap' });
      await s.client.notifications.waitFor<BudgetAlert>('budget/alert', (x) => isMine(x) && x.threshold === 100);
      const history = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
      assert.deepEqual(
        history.alerts.filter((a) => a.kind === 'threshold').map((a) => a.threshold),
        [100],
      );
      assert.deepEqual(
        s.client.notifications.of<BudgetAlert>('budget/alert', isMine).map((a) => a.threshold),
        [100],
      );
    });

    it("a webhook can be removed; configureAlerts can disable a budget's alerts", async () => {
      const { webhooks } = await s.client.request<BudgetAlerts.Result>('budget/alerts', {});
      const removed = await s.client.request<BudgetConfigureAlerts.Result>('budget/configureAlerts', {
        removeWebhook: webhooks[0]!.id,
      });
      assert.equal(removed.webhooks.length, 0);
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:quiet',
        period: 'daily',
        limitUsd: 0.000001,
        action: 'warn',
      });
      const conf = await s.client.request<BudgetConfigureAlerts.Result>('budget/configureAlerts', {
        budgetId: budget.id,
        enabled: false,
      });
      assert.equal(conf.budgets.length, 1);
      assert.equal(conf.budgets[0]!.alertsEnabled, false);
      // A twin budget with alerts on: once its alert arrives, the disabled one would have fired too.
      const twin = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:quiet',
        period: 'monthly',
        limitUsd: 0.000001,
        action: 'warn',
      });
      await s.client.request('chat/complete', { model: MODEL, messages: MESSAGES, crew: 'quiet' });
      await s.client.notifications.waitFor<BudgetAlert>('budget/alert', (a) => a.budgetId === twin.budget.id);
      const history = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
      assert.equal(history.alerts.length, 0);
      assert.equal(s.client.notifications.of<BudgetAlert>('budget/alert', (a) => a.budgetId === budget.id).length, 0);
    });
  });
});
