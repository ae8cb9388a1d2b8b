/**
 * The dashboards' browser mode on the real server's HTTP port: pages and assets served without a token with the
 * right types and security headers, 404 for anything else and for every path-traversal spelling, while /rpc and
 * /events still need the token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { useFake, useServer } from '../helpers';
import { DASHBOARD_PAGES, ensureWebviewsBuilt } from '../helpers/webviews';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with the path exactly as written (fetch would normalise `..` and escapes away). */
function raw(base: string, method: string, rawPath: string, headers: Record<string, string> = {}): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboards over HTTP (real server)', function () {
  this.timeout(60_000);
  const up = useFake();
  before(() => ensureWebviewsBuilt());
  const h = useServer(() => ({ transport: 'http', upstreamUrl: up.fake.url }));

  it('serves each page without a token, with its CSP, nosniff and no caching without revalidation', async () => {
    const base = await h.server.httpBase();
    const token = await h.server.token();
    for (const page of DASHBOARD_PAGES) {
      const r = await raw(base, 'GET', `/dashboard/${page}`);
      assert.equal(r.status, 200, page);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.headers['content-security-policy'], CSP);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['cache-control'], 'no-cache');
      // Relative, so the page works under a proxy's path prefix too.
      assert.match(r.body, new RegExp(`<script type="module" src="assets/${page}\\.js"></script>`));
      assert.match(r.body, /http-equiv="Content-Security-Policy"/);
      assert.doesNotMatch(r.body, /<script>|\son[a-z]+=/, 'no inline script or handlers');
      assert.ok(!r.body.includes(token), 'a static page holds no secret');
    }
  });

  it('serves the bundles, styles and font with their types; HEAD has no body', async () => {
    const base = await h.server.httpBase();
    const types: [string, string][] = [
      ['costs.js', 'text/javascript; charset=utf-8'],
      ['budgets.css', 'text/css; charset=utf-8'],
      ['codicon.css', 'text/css; charset=utf-8'],
      ['codicon.ttf', 'font/ttf'],
    ];
    for (const [file, type] of types) {
      const r = await raw(base, 'GET', `/dashboard/assets/${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers['content-type'], type, file);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.ok(r.body.length > 100, file);
    }
    const head = await raw(base, 'HEAD', '/dashboard/assets/costs.js');
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers['content-length']) > 1000);
    assert.equal(head.body, '');
    const root = await raw(base, 'GET', '/dashboard');
    assert.equal(root.status, 302);
    // Relative, so a proxy's path prefix survives the redirect.
    assert.equal(root.headers.location, 'dashboard/costs');
    assert.equal((await raw(base, 'GET', '/dashboard/')).headers.location, 'costs');
    assert.equal((await raw(base, 'POST', '/dashboard/costs')).status, 405);
  });

  it('answers 404 to anything else, and to every traversal spelling', async () => {
    const base = await h.server.httpBase();
    const paths = [
      '/dashboard/settings',
      '/dashboard/Costs',
      '/dashboard/costs.html',
      '/dashboard/assets/costs.html',
      '/dashboard/assets/nope.js',
      '/dashboard/assets/',
      '/dashboard/assets/.hidden.js',
      '/dashboard/assets/costs.exe',
      '/dashboard/assets/../server.js',
      '/dashboard/assets/../../dist/server.js',
      '/dashboard/assets/..%2fserver.js',
      '/dashboard/assets/..%2F..%2Fpackage.json',
      '/dashboard/assets/%2e%2e/server.js',
      '/dashboard/assets/%2e%2e%2fserver.js',
      '/dashboard/assets/..%5cserver.js',
      '/dashboard/assets/..\\server.js',
      '/dashboard/assets//etc/passwd',
      '/dashboard/assets/%00costs.js',
      '/dashboard/assets/costs.js%00.css',
      '/dashboard/..%2f..%2fpackage.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard/assets/server.js',
      '/dashboard/assets/cli.js',
    ];
    for (const p of paths) {
      const r = await raw(base, 'GET', p);
      assert.equal(r.status, 404, `${p} answered ${r.status}`);
      assert.doesNotMatch(r.body, /crew-server|"name": "openrouter-crew"|root:/, p);
    }
  });

  it('/rpc and /events still need the token', async () => {
    const base = await h.server.httpBase();
    const token = await h.server.token();
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/health' });
    const anon = await fetch(`${base}/rpc`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(anon.status, 401);
    assert.equal((await raw(base, 'GET', '/events')).status, 401);
    assert.equal((await raw(base, 'GET', '/events?token=wrong')).status, 401);
    const ok = await fetch(`${base}/rpc`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
  });
});
