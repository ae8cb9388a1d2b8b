// One build for every target. Type-checking is its own step (`npm run typecheck`). The test harness imports
// `buildServer` from here, so a test that rebuilds the server uses exactly these options.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { n8nNodesBuild } from './n8n-nodes/build.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** @type {esbuild.BuildOptions} */
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // lowdb and env-paths are ESM-only; bundling them into CJS needs import.meta.url to resolve.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
};

const server = {
  ...node,
  entryPoints: [path.join(root, 'server/main.ts')],
  outfile: path.join(root, 'dist/server.js'),
  // The USE lite embedder's packages read model.json, weight shards, vocab.json and the TensorFlow.js .wasm files
  // relative to their own __dirname; bundled, __dirname is dist/ and loading fails. Loaded from node_modules.
  // pg's optional native binding is never installed; the pure-JS client is what runs.
  external: ['@energetic-ai/*', 'pg-native'],
};

const targets = [
  server,
  { ...node, entryPoints: [path.join(root, 'cli/main.ts')], outfile: path.join(root, 'dist/cli.js') },
  // The VS Code extension: the host provides `vscode`; the language client and our client code are bundled.
  {
    ...node,
    entryPoints: [path.join(root, 'extension/extension.ts')],
    outfile: path.join(root, 'dist/extension.js'),
    external: ['vscode'],
  },
];

// The dashboards (webviews/): one browser bundle per page with its CSS beside it, the codicon font, and a static
// HTML page per dashboard, which the server serves to browsers and the extension rewrites for its webviews (CSP
// with a nonce, webview URIs).
const DASHBOARDS = ['costs', 'budgets', 'analytics', 'archive'];
const webviewsOut = path.join(root, 'dist/webviews');

async function writeWebviewPages() {
  const template = await fs.readFile(path.join(root, 'webviews/page.html'), 'utf8');
  const codicons = path.join(root, 'node_modules/@vscode/codicons/dist');
  await fs.mkdir(webviewsOut, { recursive: true });
  await Promise.all([
    fs.copyFile(path.join(codicons, 'codicon.css'), path.join(webviewsOut, 'codicon.css')),
    fs.copyFile(path.join(codicons, 'codicon.ttf'), path.join(webviewsOut, 'codicon.ttf')),
    ...DASHBOARDS.map((page) =>
      fs.writeFile(
        path.join(webviewsOut, `${page}.html`),
        template.replaceAll('%PAGE%', page).replaceAll('%TITLE%', page[0].toUpperCase() + page.slice(1)),
      ),
    ),
  ]);
}

/** @type {esbuild.BuildOptions} */
const webviews = {
  entryPoints: Object.fromEntries(DASHBOARDS.map((p) => [p, path.join(root, `webviews/src/pages/${p}.ts`)])),
  outdir: webviewsOut,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  plugins: [
    {
      name: 'dashboard-pages',
      setup(build) {
        build.onEnd(async (result) => {
          if (!result.errors.length) await writeWebviewPages();
        });
      },
    },
  ],
};
targets.push(webviews);

// The n8n community package (n8n-nodes/): one CommonJS file per node and credential in n8n-nodes/dist.
targets.push(n8nNodesBuild());

export function buildWebviews() {
  return esbuild.build({ ...webviews, logLevel: 'error' });
}

export function buildServer() {
  return esbuild.build({ ...server, logLevel: 'error' });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (watch) {
    for (const t of targets) await (await esbuild.context(t)).watch();
  } else {
    await Promise.all(targets.map((t) => esbuild.build(t)));
  }
}
