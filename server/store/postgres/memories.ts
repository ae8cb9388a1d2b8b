/**
 * MemoryRepository on PostgreSQL: `crew_memories` (one row per memory, the record with its history as JSON), held
 * in memory and indexed by crew as FileMemoryRepository holds it (./record-table.ts: ordered write-through, change
 * notices on channel `crew_memories`, reloads of what other instances changed).
 */
import { CrewIndex, memoryCodec } from '../memory/memory-log';
import type { MemoryRecord, MemoryRepository } from '../repositories';
import type { PgDatabase } from './db';
import { PgRecordTable, type PgRepositoryOptions } from './record-table';

export class PgMemoryRepository extends PgRecordTable<MemoryRecord> implements MemoryRepository {
  private readonly crews = new CrewIndex();

  static async open(db: PgDatabase, opts: PgRepositoryOptions): Promise<PgMemoryRepository> {
    const repo = new PgMemoryRepository(db, { table: 'crew_memories', codec: memoryCodec }, opts);
    await repo.load();
    return repo;
  }

  byCrew(crew: string): Iterable<MemoryRecord> {
    return this.crews.of(crew);
  }

  put(records: MemoryRecord[]): Promise<void> {
    return this.putRecords(records);
  }

  delete(ids: string[]): Promise<number> {
    return this.deleteIds(ids);
  }

  protected override onPut(r: MemoryRecord, old: MemoryRecord | undefined): void {
    this.crews.put(r, old);
  }

  protected override onDelete(r: MemoryRecord): void {
    this.crews.delete(r);
  }
}
