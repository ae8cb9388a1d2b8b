/**
 * The two backends of the repository contract, fresh for each suite: the local store in a temp data directory,
 * and a migrated, empty PostgreSQL database (test/helpers/postgres.ts). A contract suite runs the same cases
 * against both (`forEachBackend`), so the domains can rely on one behaviour whichever backend they run on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../server/clock';
import { createLogger } from '../../server/log';
import { JsonStore } from '../../server/store/json-store';
import { parseStoreLocation } from '../../server/store/location';
import { PgDatabase } from '../../server/store/postgres/db';
import { migrate } from '../../server/store/postgres/migrate';
import { createTestDatabase } from '../helpers/postgres';

export const quietLog = createLogger(() => undefined, 'error');

export interface LocalBackend {
  kind: 'local';
  clock: ManualClock;
  store: JsonStore;
  dir: string;
  close(): Promise<void>;
}

export interface PostgresBackend {
  kind: 'postgres';
  clock: ManualClock;
  db: PgDatabase;
  url: string;
  /** A second connection pool on the same database: another instance. */
  peer(): Promise<PgDatabase>;
  close(): Promise<void>;
}

export type Backend = LocalBackend | PostgresBackend;

export async function localBackend(clock = new ManualClock(Date.UTC(2026, 0, 15, 12))): Promise<LocalBackend> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crew-contract-'));
  const store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'), quietLog);
  return {
    kind: 'local',
    clock,
    store,
    dir,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function connectPostgres(url: string, max = 8): Promise<PgDatabase> {
  const loc = parseStoreLocation(url, '/unused');
  if (loc.kind !== 'postgres') throw new Error(`not a PostgreSQL URL: ${url}`);
  return PgDatabase.connect(loc, quietLog, { max });
}

export async function postgresBackend(clock = new ManualClock(Date.UTC(2026, 0, 15, 12))): Promise<PostgresBackend> {
  const created = await createTestDatabase();
  const db = await connectPostgres(created.url);
  await migrate(db, quietLog);
  const peers: PgDatabase[] = [];
  return {
    kind: 'postgres',
    clock,
    db,
    url: created.url,
    peer: async () => {
      const p = await connectPostgres(created.url);
      peers.push(p);
      return p;
    },
    close: async () => {
      for (const p of peers) await p.close();
      await db.close();
      await created.drop();
    },
  };
}

/** Declares `fn`'s cases once per backend, each in its own describe with a fresh backend. */
export function forEachBackend(title: string, fn: (get: () => Backend) => void): void {
  for (const make of [localBackend, postgresBackend]) {
    describe(`${title} (${make === localBackend ? 'local store' : 'PostgreSQL'})`, function () {
      this.timeout(30_000);
      let backend: Backend;
      before(async () => {
        backend = await make();
      });
      after(async () => {
        await backend?.close();
      });
      fn(() => backend);
    });
  }
}
