/**
 * RunRepository on PostgreSQL: `crew_runs` (one row per run, the whole run as JSON, replaced as it progresses),
 * held in memory for `get`/`list` (./record-table.ts: ordered write-through, change notices on channel
 * `crew_runs`, reloads of what other instances changed).
 */
import { listRuns, runCodec } from '../runs/run-log';
import type { RunFilter, RunRecord, RunRepository } from '../repositories';
import type { PgDatabase } from './db';
import { PgRecordTable, type PgRepositoryOptions } from './record-table';

export class PgRunRepository extends PgRecordTable<RunRecord> implements RunRepository {
  static async open(db: PgDatabase, opts: PgRepositoryOptions): Promise<PgRunRepository> {
    const repo = new PgRunRepository(db, { table: 'crew_runs', codec: runCodec, writer: true }, opts);
    await repo.load();
    return repo;
  }

  list(filter: RunFilter & { limit: number }): { runs: RunRecord[]; total: number } {
    return listRuns(this.all(), filter);
  }

  put(run: RunRecord): Promise<void> {
    return this.putRecords([run]);
  }

  /** Running runs whose writing instance no longer heartbeats (its row is gone from crew_instances). */
  async orphaned(): Promise<RunRecord[]> {
    const rows = await this.db.query<{ id: string }>(
      `select r.id from crew_runs r left join crew_instances i on i.id = r.instance_id where i.id is null`,
    );
    const ids = new Set(rows.map((r) => r.id));
    return [...this.all()].filter((r) => r.status === 'running' && ids.has(r.id));
  }
}
