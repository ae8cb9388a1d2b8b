/**
 * The "OpenRouter Crew Trigger" (webhook) and "OpenRouter Crew Poll Trigger" nodes with hand-made n8n contexts:
 * webhook registration, check and removal (params checked against the server's schema), deliveries as the server
 * composes and signs them (server/webhooks/subscriptions.ts's requestFor) accepted, filtered or refused, and polling
 * from watermarks kept in static data.
 */
import assert from 'node:assert/strict';
import type { IDataObject } from 'n8n-workflow';
import { OpenRouterCrewPollTrigger } from '../../n8n-nodes/nodes/OpenRouterCrewPollTrigger/OpenRouterCrewPollTrigger.node';
import { advance } from '../../n8n-nodes/nodes/OpenRouterCrewPollTrigger/poll';
import { OpenRouterCrewTrigger } from '../../n8n-nodes/nodes/OpenRouterCrewTrigger/OpenRouterCrewTrigger.node';
import { signature } from '../../n8n-nodes/nodes/OpenRouterCrewTrigger/signature';
import { ErrorCodes, type BudgetAlert, type Run, type WebhookDelivery, type WebhookRegister } from '../../protocol';
import { schemas } from '../../server/rpc/schemas';
import { requestFor, signature as serverSignature } from '../../server/webhooks/subscriptions';
import {
  answering,
  hookContext,
  pollContext,
  RpcRecorder,
  triggerWorld,
  webhookContext,
  type RpcAnswer,
  type TriggerWorld,
} from '../helpers/n8n';
import * as r from '../helpers/n8n-records';

const trigger = new OpenRouterCrewTrigger();
const poller = new OpenRouterCrewPollTrigger();
const hooks = trigger.webhookMethods.default;

