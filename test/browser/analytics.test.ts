/**
 * The Analytics dashboard in Chromium against the real server: the hour × weekday heatmap and figures are
 * analytics/summary's, a memory added elsewhere shows up without a reload, topics are computed from the page and
 * drawn one tile per cluster, and a savings recommendation is applied from the page (asked twice).
 */
import assert from 'node:assert/strict';
import type {
  AnalyticsRecommendations,
  AnalyticsSummary,
  ClustersList,
  CostRecommendations,
  CrewGet,
  MemoryList,
} from '../../protocol';
import { attrs, changed, figure, PHONE, ready, useDashboards } from './helpers';

const TOPICS = [
  'postgres index tuning made the nightly report ten times faster',
  'postgres vacuum settings for the reporting database',
  'deploy pipeline runs on every merge to main',
  'deploy rollback takes two minutes with the blue green switch',
  'the team orders lunch from the noodle place on fridays',
  'lunch budget is twelve dollars per person',
];

describe('Analytics dashboard (Chromium)', function () {
  this.timeout(120_000);
  const h = useDashboards(async (c) => {
    await c.request('crew/create', {
      name: 'ops',
      agents: [{ name: 'writer', role: 'writes the reports', model: 'openai/gpt-4o' }],
    });
    for (let i = 0; i < 18; i++)
      await c.request('memory/add', { crew: 'ops', content: `${TOPICS[i % TOPICS.length]} (note ${i})`, kind: 'fact' });
    for (const query of ['postgres', 'deploy', 'lunch', 'database'])
      await c.request('memory/search', { crew: 'ops', query, limit: 4 });
    for (let i = 0; i < 3; i++)
      await c.request('chat/complete', {
        model: 'openai/gpt-4o',
        crew: 'ops',
        agent: 'ops/writer',
        maxTokens: 64,
        messages: [{ role: 'user', content: `report ${i}` }],
      });
  });
  const summary = async () =>
    (await h.client.request<AnalyticsSummary.Result>('analytics/summary', { crew: 'ops' })).crews[0]!;

  it("shows analytics/summary's reads by hour and weekday, and follows a new memory", async () => {
    const w = await h.open('analytics');
    const { page } = w;
    await ready(page, '[data-section="heatmap"]');
    const s = await summary();
    assert.equal((await figure(page, '[data-figure="accesses"]')).value, s.accessesInWindow);
    assert.equal((await figure(page, '[data-figure="memories"]')).value, s.total);
    const cells = await attrs(page.locator('.heatmap .cell'), 'data-count');
    assert.deepEqual(cells.map(Number), s.byWeekdayHour!.flat());
    assert.ok(s.accessesInWindow > 0);

    const before = await page.locator('[data-figure="memories"]').getAttribute('data-value');
    await h.client.request('memory/add', {
      crew: 'ops',
      content: 'kubernetes pods need memory limits',
      kind: 'lesson',
    });
    await changed(page, '[data-figure="memories"]', 'data-value', before);
    assert.equal((await figure(page, '[data-figure="memories"]')).value, (await summary()).total);
    await ready(page, '[data-section="insights"]');
    await ready(page, '[data-section="memory-recommendations"]');
    h.assertClean(w);
  });

  it('computes topics from the page and draws a tile per cluster with its size', async () => {
    const w = await h.open('analytics');
    const { page } = w;
    await ready(page, '[data-section="topics"]');
    await page.getByTestId('compute-topics').click();
    await page.locator('.treemap .tile').first().waitFor();
    const [kept] = (await h.client.request<ClustersList.Result>('clusters/list', { crew: 'ops' })).results;
    assert.ok(kept && kept.clusters.length >= 2);
    assert.deepEqual(
      (await attrs(page.locator('.treemap .tile'), 'data-topic')).map(Number).sort((a, b) => a - b),
      kept.clusters.map((c) => c.id).sort((a, b) => a - b),
    );
    const sizes = await attrs(page.locator('.treemap .tile [data-value]'), 'data-value');
    assert.equal(
      sizes.map(Number).reduce((a, b) => a + b, 0),
      kept.clusters.reduce((a, c) => a + c.size, 0),
    );
    await h.shot(w, 'analytics-desktop');
    h.assertClean(w);
  });

  it('applies a savings recommendation after asking', async () => {
    const w = await h.open('analytics');
    const { page } = w;
    await ready(page, '[data-section="cost-recommendations"]');
    const recs = await h.client.request<CostRecommendations.Result>('cost/recommendations', {});
    const rec = recs.recommendations.find((r) => r.kind === 'cheaper-model' && r.notApplicable === null);
    assert.ok(rec, 'the seeded calls make a cheaper-model recommendation');
    assert.equal((await figure(page, '[data-figure="savings"]')).value, recs.totalSavingsUsd);
    const item = page.locator(`[data-recommendation="${rec.id}"]`);
    await item.getByTestId('apply-cost').click();
    await item.getByTestId('apply-cost-yes').click();
    await item.waitFor({ state: 'detached' });
    const crew = await h.client.request<CrewGet.Result>('crew/get', { crew: 'ops' });
    const change = rec.changes[0]!;
    assert.equal(crew.agents.find((a) => a.name === 'writer')!.model, change.after);

    // A memory recommendation (the seeded near-duplicates make merges) is applied the same way.
    await ready(page, '[data-section="memory-recommendations"]');
    const { recommendations } = await h.client.request<AnalyticsRecommendations.Result>('analytics/recommendations', {
      crew: 'ops',
    });
    const merge = recommendations.find((r) => r.kind === 'merge');
    assert.ok(merge, 'the seeded memories make a merge recommendation');
    const total = async () =>
      (await h.client.request<MemoryList.Result>('memory/list', { crew: 'ops', limit: 1 })).total;
    const before = await total();
    const mem = page.locator(`[data-recommendation="${merge.id}"]`);
    await mem.getByTestId('apply-memory').click();
    await mem.getByTestId('apply-memory-yes').click();
    await mem.waitFor({ state: 'detached' });
    assert.equal(await total(), before - merge.memoryIds.length + 1);
    h.assertClean(w);
  });

  it('fits a phone-sized window', async () => {
    const w = await h.open('analytics', { viewport: PHONE, colorScheme: 'dark' });
    await ready(w.page, '[data-section="heatmap"]');
    await ready(w.page, '[data-section="topics"]');
    await w.page.locator('.treemap .tile').first().waitFor();
    const overflow = await w.page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await h.shot(w, 'analytics-phone');
    h.assertClean(w);
  });
});
