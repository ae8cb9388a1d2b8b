/**
 * The shared client: finds the data directory's daemon through its discovery file (starting one, detached,
 * if none runs) or spawns a private `--stdio` server, then says hello and refuses a server whose protocol it
 * cannot speak. Clients (CLI, extension) use this; none imports server/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  ResponseError,
  CancellationTokenSource,
} from 'vscode-jsonrpc/node';
import type { DiscoveryFile, ServerInfo } from '../../protocol';
import { incompatibility, PROTOCOL_VERSION, ServerHello } from '../../protocol';
import { dataDirPaths, processAlive } from '../../protocol/node';

export class ClientError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The server closed the connection (or exited) while a request was waiting for its answer. */
export class ConnectionLost extends ClientError {}

export interface ConnectOptions {
  dataDir: string;
  /** Run a private server over stdio instead of using the daemon. */
  stdio?: boolean;
  /** Start the daemon if none runs (default true). */
  autoStart?: boolean;
  clientKind: string;
  clientName?: string;
  clientVersion?: string;
  /** Path of crew-server's entry script (default: dist/server.js beside this bundle). */
  serverScript?: string;
  /** Extra arguments for a server this client starts (e.g. --sandbox). */
  serverArgs?: string[];
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

export class CrewClient {
  /**
   * Rejects when the server side closes the connection. vscode-jsonrpc leaves pending requests unsettled on a
   * close (it only rejects them on dispose), which would let a client wait forever, or exit silently.
   */
  private readonly lost: Promise<never>;

  private constructor(
    readonly connection: MessageConnection,
    readonly info: ServerInfo.Result,
    private readonly child: ChildProcess | undefined,
    private readonly socket: net.Socket | undefined,
  ) {
    this.lost = new Promise<never>((_, reject) =>
      connection.onClose(() =>
        reject(new ConnectionLost('lost the connection to crew-server: it closed the connection')),
      ),
    );
    this.lost.catch(() => undefined);
  }

  async request<R>(method: string, params?: object, token?: CancellationTokenSource): Promise<R> {
    try {
      // An `undefined` token would count as a second positional param (vscode-jsonrpc would send an array).
      const p = params ?? {};
      const sent = token
        ? this.connection.sendRequest<R>(method, p, token.token)
        : this.connection.sendRequest<R>(method, p);
      return await Promise.race([sent, this.lost]);
    } catch (e) {
      if (e instanceof ClientError) throw e;
      if (e instanceof ResponseError) throw new ClientError(e.message, e.code, e.data);
      throw new ConnectionLost(`lost the connection to crew-server: ${(e as Error).message}`);
    }
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.connection.onNotification(method, handler);
  }

  close(): void {
    this.connection.dispose();
    this.socket?.end();
    if (this.child) {
      this.child.stdin?.end();
    }
  }

