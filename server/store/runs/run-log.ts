/**
 * Crew runs on disk: a record log (store/record-log.ts) in `<store>/runs`. A run is put whole each time it moves
 * on (started, each step, the end), so the log holds a few versions of a busy run until compaction keeps the last.
 * Runs are few next to ledger rows (one per task, not per call), so listing filters and sorts the live set.
 */
import { RecordLog, type RecordCodec, type RecordLogOptions } from '../record-log';
import type { RunFilter, RunRecord, RunRepository } from '../repositories';

const STATUSES = new Set(['running', 'completed', 'failed', 'cancelled', 'budget_exceeded']);

/** Shared with the PostgreSQL run table (store/postgres/runs.ts). */
export const runCodec: RecordCodec<RunRecord> = {
  what: 'run',
  is: (r): r is RunRecord => {
    const x = r as Partial<RunRecord> | null;
    return (
      typeof x === 'object' &&
      x !== null &&
      typeof x.id === 'string' &&
      typeof x.crewId === 'string' &&
      typeof x.startedAt === 'string' &&
      STATUSES.has(x.status as string) &&
      Array.isArray(x.steps)
    );
  },
  // The service builds a fresh run object for every put; a clone keeps the log's copy its own.
  copy: (r) => Object.freeze(structuredClone(r)),
  freeze: (r) => Object.freeze(r),
};

/** The RunRepository behind JsonStore.runs (which puts one run at a time). */
export class FileRunRepository extends RecordLog<RunRecord> implements Omit<RunRepository, 'put'> {
  static async open(dir: string, opts: RecordLogOptions = {}): Promise<FileRunRepository> {
    const repo = new FileRunRepository(dir, runCodec, opts);
    await repo.load();
    return repo;
  }

  list(filter: RunFilter & { limit: number }): { runs: RunRecord[]; total: number } {
    return listRuns(this.all(), filter);
  }
}

/** Filters and sorts (newest first) a run collection: RunRepository.list over the records held in memory. */
export function listRuns(
  all: Iterable<RunRecord>,
  filter: RunFilter & { limit: number },
): { runs: RunRecord[]; total: number } {
  const from = filter.from === undefined ? undefined : new Date(filter.from).toISOString();
  const before = filter.before === undefined ? undefined : new Date(filter.before).toISOString();
  const name = filter.crewName?.trim().toLowerCase();
  const hits: RunRecord[] = [];
  for (const r of all) {
    if (filter.crewId !== undefined && r.crewId !== filter.crewId) continue;
    if (name !== undefined && r.crew.toLowerCase() !== name) continue;
    if (filter.status !== undefined && r.status !== filter.status) continue;
    if (from !== undefined && r.startedAt < from) continue;
    if (before !== undefined && r.startedAt >= before) continue;
    hits.push(r);
  }
  hits.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
  return { runs: hits.slice(0, filter.limit), total: hits.length };
}
