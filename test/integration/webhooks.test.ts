/**
 * Webhook subscriptions end to end, through the built server and the fake OpenRouter: a receiver on 127.0.0.1
 * gets budget alerts (a threshold crossed by chat/complete) and finished runs (crew/run) as signed deliveries,
 * filtered by crew; a failed delivery is retried with the same id; unregister stops them; the secret appears in no
 * answer, log or audit entry; budget/alerts {since} answers only newer alerts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AuditList,
  BudgetAlert,
  BudgetAlerts,
  BudgetConfigureAlerts,
  BudgetSet,
  Run,
  WebhookDelivery,
  WebhookList,
  WebhookSubscription,
} from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { exactCost, promptTokensOf } from '../fixtures/fake-openrouter';
import { eventually, pico, rpcError, USER, useFake, useServer, usd } from '../helpers';

const MODEL = 'openai/gpt-4o-mini';
const MESSAGES = USER('ping the hooks');
const SECRET = 'n8n-trigger-secret-7f3a';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: WebhookDelivery;
}

/** A receiver on 127.0.0.1 that keeps every request; `/flaky` answers 503 to the first try of each delivery. */
async function receiver() {
  const got: Received[] = [];
  const failedOnce = new Set<string>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const path = req.url ?? '';
      got.push({ path, headers: req.headers, raw, body: JSON.parse(raw) as WebhookDelivery });
      const id = String(req.headers['x-crew-delivery']);
      if (path === '/flaky' && !failedOnce.has(id)) {
        failedOnce.add(id);
        res.writeHead(503).end();
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    at: (path: string) => got.filter((g) => g.path === path),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Waits until `probe` lists `n` requests (the delivery and retry waits are the server's), and returns them. */
async function arrived(probe: () => Received[], n: number, what: string, timeoutMs = 10_000): Promise<Received[]> {
  await eventually(() => probe().length >= n, what, { timeoutMs });
  const list = probe();
  assert.equal(list.length, n, `${what}: more than expected`);
  return list;
}

const validSignature = (g: Received) =>
  g.headers['x-crew-signature'] === `sha256=${createHmac('sha256', SECRET).update(g.raw).digest('hex')}`;

describe('webhook subscriptions (http)', function () {
  this.timeout(60_000);
  const up = useFake();
  const s = useServer(() => ({ transport: 'http', upstreamUrl: up.fake.url }));
  let hook: Awaited<ReturnType<typeof receiver>>;
  let all: WebhookSubscription;
  let runsOfOneCrew: WebhookSubscription;
  let budgetId: string;
  before(async () => {
    hook = await receiver();
  });
  after(async () => hook?.close());

  const crewWithAgent = (name: string) =>
    s.client.request('crew/create', { name, agents: [{ name: 'writer', role: 'writes', model: MODEL }] });

  it('webhook/register answers the subscription, signed, without its secret; webhook/list shows it', async () => {
    all = await s.client.request<WebhookSubscription>('webhook/register', {
      url: hook.url('/all'),
      events: ['budget.alert', 'run.finished'],
      description: 'n8n: every event',
      secret: SECRET,
    });
    assert.equal(all.signed, true);
    assert.deepEqual(all.events, ['budget.alert', 'run.finished']);
    assert.equal(all.description, 'n8n: every event');
    assert.ok(!JSON.stringify(all).includes(SECRET));
    runsOfOneCrew = await s.client.request<WebhookSubscription>('webhook/register', {
      url: hook.url('/crew'),
      events: ['run.finished'],
      crew: 'hook-runs',
    });
    assert.equal(runsOfOneCrew.signed, false);

    const list = await s.client.request<WebhookList.Result>('webhook/list', {});
    assert.deepEqual(
      list.webhooks.map((w) => w.id),
      [all.id, runsOfOneCrew.id],
    );
    assert.ok(!JSON.stringify(list).includes(SECRET));
  });

  it('a budget threshold crossed by chat/complete is delivered, signed, with the documented headers', async () => {
    const one = pico(exactCost(MODEL, promptTokensOf(MESSAGES).tokens, 16));
    ({
      budget: { id: budgetId },
    } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:hooks',
      period: 'daily',
      limitUsd: usd(one * 2n),
      action: 'warn',
      thresholds: [50, 100],
    }));
    const unrelated = await s.client.request<WebhookSubscription>('webhook/register', {
      url: hook.url('/other-budget'),
      events: ['budget.alert'],
      budgetId: (
        await s.client.request<BudgetSet.Result>('budget/set', {
          scope: 'crew:elsewhere',
          period: 'daily',
          limitUsd: 1,
        })
      ).budget.id,
    });
    for (let i = 0; i < 2; i++)
      await s.client.request('chat/complete', { model: MODEL, messages: MESSAGES, crew: 'hooks' });

    // The worst-case reservation of the second call also raises a `blocked` alert (action warn): thresholds only.
    const mine = () =>
      hook
        .at('/all')
        .filter((g) => g.body.event === 'budget.alert' && g.body.data.budgetId === budgetId)
        .filter((g) => (g.body.data as BudgetAlert).kind === 'threshold');
    const got = await arrived(mine, 2, 'two threshold alert deliveries');
    assert.deepEqual(
      got.map((g) => (g.body.data as BudgetAlert).threshold).sort((a, b) => a! - b!),
      [50, 100],
    );
    for (const g of got) {
      assert.ok(validSignature(g), `signature of ${g.raw}`);
      assert.equal(g.headers['x-crew-event'], 'budget.alert');
      assert.equal(g.headers['x-crew-delivery'], g.body.id);
      assert.equal(g.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(g.body).sort(), ['at', 'data', 'event', 'id']);
    }
    const history = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId });
    assert.deepEqual(
      new Set(history.alerts.filter((a) => a.kind === 'threshold').map((a) => a.id)),
      new Set(got.map((g) => (g.body.data as BudgetAlert).id)),
      'the same alerts as the history',
    );
    assert.equal(hook.at('/other-budget').length, 0, 'a budget filter keeps other budgets out');
    await s.client.request('webhook/unregister', { id: unrelated.id });
  });

  it('budget/alerts {since} answers only the alerts after it, newest first', async () => {
    const { alerts } = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId });
    assert.ok(alerts.length >= 2);
    const ids = (list: BudgetAlert[]) => list.map((a) => a.id);
    // Every alert's own time as `since`: exactly the strictly later ones, in the same (newest first) order.
    for (const at of new Set(alerts.map((a) => a.at))) {
      const since = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId, since: at });
      assert.deepEqual(ids(since.alerts), ids(alerts.filter((a) => a.at > at)), `since ${at}`);
    }
    const oldest = alerts[alerts.length - 1]!;
    const before = new Date(Date.parse(oldest.at) - 1).toISOString();
    const all = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId, since: before });
    assert.deepEqual(ids(all.alerts), ids(alerts));
    const none = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId, since: alerts[0]!.at });
    assert.deepEqual(none.alerts, []);
    const e = await rpcError(s.client.request('budget/alerts', { since: 'yesterday' }), ErrorCodes.InvalidParams);
    assert.match(e.message, /since/);
  });

  it('a finished crew run is delivered to every subscription of its crew; a failed try is retried, same id', async () => {
    const flaky = await s.client.request<WebhookSubscription>('webhook/register', {
      url: hook.url('/flaky'),
      events: ['run.finished'],
      secret: SECRET,
    });
    await crewWithAgent('hook-runs');
    const run = await s.client.request<Run>('crew/run', { crew: 'hook-runs', task: 'Say hello', saveResult: false });
    assert.equal(run.status, 'completed');

    const ofRun = (path: string) => hook.at(path).filter((g) => g.body.event === 'run.finished');
    const [toAll] = await arrived(() => ofRun('/all'), 1, 'the run at /all');
    assert.deepEqual(toAll!.body.data, run, 'the stored run');
    assert.ok(validSignature(toAll!));
    assert.equal(toAll!.headers['x-crew-event'], 'run.finished');
    const [toCrew] = await arrived(() => ofRun('/crew'), 1, 'the run at /crew');
    assert.equal((toCrew!.body.data as Run).id, run.id);
    assert.equal(toCrew!.headers['x-crew-signature'], undefined, 'no secret, no signature');

    // The receiver answered 503 first; the server tries again after its first retry delay (1 s).
    const tries = await arrived(() => hook.at('/flaky'), 2, 'a retry at /flaky', 15_000);
    assert.equal(tries[0]!.headers['x-crew-delivery'], tries[1]!.headers['x-crew-delivery']);
    assert.equal(tries[0]!.raw, tries[1]!.raw);
    assert.ok(tries.every(validSignature));
    await s.client.request('webhook/unregister', { id: flaky.id });

    await crewWithAgent('other-crew');
    const other = await s.client.request<Run>('crew/run', { crew: 'other-crew', task: 'Say hi', saveResult: false });
    await eventually(() => ofRun('/all').some((g) => (g.body.data as Run).id === other.id), 'the other run at /all');
    assert.ok(!ofRun('/crew').some((g) => (g.body.data as Run).id === other.id), 'the crew filter keeps it out');
  });

  it('after webhook/unregister, nothing more is delivered to it', async () => {
    const res = await s.client.request<{ deleted: true; id: string }>('webhook/unregister', { id: all.id });
    assert.deepEqual(res, { deleted: true, id: all.id });
    const { webhooks } = await s.client.request<WebhookList.Result>('webhook/list');
    assert.ok(!webhooks.some((w) => w.id === all.id));
    assert.ok(webhooks.some((w) => w.id === runsOfOneCrew.id));
    await rpcError(s.client.request('webhook/unregister', { id: all.id }), ErrorCodes.NotFound);

    const before = hook.at('/all').length;
    // /crew was registered after /all, so the same run reaching /crew means /all would have been sent it too.
    const run = await s.client.request<Run>('crew/run', { crew: 'hook-runs', task: 'Once more', saveResult: false });
    await eventually(() => hook.at('/crew').some((g) => (g.body.data as Run).id === run.id), 'the run at /crew');
    assert.equal(hook.at('/all').length, before);
  });

  it('budget/configureAlerts hooks keep their listing and body, and appear in webhook/list', async () => {
    const conf = await s.client.request<BudgetConfigureAlerts.Result>('budget/configureAlerts', {
      webhookUrl: hook.url('/legacy'),
    });
    assert.deepEqual(
      conf.webhooks.map((w) => w.url),
      [hook.url('/legacy')],
      'only what configureAlerts registered',
    );
    const { webhooks } = await s.client.request<WebhookList.Result>('webhook/list');
    const legacy = webhooks.find((w) => w.url === hook.url('/legacy'))!;
    assert.deepEqual(legacy.events, ['budget.alert']);
    assert.equal(legacy.signed, false);

    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:legacy',
      period: 'daily',
      limitUsd: 0.000001,
      action: 'warn',
    });
    await s.client.request('chat/complete', { model: MODEL, messages: MESSAGES, crew: 'legacy' });
    // A tiny limit: the call raises several alerts (blocked, thresholds); any one shows the shape.
    await eventually(() => hook.at('/legacy').length > 0, 'a delivery to the configureAlerts hook');
    const got = hook.at('/legacy')[0];
    const body = got!.body as WebhookDelivery & { type: string; alert: BudgetAlert };
    assert.equal(body.type, 'budget.alert');
    assert.equal(body.alert.budgetId, budget.id);
    assert.deepEqual(body.data, body.alert);
    assert.equal(got!.headers['x-crew-delivery'], body.id);
  });

  it('the secret reaches no audit entry and no log line', async () => {
    const { entries } = await s.client.request<AuditList.Result>('audit/list', { method: 'webhook/register' });
    assert.ok(entries.length >= 3);
    assert.ok(entries.some((e) => e.summary.includes('…redacted')));
    assert.ok(!JSON.stringify(entries).includes(SECRET));
    assert.ok(!s.server.stderr.includes(SECRET));
  });
});
