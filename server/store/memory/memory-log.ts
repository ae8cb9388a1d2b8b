/**
 * Memories on disk: a record log (store/record-log.ts: append-only JSON-lines segments plus a snapshot, compacted
 * in the background) with every live memory in memory, indexed by crew.
 */
import { RecordLog, type RecordCodec, type RecordLogOptions } from '../record-log';
import type { MemoryRecord, MemoryRepository } from '../repositories';

export { MemoryStoreCorrupt } from './segment-io';

export type MemoryLogOptions = RecordLogOptions;

/** Shared with the PostgreSQL memory table (store/postgres/memories.ts): the same checks, copies and freezing. */
export const memoryCodec: RecordCodec<MemoryRecord> = {
  what: 'memory',
  is: (r): r is MemoryRecord => isRecord(r),
  copy: (r) => frozenCopy(r),
  freeze: (r) => deepFreeze(r),
};

export class FileMemoryRepository extends RecordLog<MemoryRecord> implements MemoryRepository {
  private readonly crews = new Map<string, Map<string, MemoryRecord>>();

  static async open(dir: string, opts: MemoryLogOptions = {}): Promise<FileMemoryRepository> {
    const repo = new FileMemoryRepository(dir, memoryCodec, opts);
    await repo.load();
    return repo;
  }

  *byCrew(crew: string): Iterable<MemoryRecord> {
    const m = this.crews.get(crew);
    if (m) yield* m.values();
  }

  protected override onPut(r: MemoryRecord, old: MemoryRecord | undefined): void {
    if (old && old.crew !== r.crew) this.onDelete(old);
    let m = this.crews.get(r.crew);
    if (!m) this.crews.set(r.crew, (m = new Map<string, MemoryRecord>()));
    m.set(r.id, r);
  }

  protected override onDelete(r: MemoryRecord): void {
    const m = this.crews.get(r.crew);
    m?.delete(r.id);
    if (m?.size === 0) this.crews.delete(r.crew);
  }
}

function isRecord(r: unknown): r is MemoryRecord {
  const x = r as Partial<MemoryRecord> | null | undefined;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.id === 'string' &&
    typeof x.crew === 'string' &&
    Array.isArray(x.tags) &&
    Array.isArray(x.history)
  );
}

function frozenCopy(r: MemoryRecord): MemoryRecord {
  return deepFreeze({
    ...r,
    tags: [...r.tags],
    history: r.history.map((h) => ({
      ...h,
      previous: h.previous.tags ? { ...h.previous, tags: [...h.previous.tags] } : { ...h.previous },
    })),
  });
}

/** Freezes a record we own (a copy, or freshly parsed). */
function deepFreeze(r: MemoryRecord): MemoryRecord {
  Object.freeze(r.tags);
  for (const h of r.history) {
    if (h.previous?.tags) Object.freeze(h.previous.tags);
    Object.freeze(h.previous);
    Object.freeze(h);
  }
  Object.freeze(r.history);
  return Object.freeze(r);
}
