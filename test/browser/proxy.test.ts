/**
 * The dashboards behind a proxy that forwards by path (code-server's `/proxy/<port>/`, and remote set-ups like it):
 * the page, its assets, `/rpc`, `/events` and the links between pages all keep the proxy's prefix.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CostReport } from '../../protocol';
import { reportParams } from '../../webviews/src/view-models/costs';
import { figure, ready, useDashboards } from './helpers';

/** As code-server's path proxy: `/proxy/<port>/<rest>` goes to 127.0.0.1:<port>/<rest>, the Host header as it came. */
async function pathProxy(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const m = /^\/proxy\/(\d+)(\/.*)?$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: Number(m[1]), path: m[2] ?? '/', method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('dashboards behind a path-forwarding proxy (Chromium)', function () {
  this.timeout(120_000);
  const h = useDashboards(async (c) => {
    await c.request('chat/complete', {
      model: 'openai/gpt-4o-mini',
      agent: 'writer',
      maxTokens: 64,
      messages: [{ role: 'user', content: 'hello' }],
    });
  });

  it('loads, reads live figures and links to the other pages under the prefix', async () => {
    const proxy = await pathProxy();
    try {
      const port = new URL(h.base).port;
      const prefix = `/proxy/${port}`;
      const w = await h.open('costs', { base: `${proxy.url}${prefix}` });
      const { page } = w;
      await ready(page, '[data-section="spend"]');
      const report = await h.client.request<CostReport.Result>(
        'cost/report',
        reportParams({ days: 30, stack: 'model' }, Date.now()),
      );
      assert.equal((await figure(page, '[data-figure="total"]')).value, report.total.costUsd);
      // Every request the page made went through the prefix: none fell back to the proxy's root.
      const stray = w.requests.filter((p) => !p.startsWith(`${prefix}/`));
      assert.deepEqual(stray, []);
      assert.ok(w.requests.includes(`${prefix}/rpc`), w.requests.join(' '));
      assert.ok(w.requests.includes(`${prefix}/events`), w.requests.join(' '));
      await page.getByRole('link', { name: 'Budgets' }).click();
      await page.waitForURL(`${proxy.url}${prefix}/dashboard/budgets`);
      await ready(page, '[data-section="budgets"]');
      h.assertClean(w);
    } finally {
      await proxy.close();
    }
  });
});
