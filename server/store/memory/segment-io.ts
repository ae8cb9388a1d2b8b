/**
 * What the memory stores share: numbered append-only segment files written with group commit (one write per
 * batch, O_DSYNC, so a batch is on disk before its callers hear back), "cuts" that let a store snapshot its state
 * at an exact point of the log, and the rules for reading a log back (a torn tail is dropped, anything else bad
 * is refused with the file named).
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { scanJsonLines, StoreFileCorrupt } from '../corrupt';
import { DSYNC, openAppend, syncAppended, writeAll, writeAllSync } from '../append-io';
import { syncDirSync } from '../durable-file';
import { files } from '../fs-layer';

export { DSYNC, syncDirSync };

/** Damage in a memory store file (MemoryStoreCorrupt is what the memory stores have always thrown). */
export class MemoryStoreCorrupt extends StoreFileCorrupt {
  constructor(file: string, where: string, problem: string) {
    super(file, where, problem);
    this.name = 'MemoryStoreCorrupt';
  }
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

type Waiter = { resolve: () => void; reject: (e: Error) => void };
type QueueItem =
  { buf: Buffer; waiter: Waiter } | { cut: { resolve: (through: number) => void; reject: (e: Error) => void } };

export interface SegmentWriterOptions {
  dir: string;
  /** File name of segment `seq`. */
  name(seq: number): string;
  /** The segment to append to; it may already exist (a reopened log keeps appending to its last segment). */
  seq: number;
  /** Written first into every new (empty) segment, as part of its first batch. */
  header?: () => Buffer;
}

/**
 * Appends to the current segment. Buffers queued in the same turn of the event loop (and while a write is in
 * flight) go out together in one O_DSYNC write. After a failed write the file is cut back to its last good length
 * and the writer refuses everything after: the caller's in-memory state may be ahead of the disk, and only a
 * reopen (which reads the disk) makes the two agree again.
 */
export class SegmentWriter {
  private fd: number | undefined;
  private size = 0;
  private queue: QueueItem[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  private failed: Error | undefined;
  private seqNow: number;

  constructor(private readonly opts: SegmentWriterOptions) {
    this.seqNow = opts.seq;
  }

  /** The segment being appended to. */
  get seq(): number {
    return this.seqNow;
  }

  /** True when nothing is queued or being written: a synchronous write now cannot overtake another. */
  get idle(): boolean {
    return !this.flushing && this.queue.length === 0;
  }

  append(buf: Buffer): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const done = new Promise<void>((resolve, reject) => this.queue.push({ buf, waiter: { resolve, reject } }));
    this.schedule();
    return done;
  }

  /**
   * Writes at once on the caller's thread. Only for a write that has nothing to group with (`idle`) on a platform
   * with O_DSYNC: one synchronous write beats a thread-pool round trip, and it is durable when this returns.
   */
  appendSync(buf: Buffer): void {
    if (this.failed) throw this.failed;
    if (!this.idle || DSYNC === undefined) throw new Error('appendSync needs an idle writer and O_DSYNC');
    this.writeBatchSync(buf);
  }

  /** Set once a write has failed; every later write is refused with it. */
  get error(): Error | undefined {
    return this.failed;
  }

  get canWriteSync(): boolean {
    return this.idle && DSYNC !== undefined && !this.failed;
  }

  /**
   * Everything queued before this call goes to the current segment; everything after, to the next. Resolves with
   * the sealed segment's number once it is all on disk. The caller snapshots its state in the same synchronous
   * step as the call, so the snapshot holds exactly what segments up to `through` hold.
   */
  cut(): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    const done = new Promise<number>((resolve, reject) => this.queue.push({ cut: { resolve, reject } }));
    this.schedule();
    return done;
  }

