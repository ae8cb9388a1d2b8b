/**
 * The node-only part of the contract: where a data directory is, and where its daemon's discovery file,
 * lock, socket and token live. Server and clients both use it, so they always agree.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import envPaths from 'env-paths';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CREW_DATA_DIR) return path.resolve(env.CREW_DATA_DIR);
  return envPaths('openrouter-crew', { suffix: '' }).data;
}

export interface DataDirPaths {
  dataDir: string;
  discovery: string;
  lock: string;
  token: string;
  apiKey: string;
  log: string;
  audit: string;
  store: string;
  backups: string;
  socket: string;
  /** The HTTP port the daemon keeps across restarts (one number). */
  httpPort: string;
}

export function dataDirPaths(dataDir: string): DataDirPaths {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    discovery: path.join(dir, 'server.json'),
    lock: path.join(dir, 'server.lock'),
    token: path.join(dir, 'token'),
    apiKey: path.join(dir, 'api-key'),
    log: path.join(dir, 'server.log'),
    audit: path.join(dir, 'audit.log'),
    store: path.join(dir, 'store'),
    backups: path.join(dir, 'backups'),
    socket: defaultSocketPath(dir),
    httpPort: path.join(dir, 'http-port'),
  };
}

/**
 * Unix socket paths are limited to ~104 bytes; a long data dir gets its socket in the user's private socket folder
 * instead (see privateSocketDir), never directly in the shared temp dir, where another user could squat the name.
 */
function defaultSocketPath(dir: string): string {
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\openrouter-crew-${hash}`;
  const inDir = path.join(dir, 'crew.sock');
  return Buffer.byteLength(inDir) < 100 ? inDir : path.join(privateSocketDir(), `${hash}.sock`);
}

/**
 * The folder for sockets that do not fit in their data directory: `$XDG_RUNTIME_DIR/openrouter-crew` (a per-user
 * folder the system made private) or else `<temp dir>/openrouter-crew-<uid>`. The server creates it 0700 and
 * refuses to use one that is not a folder of this user's with mode 0700.
 */
export function privateSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, 'openrouter-crew');
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().username;
  return path.join(os.tmpdir(), `openrouter-crew-${uid}`);
}

/** Whether a process with this pid is alive (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves true once the process has exited (or is a zombie nobody reaps), false after `timeoutMs`. Polls the pid:
 * a process that is not our child cannot be awaited any other way.
 */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && !isZombie(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * An exited daemon whose parent never reaps it (a container init that does not wait()) still answers
 * kill(pid, 0); on Linux its state in /proc says it is gone.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * The port in a data directory's `http-port` file (a decimal from 1 to 65535, whitespace around it), or null: the
 * daemon that keeps it and the CLI that reports it read it alike.
 */
export function parseKeptPort(text: string): number | null {
  const t = text.trim();
  const port = Number(t);
  return /^\d+$/.test(t) && port > 0 && port <= 65535 ? port : null;
}
