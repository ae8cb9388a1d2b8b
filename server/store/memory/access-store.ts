/**
 * Memory access figures, kept compactly: per-memory counters (count, last) and per-day, per-crew aggregates
 * (accesses, distinct memories, 24 hourly counts, UTC), never one row per read.
 *
 * `record` only updates memory; the events go to an append-only journal in the background, batched (every
 * `flushEveryMs` or `flushEveryEvents`). Once the journal outgrows the last snapshot, `access.json` is rewritten
 * durably with the state as of a cut of the journal (see SegmentWriter.cut) and the journal segments it covers
 * are deleted; loading is snapshot + later journal segments. Events recorded but not yet journaled are lost in a
 * crash: these are usage statistics, and `flush` exists for the moments that must not lose them.
 *
 * Distinct memories per day: a day stays open (a Set of the ids seen, per crew) while it is the newest day seen or
 * the one before it; after that its count is frozen and the Set dropped, so memory stays bounded. A late event for
 * a frozen day still counts as an access, but not as a distinct memory (it cannot be known to be one).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isFiniteNumber, isNonNegInt, isObject, isStringArray } from '../corrupt';
import { writeDurably } from '../durable-file';
import type { AccessCounters, AccessRepository, DailyAccess } from '../repositories';
import {
  ensureDir,
  listSegments,
  MemoryStoreCorrupt,
  readJsonLines,
  removeTemps,
  SegmentWriter,
  toError,
  unlinkAll,
} from './segment-io';

const SNAPSHOT = 'access.json';
const JOURNAL = /^journal-(\d{6})\.jsonl$/;
const journalName = (seq: number) => `journal-${String(seq).padStart(6, '0')}.jsonl`;
const DAY = 86_400_000;
const HOUR = 3_600_000;

type EventTuple = [id: string, crew: string, at: number];
interface EventsLine {
  e: EventTuple[];
}
interface ForgetLine {
  f: string[];
}
/** Counters set as they were (an archive restore), replacing whatever the ids had. */
interface SetLine {
  s: [id: string, count: number, last: number | null][];
}

interface Snapshot {
  format: 'crew-access';
  version: 1;
  /** The last journal segment this snapshot includes. */
  through: number;
  latestDay: string | null;
  counters: [id: string, count: number, last: number | null][];
  /** `seen`: the ids of a day still open (null once frozen). */
  days: [day: string, crew: string, accesses: number, memories: number, byHour: number[], seen: string[] | null][];
}

interface DayCrew {
  accesses: number;
  memories: number;
  byHour: number[];
  seen: Set<string> | undefined;
}

export interface AccessStoreOptions {
  onError?(message: string): void;
  /** Journal the events recorded so far this often (default 200 ms)… */
  flushEveryMs?: number;
  /** …or as soon as this many are waiting (default 1,000). */
  flushEveryEvents?: number;
  /** Rewrite the snapshot once the journal exceeds this (default 4 MiB) and the snapshot's own size. */
  snapshotMinBytes?: number;
  /** Daily aggregates older than this many days before the newest are dropped (default 400). */
  keepDays?: number;
}

export class FileAccessRepository implements AccessRepository {
  private readonly counterMap = new Map<string, { count: number; last: number | null }>();
  private readonly days = new Map<string, Map<string, DayCrew>>();
  private latestDay: string | null = null;
  /** The open days: the newest day seen and the one before it. */
  private openFrom = '';
  /** Cache of the last event's day, so most events need no Date. */
  private cacheStart = NaN;
  private cacheDay = '';

  private pendingEvents: EventTuple[] = [];
  private pendingLines: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private handoffScheduled = false;
  private lastWrite: Promise<void> | undefined;
  private writer!: SegmentWriter;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private snapshotting: Promise<void> | undefined;
  private paused = 0;
  private closed = false;

  private readonly onError: (message: string) => void;
  private readonly flushEveryMs: number;
  private readonly flushEveryEvents: number;
  private readonly snapshotMinBytes: number;
  private readonly keepDays: number;

  private constructor(
    readonly dir: string,
    opts: AccessStoreOptions,
  ) {
    this.onError = (message) => opts.onError?.(message);
    this.flushEveryMs = opts.flushEveryMs ?? 200;
    this.flushEveryEvents = opts.flushEveryEvents ?? 1_000;
    this.snapshotMinBytes = opts.snapshotMinBytes ?? 4 << 20;
    this.keepDays = opts.keepDays ?? 400;
  }

