/**
 * Budget periods and alerts at unit level: BudgetService with a ManualClock (the server takes time from the
 * system, so rollover is tested here by moving the clock), a real FileLedger in a temp dir, and in-memory repos.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BudgetAlert, BudgetSet, BudgetStatus } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { AlertService } from '../../server/costs/alerts';
import { LocalGate } from '../../server/costs/local-gate';
import { BudgetService } from '../../server/costs/budgets';
import { parseUsd } from '../../server/costs/money';
import { periodBounds, periodEndOf } from '../../server/costs/periods';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { FileLedger } from '../../server/store/ledger/file-ledger';
import type { NewLedgerRow } from '../../server/store/repositories';
import type { WebhookSender } from '../../server/webhooks/delivery';
import { WebhookService } from '../../server/webhooks/service';
import { MemoryAlerts, MemoryBudgets } from '../helpers/memory-repos';

/** Lets queued promise chains (alert firing, which is fire-and-forget) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const T = (iso: string) => Date.parse(iso);

describe('BudgetService periods and alerts (ManualClock)', () => {
  let dir: string;
  let clock: ManualClock;
  let ledger: FileLedger;
  let budgets: MemoryBudgets;
  let alertRepo: MemoryAlerts;
  let events: EventBus;
  let alerts: AlertService;
  let webhooks: WebhookService;
  let svc: BudgetService;
  let fired: BudgetAlert[];
  let posted: { url: string; body: unknown }[];

  const sender: WebhookSender = {
    post: async ({ url, body }) => {
      posted.push({ url, body: JSON.parse(body) });
      return 204;
    },
  };

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-budget-'));
    clock = new ManualClock(T('2026-03-10T12:00:00.000Z')); // a Tuesday
    ledger = await FileLedger.open(path.join(dir, 'ledger'));
    budgets = new MemoryBudgets();
    alertRepo = new MemoryAlerts();
    events = new EventBus();
    fired = [];
    posted = [];
    events.subscribe('budget.alert', (a) => fired.push(a));
    alerts = new AlertService(alertRepo, events, clock, silentLogger);
    webhooks = new WebhookService({ repo: alertRepo, events, clock, log: silentLogger, sender, retryDelaysMs: [] });
    svc = new BudgetService(budgets, new LocalGate(ledger, clock), alerts, clock);
    await svc.init();
  });

  afterEach(async () => {
    await ledger.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const set = async (p: Partial<BudgetSet.Params> & { period: BudgetSet.Params['period'] }) =>
    (await svc.set({ scope: 'global', limitUsd: 1, ...p })).budget;

  /** The ledger row of a call costing `usd` now. */
  const rowOf = (usd: string, scope: { crew?: string } = {}): NewLedgerRow => {
    const cost = parseUsd(usd);
    return {
      ts: clock.now(),
      model: 'm/x',
      crew: scope.crew ?? null,
      agent: null,
      tags: [],
      promptTokens: 10,
      completionTokens: 10,
      cachedTokens: 0,
      reasoningTokens: 0,
      costPico: Number(cost),
      cost: usd,
      estimated: false,
      generationId: null,
      latencyMs: 1,
      status: 'ok',
      stream: false,
    };
  };

  /** One call costing `usd` now: reserve its worst case, then settle to the real cost (the gate writes the row). */
  async function spend(usd: string, worstCase = usd, scope: { crew?: string } = {}): Promise<void> {
    const r = await svc.reserve({ crew: scope.crew ?? null, agent: null, model: 'm/x' }, () => parseUsd(worstCase));
    await svc.settle(r, r.call, rowOf(usd, scope));
  }

  const statusOf = async (id: string): Promise<BudgetStatus> => (await svc.status({ id }))[0]!;

  it('daily: spend resets at midnight UTC, not a millisecond before', async () => {
    const b = await set({ period: 'daily' });
    await spend('0.4');
    assert.equal((await statusOf(b.id)).spentUsd, 0.4);
    assert.equal((await statusOf(b.id)).periodStart, '2026-03-10T00:00:00.000Z');
    assert.equal((await statusOf(b.id)).periodEnd, '2026-03-11T00:00:00.000Z');
    clock.set(T('2026-03-10T23:59:59.999Z'));
    assert.equal((await statusOf(b.id)).spentUsd, 0.4);
    clock.advance(1);
    const s = await statusOf(b.id);
    assert.equal(s.spentUsd, 0);
    assert.equal(s.periodStart, '2026-03-11T00:00:00.000Z');
    await spend('0.25');
    assert.equal((await statusOf(b.id)).spentUsd, 0.25);
  });

  it('daily: a reservation is refused on day 1 and the same call fits on day 2', async () => {
    await set({ period: 'daily' });
    await spend('0.9');
    await assert.rejects(
      svc.reserve({ crew: null, agent: null, model: 'm/x' }, () => parseUsd('0.2')),
      {
        code: 1001,
      } as object,
    );
    clock.set(T('2026-03-11T00:00:00.000Z'));
    const r = await svc.reserve({ crew: null, agent: null, model: 'm/x' }, () => parseUsd('0.2'));
    await svc.release(r);
  });

  it('weekly: the week starts on weekStart (Wednesday here), the default Monday budget keeps its spend', async () => {
    const wed = await set({ period: 'weekly', weekStart: 3 });
    const mon = await svc.set({ scope: 'crew:a', period: 'weekly', limitUsd: 1 });
    assert.equal(mon.budget.weekStart, 1);
    await spend('0.3', '0.3', { crew: 'a' }); // Tuesday 2026-03-10
    assert.equal((await statusOf(wed.id)).periodStart, '2026-03-04T00:00:00.000Z');
    assert.equal((await statusOf(wed.id)).spentUsd, 0.3);
    assert.equal((await statusOf(mon.budget.id)).periodStart, '2026-03-09T00:00:00.000Z');
    clock.set(T('2026-03-11T00:00:00.000Z')); // Wednesday
    assert.equal((await statusOf(wed.id)).spentUsd, 0, 'the Wednesday week rolled over');
    assert.equal((await statusOf(wed.id)).periodStart, '2026-03-11T00:00:00.000Z');
    assert.equal((await statusOf(mon.budget.id)).spentUsd, 0.3, 'the Monday week has not');
    clock.set(T('2026-03-16T00:00:00.000Z')); // Monday
    assert.equal((await statusOf(mon.budget.id)).spentUsd, 0);
  });

  it('monthly: resets on the 1st (end of a 31-day month and a leap February)', async () => {
    const b = await set({ period: 'monthly' });
    clock.set(T('2026-03-31T23:59:00.000Z'));
    await spend('0.5');
    assert.equal((await statusOf(b.id)).spentUsd, 0.5);
    clock.set(T('2026-04-01T00:00:00.000Z'));
    assert.equal((await statusOf(b.id)).spentUsd, 0);
    assert.equal((await statusOf(b.id)).periodEnd, '2026-05-01T00:00:00.000Z');
    clock.set(T('2028-02-29T10:00:00.000Z'));
    await spend('0.1');
    assert.equal((await statusOf(b.id)).periodEnd, '2028-03-01T00:00:00.000Z');
    clock.set(T('2028-03-01T00:00:00.000Z'));
    assert.equal((await statusOf(b.id)).spentUsd, 0);
  });

  it('total never resets; spent is re-derived from the ledger by a fresh service (restart)', async () => {
    const total = await set({ period: 'total' });
    const daily = await svc.set({ scope: 'global', period: 'daily', limitUsd: 5 });
    await spend('0.1');
    clock.set(T('2026-07-01T08:00:00.000Z'));
    await spend('0.2');
    assert.equal((await statusOf(total.id)).spentUsd, 0.3);
    const again = new BudgetService(budgets, new LocalGate(ledger, clock), alerts, clock);
    await again.init();
    assert.equal((await again.status({ id: total.id }))[0]!.spentUsd, 0.3);
    assert.equal(
      (await again.status({ id: daily.budget.id }))[0]!.spentUsd,
      0.2,
      'only today counts for the daily budget',
    );
    assert.equal((await again.status({ id: total.id }))[0]!.periodStart, null);
  });

  it('thresholds fire once each per period, and again in the next period', async () => {
    const b = await set({ period: 'daily', thresholds: [50, 80, 100] });
    await spend('0.5');
    await settle();
    assert.deepEqual(
      fired.map((a) => a.threshold),
      [50],
    );
    await spend('0.1');
    await settle();
    assert.deepEqual(
      fired.map((a) => a.threshold),
      [50],
      '60 % crosses nothing new',
    );
    await spend('0.2');
    await spend('0.2');
    await settle();
    assert.deepEqual(
      fired.map((a) => a.threshold),
      [50, 80, 100],
    );
    assert.deepEqual(
      fired.map((a) => a.severity),
      ['info', 'warning', 'critical'],
    );
    assert.ok(
      fired.every((a) => a.budgetId === b.id && a.kind === 'threshold' && a.periodStart === '2026-03-10T00:00:00.000Z'),
    );
    assert.equal((await statusOf(b.id)).state, 'exceeded');

    // The next day: a new period, the same thresholds fire again.
    clock.set(T('2026-03-11T09:00:00.000Z'));
    await spend('0.55');
    await settle();
    assert.deepEqual(
      fired.map((a) => a.threshold),
      [50, 80, 100, 50],
    );
    assert.equal(fired[3]!.periodStart, '2026-03-11T00:00:00.000Z');
    assert.equal(alertRepo.history.length, 4);
  });

  it('an alert that fired is not fired again after a restart in the same period (the store remembers)', async () => {
    const b = await set({ period: 'daily', thresholds: [50] });
    await spend('0.6');
    await settle();
    assert.equal(fired.length, 1);
    const again = new BudgetService(budgets, new LocalGate(ledger, clock), alerts, clock);
    await again.init();
    const r = await again.reserve({ crew: null, agent: null, model: 'm/x' }, () => parseUsd('0.1'));
    await again.settle(r, r.call, rowOf('0.1'));
    await settle();
    assert.equal(fired.length, 1);
    assert.equal((await again.status({ id: b.id }))[0]!.spentUsd, 0.7);
  });

  it('alerts go to registered webhooks (all budgets, or the one they name)', async () => {
    const b = await set({ period: 'daily', thresholds: [50] });
    const other = await svc.set({ scope: 'crew:z', period: 'daily', limitUsd: 1, thresholds: [50] });
    await alertRepo.addWebhook({ id: 'all', url: 'http://hooks.test/all', budgetId: null, createdAt: '' });
    await alertRepo.addWebhook({ id: 'one', url: 'http://hooks.test/one', budgetId: other.budget.id, createdAt: '' });
    await spend('0.6');
    await webhooks.drain();
    await settle();
    assert.deepEqual(
      posted.map((p) => p.url),
      ['http://hooks.test/all'],
    );
    const body = posted[0]!.body as { type: string; alert: BudgetAlert };
    assert.equal(body.type, 'budget.alert');
    assert.equal(body.alert.budgetId, b.id);
    assert.equal(body.alert.threshold, 50);
  });

  it('a call reserved before midnight and settled after it counts once, in the new period', async () => {
    const b = await set({ period: 'daily' });
    await spend('0.2');
    clock.set(T('2026-03-10T23:59:59.900Z'));
    const r = await svc.reserve({ crew: null, agent: null, model: 'm/x' }, () => parseUsd('0.5'));
    assert.equal((await statusOf(b.id)).reservedUsd, 0.5);
    clock.set(T('2026-03-11T00:00:01.000Z'));
    // As ChatService does: the ledger row is written, then the reservation is settled to the real cost.
    await svc.settle(r, r.call, {
      ts: clock.now(),
      model: 'm/x',
      crew: null,
      agent: null,
      tags: [],
      promptTokens: 1,
      completionTokens: 1,
      cachedTokens: 0,
      reasoningTokens: 0,
      costPico: Number(parseUsd('0.3')),
      cost: '0.3',
      estimated: false,
      generationId: null,
      latencyMs: 1,
      status: 'ok',
      stream: false,
    });
    const s = await statusOf(b.id);
    assert.equal(s.reservedUsd, 0);
    assert.equal(s.spentUsd, 0.3, 'the call is counted once in the day it completed');
    const fresh = new BudgetService(budgets, new LocalGate(ledger, clock), alerts, clock);
    await fresh.init();
    assert.equal(
      (await fresh.status({ id: b.id }))[0]!.spentUsd,
      0.3,
      'and agrees with a re-derivation from the ledger',
    );
  });

  it('disabled alerts do not fire', async () => {
    const b = await set({ period: 'daily', thresholds: [50] });
    await svc.configure(b.id, { enabled: false });
    await spend('0.9');
    await settle();
    assert.equal(fired.length, 0);
  });
});

describe('periodEndOf (the end of a period from its start, as the PostgreSQL gate reports it)', () => {
  it('agrees with periodBounds for every period, week start and a year of starts', () => {
    for (let day = 0; day < 366; day++) {
      const now = Date.UTC(2027, 0, 1, 13, 7) + day * 86_400_000;
      for (const period of ['daily', 'monthly'] as const) {
        const b = periodBounds(period, now);
        assert.equal(periodEndOf(period, b.start!), b.end, `${period} from ${new Date(now).toISOString()}`);
      }
      for (let w = 0; w < 7; w++) {
        const b = periodBounds('weekly', now, w);
        assert.equal(periodEndOf('weekly', b.start!), b.end, `weekly (${w}) from ${new Date(now).toISOString()}`);
      }
    }
    assert.equal(periodEndOf('total', 0), null);
  });
});
