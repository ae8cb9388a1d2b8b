/**
 * The processes a benchmark runs beside itself (the fake OpenRouter, the real built server) and what it talks to
 * them with: a socket connection, an in-process App, a temp folder.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { DiscoveryFile } from '../protocol';
import { dataDirPaths } from '../protocol/node';
import { App } from '../server/app';
import { silentLogger } from '../server/log';
import type { StoreLocation } from '../server/store/location';

const root = path.resolve(__dirname, '..');

/** A TypeScript script of bench/ in a child process (IPC on), run through tsx. */
export function forkTs(script: string, args: string[] = []): ChildProcess {
  return fork(path.join(__dirname, script), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The fake OpenRouter in its own process, so it never shares an event loop with what is measured. */
export async function startFake(): Promise<{ url: string; child: ChildProcess }> {
  const child = forkTs('fake-upstream.ts');
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return { url, child };
}

/**
 * `dist/server.js` on `dataDir` against `upstream`, with rate limits off (a benchmark is one very busy client),
 * and `transport` flags (e.g. `--socket <path> --no-http` or `--port 0`). Resolves with its discovery file.
 */
export async function startServer(
  dataDir: string,
  upstream: string,
  transport: string[],
  /** Flags for node itself (`--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; discovery: DiscoveryFile }> {
  const args = [...nodeArgs, path.join(root, 'dist/server.js'), '--data-dir', dataDir, ...transport];
  const child = spawn(process.execPath, [...args, '--rate-limit', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      OPENROUTER_BASE_URL: upstream,
      OPENROUTER_API_KEY: 'bench-key',
      CREW_RECONCILE_INTERVAL_MS: '0',
    },
  });
  const file = dataDirPaths(dataDir).discovery;
  for (let i = 0; i < 400; i++) {
    const text = await fsp.readFile(file, 'utf8').catch(() => null);
    if (text) return { child, discovery: JSON.parse(text) as DiscoveryFile };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error('crew-server did not start within 10 s');
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function tmpDir(name: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `crew-bench-${name}-`));
}

/** A vscode-jsonrpc connection over the server's socket. */
export async function connect(socketPath: string): Promise<MessageConnection> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(socketPath, () => resolve(s));
    s.once('error', reject);
  });
  const conn = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
  conn.listen();
  return conn;
}

/** The server's App in this process on `dir` against `upstream` (rate limits off), on `store` if given. */
export function benchApp(dir: string, upstream: string, store?: StoreLocation): Promise<App> {
  return App.create({
    dataDir: dir,
    upstream: {
      baseUrl: upstream,
      apiKey: 'bench-key',
      timeoutMs: 30_000,
      maxRetries: 0,
      maxRetryWaitMs: 0,
      appUrl: 'https://example.invalid',
      appTitle: 'bench',
    },
    sandbox: false,
    rateLimit: { perSecond: 0, burst: 0 },
    log: silentLogger,
    ...(store ? { store } : {}),
  });
}
