/**
 * `crew-server --copy to|from --store postgres://…`: a one-shot run that copies the data directory's local store
 * into an empty PostgreSQL database (`to`) or the database into the data directory's empty local store (`from`),
 * checks it row for row (./copy.ts) and answers with one JSON document. `crew store copy` runs it: the CLI never
 * imports server code, so the copy is the server's, as every other figure is.
 *
 * Nothing may be using either side: the data directory's lock is taken (a daemon serving it refuses the copy), and
 * a database that a live crew-server instance has registered in is refused too.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { StoreCopyFailure, StoreCopyResult } from '../../protocol';
import { STORE_COPY_EXIT } from '../../protocol';
import { dataDirPaths } from '../../protocol/node';
import type { Clock } from '../clock';
import { acquireLock, LockHeld } from '../daemon/lock';
import type { Logger } from '../log';
import { FileArchivePayloads } from './archive-payloads';
import { copyStore, TargetNotEmpty, type PayloadsOf } from './copy';
import { JsonStore } from './json-store';
import type { StoreLocation } from './location';
import { DEFAULT_LEASE } from './postgres/gate';
import { openPgStore, type PgStore } from './postgres/pg-store';
import type { CrewStore } from './store';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

class InUse extends Error {}

export async function runStoreCopy(opts: {
  direction: 'to' | 'from';
  dataDir: string;
  database: PostgresLocation;
  clock: Clock;
  log: Logger;
}): Promise<{ code: number; output: StoreCopyResult | StoreCopyFailure }> {
  const { direction, database, clock, log } = opts;
  const paths = dataDirPaths(opts.dataDir);
  const started = clock.now();
  const fail = (code: number, reason: StoreCopyFailure['reason'], message: string) => ({
    code,
    output: { ok: false as const, reason, message },
  });

  await fsp.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await acquireLock(paths.lock, paths.dataDir);
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
    return fail(
      STORE_COPY_EXIT.inUse,
      'in-use',
      `a crew-server (pid ${e.pid}) is using ${paths.dataDir}: stop it first (crew server stop), then copy again; nothing was copied`,
    );
  }
  const openLocal = () => JsonStore.open(paths.store, clock, paths.backups, log);
  // No data directory for kept settlements: a copy writes no call of its own.
  const openPg = () => openPgStore(database, clock, log, { lease: DEFAULT_LEASE });
  let local: JsonStore | undefined;
  let pg: PgStore | undefined;
  try {
    if (direction === 'to' && !(await exists(path.join(paths.store, 'db.json'))))
      return fail(STORE_COPY_EXIT.failed, 'failed', `${paths.dataDir} has no local store: nothing to copy`);
    pg = await openPg();
    await refuseLiveInstances(pg);
    const l = (local = await openLocal());
    const p = pg;
    const payloads: PayloadsOf = (s) =>
      s.archivePayloads ?? new FileArchivePayloads(path.join(s.local?.dir ?? paths.store, 'archives'));
    const source: CrewStore = direction === 'to' ? l : p;
    const target: CrewStore = direction === 'to' ? p : l;
    const { report } = await copyStore({
      source,
      target,
      payloads,
      reopen: async (t) => {
        await t.close();
        if (t === pg) return (pg = await openPg());
        return (local = await openLocal());
      },
      progress: (m) => log.info(`copy: ${m}`),
    });
    const result: StoreCopyResult = {
      ok: report.verified,
      direction,
      source: source.location.display,
      target: direction === 'to' ? database.display : paths.dataDir,
      ...report,
      ms: clock.now() - started,
    };
    if (!report.verified) {
      const bad = report.kinds.filter((k) => !k.match).map((k) => k.kind);
      if (report.ledger.sourcePico !== report.ledger.targetPico) bad.push('ledger sum');
      return {
        code: STORE_COPY_EXIT.unverified,
        output: {
          ok: false,
          reason: 'unverified',
          message: `the copy does not match its source (${bad.join(', ')}); do not use ${result.target} as it is`,
          result,
        },
      };
    }
    return { code: 0, output: result };
  } catch (e) {
    if (e instanceof TargetNotEmpty) return fail(STORE_COPY_EXIT.notEmpty, 'not-empty', e.message);
    if (e instanceof InUse) return fail(STORE_COPY_EXIT.inUse, 'in-use', e.message);
    const cleanUp =
      direction === 'to'
        ? `${database.display} may hold part of it: drop and recreate that database before copying again`
        : `${paths.store} may hold part of it: remove that folder before copying again`;
    return fail(STORE_COPY_EXIT.failed, 'failed', `the copy failed: ${(e as Error).message}; ${cleanUp}`);
  } finally {
    await local?.close().catch((e: Error) => log.warn(`closing the local store: ${e.message}`));
    await pg?.close().catch((e: Error) => log.warn(`closing the database: ${e.message}`));
    await release();
  }
}

/** Another crew-server instance heartbeating on the database would write while the copy reads or writes. */
async function refuseLiveInstances(pg: PgStore): Promise<void> {
  const rows = await pg.db.query<{ host: string; pid: number }>(
    `select host, pid from crew_instances where id <> $1 and heartbeat_at > now() - make_interval(secs => $2::float8 / 1000)`,
    [pg.instanceId, DEFAULT_LEASE.leaseMs],
  );
  if (rows.length)
    throw new InUse(
      `${pg.location.display} is in use by ${rows.length} crew-server instance(s) (${rows
        .map((r) => `pid ${r.pid} on ${r.host}`)
        .join(', ')}): stop them first (crew server stop on each), then copy again; nothing was copied`,
    );
}

const exists = (file: string) =>
  fsp.access(file).then(
    () => true,
    () => false,
  );