  static async open(dir: string, opts: AccessStoreOptions = {}): Promise<FileAccessRepository> {
    await ensureDir(dir);
    const repo = new FileAccessRepository(dir, opts);
    await repo.load();
    return repo;
  }

  private async load(): Promise<void> {
    await removeTemps(this.dir);
    const snapFile = path.join(this.dir, SNAPSHOT);
    let through = 0;
    let text: string | undefined;
    try {
      text = await fsp.readFile(snapFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) {
      through = this.loadSnapshot(snapFile, text);
      this.snapshotBytes = Buffer.byteLength(text);
    }
    const segs = await listSegments(this.dir, JOURNAL);
    await unlinkAll(segs.filter((s) => s.seq <= through).map((s) => s.file));
    const later = segs.filter((s) => s.seq > through);
    for (let i = 0; i < later.length; i++) {
      const { file } = later[i]!;
      const lines = await readJsonLines<unknown>(file, i === later.length - 1, this.onError);
      for (const { value, n, bytes } of lines) {
        this.journalBytes += bytes;
        if (!isObject(value) || Object.keys(value).length !== 1)
          throw new MemoryStoreCorrupt(file, `line ${n}`, 'is not an access journal entry');
        if (Array.isArray(value.e) && value.e.every(isEvent))
          for (const [id, crew, at] of value.e) this.apply(id, crew, at);
        else if (isStringArray(value.f)) for (const id of value.f) this.counterMap.delete(id);
        else if (Array.isArray(value.s) && value.s.every(isCounter))
          for (const [id, count, last] of value.s) this.counterMap.set(id, { count, last });
        else throw new MemoryStoreCorrupt(file, `line ${n}`, 'is not an access journal entry');
      }
    }
    this.writer = new SegmentWriter({
      dir: this.dir,
      name: journalName,
      seq: later.length ? later[later.length - 1]!.seq : through + 1,
    });
  }

  /** Loads a snapshot; returns the journal segment it runs through. */
  private loadSnapshot(file: string, text: string): number {
    let s: unknown;
    try {
      s = JSON.parse(text);
    } catch (e) {
      throw new MemoryStoreCorrupt(file, 'as a whole', `is not valid JSON (${toError(e).message})`);
    }
    if (!isObject(s) || s.format !== 'crew-access')
      throw new MemoryStoreCorrupt(file, 'as a whole', 'is not an access snapshot');
    if (s.version !== 1)
      throw new MemoryStoreCorrupt(file, 'as a whole', `has format version ${String(s.version)}; this build reads 1`);
    const problem = snapshotProblem(s);
    if (problem) throw new MemoryStoreCorrupt(file, 'as a whole', problem);
    const snap = s as unknown as Snapshot;
    for (const [id, count, last] of snap.counters) this.counterMap.set(id, { count, last });
    for (const [day, crew, accesses, memories, byHour, seen] of snap.days)
      this.dayCrews(day).set(crew, { accesses, memories, byHour: [...byHour], seen: seen ? new Set(seen) : undefined });
    this.setLatestDay(snap.latestDay);
    return snap.through;
  }

  record(events: { id: string; crew: string; at: number }[]): void {
    for (const e of events)
      if (typeof e.id !== 'string' || typeof e.crew !== 'string' || !Number.isFinite(e.at))
        throw new TypeError(`not an access event: ${JSON.stringify(e)}`);
    if (this.closed) return;
    for (const e of events) {
      this.apply(e.id, e.crew, e.at);
      this.pendingEvents.push([e.id, e.crew, e.at]);
    }
    this.schedule();
  }

  private apply(id: string, crew: string, at: number): void {
    const c = this.counterMap.get(id);
    if (c) {
      c.count++;
      c.last = c.last === null ? at : Math.max(c.last, at);
    } else this.counterMap.set(id, { count: 1, last: at });

    if (!(at >= this.cacheStart && at < this.cacheStart + DAY)) {
      this.cacheStart = Math.floor(at / DAY) * DAY;
      this.cacheDay = new Date(this.cacheStart).toISOString().slice(0, 10);
    }
    const day = this.cacheDay;
    if (this.latestDay === null || day > this.latestDay) this.setLatestDay(day);
    const byCrew = this.dayCrews(day);
    let agg = byCrew.get(crew);
    if (!agg) {
      // A day older than the kept window is not worth a new aggregate.
      if (day < dayOffset(this.latestDay!, -this.keepDays)) return;
      agg = { accesses: 0, memories: 0, byHour: new Array<number>(24).fill(0), seen: new Set() };
      byCrew.set(crew, agg);
    }
    agg.accesses++;
    agg.byHour[Math.floor((at - this.cacheStart) / HOUR)]!++;
    if (agg.seen && !agg.seen.has(id)) {
      agg.seen.add(id);
      agg.memories++;
    }
  }

  private dayCrews(day: string): Map<string, DayCrew> {
    let m = this.days.get(day);
    if (!m) this.days.set(day, (m = new Map<string, DayCrew>()));
    return m;
  }

  /** A new newest day: freeze the days that are no longer open, drop those past the kept window. */
  private setLatestDay(day: string | null): void {
    this.latestDay = day;
    if (day === null) return;
    this.openFrom = dayOffset(day, -1);
    const oldest = dayOffset(day, -this.keepDays);
    for (const [d, crews] of this.days) {
      if (d < oldest) this.days.delete(d);
      else if (d < this.openFrom) for (const agg of crews.values()) agg.seen = undefined;
    }
  }

  counters(id: string): AccessCounters {
    const c = this.counterMap.get(id);
    return c ? { count: c.count, last: c.last } : { count: 0, last: null };
  }

  daily(query: { crew?: string; fromDay?: string; toDay?: string }): DailyAccess[] {
    const out: DailyAccess[] = [];
    for (const day of [...this.days.keys()].sort()) {
      if (query.fromDay !== undefined && day < query.fromDay) continue;
      if (query.toDay !== undefined && day > query.toDay) continue;
      const crews = this.days.get(day)!;
      for (const crew of [...crews.keys()].sort()) {
        if (query.crew !== undefined && crew !== query.crew) continue;
        const a = crews.get(crew)!;
        out.push({ day, crew, accesses: a.accesses, memories: a.memories, byHour: [...a.byHour] });
      }
    }
    return out;
  }

  restore(entries: { id: string; count: number; last: number | null }[]): void {
    if (this.closed) return;
    for (const e of entries) this.counterMap.set(e.id, { count: e.count, last: e.last });
    // Ordered after the events recorded so far, as forget() is.
    this.linesFromEvents();
    this.pendingLines.push(JSON.stringify({ s: entries.map((e) => [e.id, e.count, e.last]) } satisfies SetLine));
    this.schedule();
  }

  forget(ids: string[]): void {
    if (this.closed) return;
    for (const id of ids) this.counterMap.delete(id);
    // After the events recorded so far, so a replay forgets what it has just counted, as this did.
    this.linesFromEvents();
    this.pendingLines.push(JSON.stringify({ f: ids } satisfies ForgetLine));
    this.schedule();
  }

  private linesFromEvents(): void {
    if (!this.pendingEvents.length) return;
    this.pendingLines.push(JSON.stringify({ e: this.pendingEvents } satisfies EventsLine));
    this.pendingEvents = [];
  }

  private schedule(): void {
    if (this.pendingEvents.length >= this.flushEveryEvents) {
      if (this.handoffScheduled) return;
      this.handoffScheduled = true;
      setImmediate(() => this.handoff());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.handoff(), this.flushEveryMs);
      this.timer.unref();
    }
  }

