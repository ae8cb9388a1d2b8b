/**
 * Memories on disk: a record log (store/record-log.ts: append-only JSON-lines segments plus a snapshot, compacted
 * in the background) with every live memory in memory, indexed by crew.
 */
import { isFiniteNumber, isNonNegInt, isObject, isStringArray } from '../corrupt';
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

/** Memories by crew, kept in step with a repository's puts and deletes (the file log's and PostgreSQL's alike). */
export class CrewIndex {
  private readonly crews = new Map<string, Map<string, MemoryRecord>>();

  *of(crew: string): Iterable<MemoryRecord> {
    const m = this.crews.get(crew);
    if (m) yield* m.values();
  }

  put(r: MemoryRecord, old: MemoryRecord | undefined): void {
    if (old && old.crew !== r.crew) this.delete(old);
    let m = this.crews.get(r.crew);
    if (!m) this.crews.set(r.crew, (m = new Map<string, MemoryRecord>()));
    m.set(r.id, r);
  }

  delete(r: MemoryRecord): void {
    const m = this.crews.get(r.crew);
    m?.delete(r.id);
    if (m?.size === 0) this.crews.delete(r.crew);
  }
}

export class FileMemoryRepository extends RecordLog<MemoryRecord> implements MemoryRepository {
  private readonly crews = new CrewIndex();

  static async open(dir: string, opts: MemoryLogOptions = {}): Promise<FileMemoryRepository> {
    const repo = new FileMemoryRepository(dir, memoryCodec, opts);
    await repo.load();
    return repo;
  }

  byCrew(crew: string): Iterable<MemoryRecord> {
    return this.crews.of(crew);
  }

  protected override onPut(r: MemoryRecord, old: MemoryRecord | undefined): void {
    this.crews.put(r, old);
  }

  protected override onDelete(r: MemoryRecord): void {
    this.crews.delete(r);
  }
}

const KINDS = new Set(['fact', 'insight', 'lesson', 'result', 'note']);
const CHANGES = new Set(['created', 'updated', 'merged', 'restored']);
const isTime = (v: unknown) => isFiniteNumber(v);
const isNullable = (v: unknown, check: (x: unknown) => boolean) => v === null || check(v);

/** Every field of a memory record with its type, its history entries included. */
function isRecord(r: unknown): r is MemoryRecord {
  if (!isObject(r)) return false;
  return (
    typeof r.id === 'string' &&
    typeof r.crew === 'string' &&
    isNullable(r.agent, (x) => typeof x === 'string') &&
    typeof r.content === 'string' &&
    KINDS.has(r.kind as string) &&
    isStringArray(r.tags) &&
    isFiniteNumber(r.importance) &&
    typeof r.pinned === 'boolean' &&
    isNullable(r.expiresAt, isTime) &&
    isTime(r.createdAt) &&
    isTime(r.updatedAt) &&
    typeof r.contentHash === 'string' &&
    Array.isArray(r.history) &&
    r.history.every(isHistoryEntry)
  );
}

function isHistoryEntry(h: unknown): boolean {
  if (!isObject(h) || !isObject(h.previous)) return false;
  const p = h.previous;
  return (
    isNonNegInt(h.version) &&
    typeof h.at === 'string' &&
    CHANGES.has(h.change as string) &&
    isNullable(h.note, (x) => typeof x === 'string') &&
    (p.content === undefined || typeof p.content === 'string') &&
    (p.kind === undefined || KINDS.has(p.kind as string)) &&
    (p.tags === undefined || isStringArray(p.tags)) &&
    (p.importance === undefined || isFiniteNumber(p.importance)) &&
    (p.pinned === undefined || typeof p.pinned === 'boolean') &&
    (p.expiresAt === undefined || isNullable(p.expiresAt, (x) => typeof x === 'string')) &&
    (p.agent === undefined || isNullable(p.agent, (x) => typeof x === 'string'))
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
