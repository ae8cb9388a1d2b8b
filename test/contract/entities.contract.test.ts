/**
 * The entity repositories' contract (budgets, alerts, webhooks, models cache, settings, crews, crew tokens, applied
 * recommendations, call profiles), run against the local store and a migrated PostgreSQL database alike
 * (`forEachBackend`). The cross-instance cases for PostgreSQL (a second pool as a second instance) are in
 * entities-postgres.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCodes } from '../../protocol';
import type { BudgetAlert } from '../../protocol';
import type { AppliedRecommendation } from '../../protocol/recommendations';
import type { VerificationSummary } from '../../protocol/verify';
import { tokenBucket } from '../../server/costs/call-profiles';
import { openEntities, type PgEntities } from '../../server/store/postgres/entities';
import type { WebhookRecord } from '../../server/store/repositories';
import { forEachBackend, quietLog } from './backends';
import { alert, budget, crew, shape, uid, type EntityRepos } from './entity-fixtures';

const T = (iso: string) => Date.parse(iso);
const MIN = 60_000;
const sha = () => createHash('sha256').update(uid('token')).digest('hex');

async function rejectsWith(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: { code?: number; message: string }) => {
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

forEachBackend('entity repositories', (get) => {
  // A nested describe: its `after` runs before the backend's (the database is dropped last).
  describe('contract', () => {
    let r: EntityRepos;
    let pg: PgEntities | undefined;
    before(async () => {
      const b = get();
      if (b.kind === 'local') r = b.store;
      else r = pg = await openEntities(b.db, 'instance-a', quietLog, { callProfileDebounceMs: 60_000 });
    });
    after(async () => {
      await pg?.close();
    });

    describe('budgets', () => {
      it('put, get and list round-trip whole records, listed in the order first written', async () => {
        const a = budget({ id: uid('b'), scope: `crew:${uid('c')}`, limit: '12.345678901234', thresholds: [25, 90] });
        const b = budget({ id: uid('b'), scope: `model:${uid('m')}`, period: 'weekly', weekStart: 0, action: 'warn' });
        const c = budget({
          id: uid('b'),
          scope: `agent:${uid('ops')}/w`,
          period: 'total',
          action: 'downgrade',
          downgradeTo: 'openai/gpt-4o-mini',
          alertsEnabled: false,
        });
        await r.budgets.put(a);
        await r.budgets.put(b);
        await r.budgets.put(c);
        assert.deepEqual(await r.budgets.get(a.id), a);
        assert.deepEqual(await r.budgets.get(c.id), c);
        assert.equal(await r.budgets.get('no-such-budget'), undefined);
        // Updating keeps the place.
        const a2 = { ...a, limit: '99', updatedAt: '2026-01-16T00:00:00.000Z' };
        await r.budgets.put(a2);
        const mine = (await r.budgets.list()).filter((x) => [a.id, b.id, c.id].includes(x.id));
        assert.deepEqual(mine, [a2, b, c]);
      });

      it('putMany writes every budget; delete says whether there was one', async () => {
        const a = budget({ id: uid('b'), scope: `crew:${uid('c')}` });
        const b = budget({ id: uid('b'), scope: `crew:${uid('c')}`, period: 'monthly' });
        await r.budgets.putMany([a, b]);
        assert.deepEqual(await r.budgets.get(b.id), b);
        await r.budgets.putMany([
          { ...a, thresholds: [10] },
          { ...b, alertsEnabled: false },
        ]);
        assert.deepEqual((await r.budgets.get(a.id))?.thresholds, [10]);
        assert.equal((await r.budgets.get(b.id))?.alertsEnabled, false);
        assert.equal(await r.budgets.delete(a.id), true);
        assert.equal(await r.budgets.delete(a.id), false);
        assert.equal(await r.budgets.get(a.id), undefined);
        assert.ok((await r.budgets.list()).some((x) => x.id === b.id));
        assert.ok(!(await r.budgets.list()).some((x) => x.id === a.id));
      });

      it('a second budget of one scope and period is a Conflict naming the first; nothing of it is stored', async () => {
        const scope = `crew:${uid('dup')}`;
        const first = budget({ id: uid('b'), scope, limit: '5' });
        await r.budgets.put(first);
        const second = budget({ id: uid('b'), scope, limit: '7' });
        await rejectsWith(r.budgets.put(second), ErrorCodes.Conflict, new RegExp(`${first.id}`));
        assert.equal(await r.budgets.get(second.id), undefined);
        assert.deepEqual(await r.budgets.get(first.id), first);
        // Another period of the scope is another budget.
        const weekly = budget({ id: uid('b'), scope, period: 'weekly' });
        await r.budgets.put(weekly);
        // Moving a budget onto a taken scope and period is refused too, and leaves it where it was.
        await rejectsWith(r.budgets.put({ ...weekly, period: 'daily' }), ErrorCodes.Conflict, /already exists/);
        assert.equal((await r.budgets.get(weekly.id))?.period, 'weekly');
        // Rewriting the holder itself is fine.
        await r.budgets.put({ ...first, limit: '6' });
        assert.equal((await r.budgets.get(first.id))?.limit, '6');
      });

      it('putMany is all or none: one conflicting budget writes none of them', async () => {
        const scope = `crew:${uid('batch')}`;
        const holder = budget({ id: uid('b'), scope });
        await r.budgets.put(holder);
        const fine = budget({ id: uid('b'), scope: `crew:${uid('other')}` });
        const clash = budget({ id: uid('b'), scope });
        await rejectsWith(r.budgets.putMany([fine, clash]), ErrorCodes.Conflict, new RegExp(holder.id));
        assert.equal(await r.budgets.get(fine.id), undefined);
        assert.equal(await r.budgets.get(clash.id), undefined);
        // Two new budgets of one scope and period in one batch: the second is refused.
        const x = budget({ id: uid('b'), scope: `crew:${uid('pair')}` });
        const y = { ...x, id: uid('b') };
        await rejectsWith(r.budgets.putMany([x, y]), ErrorCodes.Conflict, new RegExp(x.id));
        assert.equal(await r.budgets.get(x.id), undefined);
      });
    });

    describe('alerts', () => {
      it('markFired is true once per key, durable', async () => {
        const key = `${uid('b')}|1768435200000|threshold|80`;
        assert.equal(await r.alerts.markFired(key), true);
        assert.equal(await r.alerts.markFired(key), false);
        assert.equal(await r.alerts.markFired(`${key}0`), true);
        assert.equal(await r.alerts.markFired(key), false);
      });

      it('list: newest first, by budget, strictly after `since`, at most `limit`', async () => {
        const b1 = uid('b');
        const b2 = uid('b');
        const at = (m: number) => new Date(T('2026-01-15T12:00:00.000Z') + m * MIN).toISOString();
        const alerts = [
          alert({ id: uid('a'), budgetId: b1, at: at(0) }),
          alert({ id: uid('a'), budgetId: b2, at: at(1), kind: 'blocked', threshold: null, severity: 'critical' }),
          alert({ id: uid('a'), budgetId: b1, at: at(2), periodStart: null }),
          alert({ id: uid('a'), budgetId: b1, at: at(3), threshold: 100 }),
        ];
        for (const a of alerts) await r.alerts.append(a);
        const ids = (list: BudgetAlert[]) => list.map((a) => a.id);
        const mine = (await r.alerts.list({ limit: 1000 })).filter((a) => a.budgetId === b1 || a.budgetId === b2);
        assert.deepEqual(ids(mine), ids([...alerts].reverse()));
        assert.deepEqual(mine[2], alerts[1]);
        assert.deepEqual(
          ids(await r.alerts.list({ budgetId: b1, limit: 10 })),
          ids([alerts[3]!, alerts[2]!, alerts[0]!]),
        );
        assert.deepEqual(ids(await r.alerts.list({ budgetId: b1, limit: 2 })), ids([alerts[3]!, alerts[2]!]));
        // Strictly after: the alert at `since` itself is left out; any ISO spelling of the instant is the same.
        assert.deepEqual(ids(await r.alerts.list({ budgetId: b1, since: at(2), limit: 10 })), ids([alerts[3]!]));
        assert.deepEqual(
          ids(await r.alerts.list({ budgetId: b1, since: '2026-01-15T13:01:30+01:00', limit: 10 })),
          ids([alerts[3]!, alerts[2]!]),
        );
        assert.deepEqual(await r.alerts.list({ budgetId: b1, since: 'not a time', limit: 10 }), []);
        assert.deepEqual(await r.alerts.list({ budgetId: uid('none'), limit: 10 }), []);
      });
    });

    describe('webhooks', () => {
      it('in registration order; every field kept; remove says whether there was one', async () => {
        const hooks: WebhookRecord[] = [
          { id: uid('w'), url: 'https://example.test/a', budgetId: null, createdAt: '2026-01-15T12:00:00.000Z' },
          {
            id: uid('w'),
            url: 'https://example.test/b?x=1',
            budgetId: 'b1',
            createdAt: '2026-01-15T12:01:00.000Z',
            events: ['budget.alert', 'run.finished'],
            crew: 'crew_1',
            description: 'ops channel',
            secret: 's3cret',
          },
          { id: uid('w'), url: 'https://example.test/c', budgetId: null, createdAt: '2026-01-15T12:02:00.000Z' },
        ];
        for (const h of hooks) await r.webhooks.addWebhook(h);
        const mine = () => r.webhooks.webhooks().then((l) => l.filter((h) => hooks.some((x) => x.id === h.id)));
        assert.deepEqual(await mine(), hooks);
        assert.equal(await r.webhooks.removeWebhook(hooks[1]!.id), true);
        assert.equal(await r.webhooks.removeWebhook(hooks[1]!.id), false);
        assert.deepEqual(await mine(), [hooks[0], hooks[2]]);
      });

      it('counts given-up deliveries in a row, forgets them on one that got through, and expires once', async () => {
        const hook: WebhookRecord = {
          id: uid('w'),
          url: 'http://127.0.0.1:5678/webhook/x',
          budgetId: null,
          createdAt: '2026-01-15T12:00:00.000Z',
          events: ['run.finished'],
        };
        const other: WebhookRecord = { ...hook, id: uid('w'), url: 'http://127.0.0.1:5678/webhook/y' };
        await r.webhooks.addWebhook(hook);
        await r.webhooks.addWebhook(other);
        const get = async (id: string) => (await r.webhooks.webhooks()).find((h) => h.id === id);
        assert.equal(await r.webhooks.deliveryGivenUp(uid('w'), '2026-01-15T12:01:00.000Z', 'answered 404'), undefined);

        const first = await r.webhooks.deliveryGivenUp(hook.id, '2026-01-15T12:01:00.000Z', 'answered 404');
        assert.deepEqual(first, {
          ...hook,
          failures: 1,
          failingSince: '2026-01-15T12:01:00.000Z',
          lastFailure: 'answered 404',
        });
        const second = await r.webhooks.deliveryGivenUp(hook.id, '2026-01-15T12:02:00.000Z', 'timed out');
        assert.deepEqual(
          [second?.failures, second?.failingSince, second?.lastFailure],
          [2, '2026-01-15T12:01:00.000Z', 'timed out'],
        );
        assert.deepEqual(await get(hook.id), second);
        assert.deepEqual(await get(other.id), other, 'another subscription is untouched');

        await r.webhooks.deliveryDelivered(hook.id);
        assert.deepEqual(await get(hook.id), hook, 'back to the record as registered');
        await r.webhooks.deliveryDelivered(hook.id);
        assert.deepEqual(await get(hook.id), hook);
        const again = await r.webhooks.deliveryGivenUp(hook.id, '2026-01-15T13:00:00.000Z', 'answered 410');
        assert.deepEqual([again?.failures, again?.failingSince], [1, '2026-01-15T13:00:00.000Z']);

        assert.equal(await r.webhooks.expireWebhook(hook.id, '2026-01-16T13:00:00.000Z'), true);
        assert.equal(await r.webhooks.expireWebhook(hook.id, '2026-01-16T14:00:00.000Z'), false, 'once');
        assert.equal(await r.webhooks.expireWebhook(uid('w'), '2026-01-16T14:00:00.000Z'), false);
        assert.equal((await get(hook.id))?.expiredAt, '2026-01-16T13:00:00.000Z');
        assert.equal(await r.webhooks.removeWebhook(hook.id), true);
      });
    });

    describe('models cache', () => {
      it('empty until saved; a save replaces the whole cache', async () => {
        assert.equal(await r.models.load(), undefined);
        const models = [
          { id: 'openai/gpt-4o', pricing: { prompt: '0.0000025', completion: '0.00001' }, context_length: 128000 },
          { id: 'x/y', pricing: { prompt: '0', completion: '0' }, top_provider: null, tags: ['a', 'b'] },
        ];
        await r.models.save({ fetchedAt: '2026-01-15T12:00:00.000Z', models });
        assert.deepEqual(await r.models.load(), { fetchedAt: '2026-01-15T12:00:00.000Z', models });
        await r.models.save({ fetchedAt: '2026-01-16T12:00:00.000Z', models: [models[1]] });
        assert.deepEqual(await r.models.load(), { fetchedAt: '2026-01-16T12:00:00.000Z', models: [models[1]] });
      });
    });

    describe('settings', () => {
      it('get() is synchronous; set merges a patch', async () => {
        assert.deepEqual(r.settings.get(), {});
        await r.settings.set({ embedder: 'openrouter:openai/text-embedding-3-small' });
        assert.deepEqual(r.settings.get(), { embedder: 'openrouter:openai/text-embedding-3-small' });
        await r.settings.set({});
        await r.settings.set({ embedder: 'local' });
        assert.deepEqual(r.settings.get(), { embedder: 'local' });
        // A copy: changing it changes nothing.
        const got = r.settings.get();
        got.embedder = 'changed';
        assert.equal(r.settings.get().embedder, 'local');
      });

      it('keeps the last ledger verification exactly, beside the other settings, the newest replacing it', async () => {
        const first: VerificationSummary = {
          verifiedAt: '2026-03-02T10:00:00.000Z',
          from: '2026-02-23T10:00:00.000Z',
          to: '2026-03-02T10:00:00.000Z',
          thresholdUsd: 0.000001,
          checked: 12,
          matched: 10,
          drifted: 1,
          missing: 1,
          zeroCost: 0,
          fixed: 0,
          driftUsd: 0.0010108,
          keyUsage: {
            label: 'ops key',
            periods: [
              {
                period: 'day',
                from: '2026-03-02T00:00:00.000Z',
                ledgerUsd: 0.25,
                upstreamUsd: 0.2510108,
                differenceUsd: 0.0010108,
              },
              { period: 'total', from: null, ledgerUsd: 12.5, upstreamUsd: 12.5010108, differenceUsd: 0.0010108 },
            ],
          },
        };
        await r.settings.set({ ledgerVerification: first });
        assert.deepEqual(r.settings.get(), { embedder: 'local', ledgerVerification: first });
        const next: VerificationSummary = {
          ...first,
          verifiedAt: '2026-03-03T10:00:00.000Z',
          drifted: 0,
          keyUsage: null,
        };
        await r.settings.set({ ledgerVerification: next });
        assert.deepEqual(r.settings.get().ledgerVerification, next);
        assert.equal(r.settings.get().embedder, 'local');
      });
    });

    describe('crews', () => {
      it('put, get, list in the order first written; replace keeps the place; delete', async () => {
        const a = crew({ id: uid('crew'), name: uid('Launch') });
        const b = crew({ id: uid('crew'), name: uid('ops'), agents: [], description: '' });
        await r.crews.put(a);
        await r.crews.put(b);
        assert.deepEqual(await r.crews.get(a.id), a);
        assert.equal(await r.crews.get('crew_none'), undefined);
        const renamed = { ...a, name: `${a.name}-renamed`, agents: [...a.agents, { ...a.agents[0]!, name: 'editor' }] };
        await r.crews.put(renamed);
        const mine = (await r.crews.list()).filter((c) => c.id === a.id || c.id === b.id);
        assert.deepEqual(mine, [renamed, b]);
        // A record handed out is a copy.
        mine[0]!.agents[0]!.name = 'changed';
        assert.equal((await r.crews.get(a.id))?.agents[0]?.name, 'writer');
        assert.equal(await r.crews.delete(b.id), true);
        assert.equal(await r.crews.delete(b.id), false);
        assert.equal(await r.crews.get(b.id), undefined);
        // A renamed crew's old name is free again.
        const reuse = crew({ id: uid('crew'), name: a.name.toUpperCase() });
        await r.crews.put(reuse);
        assert.deepEqual(await r.crews.get(reuse.id), reuse);
      });
    });

    describe('crew tokens', () => {
      it('one per crew: put replaces (keeping the place), get, list, delete', async () => {
        const c1 = uid('crew');
        const c2 = uid('crew');
        const t1 = { crewId: c1, sha256: sha(), createdAt: '2026-01-15T12:00:00.000Z' };
        const t2 = { crewId: c2, sha256: sha(), createdAt: '2026-01-15T12:01:00.000Z' };
        await r.crewTokens.put(t1);
        await r.crewTokens.put(t2);
        assert.deepEqual(await r.crewTokens.get(c1), t1);
        const rotated = { ...t1, sha256: sha(), createdAt: '2026-01-15T13:00:00.000Z' };
        await r.crewTokens.put(rotated);
        const mine = (await r.crewTokens.list()).filter((t) => t.crewId === c1 || t.crewId === c2);
        assert.deepEqual(mine, [rotated, t2]);
        assert.equal(await r.crewTokens.delete(c1), true);
        assert.equal(await r.crewTokens.delete(c1), false);
        assert.equal(await r.crewTokens.get(c1), undefined);
        assert.deepEqual(await r.crewTokens.get(c2), t2);
      });
    });

    describe('applied recommendations', () => {
      it('newest first, at most `limit`; get is the latest application of an id', async () => {
        const entry = (id: string, at: string, savingsUsd: number): AppliedRecommendation => ({
          id,
          kind: 'max-tokens',
          title: `Lower max_tokens (${id})`,
          savingsUsd,
          changes: [{ target: 'crew:launch/agent:writer', field: 'maxTokens', before: null, after: 1200 }],
          appliedAt: at,
        });
        const x = uid('rec');
        const y = uid('rec');
        const e1 = entry(x, '2026-01-15T12:00:00.000Z', 1.25);
        const e2 = entry(y, '2026-01-15T12:01:00.000Z', 0.5);
        const e3 = { ...entry(x, '2026-01-15T12:02:00.000Z', 2), kind: 'prompt-caching' as const };
        for (const e of [e1, e2, e3]) await r.appliedRecommendations.append(e);
        assert.deepEqual(await r.appliedRecommendations.list(2), [e3, e2]);
        assert.deepEqual((await r.appliedRecommendations.list(3))[2], e1);
        assert.deepEqual(await r.appliedRecommendations.list(0), []);
        assert.deepEqual(await r.appliedRecommendations.get(x), e3);
        assert.deepEqual(await r.appliedRecommendations.get(y), e2);
        assert.equal(await r.appliedRecommendations.get(uid('none')), undefined);
      });
    });

    describe('call profiles', () => {
      it('per-day aggregates: sums, maxima, histogram; prefix calls, cached calls and cache writes', async () => {
        const c = uid('cp');
        const day = '2026-02-01';
        const at = (m: number) => T(`${day}T10:00:00.000Z`) + m * MIN;
        const prefix = { sha256: 'f'.repeat(32), tokens: 1500 };
        r.callProfiles.record(shape({ at: at(0), crew: c, maxTokens: 1000, completionTokens: 100, prefix }));
        r.callProfiles.record(
          shape({ at: at(2), crew: c, maxTokens: 4000, completionTokens: 900, prefix, cachedTokens: 1500 }),
        );
        // 10 minutes later: past the cache's lifetime, so a write again.
        r.callProfiles.record(shape({ at: at(12), crew: c, maxTokens: 500, completionTokens: 0, prefix }));
        r.callProfiles.record(shape({ at: at(13), crew: c, model: 'x/other', maxTokens: 10, completionTokens: 7 }));
        await r.callProfiles.flush();
        const got = r.callProfiles.query({ fromDay: day, toDay: day });
        const agents = got.agents.filter((a) => a.crew === c).sort((a, b) => (a.model < b.model ? -1 : 1));
        assert.deepEqual(agents, [
          {
            day,
            crew: c,
            agent: `${c}/writer`,
            model: 'openai/gpt-4o',
            calls: 3,
            maxTokensSum: 5500,
            maxTokensMax: 4000,
            completionSum: 1000,
            completionMax: 900,
            completionHistogram: { [tokenBucket(100)]: 1, [tokenBucket(900)]: 1, [tokenBucket(0)]: 1 },
          },
          {
            day,
            crew: c,
            agent: `${c}/writer`,
            model: 'x/other',
            calls: 1,
            maxTokensSum: 10,
            maxTokensMax: 10,
            completionSum: 7,
            completionMax: 7,
            completionHistogram: { [tokenBucket(7)]: 1 },
          },
        ]);
        assert.deepEqual(
          got.prefixes.filter((p) => p.crew === c),
          [
            {
              day,
              crew: c,
              agent: `${c}/writer`,
              model: 'openai/gpt-4o',
              sha256: prefix.sha256,
              calls: 3,
              cachedCalls: 1,
              prefixTokens: 4500,
              writes: 2,
              lastAt: at(12),
            },
          ],
        );
      });

      it('query covers fromDay..toDay inclusive; a prefix seen just before midnight is no new write', async () => {
        const c = uid('cp');
        const prefix = { sha256: 'e'.repeat(32), tokens: 2000 };
        r.callProfiles.record(shape({ at: T('2026-03-01T23:58:00.000Z'), crew: c, prefix }));
        r.callProfiles.record(shape({ at: T('2026-03-02T00:01:00.000Z'), crew: c, prefix }));
        r.callProfiles.record(shape({ at: T('2026-03-04T12:00:00.000Z'), crew: null, agent: null }));
        await r.callProfiles.flush();
        const days = (from: string, to: string) =>
          r.callProfiles
            .query({ fromDay: from, toDay: to })
            .agents.filter((a) => a.crew === c || (a.crew === null && a.day === '2026-03-04'))
            .map((a) => a.day)
            .sort();
        assert.deepEqual(days('2026-03-01', '2026-03-01'), ['2026-03-01']);
        assert.deepEqual(days('2026-03-01', '2026-03-04'), ['2026-03-01', '2026-03-02', '2026-03-04']);
        assert.deepEqual(days('2026-03-03', '2026-03-03'), []);
        const second = r.callProfiles
          .query({ fromDay: '2026-03-02', toDay: '2026-03-02' })
          .prefixes.find((p) => p.crew === c);
        assert.equal(second?.writes, 0);
        assert.equal(second?.calls, 1);
        const none = r.callProfiles.query({ fromDay: '2026-03-04', toDay: '2026-03-04' }).agents;
        assert.deepEqual(
          none.map((a) => [a.crew, a.agent, a.calls]),
          [[null, null, 1]],
        );
      });

      it('query sees what was recorded before any flush', async () => {
        const c = uid('cp');
        r.callProfiles.record(shape({ at: T('2026-04-01T08:00:00.000Z'), crew: c, completionTokens: 33 }));
        const a = r.callProfiles.query({ fromDay: '2026-04-01', toDay: '2026-04-01' }).agents.find((x) => x.crew === c);
        assert.equal(a?.completionSum, 33);
        await r.callProfiles.flush();
        const b = r.callProfiles.query({ fromDay: '2026-04-01', toDay: '2026-04-01' }).agents.find((x) => x.crew === c);
        assert.equal(b?.completionSum, 33);
        assert.equal(b?.calls, 1);
      });
    });
  });
});
