/**
 * The dashboards' browser mode on the HTTP transport: `GET /dashboard/<page>` is the page's static HTML and
 * `GET /dashboard/assets/<file>` its bundle, styles and fonts, read from dist/webviews (built by esbuild.mjs). They
 * hold no data, so they need no token: the page takes the token from the URL fragment (which never reaches a server)
 * and sends it on every `/rpc` and `/events` call. Only flat file names of known types are served, never a path.
 */
import { promises as fsp } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

export const DASHBOARD_PAGES = ['costs', 'budgets', 'analytics', 'archive'] as const;

/** The meta CSP of the built pages, plus what only a header can say (framing). */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.map': 'application/json; charset=utf-8',
};

/** One path segment: no separators, no `%` escapes, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$/;

/** dist/webviews beside the server bundle (dist/server.js). */
export function defaultDashboardDir(): string {
  return path.join(__dirname, 'webviews');
}

/** The file a dashboard path names inside the dashboards directory, or undefined (a 404). */
export function dashboardFile(pathname: string): string | undefined {
  const page = /^\/dashboard\/([a-z]+)$/.exec(pathname)?.[1];
  if (page !== undefined) return (DASHBOARD_PAGES as readonly string[]).includes(page) ? `${page}.html` : undefined;
  const asset = /^\/dashboard\/assets\/([^/]+)$/.exec(pathname)?.[1];
  if (asset === undefined || !ASSET_NAME.test(asset)) return undefined;
  const ext = path.extname(asset);
  // Pages are reached by their own route only, so there is one URL per page.
  return ext !== '.html' && TYPES[ext] ? asset : undefined;
}

export async function serveDashboard(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  dir: string,
): Promise<void> {
  const common = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  const plain = (status: number, text: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, {
      ...common,
      ...extra,
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'use GET\n', { allow: 'GET, HEAD' });
  // The fragment (#token=…) survives a redirect without one, so a bare /dashboard link still signs in.
  // Relative locations, so a proxy that serves us under a path prefix (/proxy/<port>/) keeps its prefix.
  if (pathname === '/dashboard') return plain(302, 'see /dashboard/costs\n', { location: 'dashboard/costs' });
  if (pathname === '/dashboard/') return plain(302, 'see /dashboard/costs\n', { location: 'costs' });
  const name = dashboardFile(pathname);
  const root = path.resolve(dir);
  const file = name === undefined ? undefined : path.join(root, name);
  if (file === undefined || path.dirname(file) !== root) return plain(404, 'not found\n');
  let body: Buffer;
  try {
    body = await fsp.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')
      return plain(404, name!.endsWith('.html') ? 'dashboards are not built (npm run build)\n' : 'not found\n');
    return plain(500, `could not read ${name}: ${code ?? 'error'}\n`);
  }
  res.writeHead(200, {
    ...common,
    'content-type': TYPES[path.extname(file)]!,
    'content-length': body.length,
    // Names are not content-hashed, so a rebuild must be seen at once; loopback makes revalidating cheap.
    'cache-control': 'no-cache',
    'content-security-policy': DASHBOARD_CSP,
    'cross-origin-resource-policy': 'same-origin',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
