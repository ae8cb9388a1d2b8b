/**
 * The Costs dashboard in Chromium against the real server: the total shown is cost/report's, a call made elsewhere
 * shows up without a reload, the stacking switch re-asks the server and is remembered, the forecast shows the
 * budget's figures, and the page works on a phone-sized window. Without the token it says how to get one.
 */
import assert from 'node:assert/strict';
import type { CostForecast, CostReport, CostVerify } from '../../protocol';
import type { RpcClient } from '../helpers/rpc';
import { formatCount, formatUsd } from '../../protocol/format';
import { reportParams } from '../../webviews/src/view-models/costs';
import { attrs, changed, DESKTOP, figure, PHONE, ready, useDashboards } from './helpers';

const say = (c: RpcClient, model: string, agent: string) =>
  c.request('chat/complete', {
    model,
    agent,
    crew: 'ops',
    // A small worst case keeps the reservation under the test budget.
    maxTokens: 64,
    messages: [{ role: 'user', content: 'Summarise the week' }],
  });

describe('Costs dashboard (Chromium)', function () {
  this.timeout(120_000);
  const h = useDashboards(async (c) => {
    await c.request('budget/set', { scope: 'global', period: 'monthly', limitUsd: 0.05 });
    await say(c, 'openai/gpt-4o-mini', 'writer');
    await say(c, 'openai/gpt-4o', 'critic');
    await say(c, 'anthropic/claude-3.5-haiku', 'writer');
  });

  it("shows cost/report's total, updates on a new call, and remembers the stacking", async () => {
    const w = await h.open('costs');
    const { page } = w;
    await ready(page, '[data-section="spend"]');
    assert.ok(!page.url().includes('token'), 'the token is removed from the address bar');

    const params = reportParams({ days: 30, stack: 'model' }, Date.now());
    const report = await h.client.request<CostReport.Result>('cost/report', params);
    const total = await figure(page, '[data-figure="total"]');
    assert.equal(total.value, report.total.costUsd);
    assert.equal(total.text, formatUsd(report.total.costUsd));
    assert.deepEqual(
      await attrs(page.locator('[data-section="top"] tbody tr'), 'data-key'),
      report.rows.map((r) => r.key),
    );
    assert.equal(await page.locator('[data-section="spend"] canvas').count(), 1);

    // A call from another client: the page hears usage/recorded and re-reads.
    const before = await page.locator('[data-figure="total"]').getAttribute('data-value');
    await say(h.client, 'openai/gpt-4o', 'planner');
    await changed(page, '[data-figure="total"]', 'data-value', before);
    const after = await h.client.request<CostReport.Result>('cost/report', params);
    assert.equal((await figure(page, '[data-figure="total"]')).value, after.total.costUsd);
    assert.ok(after.total.costUsd > report.total.costUsd);

    await page.locator('vscode-radio[value="agent"]').click();
    await page.locator('[data-section="top"] tr[data-key="ops/planner"]').waitFor();
    // Kept across a reload of the tab (sessionStorage), signed in without the token in the URL.
    await page.reload();
    await ready(page, '[data-section="top"]');
    await page.locator('[data-section="top"] tr[data-key="ops/writer"]').waitFor();

    const forecast = await h.client.request<CostForecast.Result>('cost/forecast', {});
    await ready(page, '[data-section="forecast"]');
    assert.equal((await figure(page, '[data-figure="forecast-limit"]')).value, forecast.forecasts[0]!.limitUsd);
    assert.equal((await figure(page, '[data-figure="forecast-spent"]')).value, forecast.forecasts[0]!.spentUsd);

    await page.setViewportSize(DESKTOP);
    await h.shot(w, 'costs-desktop');
    h.assertClean(w);
  });

  it('fits a phone-sized window in the dark palette', async () => {
    const w = await h.open('costs', { viewport: PHONE, colorScheme: 'dark' });
    await ready(w.page, '[data-section="spend"]');
    await ready(w.page, '[data-section="forecast"]');
    const overflow = await w.page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    // The top spenders table is stacked as cards: the header row is hidden, cells carry their labels.
    const head = await w.page.locator('[data-section="top"] thead').boundingBox();
    assert.ok(head && head.height <= 1, 'the header row is only for screen readers');
    assert.ok(
      (await w.page.locator('[data-section="top"] tbody tr').first().boundingBox())!.height > 60,
      'a row is a card',
    );
    await h.shot(w, 'costs-phone');
    h.assertClean(w);
  });

  it("says when the ledger was last checked against OpenRouter's books, and what was found", async () => {
    const w = await h.open('costs');
    const { page } = w;
    await ready(page, '[data-section="verification"]');
    const line = page.locator('[data-section="verification"] [data-verification]');
    assert.equal(await line.getAttribute('data-verification'), 'never');
    assert.match((await page.locator('[data-section="verification"]').textContent()) ?? '', /crew cost verify/);

    h.fake.behave({ billedExtra: '0.001' });
    await say(h.client, 'openai/gpt-4o-mini', 'writer');
    h.fake.behave({});
    const r = await h.client.request<CostVerify.Result>('cost/verify', {});
    assert.equal(r.drifted.length, 1);
    // cost/verify changes the store: the page hears store/changed and re-reads the last verification.
    await page.locator('[data-section="verification"] [data-verification="drift"]').waitFor();
    const text = (await page.locator('[data-section="verification"]').textContent()) ?? '';
    assert.ok(text.includes(`${formatCount(r.checked)} calls from`), text);
    assert.ok(text.includes(`${formatCount(r.matched)} matching OpenRouter`), text);
    assert.ok(text.includes('1 call drifted (+$0.001 against the ledger): crew cost verify --fix'), text);

    await h.client.request<CostVerify.Result>('cost/verify', { fix: true });
    await page.locator('[data-section="verification"] [data-verification="agrees"]').waitFor();
    assert.ok(
      ((await page.locator('[data-section="verification"]').textContent()) ?? '').includes('1 correction made'),
    );
    await h.shot(w, 'costs-verification');
    h.assertClean(w);
  });

  it('without the token, says how to get one and calls nothing', async () => {
    const rpc: string[] = [];
    const w = await h.open('costs', { token: null });
    w.page.on('request', (r) => r.url().includes('/rpc') && rpc.push(r.url()));
    await w.page.getByText('crew dashboard').waitFor();
    assert.equal(await w.page.locator('body').getAttribute('data-loads'), '0');
    assert.deepEqual(rpc, []);
    h.assertClean(w);
  });
});