describe('n8n OpenRouter Crew Trigger: webhook subscription', () => {
  let world: TriggerWorld;
  beforeEach(() => (world = triggerWorld()));

  it("create registers n8n's webhook URL for the chosen events with a fresh secret, kept in static data", async () => {
    const rpc = new RpcRecorder(answering({ 'webhook/register': r.subscription({ id: 'wh_9' }) }));
    const params = { events: ['threshold', 'forecast', 'runFinished'], options: { crew: 'ops', budgetId: 'bud_1' } };
    assert.equal(await hooks.create.call(hookContext(trigger, rpc, world, params)), true);
    const sent = rpc.last().params as WebhookRegister.Params;
    assert.equal(rpc.last().method, 'webhook/register');
    assert.deepEqual(
      { ...sent, secret: undefined },
      {
        url: world.webhookUrl,
        events: ['budget.alert', 'run.finished'],
        secret: undefined,
        description: 'n8n: Budget Alert / OpenRouter Crew Trigger',
        budgetId: 'bud_1',
        crew: 'ops',
      },
    );
    assert.match(sent.secret ?? '', /^[0-9a-f]{64}$/);
    assert.ok(schemas['webhook/register'].safeParse(sent).success);
    assert.deepEqual(world.staticData, { subscriptionId: 'wh_9', secret: sent.secret });
  });

  it('create leaves out a budget filter when no budget alert is chosen (the server would refuse it)', async () => {
    const rpc = new RpcRecorder(answering({ 'webhook/register': r.subscription() }));
    const params = { events: ['runFinished'], options: { budgetId: 'bud_1' } };
    await hooks.create.call(hookContext(trigger, rpc, world, params));
    const sent = rpc.last().params as WebhookRegister.Params;
    assert.deepEqual(sent.events, ['run.finished']);
    assert.equal(sent.budgetId, undefined);
    assert.ok(schemas['webhook/register'].safeParse(sent).success);
  });

  it('two registrations get different secrets', async () => {
    const secrets = [];
    for (let i = 0; i < 2; i++) {
      const w = triggerWorld();
      const rpc = new RpcRecorder(answering({ 'webhook/register': r.subscription() }));
      await hooks.create.call(hookContext(trigger, rpc, w, { events: ['threshold'] }));
      secrets.push(w.staticData.secret);
    }
    assert.notEqual(secrets[0], secrets[1]);
  });

  it('checkExists is false without a subscription in static data, and asks nothing', async () => {
    const rpc = new RpcRecorder(answering({}));
    assert.equal(await hooks.checkExists.call(hookContext(trigger, rpc, world, { events: ['threshold'] })), false);
    assert.equal(rpc.calls.length, 0);
  });

  it('checkExists keeps a subscription that still fits (after an n8n restart)', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 's'.repeat(64) };
    const sub = r.subscription({ id: 'wh_1', url: world.webhookUrl, events: ['budget.alert'] });
    const rpc = new RpcRecorder(answering({ 'webhook/list': { webhooks: [sub] } }));
    assert.equal(await hooks.checkExists.call(hookContext(trigger, rpc, world, { events: ['blocked'] })), true);
    assert.deepEqual(rpc.methods, ['webhook/list']);
    assert.equal(world.staticData.subscriptionId, 'wh_1');
  });

  it('checkExists replaces a subscription whose URL or events changed', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 's'.repeat(64) };
    const sub = r.subscription({ id: 'wh_1', url: 'http://127.0.0.1:5678/webhook-test/x', events: ['budget.alert'] });
    const rpc = new RpcRecorder(
      answering({ 'webhook/list': { webhooks: [sub] }, 'webhook/unregister': { deleted: true, id: 'wh_1' } }),
    );
    assert.equal(await hooks.checkExists.call(hookContext(trigger, rpc, world, { events: ['threshold'] })), false);
    assert.deepEqual(rpc.methods, ['webhook/list', 'webhook/unregister']);
    assert.deepEqual(rpc.last().params, { id: 'wh_1' });
    assert.deepEqual(world.staticData, {});
  });

  it('checkExists replaces a subscription the server expired (its deliveries kept failing)', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 's'.repeat(64) };
    const sub = r.subscription({
      id: 'wh_1',
      url: world.webhookUrl,
      failures: 5,
      failingSince: '2026-03-01T09:00:00.000Z',
      lastFailure: 'answered 404',
      expiredAt: '2026-03-02T09:00:00.000Z',
    });
    const rpc = new RpcRecorder(
      answering({
        'webhook/list': { webhooks: [], expired: [sub] },
        'webhook/unregister': { deleted: true, id: 'wh_1' },
      }),
    );
    assert.equal(await hooks.checkExists.call(hookContext(trigger, rpc, world, { events: ['threshold'] })), false);
    assert.deepEqual(rpc.methods, ['webhook/list', 'webhook/unregister']);
    assert.deepEqual(world.staticData, {});
  });

  it('checkExists forgets a subscription the server no longer has', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 's'.repeat(64) };
    const rpc = new RpcRecorder(answering({ 'webhook/list': { webhooks: [] } }));
    assert.equal(await hooks.checkExists.call(hookContext(trigger, rpc, world, { events: ['threshold'] })), false);
    assert.deepEqual(world.staticData, {});
  });

  it('delete unregisters the subscription and forgets its secret', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 's'.repeat(64) };
    const rpc = new RpcRecorder(answering({ 'webhook/unregister': { deleted: true, id: 'wh_1' } }));
    assert.equal(await hooks.delete.call(hookContext(trigger, rpc, world, { events: ['threshold'] })), true);
    assert.deepEqual(rpc.last(), { ...rpc.last(), method: 'webhook/unregister', params: { id: 'wh_1' } });
    assert.deepEqual(world.staticData, {});
  });

  it('delete of a subscription the server already dropped succeeds; another failure is raised', async () => {
    world.staticData = { subscriptionId: 'wh_1', secret: 'x'.repeat(64) };
    const notFound: RpcAnswer = { error: { code: ErrorCodes.NotFound, message: 'webhook wh_1 not found' } };
    assert.equal(await hooks.delete.call(hookContext(trigger, new RpcRecorder(() => notFound), world, {})), true);
    assert.deepEqual(world.staticData, {});

    world.staticData = { subscriptionId: 'wh_2', secret: 'x'.repeat(64) };
    const refused: RpcAnswer = { refused: true };
    await assert.rejects(hooks.delete.call(hookContext(trigger, new RpcRecorder(() => refused), world, {})));
    assert.equal(world.staticData.subscriptionId, 'wh_2');
  });
});

