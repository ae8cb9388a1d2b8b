/**
 * A collection of records keyed by id, on disk as an append-only JSON-lines log of operations (`put` of whole
 * records, `del` of ids) in numbered segments, plus a snapshot of the live set. Every live record is held in memory;
 * a write appends one line and is on disk (group commit, O_DSYNC) before its promise resolves, so no write ever
 * rewrites the collection. Memories and crew runs are kept this way.
 *
 * When the files hold more than twice the live set, a compaction writes a fresh snapshot in the background. Its
 * content is taken at a cut of the log (see SegmentWriter.cut): the snapshot holds exactly what segments up to
 * `through` hold, and writes made meanwhile go to later segments. Loading is snapshot + later segments in order, so
 * a crash before the snapshot's rename leaves the old snapshot + all segments, and a crash after it leaves the new
 * snapshot + segments it supersedes, which the load skips (and deletes): nothing lost, nothing applied twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeAll } from './append-io';
import { isNonNegInt, isObject, isStringArray, unknownKeys } from './corrupt';
import { syncDir } from './durable-file';
import { files } from './fs-layer';
import {
  ensureDir,
  listSegments,
  type LogLine,
  MemoryStoreCorrupt,
  readJsonLines,
  removeTemps,
  SegmentWriter,
  toError,
  unlinkAll,
} from './memory/segment-io';

const SNAPSHOT = 'snapshot.jsonl';
const HEADER_KEYS = new Set(['snapshot', 'through', 'count']);
const PUT_KEYS = new Set(['op', 'r', 'rs']);
const DEL_KEYS = new Set(['op', 'ids']);
const SEGMENT = /^log-(\d{6})\.jsonl$/;
const segName = (seq: number) => `log-${String(seq).padStart(6, '0')}.jsonl`;
/** `{"op":"put","r":` + `}` + newline around a record's JSON, in a snapshot or a one-record put. */
const PUT_OVERHEAD = 18;

interface PutLine<T> {
  op: 'put';
  r?: T;
  /** A put of several records is one line, so it lands whole or (torn, never acknowledged) not at all. */
  rs?: T[];
}
interface DelLine {
  op: 'del';
  ids: string[];
}
interface SnapshotHeader {
  snapshot: 1;
  /** The last log segment this snapshot includes. */
  through: number;
  count: number;
}

interface Entry<T> {
  r: T;
  /** What the record takes in a snapshot: compaction runs when the files outgrow twice the sum of these. */
  bytes: number;
}

export interface RecordLogOptions {
  onError?(message: string): void;
  /** Compact once the files exceed this (default 1 MiB) and twice the live set. */
  compactMinBytes?: number;
}

/** What a record log needs to know about its records. */
export interface RecordCodec<T extends { id: string }> {
  /** What a record is, in messages ("memory", "run"). */
  what: string;
  /** Shape check of a parsed record; a record that fails it is damage. */
  is(r: unknown): r is T;
  /** A frozen copy of a caller's record: one read back cannot be changed behind the log's back. */
  copy(r: T): T;
  /** Freezes a record the log owns (freshly parsed). */
  freeze(r: T): T;
}

/** Subclasses add their indexes (onPut/onDelete) and a static `open` that constructs, then awaits `load()`. */
export abstract class RecordLog<T extends { id: string }> {
  private readonly live = new Map<string, Entry<T>>();
  private liveBytes = 0;
  private snapshotBytes = 0;
  /** Bytes in log segments after the snapshot. */
  private logBytes = 0;
  private writer!: SegmentWriter;
  private compacting: Promise<void> | undefined;
  private paused = 0;
  private closed = false;
  private readonly onError: (message: string) => void;
  private readonly compactMinBytes: number;

  protected constructor(
    readonly dir: string,
    private readonly codec: RecordCodec<T>,
    opts: RecordLogOptions,
  ) {
    this.onError = (message) => opts.onError?.(message);
    this.compactMinBytes = opts.compactMinBytes ?? 1 << 20;
  }

