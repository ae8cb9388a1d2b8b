/**
 * Webhook subscriptions at unit level: WebhookService on an in-memory repository, a real EventBus, a fake sender
 * whose answers the test scripts, and a ManualClock that the retry waits advance (no real sleeping). Also the
 * params schemas, the audit summary, and the JSON store's reading of old records and `since`.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes } from '../../protocol';
import type { BudgetAlert, Run, WebhookDelivery } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { EventBus } from '../../server/events';
import { silentLogger, type Logger } from '../../server/log';
import { summarize } from '../../server/rpc/audit';
import { DomainError } from '../../server/errors';
import { JsonStore } from '../../server/store/json-store';
import type { WebhookRecord, WebhookRepository } from '../../server/store/repositories';
import type { WebhookRequest, WebhookSender } from '../../server/webhooks/delivery';
import { webhookSchemas } from '../../server/webhooks/schemas';
import { MAX_EXPIRED_WEBHOOKS, MAX_WEBHOOKS, WebhookService } from '../../server/webhooks/service';
import { crewOfScope } from '../../server/webhooks/subscriptions';

const T0 = Date.parse('2026-03-10T12:00:00.000Z');
const SECRET = 'n8n-shared-secret-42';

class MemoryWebhooks implements WebhookRepository {
  readonly rows: WebhookRecord[] = [];
  async webhooks() {
    return this.rows.map((r) => structuredClone(r));
  }
  async addWebhook(r: WebhookRecord) {
    this.rows.push(structuredClone(r));
  }
  async removeWebhook(id: string) {
    const i = this.rows.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    return true;
  }
  // Delivery outcomes: the expiry cases below run on the real JSON store's repository instead.
  async deliveryGivenUp() {
    return undefined;
  }
  async deliveryDelivered() {}
  async expireWebhook() {
    return false;
  }
}

interface Attempt extends WebhookRequest {
  at: number;
}

let alertN = 0;
function alert(over: Partial<BudgetAlert> = {}): BudgetAlert {
  return {
    id: `alert-${++alertN}`,
    budgetId: 'b-global',
    scope: 'global',
    kind: 'threshold',
    threshold: 80,
    severity: 'warning',
    message: 'Budget at 80 %',
    spentUsd: 0.8,
    limitUsd: 1,
    percentUsed: 80,
    periodStart: '2026-03-10T00:00:00.000Z',
    at: new Date(T0).toISOString(),
    ...over,
  };
}

function run(crew: string, over: Partial<Run> = {}): Run {
  return {
    id: `run_${crew}`,
    crewId: `crew-id-${crew}`,
    crew,
    task: 'summarise',
    process: 'sequential',
    status: 'completed',
    steps: [],
    output: 'done',
    usage: { promptTokens: 10, completionTokens: 5, cachedTokens: 0, reasoningTokens: 0 },
    costUsd: 0.001,
    cost: '0.001',
    error: null,
    memoryId: null,
    startedAt: new Date(T0 - 1000).toISOString(),
    finishedAt: new Date(T0).toISOString(),
    ...over,
  };
}

const header = (a: WebhookRequest, name: string) =>
  Object.entries(a.headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
const bodyOf = (a: WebhookRequest) => JSON.parse(a.body) as WebhookDelivery & Record<string, unknown>;

describe('WebhookService (fake sender, ManualClock)', () => {
  let clock: ManualClock;
  let repo: MemoryWebhooks;
  let events: EventBus;
  let attempts: Attempt[];
  /** Answers by URL, consumed in order; then 204. A function answers by throwing or returning. */
  let script: Map<string, (number | (() => Promise<number>))[]>;
  let delays: number[];
  let logs: string[];
  let svc: WebhookService;

  const sender: WebhookSender = {
    post: async (req) => {
      attempts.push({ ...req, at: clock.now() });
      const next = script.get(req.url)?.shift() ?? 204;
      return typeof next === 'number' ? next : next();
    },
  };
  const log: Logger = {
    debug: (m) => logs.push(`debug ${m}`),
    info: (m) => logs.push(`info ${m}`),
    warn: (m) => logs.push(`warn ${m}`),
    error: (m) => logs.push(`error ${m}`),
  };
  const to = (url: string) => attempts.filter((a) => a.url === url);

  function makeService(retryDelaysMs = [1_000, 5_000, 15_000]) {
    return new WebhookService({
      repo,
      events,
      clock,
      log,
      sender,
      retryDelaysMs,
      sleep: async (ms) => {
        delays.push(ms);
        clock.advance(ms);
      },
    });
  }

  beforeEach(() => {
    clock = new ManualClock(T0);
    repo = new MemoryWebhooks();
    events = new EventBus();
    attempts = [];
    script = new Map();
    delays = [];
    logs = [];
    svc = makeService();
  });
  afterEach(() => svc.close(100));

  it('register returns the subscription without its secret; list shows both kinds', async () => {
    const sub = await svc.register({
      url: 'http://localhost:5678/webhook/abc',
      events: ['run.finished', 'budget.alert', 'run.finished'],
      crew: 'ops',
      description: 'n8n: Budget Alert workflow',
      secret: SECRET,
    });
    assert.deepEqual(sub.events, ['run.finished', 'budget.alert'], 'de-duplicated, in the order given');
    assert.equal(sub.signed, true);
    assert.equal(sub.crew, 'ops');
    assert.equal(sub.budgetId, null);
    assert.equal(sub.createdAt, new Date(T0).toISOString());
    assert.ok(!JSON.stringify(sub).includes(SECRET));
    assert.equal(repo.rows[0]!.secret, SECRET, 'stored, because signing needs it');

    await svc.addAlertHook('http://127.0.0.1:9/legacy', 'b1');
    const listed = await svc.list();
    assert.deepEqual(listed.expired, []);
    assert.deepEqual(
      listed.webhooks.map((s) => [s.url, s.events, s.signed, s.budgetId, s.failures, s.expiredAt]),
      [
        ['http://localhost:5678/webhook/abc', ['run.finished', 'budget.alert'], true, null, 0, null],
        ['http://127.0.0.1:9/legacy', ['budget.alert'], false, 'b1', 0, null],
      ],
    );
    assert.ok(!JSON.stringify(listed).includes(SECRET));
    assert.ok(!logs.join('\n').includes(SECRET));
    // budget/configureAlerts keeps listing only what it registered, in its own shape.
    assert.deepEqual(
      (await svc.alertHooks()).map((w) => Object.keys(w).sort()),
      [['budgetId', 'createdAt', 'id', 'url']],
    );
  });

  it('each event reaches the subscriptions whose event, budget and crew filters match', async () => {
    const sub = async (name: string, p: Omit<Parameters<WebhookService['register']>[0], 'url'>) =>
      svc.register({ url: `http://hooks.test/${name}`, ...p });
    await sub('alerts', { events: ['budget.alert'] });
    await sub('budget-b1', { events: ['budget.alert'], budgetId: 'b1' });
    await sub('ops-alerts', { events: ['budget.alert'], crew: 'Ops' });
    await sub('runs', { events: ['run.finished'] });
    await sub('ops-runs', { events: ['run.finished'], crew: 'ops' });
    await sub('ops-both', { events: ['budget.alert', 'run.finished'], crew: 'ops' });
    await svc.addAlertHook('http://hooks.test/legacy', null);

    const cases: [string, () => void, string[]][] = [
      [
        'a global alert of b1',
        () => events.publish('budget.alert', alert({ budgetId: 'b1' })),
        ['alerts', 'budget-b1', 'legacy'],
      ],
      [
        "an alert of crew ops's budget",
        () => events.publish('budget.alert', alert({ budgetId: 'b2', scope: 'crew:ops' })),
        ['alerts', 'ops-alerts', 'ops-both', 'legacy'],
      ],
      [
        "an alert of an ops agent's own budget",
        () => events.publish('budget.alert', alert({ budgetId: 'b3', scope: 'agent:ops/writer' })),
        ['alerts', 'ops-alerts', 'ops-both', 'legacy'],
      ],
      [
        'an alert of another crew',
        () => events.publish('budget.alert', alert({ budgetId: 'b4', scope: 'crew:opsy' })),
        ['alerts', 'legacy'],
      ],
      ['a run of ops', () => events.publish('run.finished', run('ops')), ['runs', 'ops-runs', 'ops-both']],
      ['a run of another crew', () => events.publish('run.finished', run('research')), ['runs']],
    ];
    for (const [what, publish, expected] of cases) {
      attempts = [];
      publish();
      await svc.drain();
      assert.deepEqual(attempts.map((a) => a.url.replace('http://hooks.test/', '')).sort(), expected.sort(), what);
    }
  });

  it('a run matches a crew filter by its id too', async () => {
    await svc.register({ url: 'http://hooks.test/by-id', events: ['run.finished'], crew: 'crew-id-ops' });
    events.publish('run.finished', run('ops'));
    events.publish('run.finished', run('other'));
    await svc.drain();
    assert.deepEqual(
      attempts.map((a) => bodyOf(a).data),
      [run('ops')],
    );
  });

  it('a delivery carries the documented body and headers, signed with HMAC-SHA256 when there is a secret', async () => {
    await svc.register({ url: 'http://hooks.test/signed', events: ['budget.alert', 'run.finished'], secret: SECRET });
    await svc.register({ url: 'http://hooks.test/plain', events: ['budget.alert'] });
    const a = alert();
    clock.set(T0 + 5_000);
    events.publish('budget.alert', a);
    events.publish('run.finished', run('ops'));
    await svc.drain();

    const signed = to('http://hooks.test/signed');
    assert.equal(signed.length, 2);
    for (const req of signed) {
      const expected = createHmac('sha256', SECRET).update(req.body).digest('hex');
      assert.equal(header(req, 'X-Crew-Signature'), `sha256=${expected}`);
      const body = bodyOf(req);
      assert.equal(header(req, 'X-Crew-Event'), body.event);
      assert.equal(header(req, 'X-Crew-Delivery'), body.id);
      assert.equal(body.at, new Date(T0 + 5_000).toISOString());
      assert.ok(!req.body.includes(SECRET));
    }
    assert.deepEqual(bodyOf(signed[0]!), {
      id: header(signed[0]!, 'X-Crew-Delivery'),
      event: 'budget.alert',
      at: new Date(T0 + 5_000).toISOString(),
      data: a,
    });
    assert.deepEqual(bodyOf(signed[1]!).data, run('ops'));

    const [plain] = to('http://hooks.test/plain');
    assert.equal(header(plain!, 'X-Crew-Signature'), undefined);
    assert.equal(header(plain!, 'X-Crew-Event'), 'budget.alert');
    assert.notEqual(header(plain!, 'X-Crew-Delivery'), header(signed[0]!, 'X-Crew-Delivery'), 'one id per delivery');
  });

  it('a configureAlerts hook still gets the {type, alert} fields beside the delivery', async () => {
    await svc.addAlertHook('http://hooks.test/legacy', null);
    const a = alert();
    events.publish('budget.alert', a);
    await svc.drain();
    const body = bodyOf(to('http://hooks.test/legacy')[0]!);
    assert.equal(body.type, 'budget.alert');
    assert.deepEqual(body.alert, a);
    assert.equal(body.event, 'budget.alert');
    assert.deepEqual(body.data, a);
  });

  it('the body is what the event was when published, even if the publisher changes its object later', async () => {
    await svc.register({ url: 'http://hooks.test/runs', events: ['run.finished'] });
    const r = run('ops');
    events.publish('run.finished', r);
    r.status = 'failed';
    await svc.drain();
    assert.equal((bodyOf(to('http://hooks.test/runs')[0]!).data as Run).status, 'completed');
  });

  it('failures are retried with growing delays and the same delivery id and bytes, until a 2xx', async () => {
    await svc.register({ url: 'http://hooks.test/flaky', events: ['budget.alert'], secret: SECRET });
    script.set('http://hooks.test/flaky', [
      503,
      async () => {
        throw new TypeError('fetch failed');
      },
      404,
      202,
    ]);
    events.publish('budget.alert', alert());
    await svc.drain();
    const tries = to('http://hooks.test/flaky');
    assert.equal(tries.length, 4);
    assert.deepEqual(delays, [1_000, 5_000, 15_000]);
    assert.deepEqual(
      tries.map((t) => t.at - T0),
      [0, 1_000, 6_000, 21_000],
    );
    assert.equal(new Set(tries.map((t) => header(t, 'X-Crew-Delivery'))).size, 1);
    assert.equal(new Set(tries.map((t) => t.body)).size, 1);
    assert.equal(new Set(tries.map((t) => header(t, 'X-Crew-Signature'))).size, 1);
    assert.ok(!logs.some((l) => l.startsWith('warn')), 'delivered in the end: nothing given up');
  });

  it('gives up after the last retry with a log line naming the URL, never the secret or the query', async () => {
    await svc.close(100);
    svc = makeService([10, 20]);
    const url = 'http://hooks.test/down?token=query-token-123';
    await svc.register({ url, events: ['budget.alert'], secret: SECRET });
    script.set(url, [500, 500, 500, 500]);
    events.publish('budget.alert', alert());
    await svc.drain();
    assert.equal(to(url).length, 3, 'one attempt and two retries');
    assert.deepEqual(delays, [10, 20]);
    const warns = logs.filter((l) => l.startsWith('warn'));
    assert.equal(warns.length, 1, logs.join('\n'));
    assert.match(warns[0]!, /http:\/\/hooks\.test\/down .*gave up on budget\.alert delivery .*answered 500/);
    const all = logs.join('\n');
    assert.ok(!all.includes(SECRET) && !all.includes('query-token-123'), all);
    // The delivery is over: nothing left to send.
    events.publish('run.finished', run('ops'));
    await svc.drain();
    assert.equal(to(url).length, 3);
  });

  it('publishing does not wait for receivers; close waits within its bound, then abandons', async () => {
    await svc.register({ url: 'http://hooks.test/hangs', events: ['run.finished'] });
    script.set('http://hooks.test/hangs', [() => new Promise<number>(() => undefined)]);
    events.publish('run.finished', run('ops'));
    assert.equal(attempts.length, 0, 'publish returned before anything was sent');
    await new Promise((r) => setImmediate(r));
    assert.equal(attempts.length, 1, 'then the delivery started in the background');
    const started = Date.now();
    await svc.close(150);
    const took = Date.now() - started;
    assert.ok(took >= 100 && took < 2_000, `close took ${took} ms`);
    // Closed: later events are not delivered.
    events.publish('run.finished', run('ops'));
    await new Promise((r) => setImmediate(r));
    assert.equal(attempts.length, 1);
  });

  it('close aborts retries that are waiting, and logs them as given up', async () => {
    await svc.close(100);
    svc = new WebhookService({ repo, events, clock, log, sender, retryDelaysMs: [60_000] });
    await svc.register({ url: 'http://hooks.test/down', events: ['budget.alert'] });
    script.set('http://hooks.test/down', [500]);
    events.publish('budget.alert', alert());
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await svc.close(50);
    assert.ok(Date.now() - started < 1_000, 'the 60 s wait did not hold the close');
    assert.equal(attempts.length, 1);
    assert.ok(
      logs.some((l) => /warn webhook http:\/\/hooks\.test\/down gave up .*server is stopping/.test(l)),
      logs.join('\n'),
    );
  });

  it('unregister stops deliveries; an unknown id is NotFound', async () => {
    const a = await svc.register({ url: 'http://hooks.test/a', events: ['budget.alert'] });
    await svc.register({ url: 'http://hooks.test/b', events: ['budget.alert'] });
    assert.deepEqual(await svc.unregister(a.id), { deleted: true, id: a.id });
    events.publish('budget.alert', alert());
    await svc.drain();
    assert.deepEqual(
      attempts.map((x) => x.url),
      ['http://hooks.test/b'],
    );
    const e = await svc.unregister(a.id).then(
      () => assert.fail('expected NotFound'),
      (x: unknown) => x,
    );
    assert.ok(e instanceof DomainError && e.code === ErrorCodes.NotFound, String(e));
  });

  it(`refuses a subscription past ${MAX_WEBHOOKS}`, async () => {
    for (let i = 0; i < MAX_WEBHOOKS; i++)
      await svc.register({ url: `http://hooks.test/${i}`, events: ['budget.alert'] });
    const e = await svc.register({ url: 'http://hooks.test/one-more', events: ['budget.alert'] }).then(
      () => assert.fail('expected Conflict'),
      (x: unknown) => x,
    );
    assert.ok(e instanceof DomainError && e.code === ErrorCodes.Conflict, String(e));
  });

  it('crewOfScope reads crew and agent scopes only', () => {
    assert.equal(crewOfScope('crew:ops'), 'ops');
    assert.equal(crewOfScope('agent:ops/writer'), 'ops');
    assert.equal(crewOfScope('agent:writer'), null);
    assert.equal(crewOfScope('global'), null);
    assert.equal(crewOfScope('model:openai/gpt-4o-mini'), null);
  });
});

