/**
 * Webhook deliveries on PostgreSQL (server/webhooks/queued-outbox.ts over migrations/006): two instances' webhook
 * services on one real database. An event raised on one is delivered once for the team, whichever instance's pump
 * sends it; a failing receiver gets the same delivery again (same id, same bytes) after the retry delay; a
 * delivery raised by an instance that stopped before it could be sent is sent by the other; one that keeps
 * failing is given up and leaves the queue.
 */
import assert from 'node:assert/strict';
import type { WebhookDelivery } from '../../protocol';
import { EventBus } from '../../server/events';
import { PgWebhookRepository } from '../../server/store/postgres/webhooks';
import { PgWebhookDeliveryQueue } from '../../server/store/postgres/webhook-queue';
import type { WebhookRequest, WebhookSender } from '../../server/webhooks/delivery';
import { WebhookService, type WebhookExpiry } from '../../server/webhooks/service';
import { eventually } from '../helpers';
import { postgresBackend, quietLog, type PostgresBackend } from './backends';
import { alert } from './entity-fixtures';

const ALERT = alert({ id: 'alert-1', budgetId: 'b-global', at: '2026-03-10T12:00:00.000Z' });

/** A receiver shared by both instances: records every attempt, answers what `answer` says. */
function receiver(answer: (n: number) => number) {
  const seen: { by: string; request: WebhookRequest }[] = [];
  const sender = (by: string): WebhookSender => ({
    post: async (request) => {
      seen.push({ by, request });
      return answer(seen.length);
    },
  });
  return { seen, sender };
}

describe('webhook deliveries shared by two instances (PostgreSQL queue)', function () {
  this.timeout(30_000);
  let pg: PostgresBackend;
  const services: WebhookService[] = [];

  async function instance(
    id: string,
    sender: WebhookSender,
    events = new EventBus(),
    retryDelaysMs = [100, 100],
    expiry?: WebhookExpiry,
  ) {
    const db = id === 'a' ? pg.db : await pg.peer();
    const queue = new PgWebhookDeliveryQueue(db, id);
    const service = new WebhookService({
      repo: new PgWebhookRepository(db),
      events,
      clock: pg.clock,
      log: quietLog,
      sender,
      retryDelaysMs,
      queue,
      expiry,
    });
    services.push(service);
    return { service, events, queue };
  }

  beforeEach(async () => {
    pg = await postgresBackend();
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close(200);
    await pg?.close();
  });

  it('an alert raised on A is delivered once for the team, though both pumps run', async () => {
    const { seen, sender } = receiver(() => 200);
    const a = await instance('a', sender('a'));
    await instance('b', sender('b'));
    await a.service.register({ url: 'http://127.0.0.1:9/hook', events: ['budget.alert'] });
    for (let i = 0; i < 20; i++) a.events.publish('budget.alert', { ...ALERT, id: `alert-${i}` });
    await eventually(() => seen.length >= 20, 'twenty deliveries');
    await eventually(async () => (await a.queue.size()) === 0, 'an empty queue');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 20);
    const ids = seen.map((s) => (JSON.parse(s.request.body) as WebhookDelivery).id);
    assert.equal(new Set(ids).size, 20, 'twenty deliveries, none twice');
  });

  it('a failing receiver gets the same delivery again after the delay, the same id and bytes, until a 2xx', async () => {
    const { seen, sender } = receiver((n) => (n < 3 ? 503 : 200));
    const a = await instance('a', sender('a'));
    await instance('b', sender('b'));
    await a.service.register({ url: 'http://127.0.0.1:9/hook', events: ['budget.alert'] });
    a.events.publish('budget.alert', ALERT);
    await eventually(() => seen.length >= 3, 'three attempts');
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen.map((s) => s.request.body)).size, 1, 'every attempt sends the same bytes');
    await eventually(async () => (await a.queue.size()) === 0, 'an empty queue');
  });

  it('a delivery raised by an instance that stopped before sending it is sent by the other', async () => {
    const { seen, sender } = receiver(() => 200);
    const down: WebhookSender = { post: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    const a = await instance('a', down, new EventBus(), [200]);
    await a.service.register({ url: 'http://127.0.0.1:9/hook', events: ['budget.alert'] });
    a.events.publish('budget.alert', ALERT);
    // A's first attempt fails and puts it back for 200 ms; A stops before it is due again.
    await eventually(async () => {
      const [r] = await pg.db.query<{ attempt: number }>('select attempt from crew_webhook_deliveries');
      return r?.attempt === 1;
    }, 'a first attempt that failed');
    await services.shift()!.close(100);
    await instance('b', sender('b'));
    await eventually(() => seen.length >= 1, 'the delivery');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.by, 'b');
    await eventually(async () => (await a.queue.size()) === 0, 'an empty queue');
  });

  it('gives up after the last retry and leaves the queue', async () => {
    const { seen, sender } = receiver(() => 500);
    const a = await instance('a', sender('a'), new EventBus(), [50]);
    await a.service.register({ url: 'http://127.0.0.1:9/hook', events: ['budget.alert'] });
    a.events.publish('budget.alert', ALERT);
    await eventually(() => seen.length >= 2, 'the first attempt and one retry');
    assert.equal(seen.length, 2, 'the first attempt and one retry');
    await eventually(async () => (await a.queue.size()) === 0, 'an empty queue');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 2, 'no attempt after giving up');
  });

  it('a subscription whose deliveries keep being given up, by either instance, expires for the team', async () => {
    const { seen, sender } = receiver(() => 404);
    const expiry = { failures: 3, afterMs: 0 };
    const a = await instance('a', sender('a'), new EventBus(), [], expiry);
    const b = await instance('b', sender('b'), new EventBus(), [], expiry);
    const sub = await a.service.register({ url: 'http://127.0.0.1:9/gone', events: ['budget.alert'] });
    for (const [i, raisedOn] of [a, b, a].entries()) {
      raisedOn.events.publish('budget.alert', { ...ALERT, id: `alert-${i}` });
      await eventually(() => seen.length >= i + 1, `delivery ${i + 1}`);
      await eventually(async () => (await a.queue.size()) === 0, 'an empty queue');
    }
    const { webhooks, expired } = await eventually(async () => {
      const listed = await b.service.list();
      return listed.expired.length ? listed : undefined;
    }, 'the subscription to expire');
    assert.deepEqual(webhooks, []);
    assert.deepEqual(
      expired.map((w) => [w.id, w.failures, w.lastFailure]),
      [[sub.id, 3, 'answered 404']],
    );
    b.events.publish('budget.alert', { ...ALERT, id: 'alert-after' });
    await a.service.drain(300);
    assert.equal(seen.length, 3, 'nothing more is sent to it');
  });
});
