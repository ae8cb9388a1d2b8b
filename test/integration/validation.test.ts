/**
 * Every method validates its params before anything runs: an unknown field or a wrong type answers -32602 with a
 * message (and data.field) naming the offending field; an unknown method answers -32601. Over every transport.
 */
import assert from 'node:assert/strict';
import { ErrorCodes, METHODS } from '../../protocol';
import type { InvalidParamsData, MethodName } from '../../protocol';
import { forEachTransport, rpcError, useServer } from '../helpers';

/** For each method: params with one wrong field, and that field's dotted path. null: the method takes no params. */
const WRONG: Record<MethodName, { params: object; field: string } | null> = {
  'server/hello': { params: { clientKind: 5, protocolVersion: '1.0.0' }, field: 'clientKind' },
  'server/health': null,
  'server/info': null,
  'server/metrics': null,
  'server/shutdown': null,
  'server/upstream': null,
  'server/setApiKey': { params: { apiKey: 'short' }, field: 'apiKey' },
  'audit/list': { params: { limit: 'ten' }, field: 'limit' },
  'models/list': { params: { refresh: 'yes' }, field: 'refresh' },
  'chat/complete': {
    params: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 42 }] },
    field: 'messages.0.content',
  },
  'ledger/list': { params: { status: 'done' }, field: 'status' },
  'cost/report': { params: { by: 'week' }, field: 'by' },
  'budget/set': { params: { scope: 'global', period: 'daily', limitUsd: '5' }, field: 'limitUsd' },
  'budget/status': { params: { scope: 7 }, field: 'scope' },
  'budget/delete': { params: { id: 3 }, field: 'id' },
  'budget/configureAlerts': { params: { webhookUrl: 'ftp://example.com/hook' }, field: 'webhookUrl' },
  'budget/alerts': { params: { limit: 0 }, field: 'limit' },
  'store/verify': null,
  'store/backup': { params: { path: 12 }, field: 'path' },
  'store/restore': { params: {}, field: 'path' },
  'memory/add': { params: { crew: 'c', content: 'x', importance: 2 }, field: 'importance' },
  'memory/get': { params: {}, field: 'id' },
  'memory/update': { params: { id: 'm', kind: 'gossip' }, field: 'kind' },
  'memory/delete': { params: { ids: [] }, field: 'ids' },
  'memory/list': { params: { limit: 0 }, field: 'limit' },
  'memory/search': { params: { query: 'q', weights: { recency: -1 } }, field: 'weights.recency' },
  'memory/history': { params: { id: 4 }, field: 'id' },
  'memory/context': { params: { query: 'q', maxTokens: 'lots' }, field: 'maxTokens' },
  'analytics/summary': { params: { days: 0 }, field: 'days' },
  'analytics/insights': { params: { crew: 5 }, field: 'crew' },
  'analytics/recommendations': { params: { limit: -1 }, field: 'limit' },
  'clusters/compute': { params: { crew: 'c', k: 'three' }, field: 'k' },
  'clusters/list': { params: { crew: [] }, field: 'crew' },
  'memory/duplicates': { params: { threshold: 2 }, field: 'threshold' },
  'memory/merge': { params: { keepId: 'a', mergeIds: 'b' }, field: 'mergeIds' },
  'memory/embedder': { params: { set: 'word2vec' }, field: 'set' },
  'cost/forecast': { params: { budgetId: 3 }, field: 'budgetId' },
  'cost/anomalies': { params: { granularity: 'week' }, field: 'granularity' },
  'cost/verify': { params: { threshold: -1 }, field: 'threshold' },
  'cost/verification': null,
  'crew/create': { params: { name: 'c', agents: [{ name: 'a', model: 5 }] }, field: 'agents.0.model' },
  'crew/update': { params: { crew: 'c', description: 7 }, field: 'description' },
  'crew/delete': { params: { crew: '' }, field: 'crew' },
  'crew/list': { params: { bogus: 1 }, field: '(params)' },
  'crew/get': { params: {}, field: 'crew' },
  'crew/token': { params: { crew: 'c', action: 'renew' }, field: 'action' },
  'crew/run': { params: { crew: 'c', task: 'x', maxSteps: 0 }, field: 'maxSteps' },
  'crew/estimate': { params: { crew: 'c', task: 'x', maxCostUsd: 0 }, field: 'maxCostUsd' },
  'crew/runs': { params: { status: 'done' }, field: 'status' },
  'crew/cancelRun': { params: {}, field: 'runId' },
  'cost/recommendations': { params: { windowDays: 0 }, field: 'windowDays' },
  'cost/applyRecommendation': { params: { id: 'r', dryRun: 'yes' }, field: 'dryRun' },
  'archive/create': { params: { ids: ['m'], dryRun: 'yes' }, field: 'dryRun' },
  'archive/restore': { params: { archiveId: 7 }, field: 'archiveId' },
  'archive/list': { params: { crew: 1 }, field: 'crew' },
  'archive/delete': { params: {}, field: 'id' },
  'archive/schedule': { params: { everyHours: 0 }, field: 'everyHours' },
  'webhook/register': { params: { url: 'ftp://example.com/hook', events: ['budget.alert'] }, field: 'url' },
  'webhook/unregister': { params: { id: '' }, field: 'id' },
  'webhook/list': null,
};

