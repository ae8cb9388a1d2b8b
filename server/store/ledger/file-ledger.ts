/**
 * The ledger on disk: append-only JSON-lines segments. A call appends one line; lines arriving together are
 * written with one O_DSYNC write (group commit; write + fdatasync where there is no O_DSYNC), so the ledger never
 * rewrites the store and a row is on disk before the call that produced it is answered. A cost correction
 * (reconcile) is appended as its own line.
 * Segments roll at SEGMENT_ROWS; sealed segments are compacted in the background (corrections folded in).
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { CallStatus } from '../../../protocol';
import { DSYNC, openAppend, syncAppended, writeAll, writeAllSync } from '../append-io';
import { isFiniteNumber, isNonNegInt, isObject, scanJsonLines, StoreFileCorrupt, unknownKeys } from '../corrupt';
import { syncDirSync, writeDurably } from '../durable-file';
import { files } from '../fs-layer';
import { ensureDir, listSegments } from '../memory/segment-io';
import type {
  LedgerAggregate,
  LedgerFilter,
  LedgerGroupBy,
  LedgerRepository,
  LedgerRow,
  LedgerUsage,
  NewLedgerRow,
} from '../repositories';
import { LedgerColumns } from './columns';

export const SEGMENT_ROWS = 100_000;

/** Compact on-disk form of a row; short keys because a ledger holds millions of them. */
interface RowLine {
  i: number;
  t: number;
  m: string;
  c?: string;
  a?: string;
  g?: string[];
  p: number;
  o: number;
  k?: number;
  r?: number;
  /** picodollars */
  $: number;
  /** exact decimal text */
  d: string;
  e?: 1;
  id?: string;
  l: number;
  s?: 'e' | 'c';
  st?: 1;
}

interface FixLine {
  fix: number;
  $: number;
  d: string;
}

/** A write on the event loop slower than this (ms) means a slow disk: batches then go through the thread pool. */
const SLOW_WRITE_MS = 2;
/** For how long (ms) after such a write. */
const SLOW_DISK_POOL_MS = 1_000;

/** Damage in a ledger segment (the file and line are named). */
export class LedgerCorrupt extends StoreFileCorrupt {
  constructor(file: string, where: string, problem: string) {
    super(file, where, problem);
    this.name = 'LedgerCorrupt';
  }
}

/**
 * The ledger repository over a FileLedger, found through `current` on every call: a store restore replaces the
 * FileLedger, and holders of the repository must never go stale. Reads answer from memory at once.
 */
export function ledgerRepository(current: () => FileLedger): LedgerRepository {
  return {
    append: (row, opts) => current().append(row, opts),
    settleCost: (id, pico, cost) => current().settleCost(id, pico, cost),
    get: async (id) => current().get(id),
    count: async () => current().count(),
    sumCost: async (filter) => current().sumCost(filter),
    aggregate: async (filter, by) => current().aggregate(filter, by),
    list: async (filter) => current().list(filter),
    estimated: async (limit) => current().estimated(limit),
    usage: async (filter) => current().usage(filter),
  };
}

export class FileLedger {
  private readonly cols = new LedgerColumns();
  private lastTs = 0;
  private active: number | undefined;
  private activeSeq = 0;
  private activeRows = 0;
  /** Bytes of the active segment known to be whole on disk; a failed write is cut back to it. */
  private activeSize = 0;
  private pending: string[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  /** Until when (performance.now()) batches go through the thread pool: a recent write on the event loop was slow. */
  private poolUntil = 0;
  private compacting: Promise<void> | undefined;
  /**
   * The segments holding correction lines that no compaction has folded in and dropped yet. With none, a
   * compaction would read and parse every sealed segment (100,000 rows each) only to find them unchanged: tens of
   * MB of garbage each time a segment rolls, and a daemon's memory grown for good.
   */
  private readonly fixSegments = new Set<number>();
  /**
   * Set once a write has failed: the rows in memory are then ahead of the disk (and the ids after them would not
   * follow on from what a restart reads), so every later write is refused until the store is reopened.
   */
  private failed: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly onError: (message: string) => void,
  ) {}

