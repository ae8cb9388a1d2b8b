// One build for every target. Type-checking is its own step (`npm run typecheck`).
import * as esbuild from 'esbuild';

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

const targets = [
  {
    ...node,
    entryPoints: ['server/main.ts'],
    outfile: 'dist/server.js',
    // The USE lite embedder's packages read model.json, weight shards, vocab.json and the TensorFlow.js .wasm files
    // relative to their own __dirname; bundled, __dirname is dist/ and loading fails. Loaded from node_modules.
    external: ['@energetic-ai/*'],
  },
  { ...node, entryPoints: ['cli/main.ts'], outfile: 'dist/cli.js' },
];

if (watch) {
  for (const t of targets) await (await esbuild.context(t)).watch();
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
