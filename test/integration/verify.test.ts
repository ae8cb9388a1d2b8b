/**
 * `cost/verify` against the fake's books: calls that agree match; calls OpenRouter billed differently (behaviour
 * `billedExtra`) drift, raise one `ledger_drift` alert per finding and, with `fix`, get a correction row beside the
 * original so the ledger and the budgets hold OpenRouter's figure; calls it does not know are `missing`; GET /key's
 * usage is compared; a failing upstream answers a retryable error and changes nothing; the last verification is
 * kept for `cost/verification`.
 */
import assert from 'node:assert/strict';
import { DEFAULT_DRIFT_THRESHOLD_USD, ErrorCodes } from '../../protocol';
import type {
  BudgetAlerts,
  BudgetSet,
  BudgetStatus,
  ChatComplete,
  CostVerification,
  CostVerify,
  LedgerList,
} from '../../protocol';
import { decimal, pico, rpcError, USER, useFake, useServer } from '../helpers';

const MODEL = 'openai/gpt-4o-mini';
const FREE = 'meta-llama/llama-3.3-70b-instruct:free';

describe('cost/verify: the ledger against OpenRouter (socket)', function () {
  this.timeout(30_000);
  const up = useFake();
  // A short upstream timeout, so a slow OpenRouter is given up on within the test.
  const s = useServer(() => ({
    transport: 'socket',
    upstreamUrl: up.fake.url,
    // No background reconciliation: the estimate case below must still be an estimate when it is verified.
    env: { CREW_UPSTREAM_TIMEOUT_MS: '1000', CREW_RECONCILE_INTERVAL_MS: '0' },
  }));

  const chat = (crew: string, model = MODEL) =>
    s.client.request<ChatComplete.Result>('chat/complete', { model, messages: USER(`a call for ${crew}`), crew });
  const verify = (p: CostVerify.Params) => s.client.request<CostVerify.Result>('cost/verify', p);
  const entries = async (crew: string) => (await s.client.request<LedgerList.Result>('ledger/list', { crew })).entries;
  const spent = async (id: string) =>
    (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id })).budgets[0]!.spentUsd;
  const driftAlerts = async () =>
    (await s.client.request<BudgetAlerts.Result>('budget/alerts', {})).alerts.filter((a) => a.kind === 'ledger_drift');

  it('calls that agree with OpenRouter match, and the verification is remembered', async () => {
    const before = await s.client.request<CostVerification.Result>('cost/verification');
    assert.equal(before.last, null, 'never verified yet');
    const from = new Date().toISOString();
    await chat('agree');
    await chat('agree');
    const r = await verify({ from });
    assert.equal(r.checked, 2);
    assert.equal(r.matched, 2);
    assert.deepEqual(r.drifted, []);
    assert.deepEqual(r.missing, []);
    assert.equal(r.fixed, 0);
    assert.equal(r.alerted, false);
    assert.equal(r.thresholdUsd, DEFAULT_DRIFT_THRESHOLD_USD);
    assert.equal(r.from, from);
    const lookedUp = up.fake.requests.filter((q) => q.path.endsWith('/generation')).map((q) => q.query.id);
    for (const e of await entries('agree')) assert.ok(lookedUp.includes(e.generationId!), 'each row was looked up');
    const { last } = await s.client.request<CostVerification.Result>('cost/verification');
    assert.equal(last?.verifiedAt, r.verifiedAt);
    assert.equal(last?.checked, 2);
    assert.equal(last?.drifted, 0);
  });

  it('a call OpenRouter billed more drifts, alerts once per finding, and --fix appends a correction', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:drift',
      period: 'monthly',
      limitUsd: 10,
    });
    const from = new Date().toISOString();
    up.fake.behave({ billedExtra: '0.001' });
    const call = await chat('drift');
    up.fake.behave({});
    const [original] = await entries('drift');
    const billed = up.fake.generations.get(call.generationId!)!.billedCost!;
    assert.equal(pico(billed) - pico(original!.cost), pico('0.001'));

    const r = await verify({ from });
    assert.equal(r.checked, 1);
    assert.equal(r.matched, 0);
    assert.equal(r.drifted.length, 1);
    const d = r.drifted[0]!;
    assert.equal(d.id, original!.id);
    assert.equal(d.generationId, call.generationId);
    assert.equal(pico(d.ledgerUsd), pico(original!.cost));
    assert.equal(pico(d.upstreamUsd), pico(billed));
    assert.equal(pico(d.differenceUsd), pico('0.001'));
    assert.equal(d.fixedBy, null);
    assert.equal(r.alerted, true);
    const alerts = await driftAlerts();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.severity, 'warning');
    assert.match(alerts[0]!.message, /1 call in the ledger .* differ from OpenRouter's books/);

    const again = await verify({ from });
    assert.equal(again.drifted.length, 1, 'still drifted: nothing was fixed');
    assert.equal(again.alerted, false, 'the same finding does not alert twice');
    assert.equal((await driftAlerts()).length, 1);

    const fixed = await verify({ from, fix: true });
    assert.equal(fixed.fixed, 1);
    const total = fixed.keyUsage?.periods.find((x) => x.period === 'total');
    assert.equal(total?.differenceUsd, 0, "after the fix the ledger's total is what the key was billed");
    const correctionId = fixed.drifted[0]!.fixedBy;
    assert.ok(correctionId !== null && correctionId > original!.id);
    const rows = await entries('drift');
    const kept = rows.find((e) => e.id === original!.id)!;
    assert.equal(kept.cost, original!.cost, 'the original row is kept as it was');
    const correction = rows.find((e) => e.id === correctionId)!;
    assert.equal(correction.cost, '0.001');
    assert.deepEqual(correction.tags, [`correction-of:${original!.id}`]);
    assert.equal(correction.generationId, call.generationId);
    assert.equal(correction.usage.promptTokens + correction.usage.completionTokens, 0);
    assert.equal(pico(await spent(budget.id)), pico(billed), 'the budget holds what OpenRouter billed');

    const after = await verify({ from });
    assert.equal(after.checked, 1, 'the correction is not a call to check');
    assert.equal(after.matched, 1);
    assert.deepEqual(after.drifted, []);
    const { last } = await s.client.request<CostVerification.Result>('cost/verification');
    assert.equal(last?.drifted, 0);
    assert.equal(last?.verifiedAt, after.verifiedAt);
  });

  it('a call OpenRouter billed less gets a negative correction, and the budget comes down', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:refund',
      period: 'total',
      limitUsd: 10,
    });
    const from = new Date().toISOString();
    const call = await chat('refund');
    const [row] = await entries('refund');
    // OpenRouter's books say a millionth of a dollar: the fake's record of the call, as OpenRouter later has it.
    up.fake.generations.get(call.generationId!)!.billedCost = '0.000001';
    const r = await verify({ from, fix: true });
    assert.equal(r.drifted.length, 1);
    assert.equal(pico(r.drifted[0]!.upstreamUsd), pico('0.000001'));
    assert.ok(r.drifted[0]!.differenceUsd < 0);
    const correction = (await entries('refund')).find((e) => e.id === r.drifted[0]!.fixedBy)!;
    assert.equal(correction.cost, `-${decimal(pico(row!.cost) - pico('0.000001'))}`);
    assert.equal(pico(await spent(budget.id)), pico('0.000001'));
    assert.deepEqual((await verify({ from })).drifted, []);
  });

  it('an estimate not yet reconciled drifts without alerting; fix settles it in place, as reconciliation would', async () => {
    const alertsBefore = (await driftAlerts()).length;
    const from = new Date().toISOString();
    // Without usage.cost the ledger prices the tokens itself; OpenRouter's books say more than that.
    up.fake.behave({ omitCost: true, billedExtra: '0.0005' });
    const call = await chat('estimate');
    up.fake.behave({});
    const [row] = await entries('estimate');
    assert.equal(row!.costEstimated, true);
    const exact = up.fake.generations.get(call.generationId!)!.billedCost!;
    const r = await verify({ from });
    assert.equal(r.drifted.length, 1);
    assert.equal(r.drifted[0]!.estimated, true);
    assert.equal(r.alerted, false, 'an estimate is expected to differ until it is reconciled');
    assert.equal((await driftAlerts()).length, alertsBefore);
    const fixed = await verify({ from, fix: true });
    assert.equal(fixed.drifted[0]!.fixedBy, row!.id, 'the row itself was settled');
    const rows = await entries('estimate');
    assert.equal(rows.length, 1, 'no correction row for an estimate');
    assert.equal(rows[0]!.cost, exact);
    assert.equal(rows[0]!.costEstimated, false);
  });

  it('a difference within the threshold matches', async () => {
    const from = new Date().toISOString();
    up.fake.behave({ billedExtra: '0.001' });
    await chat('tolerant');
    up.fake.behave({});
    const loose = await verify({ from, threshold: 0.01 });
    assert.equal(loose.matched, 1);
    assert.deepEqual(loose.drifted, []);
    const strict = await verify({ from, threshold: 0 });
    assert.equal(strict.drifted.length, 1);
    const { last } = await s.client.request<CostVerification.Result>('cost/verification');
    assert.ok(last);
    assert.equal(last.thresholdUsd, 0);
    assert.equal(decimal(pico(last.driftUsd)), '0.001');
  });

  it('calls OpenRouter does not know are missing; a free call it does not confirm is zero-cost', async () => {
    const from = new Date().toISOString();
    up.fake.behave({ forgetGenerations: true });
    const paid = await chat('lost');
    const free = await chat('lost', FREE);
    up.fake.behave({});
    const r = await verify({ from });
    assert.equal(r.checked, 2);
    assert.deepEqual(
      r.missing.map((m) => m.generationId),
      [paid.generationId, free.generationId],
    );
    assert.equal(r.zeroCost.length, 1);
    assert.equal(r.zeroCost[0]!.generationId, free.generationId);
    assert.equal(r.zeroCost[0]!.upstreamUsd, null);
    assert.ok(r.zeroCost[0]!.promptTokens > 0);
  });

  it("compares GET /key's usage with the ledger's totals for the same periods", async () => {
    const r = await verify({});
    assert.ok(r.keyUsage, r.keyUsageUnavailable);
    const total = r.keyUsage.periods.find((p) => p.period === 'total')!;
    const billed = [...up.fake.generations.values()].reduce((t, g) => t + pico(g.billedCost ?? g.cost), 0n);
    assert.equal(pico(total.upstreamUsd), billed);
    assert.deepEqual(
      r.keyUsage.periods.map((p) => p.period),
      ['day', 'week', 'month', 'total'],
    );
    assert.equal(r.keyUsage.periods[0]!.from, `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`);
  });

  it('a failing upstream answers a clear, retryable error and changes nothing', async () => {
    const { last: before } = await s.client.request<CostVerification.Result>('cost/verification');
    const from = new Date(Date.now() - 60_000).toISOString();
    up.fake.behave({ failLookups: 503 });
    const e = await rpcError(verify({ from, fix: true }), ErrorCodes.UpstreamUnavailable);
    up.fake.behave({});
    assert.match(
      e.message,
      /could not be verified: GET \/generation for ledger row \d+ failed .*nothing was changed — try again/,
    );
    assert.equal((e.data as { retryable?: boolean }).retryable, true);
    const { last } = await s.client.request<CostVerification.Result>('cost/verification');
    assert.deepEqual(last, before, 'a failed verification is not remembered');
  });

  it('a slow upstream times out with a retryable error; the daemon answers meanwhile', async () => {
    await chat('slow');
    up.fake.behave({ lookupDelayMs: 5_000 });
    const started = Date.now();
    const pending = rpcError(verify({}), ErrorCodes.UpstreamTimeout);
    const health = await s.client.request<{ ok: boolean }>('server/health');
    assert.equal(health.ok, true, 'other requests are answered while the verification waits');
    const e = await pending;
    up.fake.behave({});
    assert.ok(Date.now() - started < 4_000, 'it gave up at its own timeout, not when upstream answered');
    assert.match(
      e.message,
      /could not be verified: GET \/generation for ledger row \d+ failed \(OpenRouter did not answer in time\); nothing was changed — try again/,
    );
    assert.equal((e.data as { retryable?: boolean }).retryable, true);
  });

  it('refuses a range that ends before it starts, naming the field', async () => {
    const e = await rpcError(verify({ from: '2026-03-02', to: '2026-03-01' }), ErrorCodes.InvalidParams);
    assert.match(e.message, /from: must not be after "to"/);
    const bad = await rpcError(verify({ from: 'yesterday' }), ErrorCodes.InvalidParams);
    assert.match(bad.message, /from: "yesterday" is not an ISO date/);
  });
});