  /** Resolves once everything queued so far is written (or has failed). */
  drain(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.fd !== undefined) files().closeSync(this.fd);
    this.fd = undefined;
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    const file = path.join(this.opts.dir, this.opts.name(this.seqNow));
    const existed = fs.existsSync(file);
    const fd = openAppend(file);
    // The data is synced by O_DSYNC, but a new file's name lives in the directory: sync that too, once.
    if (!existed) syncDirSync(this.opts.dir);
    this.size = fs.fstatSync(fd).size;
    this.fd = fd;
    return fd;
  }

  /** The header, if this write is the first into an empty segment. */
  private withHeader(buf: Buffer): Buffer {
    return this.size === 0 && this.opts.header ? Buffer.concat([this.opts.header(), buf]) : buf;
  }

  private writeBatchSync(buf: Buffer): void {
    const fd = this.open();
    const out = this.withHeader(buf);
    try {
      writeAllSync(fd, out);
    } catch (e) {
      throw this.fail(fd, e);
    }
    this.size += out.length;
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const head = this.queue[0]!;
      if ('cut' in head) {
        this.queue.shift();
        if (this.failed) head.cut.reject(this.failed);
        else {
          const through = this.seqNow;
          this.roll();
          head.cut.resolve(through);
        }
        continue;
      }
      let n = 0;
      while (n < this.queue.length && !('cut' in this.queue[n]!)) n++;
      const batch = this.queue.splice(0, n) as { buf: Buffer; waiter: Waiter }[];
      if (this.failed) {
        batch.forEach((b) => b.waiter.reject(this.failed!));
        continue;
      }
      try {
        const fd = this.open();
        const out = this.withHeader(batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((b) => b.buf)));
        try {
          await writeAll(fd, out);
          await syncAppended(fd);
        } catch (e) {
          throw this.fail(fd, e);
        }
        this.size += out.length;
        batch.forEach((b) => b.waiter.resolve());
      } catch (e) {
        const err = toError(e);
        this.failed ??= err;
        batch.forEach((b) => b.waiter.reject(err));
      }
    }
    this.flushing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }

  private fail(fd: number, e: unknown): Error {
    const cause = toError(e);
    // Cut the partial batch off, so the next open does not find a torn line in the middle of the file.
    try {
      files().ftruncateSync(fd, this.size);
    } catch {
      // The reopen drops a torn tail anyway; the refusal below is what keeps memory and disk from diverging.
    }
    this.failed = new Error(`write to ${this.opts.name(this.seqNow)} failed (${cause.message}); reopen the store`);
    return this.failed;
  }

  private roll(): void {
    try {
      if (this.fd !== undefined) files().closeSync(this.fd);
    } catch {
      // Every byte in it was already synced; a failing close loses nothing.
    }
    this.fd = undefined;
    this.size = 0;
    this.seqNow++;
  }
}

/** Creates `dir` if needed; a folder just made is synced into its parent, so files in it cannot vanish with it. */
export async function ensureDir(dir: string): Promise<void> {
  const made = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (made === undefined) return;
  const top = path.resolve(made);
  for (let d = path.resolve(dir); d !== path.dirname(d); d = path.dirname(d)) {
    syncDirSync(path.dirname(d));
    if (d === top) break;
  }
}

/** Numbered files in `dir` matching `re` (group 1: the number), in order. */
export async function listSegments(dir: string, re: RegExp): Promise<{ seq: number; file: string }[]> {
  const names = await fsp.readdir(dir);
  return names
    .map((n) => re.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), file: path.join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
}

/** Removes leftovers of writes that never finished (temp files start with a dot, and backups skip them). */
export async function removeTemps(dir: string): Promise<void> {
  for (const n of await fsp.readdir(dir))
    if (n.startsWith('.') && n.endsWith('.tmp')) await fsp.rm(path.join(dir, n), { force: true });
}

export async function unlinkAll(files: string[]): Promise<void> {
  for (const f of files) await fsp.rm(f, { force: true });
}

export interface LogLine<T> {
  value: T;
  /** 1-based line number */
  n: number;
  /** bytes, including the newline */
  bytes: number;
}

/**
 * Parses a JSON-lines file (see scanJsonLines): a complete line that is not JSON is damage wherever it is; a last
 * line without its newline is a torn write, cut off and reported in the file being appended to (`tornAllowed`),
 * damage anywhere else. Damage throws MemoryStoreCorrupt naming the file and line, and leaves the file as it is.
 */
export async function readJsonLines<T>(
  file: string,
  tornAllowed: boolean,
  onTorn: (message: string) => void,
): Promise<LogLine<T>[]> {
  const out: LogLine<T>[] = [];
  try {
    await scanJsonLines(file, { tornAllowed, onTorn }, (value, n, line) =>
      out.push({ value: value as T, n, bytes: Buffer.byteLength(line) + 1 }),
    );
  } catch (e) {
    if (e instanceof StoreFileCorrupt && !(e instanceof MemoryStoreCorrupt))
      throw new MemoryStoreCorrupt(e.file, e.where, e.problem);
    throw e;
  }
  return out;
}