  static async open(dir: string, onError: (message: string) => void = () => undefined): Promise<FileLedger> {
    await ensureDir(dir);
    const ledger = new FileLedger(dir, onError);
    await ledger.load();
    return ledger;
  }

  private async segments(): Promise<{ seq: number; file: string }[]> {
    return listSegments(this.dir, /^(\d{6})\.jsonl$/);
  }

  /**
   * Reads every segment. Each line must be a row (with the next id) or a correction of an earlier row, exactly as
   * written; only a last line without its newline in the last segment (a write never acknowledged) is dropped.
   */
  private async load(): Promise<void> {
    const segs = await this.segments();
    const fixes: FixLine[] = [];
    for (const seg of segs) {
      let rows = 0;
      await scanLedgerLines(
        seg.file,
        { tornAllowed: seg === segs[segs.length - 1], onTorn: this.onError },
        (value, n) => {
          const problem = checkLine(value, this.cols.nextId());
          if (problem) throw new LedgerCorrupt(seg.file, `line ${n}`, problem);
          const parsed = value as RowLine | FixLine;
          if ('fix' in parsed) {
            if (parsed.fix >= this.cols.nextId())
              throw new LedgerCorrupt(
                seg.file,
                `line ${n}`,
                `corrects row ${parsed.fix}, which comes later or not at all`,
              );
            fixes.push(parsed);
            this.fixSegments.add(seg.seq);
          } else {
            this.cols.push(fromLine(parsed), parsed.t);
            this.lastTs = Math.max(this.lastTs, parsed.t);
            rows++;
          }
        },
      );
      this.activeSeq = seg.seq;
      this.activeRows = rows;
    }
    for (const f of fixes) this.cols.setCost(f.fix, f.$, f.d);
    if (this.activeSeq === 0) this.activeSeq = 1;
  }

  private fd(): number {
    if (this.active === undefined) {
      const file = path.join(this.dir, segName(this.activeSeq));
      const existed = fs.existsSync(file);
      const fd = openAppend(file);
      try {
        // O_DSYNC makes the data durable; a new file's name lives in the folder, so that is synced too, once.
        if (!existed) syncDirSync(this.dir);
        this.activeSize = fs.fstatSync(fd).size;
      } catch (e) {
        files().closeSync(fd);
        throw e;
      }
      this.active = fd;
    }
    return this.active;
  }

