/**
 * A real PostgreSQL for the tests, never a mock and never skipped: the server this machine runs (the standard PG*
 * variables, else 127.0.0.1:5432 as `postgres`), or, where none answers, a private cluster started from the
 * installed server binaries in a temporary folder (as root, run as the `postgres` user), stopped when the test
 * process exits. Each suite gets a database of its own, created empty and dropped after.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports';

export interface PgServer {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  /** Whether this process started it (a private cluster). */
  private: boolean;
}

let server: Promise<PgServer> | undefined;

/** The PostgreSQL server the tests use (found or started once per test process). */
export function pgServer(): Promise<PgServer> {
  server ??= findOrStart();
  return server;
}

export function pgUrl(s: PgServer, database: string): string {
  const auth = s.password
    ? `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`
    : encodeURIComponent(s.user);
  return `postgres://${auth}@${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}/${database}`;
}

async function answers(s: PgServer): Promise<boolean> {
  const c = new pg.Client({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function findOrStart(): Promise<PgServer> {
  const env: PgServer = {
    host: process.env.PGHOST && !process.env.PGHOST.startsWith('/') ? process.env.PGHOST : '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    password: process.env.PGPASSWORD,
    private: false,
  };
  if (await answers(env)) return env;
  return startPrivateCluster();
}

function serverBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  throw new Error(
    'no PostgreSQL answers (PG* variables or 127.0.0.1:5432) and no server binaries are installed to start one: ' +
      'run "bash test/setup.sh" (it installs Debian\'s postgresql), or set PGHOST/PGPORT/PGUSER',
  );
}

async function startPrivateCluster(): Promise<PgServer> {
  const bin = serverBinaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crew-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  // PostgreSQL refuses to run as root: run it as the `postgres` user, which owns the folder.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, cmd), ...args] : args;
    const r = spawnSync(asRoot ? 'runuser' : path.join(bin, cmd), argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  chmodSync(dir, 0o700);
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    'start',
  ]);
  process.on('exit', () => {
    const argv = ['-D', data, '-m', 'immediate', 'stop'];
    spawnSync(
      asRoot ? 'runuser' : path.join(bin, 'pg_ctl'),
      asRoot ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...argv] : argv,
    );
    rmSync(dir, { recursive: true, force: true });
  });
  return { host: '127.0.0.1', port, user: 'postgres', password: undefined, private: true };
}

/** A fresh, empty database on the test server; `drop()` removes it (connections still open are ended). */
export async function createTestDatabase(
  prefix = 'crew_test',
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const s = await pgServer();
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: 'postgres' });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  await admin((c) => c.query(`create database "${name}"`));
  return {
    url: pgUrl(s, name),
    name,
    drop: () => admin((c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}