/** Otherwise-valid params for methods with required fields, so `bogus` is the only problem. */
const VALID: Partial<Record<MethodName, object>> = {
  'server/hello': { clientKind: 'test', protocolVersion: '1.0.0' },
  'chat/complete': { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  'budget/set': { scope: 'global', period: 'daily', limitUsd: 5 },
  'server/setApiKey': { apiKey: null },
  'budget/delete': { id: 'x' },
  'store/restore': { path: 'nonexistent.backup' },
  'memory/add': { crew: 'c', content: 'x' },
  'memory/get': { id: 'm' },
  'memory/update': { id: 'm' },
  'memory/delete': { ids: ['m'] },
  'memory/search': { query: 'q' },
  'memory/history': { id: 'm' },
  'memory/context': { query: 'q', maxTokens: 100 },
  'clusters/compute': { crew: 'c' },
  'memory/merge': { keepId: 'a', mergeIds: ['b'] },
  'crew/create': { name: 'c' },
  'crew/update': { crew: 'c' },
  'crew/delete': { crew: 'c' },
  'crew/get': { crew: 'c' },
  'crew/token': { crew: 'c' },
  'crew/run': { crew: 'c', task: 'x' },
  'crew/estimate': { crew: 'c', task: 'x' },
  'crew/cancelRun': { runId: 'r' },
  'cost/applyRecommendation': { id: 'r' },
  'archive/create': { ids: ['m'] },
  'archive/restore': { archiveId: 'a' },
  'archive/delete': { id: 'a' },
  'webhook/register': { url: 'http://localhost:5678/webhook/crew', events: ['budget.alert'] },
  'webhook/unregister': { id: 'w' },
};

describe('validation table', () => {
  it('covers every method in METHODS', () => {
    assert.deepEqual(Object.keys(WRONG).sort(), Object.keys(METHODS).sort());
  });
});

forEachTransport((transport) => {
  describe(`params validation (${transport})`, function () {
    // No upstream: validation must answer before any work (a chat call would fail upstream otherwise).
    const s = useServer(() => ({ transport, upstreamUrl: 'http://127.0.0.1:9/api/v1' }));

    for (const method of Object.keys(METHODS) as MethodName[]) {
      it(`${method}: an unknown field → -32602 naming it`, async () => {
        const e = await rpcError(s.client.request(method, { ...VALID[method], bogus: 1 }), ErrorCodes.InvalidParams);
        assert.match(e.message, /"bogus"/);
        assert.ok(e.message.startsWith(`${method}: invalid params`), e.message);
        const d = e.data as InvalidParamsData;
        assert.ok(
          d.issues.some((i) => /bogus/.test(i.message)),
          JSON.stringify(d),
        );
      });

      const wrong = WRONG[method];
      if (wrong)
        it(`${method}: a wrong type in ${wrong.field} → -32602 naming ${wrong.field}`, async () => {
          const e = await rpcError(s.client.request(method, wrong.params), ErrorCodes.InvalidParams);
          const d = e.data as InvalidParamsData;
          assert.equal(d.field, wrong.field, e.message);
          assert.ok(e.message.includes(`${wrong.field}:`), e.message);
        });
    }

    it('the server is still serving (server/shutdown with bad params did nothing)', async () => {
      const h = await s.client.request<{ ok: boolean }>('server/health');
      assert.equal(h.ok, true);
    });

    it('an unknown method → -32601 naming it', async () => {
      const e = await rpcError(s.client.request('budget/explode', {}), ErrorCodes.MethodNotFound);
      assert.match(e.message, /budget\/explode/);
    });

    it('scope strings are checked by meaning too', async () => {
      const e = await rpcError(
        s.client.request('budget/set', { scope: 'team:x', period: 'daily', limitUsd: 1 }),
        ErrorCodes.InvalidParams,
      );
      assert.match(e.message, /scope/);
      assert.equal((e.data as InvalidParamsData).field, 'scope');
    });
  });
});
