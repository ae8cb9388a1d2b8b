/**
 * Starts the real crew-server (`node dist/server.js`) as a child process in a fresh temp data directory, over one
 * transport, and connects test clients to it. Readiness is a signal: the server's "ready" log line (or its exit,
 * which fails the start with its stderr). Stopping sends SIGTERM and awaits the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { DiscoveryFile } from '../../protocol';
import { PROTOCOL_VERSION } from '../../protocol';
import { dataDirPaths, type DataDirPaths } from '../../protocol/node';
import { ensureServerBuilt } from './build';
import { HttpRpcClient, StreamRpcClient, withTimeout, type RpcClient, type Transport } from './rpc';

export const TEST_API_KEY = 'test-key';

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

// Safety net: a test that failed before its after-hook must not leave servers or temp dirs behind
// (mocha runs with --exit).
process.on('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
  if (process.env.KEEP_TEST_DIRS !== '1') for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed at the latest when the test process exits. */
export function makeTempDir(prefix = 'crew-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  if (process.env.KEEP_TEST_DIRS === '1') return;
  await fsp.rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export interface ServerOptions {
  transport: Transport;
  /** Default: a fresh temp dir. */
  dataDir?: string;
  /** OPENROUTER_BASE_URL (the fake's url). */
  upstreamUrl?: string;
  /** OPENROUTER_API_KEY; default `test-key`; null leaves it unset. */
  apiKey?: string | null;
  env?: Record<string, string | undefined>;
  /** Extra command-line arguments, e.g. ['--rate-limit', '0']. */
  args?: string[];
  /** `server/hello` clientKind of the first client (and the HTTP `x-crew-client` kind). Default `test`. */
  clientKind?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServerProcess {
  stderr = '';
  readonly exited: Promise<ExitInfo>;
  readonly paths: DataDirPaths;
  private readonly readyLine: Promise<void>;
  private stdioTaken = false;
  private readonly clients = new Set<RpcClient>();

  constructor(
    readonly child: ChildProcess,
    readonly options: ServerOptions & { dataDir: string },
  ) {
    this.paths = dataDirPaths(options.dataDir);
    liveChildren.add(child);
    this.exited = new Promise<ExitInfo>((resolve) =>
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        resolve({ code, signal });
      }),
    );
    let sawReady!: () => void;
    this.readyLine = new Promise<void>((r) => (sawReady = r));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      if (/crew-server \S+ ready:/.test(this.stderr)) sawReady();
    });
  }

  get transport(): Transport {
    return this.options.transport;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves when the server logged that it is ready; rejects (with its stderr) if it exits first. */
  async ready(timeoutMs = 15_000): Promise<void> {
    const exitedFirst = this.exited.then((x) => {
      throw new Error(`crew-server exited (code ${x.code}, signal ${x.signal}) before it was ready:\n${this.stderr}`);
    });
    await withTimeout(
      Promise.race([this.readyLine, exitedFirst]),
      timeoutMs,
      `crew-server was not ready:\n${this.stderr}`,
    );
  }

  async discovery(): Promise<DiscoveryFile> {
    return JSON.parse(await fsp.readFile(this.paths.discovery, 'utf8')) as DiscoveryFile;
  }

  async token(): Promise<string> {
    return (await fsp.readFile(this.paths.token, 'utf8')).trim();
  }

  async httpBase(): Promise<string> {
    const d = await this.discovery();
    if (d.httpPort === null) throw new Error('this server has no HTTP port');
    return `http://127.0.0.1:${d.httpPort}`;
  }

  /**
   * A client over the server's transport, after `server/hello` (unless `hello: false`). A stdio server has one
   * client (its pipes); socket and HTTP servers take any number.
   */
  async connect(opts: { clientKind?: string; clientName?: string; hello?: boolean } = {}): Promise<RpcClient> {
    const kind = opts.clientKind ?? this.options.clientKind ?? 'test';
    let client: RpcClient;
    switch (this.transport) {
      case 'stdio': {
        if (this.stdioTaken) throw new Error('a stdio server has exactly one client');
        this.stdioTaken = true;
        client = new StreamRpcClient('stdio', this.child.stdout!, this.child.stdin!, () => this.child.stdin!.end());
        break;
      }
      case 'socket': {
        const d = await this.discovery();
        if (!d.socket) throw new Error('this server has no socket');
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(d.socket!);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        client = new StreamRpcClient('socket', socket, socket, () => socket.end());
        break;
      }
      case 'http':
        client = await HttpRpcClient.connect(
          await this.httpBase(),
          await this.token(),
          `${kind}/${opts.clientName ?? 'mocha'}`,
        );
        break;
    }
    this.clients.add(client);
    if (opts.hello !== false) {
      await client.request('server/hello', {
        clientKind: kind,
        clientName: opts.clientName ?? 'mocha',
        protocolVersion: PROTOCOL_VERSION,
      });
    }
    return client;
  }

  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILL if it does not stop in time. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo> {
    for (const c of this.clients) await c.close().catch(() => undefined);
    this.clients.clear();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    try {
      return await withTimeout(this.exited, timeoutMs, `crew-server did not exit on ${signal}`);
    } catch (e) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw e;
    }
  }
}

/** Spawns the server without waiting for it (for tests that expect it to refuse to start). */
export async function launchServer(opts: ServerOptions): Promise<ServerProcess> {
  const script = await ensureServerBuilt();
  const dataDir = opts.dataDir ?? makeTempDir();
  const args = [script, '--data-dir', dataDir];
  switch (opts.transport) {
    case 'stdio':
      args.push('--stdio');
      break;
    case 'socket':
      args.push('--socket', path.join(dataDir, 'test.sock'), '--no-http');
      break;
    case 'http':
      args.push('--port', '0');
      break;
  }
  args.push(...(opts.args ?? []));
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPENROUTER_|CREW_)/.test(k)) env[k] = v;
  if (opts.upstreamUrl) env.OPENROUTER_BASE_URL = opts.upstreamUrl;
  if (opts.apiKey !== null) env.OPENROUTER_API_KEY = opts.apiKey ?? TEST_API_KEY;
  Object.assign(env, opts.env ?? {});
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  return new ServerProcess(child, { ...opts, dataDir });
}

/** Starts a server, waits until it is ready, and connects a first client (hello done). */
export async function startServer(opts: ServerOptions): Promise<{ server: ServerProcess; client: RpcClient }> {
  const server = await launchServer(opts);
  try {
    // A stdio server reads requests from its pipes as soon as it is up; connecting first is fine.
    if (opts.transport === 'stdio') {
      const client = server.connect();
      await server.ready();
      return { server, client: await client };
    }
    await server.ready();
    return { server, client: await server.connect() };
  } catch (e) {
    await server.stop('SIGKILL').catch(() => undefined);
    throw e;
  }
}