  append(row: NewLedgerRow, opts: { alone?: boolean } = {}): Promise<LedgerRow> {
    if (this.failed) return Promise.reject(this.failed);
    // Never write a row the next start would refuse to read back (a NaN cost would be `null` in the file).
    const bad = newRowProblem(row);
    if (bad) return Promise.reject(new RangeError(`ledger row refused: ${bad}`));
    // Rows are kept in time order so reports can binary-search ranges.
    const ts = Math.max(row.ts, this.lastTs);
    this.lastTs = ts;
    const stored = this.cols.push(row, ts);
    this.activeRows++;
    const line = JSON.stringify(toLine(stored));
    if (opts.alone && !this.flushing && this.writesInline()) {
      // Nothing to group with: one synchronous O_DSYNC write (~0.12 ms) beats a thread-pool round trip.
      try {
        this.writeSync(Buffer.from(line + '\n'));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
      this.rollIfFull();
      return Promise.resolve(stored);
    }
    return this.enqueue(line).then(() => stored);
  }

  async settleCost(id: number, costPico: number, cost: string): Promise<LedgerRow | undefined> {
    if (this.failed) throw this.failed;
    if (!Number.isSafeInteger(costPico) || !isCostText(cost))
      throw new RangeError(`ledger correction refused: cost ${String(costPico)} / "${cost}" is not exact`);
    // Only an estimate is replaced, once (as on PostgreSQL, where two instances may reconcile one row).
    if (!this.cols.get(id)?.estimated || !this.cols.setCost(id, costPico, cost)) return undefined;
    this.fixSegments.add(this.activeSeq);
    await this.enqueue(JSON.stringify({ fix: id, $: costPico, d: cost } satisfies FixLine));
    return this.cols.get(id);
  }

  private enqueue(line: string): Promise<void> {
    this.pending.push(line);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
    return done;
  }

  /** Whether a write may be made on the event loop: the segment is O_DSYNC and the disk has been fast. */
  private writesInline(): boolean {
    return DSYNC !== undefined && performance.now() >= this.poolUntil;
  }

  private writeSync(buf: Buffer): void {
    const fd = this.fd();
    const started = performance.now();
    try {
      writeAllSync(fd, buf);
    } catch (e) {
      throw this.fail(fd, e);
    }
    const took = performance.now() - started;
    if (took > SLOW_WRITE_MS) this.poolUntil = performance.now() + SLOW_DISK_POOL_MS;
    this.activeSize += buf.length;
  }

  /**
   * Writes every line queued since the last flush in one write; the segment is O_DSYNC, so the write returns once
   * the data is on disk. It is made on the event loop: on a disk that takes a fifth of a millisecond, waiting for
   * it costs a busy gateway less than the thread pool's hops there and back (against them, in turns over 8 rounds of
   * bench/gateway.ts's load: p50 0.25 ms lower, 3 % more calls/s), and the calls that complete meanwhile make the
   * next batch when the loop comes back. After a write slower than SLOW_WRITE_MS (a busy or remote disk) batches
   * go through the thread pool for a while, so a stalling disk does not stall every other request with it.
   */
  private async flush(): Promise<void> {
    while (this.pending.length) {
      const lines = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        if (this.failed) throw this.failed;
        const buf = Buffer.from(lines.join('\n') + '\n');
        if (this.writesInline()) this.writeSync(buf);
        else {
          const fd = this.fd();
          try {
            await writeAll(fd, buf);
            await syncAppended(fd);
          } catch (e) {
            throw this.fail(fd, e);
          }
          this.activeSize += buf.length;
        }
        waiters.forEach((w) => w.resolve());
      } catch (e) {
        this.failed ??= e instanceof Error ? e : new Error(String(e));
        waiters.forEach((w) => w.reject(e));
      }
      if (!this.failed) this.rollIfFull();
    }
    this.flushing = false;
  }

  /** A write failed: cut the partial batch off (no torn line mid-file) and refuse every later write. */
  private fail(fd: number, e: unknown): Error {
    const cause = e instanceof Error ? e : new Error(String(e));
    try {
      files().ftruncateSync(fd, this.activeSize);
    } catch {
      // A reopen drops a torn tail anyway; the refusal below keeps memory and disk from diverging further.
    }
    this.failed = new Error(`ledger write to ${segName(this.activeSeq)} failed (${cause.message}); restart the server`);
    this.onError(this.failed.message);
    return this.failed;
  }

  private rollIfFull(): void {
    if (this.activeRows < SEGMENT_ROWS) return;
    this.roll();
    void this.compact().catch((e: Error) => this.onError(`ledger compaction failed: ${e.message}`));
  }

  private roll(): void {
    if (this.active !== undefined) files().closeSync(this.active);
    this.active = undefined;
    this.activeSeq++;
    this.activeRows = 0;
  }

  get(id: number): LedgerRow | undefined {
    return this.cols.get(id);
  }
  count(): number {
    return this.cols.length;
  }
  /** LocalGate's synchronous view: what is in memory now (the gate's check and reserve must not await). */
  sumCostNow(filter: LedgerFilter): bigint {
    return this.cols.sumCost(filter);
  }

  countNow(): number {
    return this.count();
  }

  sumCost(filter: LedgerFilter): bigint {
    return this.cols.sumCost(filter);
  }
  aggregate(filter: LedgerFilter, by: LedgerGroupBy): LedgerAggregate[] {
    return this.cols.aggregate(filter, by);
  }
  usage(filter: LedgerFilter): LedgerUsage[] {
    return this.cols.usage(filter);
  }

