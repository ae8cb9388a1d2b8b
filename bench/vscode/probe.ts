/**
 * Runs inside the extension host for bench/vscode-activation.ts: reads each extension's own activation time (what
 * its activate() measured) and times a fresh evaluation of its main module, then prints one `BENCH` line.
 */
import * as vscode from 'vscode';

interface Timed {
  activationMs: number;
}

function loadMs(main: string): number {
  // A fresh evaluation of the bundle, as the host did at activation (the cached copy stays in use).
  const key = require.resolve(main);
  const cached = require.cache[key];
  delete require.cache[key];
  const t = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(key);
  const ms = performance.now() - t;
  if (cached) require.cache[key] = cached;
  return ms;
}

export async function run(): Promise<void> {
  const out: Record<string, { activationMs: number; loadMs: number }> = {};
  for (const id of ['openrouter-crew.openrouter-crew', 'bench.activation-baseline']) {
    const ext = vscode.extensions.getExtension<Timed>(id);
    if (!ext) throw new Error(`${id} is not loaded`);
    const api = await ext.activate();
    const main = `${ext.extensionPath}/${String((ext.packageJSON as { main: string }).main).replace(/^\.\//, '')}`;
    out[id] = { activationMs: api.activationMs, loadMs: loadMs(main) };
  }
  console.log(`BENCH ${JSON.stringify(out)}`);
}