  /** Hands everything recorded so far to the journal writer. */
  private handoff(maySnapshot = true): void {
    this.handoffScheduled = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.linesFromEvents();
    if (!this.pendingLines.length) return;
    const buf = Buffer.from(this.pendingLines.join('\n') + '\n');
    this.pendingLines = [];
    this.journalBytes += buf.length;
    const write = this.writer.append(buf);
    write.catch((e: unknown) => this.onError(`access journal write failed: ${toError(e).message}`));
    this.lastWrite = write;
    if (maySnapshot) this.maybeSnapshot();
  }

  /** Resolves once everything recorded so far is on disk; rejects if a journal write failed. */
  async flush(): Promise<void> {
    this.handoff();
    await this.lastWrite;
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.paused || this.closed || this.writer.error) return;
    if (this.journalBytes <= Math.max(this.snapshotMinBytes, this.snapshotBytes)) return;
    this.startSnapshot().catch((e: unknown) => this.onError(`access snapshot failed: ${toError(e).message}`));
  }

  /** Rewrites access.json as of now and drops the journal it covers. */
  async snapshot(): Promise<void> {
    await this.snapshotting?.catch(() => undefined);
    await this.startSnapshot();
  }

  private startSnapshot(): Promise<void> {
    this.snapshotting ??= this.doSnapshot().finally(() => {
      this.snapshotting = undefined;
      this.maybeSnapshot();
    });
    return this.snapshotting;
  }

  private async doSnapshot(): Promise<void> {
    // Everything recorded so far goes to the writer first, so the state captured below is exactly what the
    // journal holds at the cut.
    this.handoff(false);
    const state = this.capture();
    const journalAtCut = this.journalBytes;
    const through = await this.writer.cut();
    const text = JSON.stringify({ ...state, through } satisfies Snapshot);
    await writeDurably(path.join(this.dir, SNAPSHOT), text);
    this.snapshotBytes = Buffer.byteLength(text);
    this.journalBytes -= journalAtCut;
    const old = (await listSegments(this.dir, JOURNAL)).filter((s) => s.seq <= through);
    await unlinkAll(old.map((s) => s.file));
  }

  private capture(): Omit<Snapshot, 'through'> {
    const counters: Snapshot['counters'] = [];
    for (const [id, c] of this.counterMap) counters.push([id, c.count, c.last]);
    const days: Snapshot['days'] = [];
    for (const [day, crews] of this.days)
      for (const [crew, a] of crews)
        days.push([day, crew, a.accesses, a.memories, [...a.byHour], a.seen ? [...a.seen] : null]);
    return { format: 'crew-access', version: 1, latestDay: this.latestDay, counters, days };
  }

  /** As FileMemoryRepository.pauseCompaction: a backup holds snapshots off while it reads the folder. */
  async pauseCompaction(): Promise<() => void> {
    this.paused++;
    await this.snapshotting?.catch(() => undefined);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.paused--;
      this.maybeSnapshot();
    };
  }

  /** Journals what is pending, waits for it and any snapshot; later events are ignored. */
  async close(): Promise<void> {
    this.handoff();
    this.closed = true;
    await this.writer.drain();
    await this.snapshotting?.catch(() => undefined);
    await this.writer.close();
  }
}