describe('n8n OpenRouter Crew Trigger: deliveries', () => {
  const secret = 'f'.repeat(64);
  let world: TriggerWorld;
  beforeEach(() => {
    world = triggerWorld();
    world.staticData = { subscriptionId: 'wh_1', secret };
  });

  /** The request crew-server sends for `delivery` to this subscription. */
  function sent(delivery: WebhookDelivery, key: string | null = secret) {
    const req = requestFor(
      {
        id: 'wh_1',
        url: world.webhookUrl,
        budgetId: null,
        createdAt: '2026-03-01T00:00:00.000Z',
        events: ['budget.alert', 'run.finished'],
        secret: key,
      },
      delivery,
    );
    return { raw: req.body, headers: req.headers };
  }

  async function receive(params: IDataObject, request: { raw: string; headers: Record<string, string> }) {
    const { ctx, response } = webhookContext(trigger, new RpcRecorder(answering({})), world, params, request);
    return { result: await trigger.webhook.call(ctx), response };
  }

  const alertDelivery = (a: BudgetAlert): WebhookDelivery => ({
    id: 'dlv_1',
    event: 'budget.alert',
    at: '2026-03-01T09:00:01.000Z',
    data: a,
  });
  const runDelivery = (run: Run): WebhookDelivery => ({
    id: 'dlv_2',
    event: 'run.finished',
    at: '2026-03-01T09:00:03.000Z',
    data: run,
  });

  it("signs the way the server does (the node's HMAC equals server/webhooks' for the same bytes)", async () => {
    const body = JSON.stringify(alertDelivery(r.alert({ message: 'héllo ✓' })));
    assert.equal(await signature(secret, body), serverSignature(secret, body));
  });

  it('starts the workflow with the alert of a signed delivery', async () => {
    const a = r.alert({ kind: 'blocked', severity: 'critical' });
    const { result, response } = await receive({ events: ['blocked'] }, sent(alertDelivery(a)));
    assert.deepEqual(result.workflowData, [[{ json: { event: 'budget.alert', deliveryId: 'dlv_1', ...a } }]]);
    assert.equal(response.status, undefined);
  });

  it('tells a warn budget over its limit (over_limit, calls go on) from a blocked call', async () => {
    const over = r.alert({ kind: 'over_limit', severity: 'warning', threshold: null });
    const blocked = r.alert({ kind: 'blocked', severity: 'critical' });
    const started = async (events: string[], a: typeof over) =>
      (await receive({ events }, sent(alertDelivery(a)))).result.workflowData !== undefined;
    assert.equal(await started(['over_limit'], over), true);
    assert.equal(await started(['over_limit'], blocked), false);
    assert.equal(await started(['blocked'], over), false);
    const events = trigger.description.properties.find((p) => p.name === 'events')!;
    const option = (events.options as { name: string; value: string }[]).find((o) => o.value === 'over_limit');
    assert.match(option!.name, /Over Limit \(Calls Continue\)/);
    assert.ok((events.default as string[]).includes('over_limit'), 'new triggers hear of it by default');
  });

  it('starts the workflow with a finished run, steps and all', async () => {
    const run = r.run({ status: 'budget_exceeded' });
    const { result } = await receive({ events: ['runFinished'] }, sent(runDelivery(run)));
    assert.deepEqual(result.workflowData, [
      [{ json: JSON.parse(JSON.stringify({ event: 'run.finished', deliveryId: 'dlv_2', ...run })) as IDataObject }],
    ]);
  });

  it('refuses a delivery whose signature does not match, or that is not signed, with a 401', async () => {
    const forged = sent(alertDelivery(r.alert()), 'not-the-secret-at-all');
    const tampered = sent(alertDelivery(r.alert()));
    tampered.raw = tampered.raw.replace('"percentUsed":82', '"percentUsed":12');
    const unsigned = sent(alertDelivery(r.alert()), null);
    for (const request of [forged, tampered, unsigned]) {
      const { result, response } = await receive({ events: ['threshold'] }, request);
      assert.deepEqual(result, { noWebhookResponse: true });
      assert.equal(response.status, 401);
    }
  });

  it('acknowledges without starting the workflow an event it was not asked for', async () => {
    const cases: [IDataObject, WebhookDelivery][] = [
      [{ events: ['blocked'] }, alertDelivery(r.alert({ kind: 'threshold' }))],
      [{ events: ['threshold'], options: { budgetId: 'bud_2' } }, alertDelivery(r.alert())],
      [{ events: ['threshold'] }, runDelivery(r.run())],
      [{ events: ['runFinished'], options: { runStatuses: ['failed'] } }, runDelivery(r.run())],
      [{ events: ['runFinished'], options: { crew: 'other' } }, runDelivery(r.run())],
    ];
    for (const [params, delivery] of cases) {
      const { result } = await receive(params, sent(delivery));
      assert.equal(result.workflowData, undefined, JSON.stringify(params));
      assert.deepEqual(result.webhookResponse, { received: true, started: false });
    }
  });
});

