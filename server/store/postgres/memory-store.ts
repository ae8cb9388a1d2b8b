/**
 * Opens the memory side of the PostgreSQL backend at once: memories, vectors, access figures, the archive index
 * and payloads, and runs, all on one PgDatabase (migrated to schema 3 or later) and one instance id. What the app
 * wires from here instead of JsonStore's members (see server/store/postgres/README.md).
 */
import type { Logger } from '../../log';
import type { PgDatabase } from './db';
import { PgAccessRepository, type PgAccessOptions } from './access';
import { PgArchiveIndexRepository, PgArchivePayloadRepository } from './archives';
import { PgMemoryRepository } from './memories';
import { PgRunRepository } from './runs';
import { PgVectorRepository } from './vectors';

export interface PgMemoryStores {
  memories: PgMemoryRepository;
  vectors: PgVectorRepository;
  access: PgAccessRepository;
  archives: PgArchiveIndexRepository;
  archivePayloads: PgArchivePayloadRepository;
  runs: PgRunRepository;
  /** Writes the pending access counts, waits for writes in flight, stops listening. The database stays open. */
  close(): Promise<void>;
}

export async function openPgMemoryStores(
  db: PgDatabase,
  opts: { instance: string; log?: Logger; access?: Omit<PgAccessOptions, 'instance' | 'log'> },
): Promise<PgMemoryStores> {
  const base = { instance: opts.instance, ...(opts.log ? { log: opts.log } : {}) };
  const opened: { close(): Promise<void> }[] = [];
  const open = async <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> => {
    const r = await p;
    opened.push(r);
    return r;
  };
  try {
    const memories = await open(PgMemoryRepository.open(db, base));
    const vectors = await open(PgVectorRepository.open(db, base));
    const access = await open(PgAccessRepository.open(db, { ...base, ...opts.access }));
    const runs = await open(PgRunRepository.open(db, base));
    return {
      memories,
      vectors,
      access,
      runs,
      archives: new PgArchiveIndexRepository(db),
      archivePayloads: new PgArchivePayloadRepository(db),
      close: async () => {
        // Access first: its flush is the one write still waiting; the others only drain.
        const results = await Promise.allSettled([access.close(), memories.close(), vectors.close(), runs.close()]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    };
  } catch (e) {
    await Promise.allSettled(opened.map((r) => r.close()));
    throw e;
  }
}
