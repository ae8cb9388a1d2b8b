/**
 * Budgets enforced before a call, against the real server: a full budget refuses with BudgetExceeded and data a
 * client can act on (and the call never reaches OpenRouter); `warn` lets it through with a warning; `downgrade`
 * switches the model; and 200 concurrent calls against room for 20 never push spending past the limit.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type {
  BudgetAlerts,
  BudgetExceededData,
  BudgetSet,
  BudgetStatus,
  ChatComplete,
  CostReport,
  LedgerList,
} from '../../protocol';
import { eventually, pico, rpcError, RpcFailure, USER, useFake, useServer, type Transport, usd } from '../helpers';

const chatCount = (requests: { path: string; body: unknown }[], model?: string) =>
  requests.filter(
    (r) => r.path.endsWith('/chat/completions') && (!model || (r.body as { model?: string })?.model === model),
  ).length;

describe('budgets (socket)', function () {
  const up = useFake();
  const s = useServer(() => ({ transport: 'socket', upstreamUrl: up.fake.url }));

  const status = async (id: string) =>
    (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id })).budgets[0]!;

  it('a budget that has no room refuses with BudgetExceeded {budgetId, scope, limitUsd, spentUsd, reservedUsd, requestedUsd}', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:blk',
      period: 'daily',
      limitUsd: 0.0012,
    });
    const call = () =>
      s.client.request<ChatComplete.Result>('chat/complete', {
        model: 'openai/gpt-4o',
        messages: USER('Summarise the quarterly numbers'),
        maxTokens: 100,
        crew: 'blk',
      });
    // Calls go through until the next one's worst case no longer fits; then it is refused before upstream.
    const costs: string[] = [];
    let refusal: RpcFailure | undefined;
    for (let i = 0; i < 10 && !refusal; i++) {
      const before = chatCount(up.fake.requests);
      try {
        costs.push((await call()).cost);
      } catch (e) {
        if (!(e instanceof RpcFailure)) throw e;
        refusal = e;
        assert.equal(chatCount(up.fake.requests), before, 'a refused call must never reach OpenRouter');
      }
    }
    assert.ok(refusal, 'the budget never refused a call');
    assert.equal(refusal.code, ErrorCodes.BudgetExceeded);
    assert.ok(costs.length >= 1, 'the first call fits the budget');
    const d = refusal.data as BudgetExceededData;
    assert.equal(d.budgetId, budget.id);
    assert.equal(d.scope, 'crew:blk');
    assert.equal(d.period, 'daily');
    assert.equal(d.limitUsd, 0.0012);
    assert.equal(
      pico(d.spentUsd),
      costs.map(pico).reduce((a, b) => a + b, 0n),
      'spent is the exact sum of the real costs',
    );
    assert.equal(d.reservedUsd, 0);
    assert.ok(d.requestedUsd > 0);
    assert.ok(
      pico(d.spentUsd) + pico(d.reservedUsd) + pico(d.requestedUsd) > pico(d.limitUsd),
      'refused only because it would not fit',
    );
    assert.ok(
      pico(d.requestedUsd) >= 100n * pico('0.00001'),
      'the worst case covers maxTokens at the completion price',
    );
    assert.ok(d.periodEnd && Date.parse(d.periodEnd) > Date.now());
    assert.match(refusal.message, /crew:blk/);
    const st = await status(budget.id);
    assert.equal(pico(st.spentUsd), pico(d.spentUsd));
    assert.equal(st.reservedUsd, 0);
  });

  it('a limit of 0 refuses the first call; the refusal names the limit', async () => {
    await s.client.request('budget/set', { scope: 'agent:zero', period: 'monthly', limitUsd: 0 });
    const e = await rpcError(
      s.client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('hi'), agent: 'zero' }),
      ErrorCodes.BudgetExceeded,
    );
    assert.equal((e.data as BudgetExceededData).scope, 'agent:zero');
    assert.equal((e.data as BudgetExceededData).limitUsd, 0);
  });

  it('action warn lets the call through with warnings, and its alert is over_limit (a warning), not blocked', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:wrn',
      period: 'daily',
      limitUsd: 0.000001,
      action: 'warn',
    });
    const r = await s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER('hello'),
      crew: 'wrn',
    });
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /crew:wrn/);
    const { alerts } = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
    const over = alerts.filter((a) => a.kind === 'over_limit');
    assert.equal(over.length, 1, JSON.stringify(alerts));
    assert.equal(over[0]!.severity, 'warning');
    assert.match(over[0]!.message, /calls continue/);
    // Spent, not merely reserved: the alert names what went over.
    assert.match(over[0]!.message, /is over its limit of \$0\.000001: \$[\d.]+ spent/);
    assert.match(r.warnings[0]!, /may go over its \$0\.000001 limit with this call/);
    // One alert for the call, a warning: not a critical 100% threshold beside it.
    assert.deepEqual(
      alerts.filter((a) => a.severity === 'critical'),
      [],
    );
    assert.deepEqual(
      alerts.filter((a) => a.kind === 'blocked'),
      [],
    );
    // A warn budget whose limit a call only may cross (its worst case), but does not: a warning to the caller, no alert.
    const { budget: roomy } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:roomy',
      period: 'daily',
      limitUsd: 0.001,
      action: 'warn',
    });
    const cheap = await s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o',
      messages: USER('hello'),
      crew: 'roomy',
      maxTokens: 4000,
    });
    assert.match(cheap.warnings.join(' '), /may go over its \$0\.001 limit with this call/);
    const roomyAlerts = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: roomy.id });
    assert.deepEqual(roomyAlerts.alerts, []);
    // Without the warn budget in scope there is no warning.
    const other = await s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER('hello'),
    });
    assert.deepEqual(other.warnings, []);
  });

  it('action downgrade switches the model to downgradeTo and says which budget did it', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:dg',
      period: 'daily',
      limitUsd: 0.0005,
      action: 'downgrade',
      downgradeTo: 'mistralai/mistral-nemo',
    });
    const before = chatCount(up.fake.requests, 'openai/gpt-4o');
    const r = await s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o',
      messages: USER('Write a haiku about budgets'),
      maxTokens: 100,
      crew: 'dg',
    });
    assert.equal(r.requestedModel, 'openai/gpt-4o');
    assert.equal(r.model, 'mistralai/mistral-nemo');
    assert.equal(r.downgradedBy, budget.id);
    assert.equal(chatCount(up.fake.requests, 'openai/gpt-4o'), before, 'the expensive model was never called');
    assert.equal(up.fake.generations.get(r.generationId!)!.model, 'mistralai/mistral-nemo');
    const rows = (await s.client.request<LedgerList.Result>('ledger/list', { crew: 'dg' })).entries;
    assert.equal(rows[0]!.model, 'mistralai/mistral-nemo');
  });

  it('one agent, one id: crew ops + agent researcher is ops/researcher for the budget, the ledger and cost-by-agent', async () => {
    const call = (agent: string) =>
      s.client.request<ChatComplete.Result>('chat/complete', {
        model: 'openai/gpt-4o-mini',
        messages: USER('Find the facts'),
        maxTokens: 20,
        crew: 'ops',
        agent,
      });
    // As the CLI and n8n send it (crew + bare agent), and as a crew run records it.
    const bare = await call('researcher');
    const full = await call('ops/researcher');
    const rows = (await s.client.request<LedgerList.Result>('ledger/list', { crew: 'ops' })).entries;
    assert.deepEqual(
      rows.map((r) => r.agent),
      ['ops/researcher', 'ops/researcher'],
    );
    const report = await s.client.request<CostReport.Result>('cost/report', { by: 'agent', crew: 'ops' });
    assert.deepEqual(
      report.rows.map((r) => [r.key, r.calls, pico(r.costUsd)]),
      [['ops/researcher', 2, pico(bare.cost) + pico(full.cost)]],
    );
    // Filtering by the bare spelling with its crew finds the same agent.
    const filtered = await s.client.request<CostReport.Result>('cost/report', { crew: 'ops', agent: 'researcher' });
    assert.equal(filtered.total.calls, 2);

    // The agent's own budget refuses, however the caller spells the agent; nothing reaches OpenRouter.
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'agent:ops/researcher',
      period: 'daily',
      limitUsd: 0,
    });
    const before = chatCount(up.fake.requests);
    for (const agent of ['researcher', 'ops/researcher']) {
      const e = await rpcError(call(agent), ErrorCodes.BudgetExceeded);
      assert.equal((e.data as BudgetExceededData).budgetId, budget.id);
      assert.equal((e.data as BudgetExceededData).scope, 'agent:ops/researcher');
    }
    assert.equal(chatCount(up.fake.requests), before, 'a refused call never reaches OpenRouter');
    assert.equal(pico((await status(budget.id)).spentUsd), pico(bare.cost) + pico(full.cost));
  });

  it('refuses a downgrade budget without downgradeTo, naming the field', async () => {
    const e = await rpcError(
      s.client.request('budget/set', { scope: 'crew:x', period: 'daily', limitUsd: 1, action: 'downgrade' }),
      ErrorCodes.InvalidParams,
    );
    assert.match(e.message, /downgradeTo/);
  });
});

// THE OVERSHOOT TEST: the reservation is one atomic step, so concurrency cannot push spending past a limit.
for (const transport of ['http', 'socket'] as Transport[]) {
  describe(`no overshoot under 200 concurrent calls (${transport}, --rate-limit 0)`, function () {
    this.timeout(60_000);
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url, args: ['--rate-limit', '0'] }));
    const params = (crew: string) => ({
      model: 'anthropic/claude-3.5-haiku',
      messages: USER('Estimate the cost of this very call'),
      maxTokens: 256,
      crew,
    });

    it('exactly the calls that fit succeed; every other gets BudgetExceeded; spent ≤ limit', async () => {
      // The worst case of one call, as the server prices it: ask once against a budget of 0.
      await s.client.request('budget/set', { scope: 'crew:probe', period: 'total', limitUsd: 0 });
      const probe = await rpcError(s.client.request('chat/complete', params('probe')), ErrorCodes.BudgetExceeded);
      const worst = pico((probe.data as BudgetExceededData).requestedUsd);
      assert.ok(worst > 0n);
      // Room for exactly 20 worst cases (and half of a 21st).
      const limit = ((worst * 20n + worst / 2n) / 1000n) * 1000n;
      const limitUsd = usd(limit);
      assert.ok(limit >= worst * 20n && limit < worst * 21n);
      assert.equal(pico(limitUsd), limit, 'the limit survives the trip through a JSON number');
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:storm',
        period: 'daily',
        limitUsd,
      });

      up.fake.behave({ latencyMs: 1_500, completionTokens: 40 });
      const before = chatCount(up.fake.requests);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, () => s.client.request<ChatComplete.Result>('chat/complete', params('storm'))),
      );
      const ok = outcomes.filter((o): o is PromiseFulfilledResult<ChatComplete.Result> => o.status === 'fulfilled');
      const refused: unknown[] = outcomes
        .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
        .map((o) => o.reason as unknown);
      assert.equal(ok.length + refused.length, 200, 'every request got an answer');
      for (const e of refused) {
        assert.ok(e instanceof RpcFailure, `unexpected failure: ${String(e)}`);
        assert.equal(e.code, ErrorCodes.BudgetExceeded, e.message);
        const d = e.data as BudgetExceededData;
        assert.equal(d.scope, 'crew:storm');
        assert.equal(pico(d.limitUsd), limit);
        assert.equal(typeof d.spentUsd, 'number');
        assert.equal(typeof d.reservedUsd, 'number');
        assert.ok(pico(d.spentUsd) + pico(d.reservedUsd) + pico(d.requestedUsd) > limit, 'refused although it fitted');
        assert.ok(pico(d.spentUsd) + pico(d.reservedUsd) <= limit, 'spent + reserved past the limit');
      }
      assert.equal(ok.length, 20, `${ok.length} calls succeeded; room was for exactly 20`);
      assert.equal(chatCount(up.fake.requests) - before, ok.length, 'only admitted calls reached OpenRouter');

      const st = (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
      const spent = ok.map((o) => pico(o.value.cost)).reduce((a, b) => a + b, 0n);
      assert.equal(pico(st.spentUsd), spent, 'spent is the exact sum of the admitted calls');
      assert.ok(pico(st.spentUsd) <= limit);
      assert.equal(st.reservedUsd, 0);
      const rows = await s.client.request<LedgerList.Result>('ledger/list', { crew: 'storm', limit: 1000 });
      assert.equal(rows.total, 20);
    });
  });
}

// Budgets and what overlaps them: a budget created while a call is in flight, and concurrent budget/set calls.
for (const transport of ['http', 'socket'] as Transport[]) {
  describe(`budgets created while calls run (${transport})`, function () {
    this.timeout(30_000);
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url, args: ['--rate-limit', '0'] }));
    const params = (crew: string) => ({
      model: 'openai/gpt-4o',
      messages: USER('Which of these budgets counts me?'),
      maxTokens: 200,
      crew,
    });
    afterEach(() => up.fake.behave({}));

    it('a budget created while a call is in flight counts it when it settles, and refuses the next one', async () => {
      // The worst case of one call (a budget of 0 refuses it and says), and its real cost (the fake is deterministic).
      await s.client.request('budget/set', { scope: 'crew:mf-probe', period: 'total', limitUsd: 0 });
      const probe = await rpcError(s.client.request('chat/complete', params('mf-probe')), ErrorCodes.BudgetExceeded);
      const worst = pico((probe.data as BudgetExceededData).requestedUsd);
      const cost = pico((await s.client.request<ChatComplete.Result>('chat/complete', params('mf-learn'))).cost);
      // Room for the next call's worst case only while this call is not counted.
      const limit = ((worst + cost / 2n) / 1000n) * 1000n;
      assert.ok(limit >= worst && limit < worst + cost);
      assert.equal(pico(usd(limit)), limit);

      up.fake.behave({ latencyMs: 1_500 });
      const before = chatCount(up.fake.requests);
      const inFlight = s.client.request<ChatComplete.Result>('chat/complete', params('mf'));
      await eventually(() => chatCount(up.fake.requests) > before, 'the call to reach OpenRouter');
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:mf',
        period: 'total',
        limitUsd: usd(limit),
      });
      const created = (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id }))
        .budgets[0]!;
      assert.equal(created.spentUsd, 0, 'the call is not in the ledger yet');
      const done = await inFlight;
      assert.equal(pico(done.cost), cost);
      up.fake.behave({});

      const st = (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
      assert.equal(pico(st.spentUsd), cost, 'the budget counts the call that was in flight when it was created');
      assert.equal(st.reservedUsd, 0);
      const e = await rpcError(s.client.request('chat/complete', params('mf')), ErrorCodes.BudgetExceeded);
      assert.equal((e.data as BudgetExceededData).budgetId, budget.id);
      assert.equal(pico((e.data as BudgetExceededData).spentUsd), cost);
    });

    it('ten concurrent budget/set calls for one scope and period make one budget', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          s.client.request<BudgetSet.Result>('budget/set', { scope: 'crew:race', period: 'daily', limitUsd: i + 1 }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.budget.id)).size, 1, 'every call names the same budget');
      assert.equal(results.filter((r) => r.created).length, 1, 'one created it, the others updated it');
      const { budgets } = await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', {
        scope: 'crew:race',
      });
      assert.equal(budgets.length, 1);
      assert.ok(results.some((r) => r.budget.limitUsd === budgets[0]!.limitUsd));
      // Two at once, the smallest race there is.
      const pair = await Promise.all(
        [1, 2].map((limitUsd) =>
          s.client.request<BudgetSet.Result>('budget/set', {
            scope: 'model:openai/gpt-4o',
            period: 'weekly',
            limitUsd,
          }),
        ),
      );
      assert.equal(pair[0]!.budget.id, pair[1]!.budget.id);
      assert.equal(
        (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: 'model:openai/gpt-4o' })).budgets
          .length,
        1,
      );
    });
  });
}