  /** Reads the folder (creating it if needed); subclasses call it from their own `open`. */
  protected async load(): Promise<void> {
    await ensureDir(this.dir);
    await removeTemps(this.dir);
    let through = 0;
    const snapFile = path.join(this.dir, SNAPSHOT);
    let snap: LogLine<SnapshotHeader | PutLine<T>>[] | undefined;
    try {
      // The snapshot was renamed into place whole: any bad line in it is damage, never a torn write.
      snap = await readJsonLines<SnapshotHeader | PutLine<T>>(snapFile, false, this.onError);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (snap) {
      const head = snap[0]?.value;
      if (
        !isObject(head) ||
        head.snapshot !== 1 ||
        !isNonNegInt(head.through) ||
        !isNonNegInt(head.count) ||
        unknownKeys(head, HEADER_KEYS).length
      )
        throw new MemoryStoreCorrupt(snapFile, `line ${snap[0]?.n ?? 1}`, 'is not a snapshot header');
      if (snap.length - 1 !== head.count)
        throw new MemoryStoreCorrupt(
          snapFile,
          'end',
          `holds ${snap.length - 1} records, its header says ${head.count}`,
        );
      through = head.through;
      for (let i = 1; i < snap.length; i++) {
        const line = snap[i]!;
        const v = line.value;
        if (!isObject(v) || v.op !== 'put' || unknownKeys(v, PUT_KEYS).length || !this.codec.is(v.r))
          throw new MemoryStoreCorrupt(snapFile, `line ${line.n}`, `is not a ${this.codec.what} record`);
        this.applyPut(this.codec.freeze(v.r), line.bytes);
        this.snapshotBytes += line.bytes;
      }
    }
    const segs = await listSegments(this.dir, SEGMENT);
    // Left behind by a crash between a snapshot's rename and the removal of what it replaced.
    await unlinkAll(segs.filter((s) => s.seq <= through).map((s) => s.file));
    const later = segs.filter((s) => s.seq > through);
    for (let i = 0; i < later.length; i++) {
      const { file } = later[i]!;
      const lines = await readJsonLines<unknown>(file, i === later.length - 1, this.onError);
      for (const { value, n, bytes } of lines) {
        // Checked whole before anything is applied: a bad line changes nothing in memory either.
        const op = this.operation(value);
        if (!op) throw new MemoryStoreCorrupt(file, `line ${n}`, `is not a ${this.codec.what} operation`);
        this.logBytes += bytes;
        if (op.op === 'del') this.applyDel(op.ids);
        else if (op.r !== undefined) this.applyPut(this.codec.freeze(op.r), bytes);
        else for (const r of op.rs!) this.applyPut(this.codec.freeze(r), Math.ceil(bytes / op.rs!.length));
      }
    }
    this.writer = new SegmentWriter({
      dir: this.dir,
      name: segName,
      seq: later.length ? later[later.length - 1]!.seq : through + 1,
    });
  }

  /** A log line as an operation, or undefined if it is not exactly one (no other fields, every record whole). */
  private operation(v: unknown): PutLine<T> | DelLine | undefined {
    if (!isObject(v)) return undefined;
    if (v.op === 'del')
      return unknownKeys(v, DEL_KEYS).length === 0 && isStringArray(v.ids) ? (v as unknown as DelLine) : undefined;
    if (v.op !== 'put' || unknownKeys(v, PUT_KEYS).length) return undefined;
    const one = v.r !== undefined;
    const many = v.rs !== undefined;
    if (one === many) return undefined;
    if (one) return this.codec.is(v.r) ? (v as unknown as PutLine<T>) : undefined;
    return Array.isArray(v.rs) && v.rs.length > 0 && v.rs.every((r) => this.codec.is(r))
      ? (v as unknown as PutLine<T>)
      : undefined;
  }

  get(id: string): T | undefined {
    return this.live.get(id)?.r;
  }

  *all(): Iterable<T> {
    for (const e of this.live.values()) yield e.r;
  }

  count(): number {
    return this.live.size;
  }

  /**
   * Stores frozen copies: a record read back cannot be changed behind the log's back (put a new one instead).
   * `alone`: the caller knows no other write can join this one, so it may be written at once.
   */
  put(records: T[], opts: { alone?: boolean } = {}): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (!records.length) return Promise.resolve();
    // Never write a record the next start would refuse to read back: checked whole, before anything changes.
    const bad = records.findIndex((r) => !this.codec.is(r));
    if (bad >= 0) return Promise.reject(new TypeError(`not a ${this.codec.what} record: ${records[bad]!.id}`));
    const jsons: string[] = [];
    for (const r of records) {
      const rec = this.codec.copy(r);
      const json = JSON.stringify(rec);
      jsons.push(json);
      this.applyPut(rec, Buffer.byteLength(json) + PUT_OVERHEAD);
    }
    const line = jsons.length === 1 ? `{"op":"put","r":${jsons[0]}}` : `{"op":"put","rs":[${jsons.join(',')}]}`;
    return this.write(line, opts.alone === true);
  }

  async delete(ids: string[]): Promise<number> {
    const refused = this.refusal();
    if (refused) throw refused;
    const gone = this.applyDel(ids);
    if (gone.length) await this.write(JSON.stringify({ op: 'del', ids: gone } satisfies DelLine), false);
    return gone.length;
  }

  private refusal(): Error | undefined {
    // After a failed write the records in memory may be ahead of disk; refuse before changing memory any further.
    return this.closed ? new Error(`the ${this.codec.what} store ${this.dir} is closed`) : this.writer.error;
  }