describe('webhook params and audit', () => {
  const register = webhookSchemas['webhook/register'];
  const ok = { url: 'http://localhost:5678/webhook/abc', events: ['budget.alert'] };
  const issue = (p: object) => {
    const r = register.safeParse(p);
    return r.success ? undefined : { path: r.error.issues[0]!.path.join('.'), message: r.error.issues[0]!.message };
  };

  it("accepts n8n's local http URLs and https; de-duplicates events", () => {
    for (const url of [
      'http://localhost:5678/webhook/abc',
      'http://127.0.0.1:5678/webhook-test/x',
      'https://n8n.example.com/webhook/1',
    ])
      assert.equal(issue({ ...ok, url }), undefined, url);
    const parsed = register.parse({ ...ok, events: ['run.finished', 'run.finished', 'budget.alert'] }) as {
      events: string[];
    };
    assert.deepEqual(parsed.events, ['run.finished', 'budget.alert']);
  });

  it('refuses what cannot work, naming the field', () => {
    const cases: [object, string][] = [
      [{ ...ok, url: 'ftp://example.com/hook' }, 'url'],
      [{ ...ok, url: 'localhost:5678/webhook' }, 'url'],
      [{ ...ok, url: 'http://user:pass@localhost/hook' }, 'url'],
      [{ ...ok, url: 'http://exa mple.com/' }, 'url'],
      [{ ...ok, events: [] }, 'events'],
      [{ ...ok, events: ['budget.exceeded'] }, 'events.0'],
      [{ ...ok, secret: 'short' }, 'secret'],
      [{ ...ok, secret: 'x'.repeat(201) }, 'secret'],
      [{ ...ok, description: 'x'.repeat(201) }, 'description'],
      [{ ...ok, events: ['run.finished'], budgetId: 'b1' }, 'budgetId'],
      [{ ...ok, extra: 1 }, ''],
    ];
    for (const [p, field] of cases) assert.equal(issue(p)?.path, field, JSON.stringify(p));
  });

  it('the audit summary of webhook/register never holds the secret', () => {
    const summary = summarize('webhook/register', { ...ok, secret: SECRET });
    assert.ok(!summary.includes(SECRET), summary);
    assert.match(summary, /"secret":"…redacted"/);
    assert.match(summary, /localhost:5678/);
    assert.ok(!summarize('webhook/register', [ok.url, ok.events, SECRET]).includes(SECRET));
  });
});