  list(filter: LedgerFilter & { before?: number; limit: number }): { rows: LedgerRow[]; total: number } {
    return this.cols.list(filter);
  }
  estimated(limit: number): LedgerRow[] {
    return this.cols.estimated(limit);
  }

  /**
   * Rewrites sealed segments that corrections point into, with the corrections folded in, then drops the
   * correction lines from later segments. Runs in the background; a crash midway leaves either the old or the
   * new segment (atomic rename), and re-applying a correction is harmless.
   */
  compact(): Promise<void> {
    this.compacting ??= this.doCompact().finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  private async doCompact(): Promise<void> {
    if (this.fixSegments.size === 0) return;
    // Ascending order matters: a correction always follows its row, so by the time a segment's correction lines
    // are dropped, the segment holding the corrected row has been rewritten with the corrected figure.
    const segs = (await this.segments()).filter((s) => s.seq < this.activeSeq);
    for (const seg of segs) {
      const text = await fsp.readFile(seg.file, 'utf8');
      const lines = text.split('\n').filter((l) => l !== '');
      let dirty = false;
      const out: string[] = [];
      for (const l of lines) {
        const parsed = JSON.parse(l) as RowLine | FixLine;
        if ('fix' in parsed) {
          dirty = true;
          continue;
        }
        const current = this.cols.get(parsed.i);
        if (current && (current.costPico !== parsed.$ || current.estimated !== (parsed.e === 1))) {
          dirty = true;
          out.push(JSON.stringify(toLine(current)));
        } else out.push(l);
      }
      if (dirty) await writeDurably(seg.file, out.join('\n') + '\n');
      // Its correction lines are gone now; the active segment's wait for it to be sealed.
      this.fixSegments.delete(seg.seq);
    }
  }

  async close(): Promise<void> {
    while (this.flushing) await new Promise((r) => setImmediate(r));
    await this.compacting;
    if (this.active !== undefined) files().closeSync(this.active);
    this.active = undefined;
  }
}

/** scanJsonLines, with its damage reported as LedgerCorrupt. */
async function scanLedgerLines(...args: Parameters<typeof scanJsonLines>): Promise<void> {
  try {
    await scanJsonLines(...args);
  } catch (e) {
    if (e instanceof StoreFileCorrupt && !(e instanceof LedgerCorrupt))
      throw new LedgerCorrupt(e.file, e.where, e.problem);
    throw e;
  }
}

function segName(seq: number): string {
  return `${String(seq).padStart(6, '0')}.jsonl`;
}

const STATUS_CODE: Record<CallStatus, RowLine['s']> = { ok: undefined, error: 'e', cancelled: 'c' };

function toLine(r: LedgerRow): RowLine {
  const line: RowLine = {
    i: r.id,
    t: r.ts,
    m: r.model,
    p: r.promptTokens,
    o: r.completionTokens,
    $: r.costPico,
    d: r.cost,
    l: r.latencyMs,
  };
  if (r.crew !== null) line.c = r.crew;
  if (r.agent !== null) line.a = r.agent;
  if (r.tags.length) line.g = r.tags;
  if (r.cachedTokens) line.k = r.cachedTokens;
  if (r.reasoningTokens) line.r = r.reasoningTokens;
  if (r.estimated) line.e = 1;
  if (r.generationId !== null) line.id = r.generationId;
  const s = STATUS_CODE[r.status];
  if (s) line.s = s;
  if (r.stream) line.st = 1;
  return line;
}

function fromLine(l: RowLine): LedgerRow {
  return {
    id: l.i,
    ts: l.t,
    model: l.m,
    crew: l.c ?? null,
    agent: l.a ?? null,
    tags: l.g ?? [],
    promptTokens: l.p,
    completionTokens: l.o,
    cachedTokens: l.k ?? 0,
    reasoningTokens: l.r ?? 0,
    costPico: l.$,
    cost: l.d,
    estimated: l.e === 1,
    generationId: l.id ?? null,
    latencyMs: l.l,
    status: l.s === 'e' ? 'error' : l.s === 'c' ? 'cancelled' : 'ok',
    stream: l.st === 1,
  };
}

const ROW_KEYS = new Set(['i', 't', 'm', 'c', 'a', 'g', 'p', 'o', 'k', 'r', '$', 'd', 'e', 'id', 'l', 's', 'st']);
const FIX_KEYS = new Set(['fix', '$', 'd']);
const U32 = 0xffff_ffff;
const isCount = (v: unknown) => isNonNegInt(v) && v <= U32;

/** A cost as written: an exact decimal (every such text parses to picodollars; checked on each row at load). */
const COST_TEXT = /^-?\d+(\.\d+)?$/;
const isCostText = (v: unknown): boolean => typeof v === 'string' && COST_TEXT.test(v);

/** What about a row to append would not survive the trip to disk and back, or undefined. */
function newRowProblem(r: NewLedgerRow): string | undefined {
  if (!isFiniteNumber(r.ts)) return `ts ${String(r.ts)} is not a time`;
  if (typeof r.model !== 'string') return 'model is not a string';
  if (!Number.isSafeInteger(r.costPico)) return `costPico ${String(r.costPico)} is not a whole number`;
  if (!isCostText(r.cost)) return `cost "${String(r.cost)}" is not a decimal`;
  if (!isFiniteNumber(r.latencyMs)) return `latencyMs ${String(r.latencyMs)} is not a number`;
  return undefined;
}

/** What is wrong with a parsed ledger line, or undefined for a row with id `nextId` or a correction. */
function checkLine(v: unknown, nextId: number): string | undefined {
  if (!isObject(v)) return 'is not a ledger row';
  if ('fix' in v) {
    const extra = unknownKeys(v, FIX_KEYS);
    if (extra.length) return `is a correction with unexpected fields (${extra.join(', ')})`;
    if (!Number.isSafeInteger(v.fix) || (v.fix as number) < 1) return 'is a correction of no row ("fix")';
    if (!Number.isSafeInteger(v.$)) return 'is a correction without a whole picodollar cost ("$")';
    if (!isCostText(v.d)) return 'is a correction without a decimal cost ("d")';
    return undefined;
  }
  // Checked without allocating on the way (a million rows at open): the list is built only for the message.
  for (const k in v)
    if (!ROW_KEYS.has(k)) return `is a ledger row with unexpected fields (${unknownKeys(v, ROW_KEYS).join(', ')})`;
  const bad = (field: string, what: string) => `is a ledger row whose "${field}" is not ${what}`;
  if (v.i !== nextId)
    return Number.isSafeInteger(v.i) ? `is row ${String(v.i)}, expected row ${nextId}` : bad('i', 'a row id');
  if (!isFiniteNumber(v.t) || v.t < 0) return bad('t', 'a time');
  if (typeof v.m !== 'string') return bad('m', 'a model id');
  if (v.c !== undefined && typeof v.c !== 'string') return bad('c', 'a crew');
  if (v.a !== undefined && typeof v.a !== 'string') return bad('a', 'an agent');
  if (v.g !== undefined && !(Array.isArray(v.g) && v.g.every((x) => typeof x === 'string')))
    return bad('g', 'a list of tags');
  if (!isCount(v.p)) return bad('p', 'a token count');
  if (!isCount(v.o)) return bad('o', 'a token count');
  if (v.k !== undefined && !isCount(v.k)) return bad('k', 'a token count');
  if (v.r !== undefined && !isCount(v.r)) return bad('r', 'a token count');
  if (!Number.isSafeInteger(v.$)) return bad('$', 'a whole number of picodollars');
  if (!isCostText(v.d)) return bad('d', 'a decimal cost');
  if (v.e !== undefined && v.e !== 1) return bad('e', '1');
  if (v.id !== undefined && typeof v.id !== 'string') return bad('id', 'a generation id');
  if (!isFiniteNumber(v.l) || v.l < 0 || v.l > U32) return bad('l', 'a latency');
  if (v.s !== undefined && v.s !== 'e' && v.s !== 'c') return bad('s', 'a status');
  if (v.st !== undefined && v.st !== 1) return bad('st', '1');
  return undefined;
}