  private write(line: string, alone: boolean): Promise<void> {
    const buf = Buffer.from(line + '\n');
    this.logBytes += buf.length;
    let done: Promise<void>;
    if (alone && this.writer.canWriteSync) {
      try {
        this.writer.appendSync(buf);
        done = Promise.resolve();
      } catch (e) {
        done = Promise.reject(toError(e));
      }
    } else done = this.writer.append(buf);
    this.maybeCompact();
    return done;
  }

  /** Indexing hook: `r` replaced `old` (or was added). */
  protected onPut(_r: T, _old: T | undefined): void {}
  /** Indexing hook: `r` was deleted. */
  protected onDelete(_r: T): void {}

  private applyPut(r: T, bytes: number): void {
    const old = this.live.get(r.id);
    if (old) this.liveBytes -= old.bytes;
    this.live.set(r.id, { r, bytes });
    this.liveBytes += bytes;
    this.onPut(r, old?.r);
  }

  private applyDel(ids: string[]): string[] {
    const gone: string[] = [];
    for (const id of ids) {
      const e = this.live.get(id);
      if (!e) continue;
      this.live.delete(id);
      this.onDelete(e.r);
      this.liveBytes -= e.bytes;
      gone.push(id);
    }
    return gone;
  }

  private maybeCompact(): void {
    if (this.compacting || this.paused || this.closed || this.writer.error) return;
    const total = this.snapshotBytes + this.logBytes;
    if (total <= this.compactMinBytes || total <= 2 * this.liveBytes) return;
    this.startCompaction().catch((e: unknown) =>
      this.onError(`${this.codec.what} compaction failed: ${toError(e).message}`),
    );
  }

  /** Writes a snapshot of the live set as of now and drops the log segments it replaces. */
  async compact(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await this.startCompaction();
  }

  private startCompaction(): Promise<void> {
    this.compacting ??= this.doCompact().finally(() => {
      this.compacting = undefined;
      // Writes made during a long compaction may already call for the next one.
      this.maybeCompact();
    });
    return this.compacting;
  }

  private async doCompact(): Promise<void> {
    // Taken in the same synchronous step as the cut: the snapshot holds exactly the log up to `through`.
    const records = Array.from(this.live.values(), (e) => e.r);
    const logAtCut = this.logBytes;
    const through = await this.writer.cut();

    const tmp = path.join(this.dir, `.${SNAPSHOT}.tmp`);
    const io = files();
    const fd = await io.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    let bytes = 0;
    try {
      let parts: string[] = [JSON.stringify({ snapshot: 1, through, count: records.length } satisfies SnapshotHeader)];
      let pending = parts[0]!.length;
      const emit = async () => {
        const buf = Buffer.from(parts.join('\n') + '\n');
        await writeAll(fd, buf);
        bytes += buf.length;
        parts = [];
        pending = 0;
      };
      // Written in slices so a large snapshot never blocks the event loop for long or doubles memory at once.
      for (const r of records) {
        const line = `{"op":"put","r":${JSON.stringify(r)}}`;
        parts.push(line);
        pending += line.length;
        if (pending >= 1 << 20) await emit();
      }
      if (parts.length) await emit();
      await io.fsync(fd);
    } finally {
      await io.close(fd);
    }
    await io.rename(tmp, path.join(this.dir, SNAPSHOT));
    // The rename must be durable before the segments it replaces go.
    await syncDir(this.dir);
    this.snapshotBytes = bytes;
    this.logBytes -= logAtCut;
    const old = (await listSegments(this.dir, SEGMENT)).filter((s) => s.seq <= through);
    await unlinkAll(old.map((s) => s.file));
  }

  /**
   * Holds compaction off (after any running one finishes) until the returned function is called: a backup that
   * reads the folder file by file must not see a segment vanish between listing and reading it. Writes go on.
   */
  async pauseCompaction(): Promise<() => void> {
    this.paused++;
    await this.compacting?.catch(() => undefined);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.paused--;
      this.maybeCompact();
    };
  }

  /** Resolves once no compaction runs, including any that the end of one starts. */
  async compactionsSettled(): Promise<void> {
    while (this.compacting) await this.compacting.catch(() => undefined);
  }

  /** Waits for queued writes and any compaction; later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.drain();
    await this.compacting?.catch(() => undefined);
    await this.writer.close();
  }

  /** Figures for tests and diagnostics. */
  stats(): { live: number; liveBytes: number; snapshotBytes: number; logBytes: number } {
    return {
      live: this.live.size,
      liveBytes: this.liveBytes,
      snapshotBytes: this.snapshotBytes,
      logBytes: this.logBytes,
    };
  }
}
