/**
 * The dashboards' bundles (dist/webviews), rebuilt with esbuild.mjs's own `buildWebviews` when missing or older than
 * their sources, so a browser test never runs a stale page. The server bundle is handled by ./build.ts.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './build';

export const WEBVIEWS_DIST = path.join(ROOT, 'dist', 'webviews');
export const DASHBOARD_PAGES = ['costs', 'budgets', 'analytics', 'archive'] as const;

async function newest(dir: string): Promise<number> {
  let t = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? await newest(p) : (await fsp.stat(p)).mtimeMs);
  }
  return t;
}

let built: Promise<void> | undefined;

export function ensureWebviewsBuilt(): Promise<void> {
  built ??= (async () => {
    const outputs = await Promise.all(
      DASHBOARD_PAGES.flatMap((p) => [`${p}.js`, `${p}.css`, `${p}.html`]).map((f) =>
        fsp.stat(path.join(WEBVIEWS_DIST, f)).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ),
    );
    const sources = Math.max(
      await newest(path.join(ROOT, 'webviews')),
      await newest(path.join(ROOT, 'protocol')),
      (await fsp.stat(path.join(ROOT, 'esbuild.mjs'))).mtimeMs,
    );
    if (Math.min(...outputs) >= sources) return;
    const build = (await import(pathToFileURL(path.join(ROOT, 'esbuild.mjs')).href)) as {
      buildWebviews(): Promise<unknown>;
    };
    await build.buildWebviews();
  })();
  return built;
}
