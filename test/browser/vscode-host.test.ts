/**
 * The same bundle under the VS Code bridge, in Chromium: a stand-in for the extension host (an `acquireVsCodeApi`
 * injected before the page loads) answers the page's postMessage requests from the real server and relays its
 * notifications, as extension/panels does. The page says ready, shows the server's figures, keeps its state with
 * the host, follows notifications, and asks the host to run commands instead of navigating.
 */
import assert from 'node:assert/strict';
import type { CostReport } from '../../protocol';
import { reportParams } from '../../webviews/src/view-models/costs';
import { changed, figure, ready, useDashboards } from './helpers';

/** The host: requests go to the real server over HTTP (with the token the page itself never sees). */
function hostShim(token: string): string {
  return `(() => {
    const posted = [];
    let state = undefined;
    window.__host = { posted, state: () => state };
    const toPage = (m) => window.postMessage(m, '*');
    const events = new EventSource('/events?token=' + encodeURIComponent(${JSON.stringify(token)}));
    for (const method of ['usage/recorded', 'budget/alert', 'memory/changed', 'crew/runProgress', 'store/changed'])
      events.addEventListener(method, (ev) => toPage({ type: 'notification', method, params: JSON.parse(ev.data) }));
    window.acquireVsCodeApi = () => ({
      getState: () => state,
      setState: (s) => { state = s; },
      postMessage: async (m) => {
        posted.push(JSON.parse(JSON.stringify(m)));
        if (m.type !== 'request') return;
        const res = await fetch('/rpc', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer ' + ${JSON.stringify(token)} },
          body: JSON.stringify({ jsonrpc: '2.0', id: m.id, method: m.method, params: m.params ?? {} }),
        });
        const body = await res.json();
        toPage(body.error ? { type: 'response', id: m.id, error: body.error } : { type: 'response', id: m.id, result: body.result });
      },
    });
  })();`;
}

interface Posted {
  type: string;
  page?: string;
  method?: string;
  command?: string;
}

describe('a dashboard under the VS Code bridge (Chromium)', function () {
  this.timeout(120_000);
  const h = useDashboards(async (c) => {
    await c.request('chat/complete', {
      model: 'openai/gpt-4o-mini',
      agent: 'writer',
      maxTokens: 64,
      messages: [{ role: 'user', content: 'hello' }],
    });
  });

  it('talks to the host by messages only: ready, requests, notifications, state, commands', async () => {
    const w = await h.open('costs', { token: null, init: hostShim(h.token) });
    const { page } = w;
    await ready(page, '[data-section="spend"]');
    const posted = () => page.evaluate<Posted[]>('window.__host.posted');
    const first = (await posted())[0]!;
    assert.deepEqual(first, { type: 'ready', page: 'costs' });
    assert.ok((await posted()).some((m) => m.type === 'request' && m.method === 'cost/report'));

    const params = reportParams({ days: 30, stack: 'model' }, Date.now());
    const report = await h.client.request<CostReport.Result>('cost/report', params);
    assert.equal((await figure(page, '[data-figure="total"]')).value, report.total.costUsd);

    const before = await page.locator('[data-figure="total"]').getAttribute('data-value');
    await h.client.request('chat/complete', {
      model: 'openai/gpt-4o',
      agent: 'critic',
      maxTokens: 64,
      messages: [{ role: 'user', content: 'again' }],
    });
    await changed(page, '[data-figure="total"]', 'data-value', before);

    await page.locator('vscode-radio[value="agent"]').click();
    await page.locator('[data-section="top"] tr[data-key="critic"]').waitFor();
    assert.deepEqual(await page.evaluate('window.__host.state()'), { days: 30, stack: 'agent' });

    await page.getByRole('link', { name: 'Budgets' }).click();
    assert.ok(
      (await posted()).some((m) => m.type === 'command' && m.command === 'openrouterCrew.openBudgetsDashboard'),
      'the host is asked to open the other dashboard',
    );
    assert.ok(page.url().endsWith('/dashboard/costs'), 'the page itself did not navigate');
    // The page made no server call of its own: every /rpc and /events request was the host's.
    assert.equal(
      w.requests.filter((p) => p === '/rpc').length,
      (await posted()).filter((m) => m.type === 'request').length,
    );
    assert.equal(w.requests.filter((p) => p === '/events').length, 1);
    h.assertClean(w);
  });

  it('takes light or dark from the VS Code theme, not the system: a dark theme on a light system gets the dark series', async () => {
    const w = await h.open('costs', { token: null, init: hostShim(h.token), colorScheme: 'light' });
    const { page } = w;
    await ready(page, '[data-section="spend"]');
    // Run in the page, where the DOM exists (this file is compiled without DOM types).
    type Css = { getPropertyValue(name: string): string };
    type Doc = {
      body: { className: string; appendChild(e: unknown): void };
      createElement(tag: string): { className: string };
    };
    const series = (theme: string) =>
      page.evaluate((cls) => {
        const g = globalThis as unknown as { document: Doc; getComputedStyle(e: unknown): Css };
        g.document.body.className = cls;
        const css = g.getComputedStyle(g.document.body);
        return [7, 8, 9, 10, 11, 12].map((i) => css.getPropertyValue(`--crew-chart-${i}`).trim());
      }, theme);
    const dark = await series('vscode-dark');
    const light = await series('vscode-light');
    assert.deepEqual(dark, ['#2dd4bf', '#f472b6', '#818cf8', '#e2a03f', '#94a3b8', '#22d3ee']);
    assert.deepEqual(light, ['#0f766e', '#b4237a', '#4f46e5', '#92400e', '#475569', '#0e7490']);
    // The sandbox badge is coloured, not the light themes' grey badge.
    const colours = await page.evaluate(() => {
      const g = globalThis as unknown as { document: Doc; getComputedStyle(e: unknown): Css };
      const badge = g.document.createElement('vscode-badge');
      badge.className = 'sandbox-badge';
      g.document.body.appendChild(badge);
      const css = g.getComputedStyle(badge);
      return [
        css.getPropertyValue('--vscode-badge-background').trim(),
        css.getPropertyValue('--vscode-charts-purple').trim(),
      ];
    });
    assert.ok(colours[0] !== '' && colours[0] === colours[1], colours.join(' vs '));
    h.assertClean(w);
  });
});