describe('JSON store: webhook records and alerts since', () => {
  let dir: string;
  let store: JsonStore;
  const clock = new ManualClock(T0);

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-webhooks-'));
  });
  afterEach(async () => {
    await store?.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('a record from before webhook/register reads as a budget-alert subscription (no migration)', async () => {
    store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
    await store.webhooks.addWebhook({ id: 'old', url: 'http://127.0.0.1:9/old', budgetId: null, createdAt: 'x' });
    const svc = new WebhookService({ repo: store.webhooks, events: new EventBus(), clock, log: silentLogger });
    await svc.register({ url: 'http://127.0.0.1:9/new', events: ['run.finished'], secret: SECRET });
    await store.close();
    store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
    const again = new WebhookService({ repo: store.webhooks, events: new EventBus(), clock, log: silentLogger });
    assert.deepEqual(
      (await again.list()).webhooks.map((s) => [s.id === 'old' ? 'old' : 'new', s.events, s.signed, s.description]),
      [
        ['old', ['budget.alert'], false, ''],
        ['new', ['run.finished'], true, ''],
      ],
    );
    assert.deepEqual(
      (await again.alertHooks()).map((w) => w.id),
      ['old'],
    );
    await svc.close(10);
    await again.close(10);
  });

  it('alerts since a time: only later ones, newest first', async () => {
    store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
    const at = (s: number) => new Date(T0 + s * 1000).toISOString();
    for (const s of [1, 2, 3, 4]) await store.alerts.append(alert({ id: `a${s}`, at: at(s) }));
    const ids = async (q: { since?: string; limit?: number }) =>
      (await store.alerts.list({ limit: 100, ...q })).map((a) => a.id);
    assert.deepEqual(await ids({ since: at(2) }), ['a4', 'a3'], 'exclusive');
    assert.deepEqual(await ids({}), ['a4', 'a3', 'a2', 'a1']);
    assert.deepEqual(await ids({ since: at(4) }), []);
    assert.deepEqual(await ids({ since: at(0), limit: 2 }), ['a4', 'a3']);
  });

  describe('expiry of subscriptions whose deliveries keep failing', () => {
    const HOUR = 3_600_000;
    let svc: WebhookService;
    let events: EventBus;
    let logs: string[];
    /** The receiver: answers 404 (an unpublished n8n workflow) while `gone`, else 204. */
    let gone: boolean;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock(T0);
      store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
      events = new EventBus();
      logs = [];
      gone = true;
      svc = new WebhookService({
        repo: store.webhooks,
        events,
        clock,
        log: { ...silentLogger, warn: (m) => logs.push(m), error: (m) => logs.push(`error ${m}`) },
        sender: { post: async () => (gone ? 404 : 204) },
        retryDelaysMs: [],
        expiry: { failures: 3, afterMs: HOUR },
      });
    });
    afterEach(() => svc.close(10));

    /** One alert delivered (or given up) to every subscription; then `ms` pass. */
    async function deliverThenWait(ms = 0) {
      events.publish('budget.alert', alert());
      await svc.drain();
      clock.advance(ms);
    }

    it('counts given-up deliveries in a row; one that gets through forgets them', async () => {
      const sub = await svc.register({ url: 'http://127.0.0.1:5678/webhook/flaky', events: ['budget.alert'] });
      await deliverThenWait(HOUR);
      await deliverThenWait();
      let [listed] = (await svc.list()).webhooks;
      assert.equal(listed!.id, sub.id);
      assert.equal(listed!.failures, 2);
      assert.equal(listed!.failingSince, new Date(T0).toISOString());
      assert.equal(listed!.lastFailure, 'answered 404');
      gone = false;
      await deliverThenWait();
      [listed] = (await svc.list()).webhooks;
      assert.deepEqual([listed!.failures, listed!.failingSince, listed!.lastFailure], [0, null, null]);
    });

    it('expires after enough failures in a row over long enough, says so, and delivers to it no more', async () => {
      const sent: string[] = [];
      await svc.close(10);
      svc = new WebhookService({
        repo: store.webhooks,
        events,
        clock,
        log: { ...silentLogger, warn: (m) => logs.push(m), error: (m) => logs.push(`error ${m}`) },
        sender: {
          post: async ({ url }) => {
            sent.push(url);
            return url.endsWith('/gone') ? 404 : 204;
          },
        },
        retryDelaysMs: [],
        expiry: { failures: 3, afterMs: HOUR },
      });
      const stale = await svc.register({
        url: 'http://127.0.0.1:5678/webhook/gone',
        events: ['budget.alert'],
        description: 'n8n: Budget Alerts / OpenRouter Crew Trigger',
      });
      const live = await svc.register({ url: 'http://127.0.0.1:5678/webhook/live', events: ['budget.alert'] });
      // Three failures within the hour are not enough: a receiver can be down that long and come back.
      await deliverThenWait(20 * 60_000);
      await deliverThenWait(20 * 60_000);
      await deliverThenWait(20 * 60_000 + 1);
      assert.deepEqual(
        (await svc.list()).webhooks.map((w) => [w.id, w.failures]),
        [
          [stale.id, 3],
          [live.id, 0],
        ],
      );
      assert.deepEqual(
        logs.filter((l) => / expired: /.test(l)),
        [],
      );
      // The fourth, over an hour after the first: expired.
      await deliverThenWait();
      const { webhooks, expired } = await svc.list();
      assert.deepEqual(
        webhooks.map((w) => w.id),
        [live.id],
      );
      assert.deepEqual(
        expired.map((w) => [w.id, w.failures, w.lastFailure, w.expiredAt]),
        [[stale.id, 4, 'answered 404', new Date(clock.now()).toISOString()]],
      );
      const said = logs.filter((l) => / expired: /.test(l));
      assert.equal(said.length, 1, logs.join('\n'));
      assert.match(
        said[0]!,
        /http:\/\/127\.0\.0\.1:5678\/webhook\/gone, n8n: Budget Alerts .* expired: 4 deliveries in a row/,
      );
      sent.length = 0;
      await deliverThenWait();
      assert.deepEqual(sent, ['http://127.0.0.1:5678/webhook/live']);
      // Listed until unregister removes it (an n8n trigger's unpublish, or `crew webhook remove`).
      assert.deepEqual(await svc.unregister(stale.id), { deleted: true, id: stale.id });
      assert.deepEqual((await svc.list()).expired, []);
    });

    it(`keeps the ${MAX_EXPIRED_WEBHOOKS} most recently expired`, async () => {
      await svc.close(10);
      svc = new WebhookService({
        repo: store.webhooks,
        events,
        clock,
        log: silentLogger,
        sender: { post: async () => 404 },
        retryDelaysMs: [],
        expiry: { failures: 1, afterMs: 0 },
      });
      const ids: string[] = [];
      for (let i = 0; i <= MAX_EXPIRED_WEBHOOKS; i++) {
        ids.push((await svc.register({ url: `http://127.0.0.1:9/h${i}`, events: ['run.finished'] })).id);
        // One at a time, a minute apart, so each expires at its own time.
        events.publish('run.finished', run(`c${i}`));
        await svc.drain();
        clock.advance(60_000);
      }
      const { webhooks, expired } = await svc.list();
      assert.deepEqual(webhooks, []);
      assert.deepEqual(
        expired.map((w) => w.id),
        ids.slice(1).reverse(),
      );
    });
  });
});
