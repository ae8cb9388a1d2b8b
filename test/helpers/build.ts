/**
 * The integration tests run the REAL built server (`node dist/server.js`). `npm test` builds first; when a test
 * file is run on its own and dist/server.js is missing or older than its sources, the server target is rebuilt
 * here by esbuild.mjs's own `buildServer`, so a stale bundle is never what gets tested.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(__dirname, '../..');
export const SERVER_SCRIPT = path.join(ROOT, 'dist', 'server.js');
const SOURCES = ['server', 'protocol', path.join('test', 'fixtures')];

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, (await fsp.stat(p)).mtimeMs);
  }
  return newest;
}

let built: Promise<string> | undefined;

export function ensureServerBuilt(): Promise<string> {
  built ??= (async () => {
    const bundle = await fsp.stat(SERVER_SCRIPT).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    let sources = 0;
    for (const d of SOURCES) sources = Math.max(sources, await newestMtime(path.join(ROOT, d)));
    if (bundle >= sources) return SERVER_SCRIPT;
    const build = (await import(pathToFileURL(path.join(ROOT, 'esbuild.mjs')).href)) as {
      buildServer(): Promise<unknown>;
    };
    await build.buildServer();
    return SERVER_SCRIPT;
  })();
  return built;
}