describe('n8n OpenRouter Crew Poll Trigger', () => {
  const alerts = [
    r.alert({ id: 'a3', kind: 'blocked', at: '2026-03-01T10:00:00.000Z' }),
    r.alert({ id: 'a2', kind: 'forecast', at: '2026-03-01T09:30:00.000Z' }),
    r.alert({ id: 'a1', kind: 'threshold', at: '2026-03-01T09:00:00.000Z' }),
  ];
  const runs = [
    r.run({ id: 'run_3', status: 'running', finishedAt: null }),
    r.run({ id: 'run_2', status: 'failed', finishedAt: '2026-03-01T09:45:00.000Z' }),
    r.run({ id: 'run_1', finishedAt: '2026-03-01T09:10:00.000Z' }),
  ];
  const params = { events: ['threshold', 'blocked', 'runFinished'] };

  /** The server's answers: alerts after `since` (exclusive, newest first), runs newest first. */
  function server(alertList: BudgetAlert[], runList: Run[]) {
    return new RpcRecorder((method, p) => {
      const q = (p ?? {}) as { since?: string };
      if (method === 'budget/alerts')
        return { result: { alerts: alertList.filter((a) => !q.since || a.at > q.since), webhooks: [] } };
      if (method === 'crew/runs') return { result: { runs: runList, total: runList.length } };
      throw new Error(`unexpected ${method}`);
    });
  }

  it('the first poll of an active workflow only notes where things stand', async () => {
    const world = triggerWorld();
    const rpc = server(alerts, runs);
    assert.equal(await poller.poll.call(pollContext(poller, rpc, world, params)), null);
    assert.deepEqual(rpc.methods, ['budget/alerts', 'crew/runs']);
    assert.deepEqual(rpc.calls[0]!.params, { limit: 500 });
    assert.deepEqual(world.staticData, {
      alertsAfter: '2026-03-01T10:00:00.000Z',
      alertIdsAt: ['a3'],
      runsAfter: '2026-03-01T09:45:00.000Z',
      runIdsAt: ['run_2'],
    });
  });

  it('later polls emit only what is new and wanted, oldest first, and move the watermarks', async () => {
    const world = triggerWorld();
    await poller.poll.call(pollContext(poller, server(alerts, runs), world, params));
    const newer = [
      r.alert({ id: 'a6', kind: 'anomaly', at: '2026-03-01T11:00:00.000Z' }),
      r.alert({ id: 'a5', kind: 'threshold', at: '2026-03-01T10:30:00.000Z' }),
      r.alert({ id: 'a4', kind: 'blocked', at: '2026-03-01T10:00:00.000Z' }),
      ...alerts,
    ];
    const finished = [
      r.run({ id: 'run_3', status: 'completed', finishedAt: '2026-03-01T10:40:00.000Z' }),
      ...runs.slice(1),
    ];
    const rpc = server(newer, finished);
    const out = await poller.poll.call(pollContext(poller, rpc, world, params));
    // since is one millisecond before the watermark, so a4 (same time as a3, not yet seen) is not lost.
    assert.deepEqual(rpc.calls[0]!.params, { limit: 500, since: '2026-03-01T09:59:59.999Z' });
    assert.deepEqual(
      out![0]!.map((i) => [i.json.event, i.json.id]),
      [
        ['budget.alert', 'a4'],
        ['budget.alert', 'a5'],
        ['run.finished', 'run_3'],
      ],
    );
    assert.equal(world.staticData.alertsAfter, '2026-03-01T11:00:00.000Z');
    assert.equal(world.staticData.runsAfter, '2026-03-01T10:40:00.000Z');
    assert.equal(await poller.poll.call(pollContext(poller, server(newer, finished), world, params)), null);
  });

  it('a manual test shows the latest matching event and leaves the watermarks alone', async () => {
    const world = triggerWorld();
    const out = await poller.poll.call(pollContext(poller, server(alerts, runs), world, params, 'manual'));
    assert.deepEqual(
      out![0]!.map((i) => i.json.id),
      ['a3', 'run_2'],
    );
    assert.deepEqual(world.staticData, {});
  });

  it('advance keeps ids seen at the watermark so equal times are neither lost nor repeated', () => {
    const at = (e: { t: string }) => e.t;
    const id = (e: { id: string }) => e.id;
    const first = advance([{ id: 'x', t: '1' }], {}, at, id);
    assert.deepEqual(first.mark, { after: '1', idsAt: ['x'] });
    const second = advance(
      [
        { id: 'x', t: '1' },
        { id: 'y', t: '1' },
      ],
      first.mark,
      at,
      id,
    );
    assert.deepEqual(second.fresh.map(id), ['y']);
    assert.deepEqual(second.mark, { after: '1', idsAt: ['x', 'y'] });
  });
});