  /**
   * Waits for a private stdio server to exit after close(). With a timeout, a server that has not exited by
   * then is sent SIGTERM (a CLI must not hang on a stuck child).
   */
  async closed(timeoutMs?: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((r) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        r();
      });
    });
  }

  static async connect(opts: ConnectOptions): Promise<CrewClient> {
    if (opts.stdio) return CrewClient.viaStdio(opts);
    const paths = dataDirPaths(opts.dataDir);
    let discovery = await readDiscovery(paths.discovery);
    if (!discovery) {
      if (opts.autoStart === false)
        throw new ClientError(`no crew-server is running for ${paths.dataDir} (start one with: crew server start)`);
      discovery = await startDaemon(opts);
    }
    if (!discovery.socket)
      throw new ClientError(`the crew-server for ${paths.dataDir} has no socket; restart it (crew server stop)`);
    const socket = await connectSocket(discovery.socket);
    const conn = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
    conn.listen();
    return CrewClient.handshake(conn, opts, undefined, socket);
  }

  private static async viaStdio(opts: ConnectOptions): Promise<CrewClient> {
    const child = spawn(
      process.execPath,
      [serverScript(opts), '--stdio', '--data-dir', opts.dataDir, ...(opts.serverArgs ?? [])],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new ClientError(`crew-server --stdio exited (${code}): ${stderr.trim().split('\n').pop() ?? ''}`)),
      ),
    );
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    return Promise.race([CrewClient.handshake(conn, opts, child, undefined), exited]);
  }

  private static async handshake(
    conn: MessageConnection,
    opts: ConnectOptions,
    child: ChildProcess | undefined,
    socket: net.Socket | undefined,
  ): Promise<CrewClient> {
    let info: ServerInfo.Result;
    try {
      info = await conn.sendRequest(ServerHello.type, {
        clientKind: opts.clientKind,
        ...(opts.clientName ? { clientName: opts.clientName } : {}),
        ...(opts.clientVersion ? { clientVersion: opts.clientVersion } : {}),
        protocolVersion: PROTOCOL_VERSION,
      });
    } catch (e) {
      conn.dispose();
      socket?.destroy();
      throw new ClientError(
        e instanceof ResponseError ? e.message : `crew-server did not answer: ${(e as Error).message}`,
      );
    }
    const problem = incompatibility(PROTOCOL_VERSION, info.protocolVersion);
    if (problem) {
      conn.dispose();
      socket?.destroy();
      throw new ClientError(problem);
    }
    return new CrewClient(conn, info, child, socket);
  }
}

function serverScript(opts: Pick<ConnectOptions, 'serverScript'>): string {
  return opts.serverScript ?? path.join(__dirname, 'server.js');
}

/** The crew-server entry script this client starts (for one-shot runs such as `crew-server --copy`). */
export function serverEntry(opts: Pick<ConnectOptions, 'serverScript'> = {}): string {
  return serverScript(opts);
}

export async function readDiscovery(file: string): Promise<DiscoveryFile | undefined> {
  let d: DiscoveryFile;
  try {
    d = JSON.parse(await fsp.readFile(file, 'utf8')) as DiscoveryFile;
  } catch {
    return undefined;
  }
  // A discovery file left by a crashed daemon names a dead pid.
  return processAlive(d.pid) ? d : undefined;
}

function connectSocket(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    s.once('connect', () => resolve(s));
    s.once('error', (e) => reject(new ClientError(`cannot connect to crew-server at ${p}: ${e.message}`)));
  });
}

/** Starts the daemon detached (it outlives this client), logging to server.log, and waits for its discovery file. */
export async function startDaemon(opts: ConnectOptions): Promise<DiscoveryFile> {
  const paths = dataDirPaths(opts.dataDir);
  await fsp.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  const logFd = openSync(paths.log, 'a', 0o600);
  const env = opts.env ?? process.env;
  // For "Attach to crew-server" (.vscode/launch.json): the daemon listens for a debugger on 127.0.0.1:9229.
  const inspect = env.CREW_SERVER_INSPECT ? ['--inspect=127.0.0.1:9229'] : [];
  const args = [...inspect, serverScript(opts), '--data-dir', paths.dataDir, ...(opts.serverArgs ?? [])];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env,
  });
  closeSync(logFd);
  // Set by the exit listener; typed explicitly so the check in the loop is not narrowed to `null`.
  let exitCode = null as number | null;
  child.once('exit', (code) => (exitCode = code ?? 1));
  child.unref();
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    const d = await readDiscovery(paths.discovery);
    if (d && d.pid === child.pid) return d;
    if (exitCode !== null) {
      // Another client may have won the race to start it; use that one.
      const other = await readDiscovery(paths.discovery);
      if (other) return other;
      const tail = (await fsp.readFile(paths.log, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join('\n');
      throw new ClientError(`crew-server failed to start (exit ${exitCode}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new ClientError(`crew-server did not start within ${opts.startTimeoutMs ?? 15_000} ms; see ${paths.log}`);
}

export { CancellationTokenSource };
