// The n8n community package's build, for the project's one build script (esbuild.mjs): one CommonJS file per node
// and credential listed in package.json's "n8n" block (n8n `require`s each and reads `exports.<ClassName>`),
// n8n-workflow left to the n8n that loads them, icons copied beside. The protocol copy is regenerated first.
import { readFileSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeProtocol } from './scripts/protocol.mjs';

const dir = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(dir, 'dist');

/** `dist/nodes/X/X.node.js` → entry `nodes/X/X.node` built from `nodes/X/X.node.ts`. */
function entryPoints() {
  const { n8n } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return Object.fromEntries(
    [...n8n.credentials, ...n8n.nodes].map((file) => {
      const entry = file.replace(/^dist\//, '').replace(/\.js$/, '');
      return [entry, path.join(dir, `${entry}.ts`)];
    }),
  );
}

async function copyIcons() {
  for (const name of ['nodes', 'credentials']) {
    const src = path.join(dir, name);
    for (const file of await fs.readdir(src, { recursive: true })) {
      if (!file.endsWith('.svg')) continue;
      await fs.mkdir(path.dirname(path.join(dist, name, file)), { recursive: true });
      await fs.copyFile(path.join(src, file), path.join(dist, name, file));
    }
  }
}

/** @returns {import('esbuild').BuildOptions} */
export function n8nNodesBuild() {
  return {
    entryPoints: entryPoints(),
    outdir: dist,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['n8n-workflow'],
    // Shipped as it is built: readable code is what n8n's community-package review reads.
    sourcemap: false,
    minify: false,
    logLevel: 'warning',
    plugins: [
      {
        name: 'n8n-nodes',
        setup(build) {
          build.onStart(async () => {
            await writeProtocol();
            // A node renamed or removed must not linger in the packed package.
            await fs.rm(dist, { recursive: true, force: true });
          });
          build.onEnd(async (result) => {
            if (!result.errors.length) await copyIcons();
          });
        },
      },
    ],
  };
}