function isEvent(e: unknown): e is EventTuple {
  return (
    Array.isArray(e) && e.length === 3 && typeof e[0] === 'string' && typeof e[1] === 'string' && isFiniteNumber(e[2])
  );
}

function isCounter(c: unknown): c is Snapshot['counters'][number] {
  return (
    Array.isArray(c) &&
    c.length === 3 &&
    typeof c[0] === 'string' &&
    isNonNegInt(c[1]) &&
    (c[2] === null || isFiniteNumber(c[2]))
  );
}

const isDay = (d: unknown): d is string => typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d);

function isDayEntry(d: unknown): boolean {
  return (
    Array.isArray(d) &&
    d.length === 6 &&
    isDay(d[0]) &&
    typeof d[1] === 'string' &&
    isNonNegInt(d[2]) &&
    isNonNegInt(d[3]) &&
    Array.isArray(d[4]) &&
    d[4].length === 24 &&
    d[4].every(isNonNegInt) &&
    (d[5] === null || isStringArray(d[5]))
  );
}

/** What is wrong with an access snapshot's fields, or undefined. */
function snapshotProblem(s: Record<string, unknown>): string | undefined {
  if (!isNonNegInt(s.through)) return '"through" is not a journal segment number';
  if (s.latestDay !== null && !isDay(s.latestDay)) return '"latestDay" is not a day';
  if (!Array.isArray(s.counters)) return '"counters" is not a list';
  const c = s.counters.findIndex((x) => !isCounter(x));
  if (c >= 0) return `counter ${c + 1} is not [id, count, last]`;
  if (!Array.isArray(s.days)) return '"days" is not a list';
  const d = s.days.findIndex((x) => !isDayEntry(x));
  if (d >= 0) return `day entry ${d + 1} is not [day, crew, accesses, memories, 24 hourly counts, seen]`;
  return undefined;
}

/** YYYY-MM-DD `n` days from `day`. */
function dayOffset(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + n * DAY).toISOString().slice(0, 10);
}
