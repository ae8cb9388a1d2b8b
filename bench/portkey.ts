/**
 * Portkey's open-source gateway as a peer in the gateway benchmark. It is installed on first use into a cache folder
 * outside the repository (never a dependency of ours) and started headless on a free port; callers point it at an
 * OpenAI-compatible upstream per request (`x-portkey-provider: openai`, `x-portkey-custom-host`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/ports';

export const PORTKEY_VERSION = '1.15.2';

export function portkeyDir(): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'crew-bench', 'portkey');
}

/** The installed entry point, installing it with npm first when it is not there yet. */
export function ensurePortkey(): string {
  const dir = portkeyDir();
  const entry = path.join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (existsSync(entry)) return entry;
  console.log(`  (installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir}, once)`);
  mkdirSync(dir, { recursive: true });
  execFileSync(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', `@portkey-ai/gateway@${PORTKEY_VERSION}`],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
  );
  if (!existsSync(entry)) throw new Error(`npm installed @portkey-ai/gateway but ${entry} is not there`);
  return entry;
}

/** Portkey's gateway on 127.0.0.1, ready for calls; its base URL is `http://127.0.0.1:<port>/v1`. */
export async function startPortkey(): Promise<{ child: ChildProcess; url: string }> {
  const entry = ensurePortkey();
  const port = await freePort();
  const child = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  for (let i = 0; i < 200; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, url: `http://127.0.0.1:${port}/v1` };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error("Portkey's gateway did not answer within 20 s");
}
