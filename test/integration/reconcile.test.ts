/**
 * Estimated costs and reconciliation: when OpenRouter's answer carries no `usage.cost` (or a stream is cut), the
 * ledger records an estimate marked as such; the background reconciler (CREW_RECONCILE_INTERVAL_MS) later
 * replaces it with GET /generation's exact figure, and budgets follow.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { BudgetSet, BudgetStatus, ChatComplete, LedgerEntry, LedgerList } from '../../protocol';
import { exactCost } from '../fixtures/fake-openrouter';
import { eventually, pico, rpcError, USER, useFake, useServer } from '../helpers';

describe('estimated costs and reconcile (socket, CREW_RECONCILE_INTERVAL_MS=200)', function () {
  this.timeout(30_000);
  const up = useFake();
  const s = useServer(() => ({
    transport: 'socket',
    upstreamUrl: up.fake.url,
    env: { CREW_RECONCILE_INTERVAL_MS: '200' },
  }));

  const row = async (crew: string): Promise<LedgerEntry> =>
    (await s.client.request<LedgerList.Result>('ledger/list', { crew })).entries[0]!;
  const spent = async (id: string) =>
    (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id })).budgets[0]!.spentUsd;

  it('a response without usage.cost is recorded as an estimate, then reconciled to the exact cost', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:est',
      period: 'total',
      limitUsd: 10,
    });
    up.fake.behave({ omitCost: true, generationDelayMs: 400 });
    const r = await s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'google/gemini-2.5-flash',
      messages: USER('what did this cost?'),
      crew: 'est',
    });
    assert.equal(r.costEstimated, true);
    const first = await row('est');
    assert.equal(first.costEstimated, true);
    assert.equal(first.generationId, r.generationId);
    const gen = up.fake.generations.get(r.generationId!)!;
    const exact = exactCost('google/gemini-2.5-flash', gen.promptTokens, gen.completionTokens);

    const settled = await eventually(
      async () => {
        const e = await row('est');
        return e.costEstimated ? undefined : e;
      },
      'the reconciler to settle the estimated row',
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.equal(settled.cost, exact);
    assert.equal(pico(settled.costUsd), pico(exact));
    assert.equal(pico(await spent(budget.id)), pico(exact), 'the budget follows the reconciled cost');
    assert.ok(
      up.fake.requests.some((q) => q.path.endsWith('/generation') && q.query.id === r.generationId),
      'the exact figure came from GET /generation',
    );
  });

  it('a stream cut midway records an estimate for what was generated; reconcile makes it exact', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:cut',
      period: 'total',
      limitUsd: 10,
    });
    // chunkDelayMs lets the 4 chunks leave the fake before it destroys the socket (with 0 they may never be sent).
    up.fake.behave({ disconnectAfterChunks: 4, completionTokens: 30, chunkDelayMs: 20 });
    const e = await rpcError(
      s.client.request('chat/complete', {
        model: 'anthropic/claude-sonnet-4',
        messages: USER('a story that will be cut off'),
        stream: true,
        crew: 'cut',
      }),
      ErrorCodes.UpstreamStreamError,
    );
    assert.match(e.message, /stream broke after 4 chunk/);
    assert.doesNotMatch(e.message, /cannot reach/, 'OpenRouter was reached: the stream broke');
    const cut = await row('cut');
    assert.equal(cut.status, 'error');
    assert.equal(cut.costEstimated, true);
    assert.equal(cut.usage.completionTokens, 4);
    assert.ok(cut.generationId);
    const gen = up.fake.generations.get(cut.generationId)!;
    const exact = exactCost('anthropic/claude-sonnet-4', gen.promptTokens, 4);
    assert.notEqual(cut.cost, exact, 'the estimate prices the prompt by its bytes, so it differs');
    assert.equal(pico(await spent(budget.id)), pico(cut.cost), 'the estimate counts against the budget meanwhile');

    const settled = await eventually(
      async () => {
        const r = await row('cut');
        return r.costEstimated ? undefined : r;
      },
      'the reconciler to settle the cut stream',
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.equal(settled.cost, exact);
    assert.equal(settled.status, 'error');
    assert.equal(pico(await spent(budget.id)), pico(exact));
  });
});
