/**
 * Archiving memories: `archive/create|restore|list|delete|schedule`. The codec (./codec.ts) makes and checks the
 * files; this service decides what goes in and keeps the one rule that matters — a memory is always somewhere:
 *
 *   create:  select → encode → write the file durably → read it back and verify it against the originals
 *            → index entry `pending` → remove the live memories (only those still exactly as archived)
 *            → entry `complete`.
 *   crash before the entry: the file is an orphan and every memory in it is still live; `recover()` deletes it.
 *   crash after the entry: `recover()` verifies the file and finishes the removal. Nothing lost, nothing twice.
 *   restore: read and verify the whole file before anything changes; a damaged file is refused (ArchiveInvalid).
 *   delete:  entry first, then the file (a crash in between leaves an orphan, which recover() removes).
 *
 * One archive operation runs at a time (a promise-chain mutex); reads (`list`) do not wait. Schedules and the
 * times memories were restored (so a fresh restore is not archived again by the next scheduled run) live in
 * `state.json` beside the archives, written durably.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ArchiveErrorCodes, type ArchiveInvalidData } from '../../../protocol/archive';
import type {
  Archive,
  ArchiveCandidate,
  ArchiveCreate,
  ArchivePolicy,
  ArchiveRestore,
  ArchiveSchedule,
  ArchiveScheduleInfo,
} from '../../../protocol/archive';
import { ErrorCodes } from '../../../protocol';
import type { Clock } from '../../clock';
import type { Logger } from '../../log';
import { errors, DomainError } from '../../errors';
import { FileArchivePayloads } from '../../store/archive-payloads';
import { readTextIfExists, writeDurably } from '../../store/durable-file';
import type {
  AccessCounters,
  AccessRepository,
  ArchiveEntry,
  ArchiveIndexRepository,
  ArchivePayloadRepository,
  MemoryRecord,
  MemoryRepository,
} from '../../store/repositories';
import type { MemoryService } from '../service';
import {
  ArchiveError,
  archiveFileName,
  checkArchiveBytes,
  decodeArchive,
  DEFAULT_QUALITY,
  encodeArchive,
  verifyArchive,
} from './codec';
import { lastActiveAt, retentionScore } from './retention';

export const DEFAULT_POLICY_LIMIT = 10_000;
export const MAX_POLICY_LIMIT = 100_000;
export const MAX_SCHEDULE_HOURS = 8760;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A scheduled run archives in batches of `limit`; this bounds one run (a million memories at the default). */
const MAX_BATCHES_PER_RUN = 100;
/** setTimeout's ceiling (~24.8 days); a longer wait is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const STATE_FILE = 'state.json';
const STATE_FORMAT = 'crew-archive-state';
const META_FORMAT = 'crew-memories';
/** writeDurably's temp names: `.<name>.<pid>.tmp`. */
const STATE_TEMP = /^\.state\.json\.\d+\.tmp$/;

/** What one archived memory is in the file: the stored record as it is, and its access counters. */
interface Payload {
  memory: MemoryRecord;
  access: AccessCounters;
}

interface Selected {
  record: MemoryRecord;
  counters: AccessCounters;
  activeAt: number;
  score: number;
}

interface ScheduleRecord {
  name: string;
  policy: ArchivePolicy;
  everyHours: number;
  createdAt: number;
  nextRunAt: number;
  lastRunAt: number | null;
  lastResult: { at: number; archiveIds: string[]; archived: number; error: string | null } | null;
}

interface StateFile {
  format: typeof STATE_FORMAT;
  version: 1;
  schedules: ScheduleRecord[];
  /** Memory id → when it was last restored (ms), for memories that are live. */
  restoredAt: Record<string, number>;
}

export interface ArchiveServiceDeps {
  memory: Pick<MemoryService, 'detach' | 'attach'>;
  memories: MemoryRepository;
  access: AccessRepository;
  index: ArchiveIndexRepository;
  /**
   * The archives folder (`<store>/archives`: inside the store, so a store backup holds index and files alike):
   * state.json (schedules, restore times), and the archive files unless `payloads` says otherwise.
   */
  dir: string;
  /** Where the archive bytes are kept (default: `<sha256>.crewarc` files in `dir`; PostgreSQL: bytea rows). */
  payloads?: ArchivePayloadRepository;
  clock: Clock;
  log: Logger;
  /** Brotli quality 4–6 (default 5). */
  quality?: number;
  /** Run due schedules from a timer (default true; tests call runDue() instead). */
  timers?: boolean;
}

export interface OperationOptions<P> {
  signal?: AbortSignal;
  onProgress?: (progress: P) => void;
}

export interface RecoveryReport {
  /** Pending archives finished: their live memories removed. */
  finished: { archiveId: string; detached: number; keptLive: number }[];
  /** Archive files no entry names whose memories were all live: deleted. */
  orphansRemoved: string[];
  /** Archive files no entry names that hold memories not live (or cannot be read): kept, and logged. */
  orphansKept: string[];
  /** Archives whose file is missing or damaged. */
  damaged: { archiveId: string; reason: string; message: string }[];
}

export interface ScheduledRun {
  name: string;
  archiveIds: string[];
  archived: number;
  error: string | null;
}

export class ArchiveService {
  private readonly memory: ArchiveServiceDeps['memory'];
  private readonly memories: MemoryRepository;
  private readonly access: AccessRepository;
  private readonly index: ArchiveIndexRepository;
  private readonly payloads: ArchivePayloadRepository;
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly quality: number;
  private readonly timers: boolean;

  private tail: Promise<unknown> = Promise.resolve();
  private stateWrite: Promise<void> = Promise.resolve();
  private schedules = new Map<string, ScheduleRecord>();
  private restoredAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ScheduledRun[]> | undefined;
  private started = false;
  private closed = false;

  constructor(deps: ArchiveServiceDeps) {
    this.memory = deps.memory;
    this.memories = deps.memories;
    this.access = deps.access;
    this.index = deps.index;
    this.dir = deps.dir;
    this.payloads = deps.payloads ?? new FileArchivePayloads(deps.dir);
    this.clock = deps.clock;
    this.log = deps.log;
    this.quality = deps.quality ?? DEFAULT_QUALITY;
    this.timers = deps.timers ?? true;
  }

  /**
   * Loads the schedules, finishes what a crash interrupted (recover) and arms the schedule timer. Call after the
   * memory service's init(), and again after the store folder was swapped by a restore.
   */
  async start(): Promise<RecoveryReport> {
    this.closed = false;
    await this.loadState();
    const report = await this.recover();
    this.started = true;
    this.arm();
    return report;
  }

  /** Stops the timer and waits for the operation in flight. */
  async close(): Promise<void> {
    this.closed = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.tail.catch(() => undefined);
    await this.stateWrite.catch(() => undefined);
  }

  /** Runs `fn` with no archive operation in flight (e.g. a store backup, so it sees index and files agree). */
  whileIdle<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(fn);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // Where other servers share the payloads, their archive operations wait too (PostgreSQL: an advisory lock).
    const run = this.tail.then(() => (this.payloads.exclusive ? this.payloads.exclusive(fn) : fn()));
    this.tail = run.catch(() => undefined);
    return run;
  }

  // ── create ───────────────────────────────────────────────────────────

  async create(
    p: Pick<ArchiveCreate.Params, 'ids' | 'policy' | 'dryRun'>,
    opts: OperationOptions<ArchiveCreate.Progress> = {},
  ): Promise<ArchiveCreate.Result> {
    // Checked before queueing, so a bad request fails at once instead of after the operation in flight.
    if ((p.ids === undefined) === (p.policy === undefined))
      throw errors.invalidParams('give either ids or policy', {
        field: p.ids ? 'policy' : 'ids',
        issues: [{ field: '(params)', message: 'exactly one of ids and policy' }],
      });
    if (p.ids && p.ids.length === 0)
      throw errors.invalidParams('ids: at least one id', {
        field: 'ids',
        issues: [{ field: 'ids', message: 'empty' }],
      });
    const policy = p.policy && normalizePolicy(p.policy, 'policy');
    return this.exclusive(() => this.createNow(p.ids, policy, p.dryRun === true, opts));
  }

  private async createNow(
    ids: string[] | undefined,
    policy: ArchivePolicy | undefined,
    dryRun: boolean,
    { signal, onProgress }: OperationOptions<ArchiveCreate.Progress>,
  ): Promise<ArchiveCreate.Result> {
    checkSignal(signal);
    const now = this.clock.now();
    const { selected, matched } = ids ? this.selectIds(ids, now) : this.selectPolicy(policy!, now);
    const payload: Payload[] = selected.map((s) => ({ memory: s.record, access: s.counters }));
    onProgress?.({ phase: 'select', count: payload.length });

    if (dryRun) {
      const candidates = selected.map((s, i) => candidateOf(s, payload[i]!));
      return {
        dryRun: true,
        candidates,
        totals: {
          count: candidates.length,
          bytes: candidates.reduce((n, c) => n + c.bytes, 0),
          crews: crewsOf(payload),
          matched,
        },
      };
    }
    const remaining = matched - payload.length;
    if (!payload.length) return { dryRun: false, archive: null, ids: [], keptLive: [], remaining };

    const id = randomUUID();
    const crews = crewsOf(payload);
    const meta = { format: META_FORMAT, archiveId: id, createdAt: new Date(now).toISOString(), policy: policy ?? null };
    let encoded: Awaited<ReturnType<typeof encodeArchive>>;
    try {
      encoded = await encodeArchive(payload, { ...meta, crews }, { quality: this.quality });
    } catch (e) {
      // A value JSON would not bring back as it is (the codec names record and field): nothing is archived.
      if (e instanceof ArchiveError) throw invalid(e, id, '', 'no memory was archived');
      throw e;
    }
    onProgress?.({ phase: 'encode', count: payload.length });
    checkSignal(signal);
    await this.payloads.write(encoded.sha256, encoded.bytes);
    onProgress?.({ phase: 'write', count: payload.length });
    const file = archiveFileName(encoded.sha256);
    try {
      checkSignal(signal);
      // Read back from storage, not from the buffer just written: this is the copy a restore will see.
      const back = await this.readChecked(encoded.sha256);
      await verifyArchive(back, encoded.sha256, payload);
    } catch (e) {
      // No entry names the file, so nobody relies on it; the live memories are untouched.
      await this.payloads.delete(encoded.sha256);
      if (e instanceof ArchiveError)
        throw invalid(e, id, encoded.sha256, 'the archive did not read back intact; no memory was removed');
      throw e;
    }
    onProgress?.({ phase: 'verify', count: payload.length });

    const entry: ArchiveEntry = {
      id,
      file,
      sha256: encoded.sha256,
      count: payload.length,
      crews,
      memoryIds: payload.map((x) => x.memory.id),
      bytesIn: encoded.bytesIn,
      bytesOut: encoded.bytesOut,
      ratio: encoded.ratio,
      policy: policy ? { ...policy } : null,
      createdAt: now,
      restoredIds: [],
      state: 'pending',
    };
    await this.index.put(entry);
    // From here on the archive is committed: a cancel no longer stops it, and a crash is finished by recover().
    const done = await this.finish(entry, payload);
    onProgress?.({ phase: 'detach', count: done.detached.length });
    // Archived: all but the changed ones (a memory deleted meanwhile is in the archive, and only there).
    const kept = new Set(done.changed);
    const archived = payload.map((x) => x.memory.id).filter((x) => !kept.has(x));
    onProgress?.({ phase: 'done', count: archived.length });
    return {
      dryRun: false,
      archive: done.entry ? toArchive(done.entry) : null,
      ids: archived,
      keptLive: done.changed,
      remaining,
    };
  }

  /**
   * Removes the live memories of a pending entry (those still exactly as archived) and marks it complete. Memories
   * changed meanwhile stay live and count as restored; if that is every one of them the archive is dropped.
   */
  private async finish(
    entry: ArchiveEntry,
    payload: Payload[],
  ): Promise<{ entry: ArchiveEntry | undefined; detached: string[]; changed: string[] }> {
    const { detached, changed } = await this.memory.detach(payload.map((x) => x.memory));
    if (changed.length)
      this.log.warn(
        `archive ${entry.id}: ${changed.length} memories changed while being archived; their live version was kept`,
      );
    if (changed.length === payload.length) {
      await this.index.delete(entry.id);
      await this.payloads.delete(entry.sha256);
      return { entry: undefined, detached, changed };
    }
    const next: ArchiveEntry = {
      ...entry,
      restoredIds: union(entry.restoredIds, changed),
      state: 'complete',
    };
    await this.index.put(next);
    return { entry: next, detached, changed };
  }

  private selectIds(ids: string[], now: number): { selected: Selected[]; matched: number } {
    const selected: Selected[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const record = this.memories.get(id);
      if (!record) throw errors.notFound('memory', id);
      selected.push(this.describe(record, now));
    }
    return { selected, matched: selected.length };
  }

  /** Deterministic: least recently active first, then by id; the same store and clock give the same list. */
  private selectPolicy(policy: ArchivePolicy, now: number): { selected: Selected[]; matched: number } {
    const kinds = policy.kinds && new Set(policy.kinds);
    const cutoff = policy.olderThanDays === undefined ? undefined : now - policy.olderThanDays * DAY_MS;
    const source = policy.crew === undefined ? this.memories.all() : this.memories.byCrew(policy.crew);
    const matched: Selected[] = [];
    for (const record of source) {
      if (record.pinned && policy.includePinned !== true) continue;
      if (kinds && !kinds.has(record.kind)) continue;
      const s = this.describe(record, now);
      if (cutoff !== undefined && s.activeAt > cutoff) continue;
      if (policy.belowScore !== undefined && !(s.score < policy.belowScore)) continue;
      matched.push(s);
    }
    matched.sort((a, b) => a.activeAt - b.activeAt || (a.record.id < b.record.id ? -1 : 1));
    return { selected: matched.slice(0, policy.limit ?? DEFAULT_POLICY_LIMIT), matched: matched.length };
  }

  private describe(record: MemoryRecord, now: number): Selected {
    const counters = this.access.counters(record.id);
    const restored = this.restoredAt.get(record.id);
    return {
      record,
      counters: { count: counters.count, last: counters.last },
      activeAt: lastActiveAt(record, counters, restored),
      score: retentionScore(record, counters, now, restored),
    };
  }

  // ── restore ──────────────────────────────────────────────────────────

  async restore(
    p: Pick<ArchiveRestore.Params, 'archiveId' | 'ids'>,
    opts: OperationOptions<ArchiveRestore.Progress> = {},
  ): Promise<ArchiveRestore.Result> {
    return this.exclusive(() => this.restoreNow(p, opts));
  }

  private async restoreNow(
    p: Pick<ArchiveRestore.Params, 'archiveId' | 'ids'>,
    { signal, onProgress }: OperationOptions<ArchiveRestore.Progress>,
  ): Promise<ArchiveRestore.Result> {
    checkSignal(signal);
    let entry = await this.index.get(p.archiveId);
    if (!entry) throw errors.notFound('archive', p.archiveId);
    const inArchive = new Set(entry.memoryIds);
    for (const id of p.ids ?? [])
      if (!inArchive.has(id))
        throw new DomainError(ErrorCodes.NotFound, `memory "${id}" is not in archive ${entry.id}`, {
          entity: 'memory',
          id,
        });
    // Everything is read and checked before anything changes: a damaged file restores nothing.
    const payload = await this.load(entry, 'nothing was restored');
    onProgress?.({ phase: 'verify', count: payload.length });
    if (entry.state === 'pending') {
      // Finish the interrupted archive first, so the restore below starts from its settled state.
      entry = (await this.finish(entry, payload)).entry;
      if (!entry) throw errors.notFound('archive', p.archiveId);
    }
    checkSignal(signal);
    const restoredBefore = new Set(entry.restoredIds);
    const wanted = new Set(p.ids ?? entry.memoryIds.filter((id) => !restoredBefore.has(id)));
    const chosen = payload.filter((x) => wanted.has(x.memory.id));
    const result = await this.memory.attach(
      chosen.map((x) => x.memory),
      chosen.map((x) => ({ id: x.memory.id, count: x.access.count, last: x.access.last })),
    );
    onProgress?.({ phase: 'attach', count: result.attached.length });
    const now = this.clock.now();
    for (const id of result.attached) this.restoredAt.set(id, now);
    const next: ArchiveEntry = {
      ...entry,
      restoredIds: union(entry.restoredIds, [...result.attached, ...result.skipped]),
    };
    await this.index.put(next);
    // The memories are back either way; a lost mark only lets the next scheduled run consider them sooner.
    await this.saveState().catch((e: unknown) =>
      this.log.warn(`archive state could not be saved: ${(e as Error).message}`),
    );
    onProgress?.({ phase: 'done', count: result.attached.length });
    return {
      archive: toArchive(next),
      restored: result.attached,
      skipped: result.skipped,
      duplicates: result.duplicates,
    };
  }

  /** Reads, verifies and decodes an entry's file; every problem becomes ArchiveInvalid naming it. */
  private async load(entry: ArchiveEntry, consequence: string): Promise<Payload[]> {
    try {
      const bytes = await this.payloads.read(entry.sha256);
      if (!bytes) throw new ArchiveError('not-found', `the archive file ${entry.file} is missing`);
      // decodeArchive rather than readArchiveFile: it checks lengths before the checksum, so a cut-off file is
      // reported as truncated, however short.
      const decoded = await decodeArchive(bytes, entry.sha256);
      return payloadOf(decoded.records, entry);
    } catch (e) {
      if (e instanceof ArchiveError) throw invalid(e, entry.id, entry.sha256, consequence);
      throw e;
    }
  }

  // ── list / delete ────────────────────────────────────────────────────

  async list(p: { crew?: string } = {}): Promise<{ archives: Archive[]; schedules: ArchiveScheduleInfo[] }> {
    const entries = (await this.index.list()).filter((e) => p.crew === undefined || e.crews.includes(p.crew));
    entries.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    return { archives: entries.map(toArchive), schedules: this.scheduleInfos() };
  }

  async get(id: string): Promise<Archive> {
    const entry = await this.index.get(id);
    if (!entry) throw errors.notFound('archive', id);
    return toArchive(entry);
  }

  /**
   * Forgets an archive: entry first, then the file. A pending one is not finished first — its memories still live
   * stay live; only what the archive alone held is gone, as with a complete one.
   */
  async delete(id: string): Promise<{ deleted: true; unrestored: number }> {
    return this.exclusive(async () => {
      const entry = await this.index.get(id);
      if (!entry) throw errors.notFound('archive', id);
      await this.index.delete(id);
      const others = await this.index.list();
      if (!others.some((e) => e.file === entry.file)) await this.payloads.delete(entry.sha256);
      const restored = new Set(entry.restoredIds);
      return { deleted: true, unrestored: entry.memoryIds.filter((x) => !restored.has(x)).length };
    });
  }

  // ── recovery ─────────────────────────────────────────────────────────

  /**
   * At start: finish pending archives (verify the file, remove the live memories it holds), delete orphan files
   * whose memories are all live (a crash before the index entry), and remove temp files of interrupted writes.
   * A file this cannot prove redundant is kept and logged, never deleted.
   */
  async recover(): Promise<RecoveryReport> {
    return this.exclusive(async () => {
      const report: RecoveryReport = { finished: [], orphansRemoved: [], orphansKept: [], damaged: [] };
      const entries = await this.index.list();
      const stored = new Set(await this.payloads.list());
      for (const entry of entries) {
        if (entry.state === 'pending') {
          try {
            const payload = await this.load(entry, 'its live memories were left as they are');
            const done = await this.finish(entry, payload);
            report.finished.push({
              archiveId: entry.id,
              detached: done.detached.length,
              keptLive: done.changed.length,
            });
            this.log.info(`archive ${entry.id}: finished after a restart (${done.detached.length} memories removed)`);
          } catch (e) {
            report.damaged.push(damage(entry, e));
            this.log.error(`archive ${entry.id} could not be finished: ${(e as Error).message}`);
          }
        } else if (!stored.has(entry.sha256)) {
          report.damaged.push({ archiveId: entry.id, reason: 'not-found', message: `${entry.file} is missing` });
          this.log.error(`archive ${entry.id}: its file ${entry.file} is missing`);
        }
      }
      const named = new Set(entries.map((e) => e.file));
      // An archive write cut short (archive writes only happen under the lock this holds; the state file's temp
      // is another writer's and is left to start()).
      await this.payloads.removePartial();
      for (const sha256 of await this.payloads.list()) {
        const name = archiveFileName(sha256);
        if (named.has(name)) continue;
        if (await this.redundant(sha256)) {
          await this.payloads.delete(sha256);
          report.orphansRemoved.push(name);
          this.log.info(`archive file ${name}: left by an interrupted archive, its memories are live; removed`);
        } else {
          report.orphansKept.push(name);
          this.log.warn(`archive file ${name} is in no archive index entry and holds memories not live; kept`);
        }
      }
      return report;
    });
  }

  /** Whether an orphan file holds only memories that are live (so deleting it loses nothing). */
  private async redundant(sha256: string): Promise<boolean> {
    try {
      const decoded = await decodeArchive(await this.readChecked(sha256), sha256);
      return decoded.records.every((r) => {
        const id = (r as Partial<Payload> | null)?.memory?.id;
        return typeof id === 'string' && this.memories.get(id) !== undefined;
      });
    } catch {
      return false;
    }
  }

  // ── schedules ────────────────────────────────────────────────────────

  /** Sets (`policy` + `everyHours`), clears (`clear`) or, with neither, only reads the schedules. */
  async schedule(p: ArchiveSchedule.Params): Promise<ArchiveSchedule.Result> {
    const name = p.name ?? 'default';
    const setting = p.policy !== undefined || p.everyHours !== undefined;
    if (p.clear && setting)
      throw errors.invalidParams('clear: give either clear or policy and everyHours', {
        field: 'clear',
        issues: [{ field: 'clear', message: 'not with policy or everyHours' }],
      });
    if (p.clear) {
      if (this.schedules.delete(name)) {
        await this.saveState();
        this.arm();
      }
    } else if (setting) {
      if (p.policy === undefined || p.everyHours === undefined) {
        const field = p.policy === undefined ? 'policy' : 'everyHours';
        throw errors.invalidParams(`${field}: required to set a schedule`, {
          field,
          issues: [{ field, message: 'required with ' + (field === 'policy' ? 'everyHours' : 'policy') }],
        });
      }
      const policy = normalizePolicy(p.policy, 'policy');
      if (!(Number.isFinite(p.everyHours) && p.everyHours >= 1 && p.everyHours <= MAX_SCHEDULE_HOURS))
        throw errors.invalidParams(`everyHours: must be within 1..${MAX_SCHEDULE_HOURS}`, {
          field: 'everyHours',
          issues: [{ field: 'everyHours', message: `1 … ${MAX_SCHEDULE_HOURS}` }],
        });
      const now = this.clock.now();
      const old = this.schedules.get(name);
      this.schedules.set(name, {
        name,
        policy,
        everyHours: p.everyHours,
        createdAt: now,
        nextRunAt: now + p.everyHours * HOUR_MS,
        lastRunAt: old?.lastRunAt ?? null,
        lastResult: old?.lastResult ?? null,
      });
      await this.saveState();
      this.arm();
    }
    return { schedules: this.scheduleInfos() };
  }

  /**
   * Runs every schedule due at the clock's now, one after the other, each archiving everything its policy matches
   * (in archives of at most `limit` memories). The timer calls this; tests call it after moving a ManualClock.
   */
  runDue(): Promise<ScheduledRun[]> {
    this.running ??= this.runDueNow().finally(() => {
      this.running = undefined;
      this.arm();
    });
    return this.running;
  }

  private async runDueNow(): Promise<ScheduledRun[]> {
    const now = this.clock.now();
    const due = [...this.schedules.values()]
      .filter((s) => s.nextRunAt <= now)
      .sort((a, b) => a.nextRunAt - b.nextRunAt || (a.name < b.name ? -1 : 1));
    const runs: ScheduledRun[] = [];
    for (const s of due) {
      if (this.closed) break;
      runs.push(await this.runSchedule(s));
    }
    return runs;
  }

  private async runSchedule(s: ScheduleRecord): Promise<ScheduledRun> {
    const at = this.clock.now();
    const run: ScheduledRun = { name: s.name, archiveIds: [], archived: 0, error: null };
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN && !this.closed; batch++) {
        const r = await this.create({ policy: s.policy });
        if (r.dryRun || !r.archive) break;
        run.archiveIds.push(r.archive.id);
        run.archived += r.ids.length;
        if (r.remaining === 0 || r.ids.length === 0) break;
      }
      this.log.info(
        `archive schedule "${s.name}": archived ${run.archived} memories` +
          (run.archiveIds.length ? ` into ${run.archiveIds.join(', ')}` : ''),
      );
    } catch (e) {
      run.error = (e as Error).message;
      this.log.warn(`archive schedule "${s.name}" failed: ${run.error}`);
    }
    // The schedule may have been replaced or cleared while it ran; then its new settings stand.
    if (this.schedules.get(s.name) === s) {
      s.lastRunAt = at;
      s.nextRunAt = at + s.everyHours * HOUR_MS;
      s.lastResult = { at, archiveIds: run.archiveIds, archived: run.archived, error: run.error };
      await this.saveState().catch((e: unknown) =>
        this.log.warn(`archive schedules could not be saved: ${(e as Error).message}`),
      );
    }
    return run;
  }

  private scheduleInfos(): ArchiveScheduleInfo[] {
    return [...this.schedules.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => ({
        name: s.name,
        policy: { ...s.policy },
        everyHours: s.everyHours,
        createdAt: iso(s.createdAt),
        lastRunAt: s.lastRunAt === null ? null : iso(s.lastRunAt),
        nextRunAt: iso(s.nextRunAt),
        lastResult: s.lastResult && {
          at: iso(s.lastResult.at),
          archiveIds: [...s.lastResult.archiveIds],
          archived: s.lastResult.archived,
          error: s.lastResult.error,
        },
      }));
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.timers || !this.started || this.closed || this.running) return;
    let next = Infinity;
    for (const s of this.schedules.values()) next = Math.min(next, s.nextRunAt);
    if (next === Infinity) return;
    // A wait past setTimeout's ceiling fires early, finds nothing due and re-arms.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runDue().catch((e: unknown) => this.log.error(`archive schedules: ${(e as Error).message}`));
    }, delay);
    // A pending schedule must never keep the process alive.
    this.timer.unref();
  }

  // ── state file ───────────────────────────────────────────────────────

  private get stateFile(): string {
    return path.join(this.dir, STATE_FILE);
  }

  private async loadState(): Promise<void> {
    this.schedules = new Map();
    this.restoredAt = new Map();
    // At start nothing writes the state yet, so a temp file is one a crash left behind.
    await this.stateWrite;
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[]))
      if (STATE_TEMP.test(name)) await this.unlink(name);
    const text = await readTextIfExists(this.stateFile);
    if (text === undefined) return;
    let state: StateFile;
    try {
      state = JSON.parse(text) as StateFile;
      if (state.format !== STATE_FORMAT || state.version !== 1 || !Array.isArray(state.schedules))
        throw new Error('not an archive state file of version 1');
    } catch (e) {
      // Schedules are settings, not data: set the damaged file aside (kept for a person to read) and go on.
      const aside = `${this.stateFile}.damaged-${this.clock.now()}`;
      await fsp.rename(this.stateFile, aside);
      this.log.error(`archive schedules: ${this.stateFile} is unreadable (${(e as Error).message}); moved to ${aside}`);
      return;
    }
    for (const s of state.schedules) this.schedules.set(s.name, s);
    for (const [id, at] of Object.entries(state.restoredAt ?? {})) this.restoredAt.set(id, at);
  }

  /** Queues a durable write of the state as it is when the write starts (writes never overlap). */
  private saveState(): Promise<void> {
    const write = this.stateWrite.then(async () => {
      // Marks of memories no longer live are of no use: dropped here rather than tracked on every change.
      for (const id of this.restoredAt.keys()) if (!this.memories.get(id)) this.restoredAt.delete(id);
      const state: StateFile = {
        format: STATE_FORMAT,
        version: 1,
        schedules: [...this.schedules.values()],
        restoredAt: Object.fromEntries(this.restoredAt),
      };
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeDurably(this.stateFile, JSON.stringify(state));
    });
    // The chain itself never rejects, so one failed write does not fail every later one.
    this.stateWrite = write.catch(() => undefined);
    return write;
  }

  /** The stored bytes of an archive, checked against their sha256 (ArchiveError not-found, truncated, …). */
  private async readChecked(sha256: string): Promise<Buffer> {
    const name = archiveFileName(sha256);
    const bytes = await this.payloads.read(sha256);
    if (!bytes) throw new ArchiveError('not-found', `archive ${name} is missing`);
    return checkArchiveBytes(bytes, sha256, `archive ${name}`);
  }

  private async unlink(name: string): Promise<void> {
    try {
      await fsp.unlink(path.join(this.dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

// ── helpers ────────────────────────────────────────────────────────────

function normalizePolicy(policy: ArchivePolicy, field: string): ArchivePolicy {
  const bad = (key: string, message: string) =>
    errors.invalidParams(`${field}.${key}: ${message}`, {
      field: `${field}.${key}`,
      issues: [{ field: `${field}.${key}`, message }],
    });
  if (policy.olderThanDays === undefined && policy.belowScore === undefined)
    throw errors.invalidParams(`${field}: needs olderThanDays or belowScore (a policy never means "everything")`, {
      field,
      issues: [{ field, message: 'olderThanDays or belowScore required' }],
    });
  if (policy.olderThanDays !== undefined && !(Number.isFinite(policy.olderThanDays) && policy.olderThanDays >= 0))
    throw bad('olderThanDays', 'a number of days ≥ 0');
  if (policy.belowScore !== undefined && !(policy.belowScore > 0 && policy.belowScore <= 1))
    throw bad('belowScore', 'within 0 (exclusive) … 1');
  if (
    policy.limit !== undefined &&
    !(Number.isInteger(policy.limit) && policy.limit >= 1 && policy.limit <= MAX_POLICY_LIMIT)
  )
    throw bad('limit', `an integer within 1 … ${MAX_POLICY_LIMIT}`);
  // Only the known keys, in one order: the policy is stored in the index and the file as given here.
  const out: ArchivePolicy = {};
  if (policy.crew !== undefined) out.crew = policy.crew;
  if (policy.olderThanDays !== undefined) out.olderThanDays = policy.olderThanDays;
  if (policy.belowScore !== undefined) out.belowScore = policy.belowScore;
  if (policy.kinds !== undefined) out.kinds = [...new Set(policy.kinds)].sort();
  if (policy.includePinned !== undefined) out.includePinned = policy.includePinned;
  if (policy.limit !== undefined) out.limit = policy.limit;
  return out;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw errors.cancelled();
}

function invalid(e: ArchiveError, archiveId: string, sha256: string, consequence: string): DomainError {
  return new DomainError(ArchiveErrorCodes.ArchiveInvalid, `archive ${archiveId}: ${e.message}; ${consequence}`, {
    reason: e.reason,
    archiveId,
    sha256,
  } satisfies ArchiveInvalidData);
}

function damage(entry: ArchiveEntry, e: unknown): RecoveryReport['damaged'][number] {
  const data = e instanceof DomainError ? (e.data as Partial<ArchiveInvalidData> | undefined) : undefined;
  return { archiveId: entry.id, reason: data?.reason ?? 'error', message: (e as Error).message };
}

/** Checks every decoded record is an archived memory of this entry, and that they are exactly its memories. */
function payloadOf(records: unknown[], entry: ArchiveEntry): Payload[] {
  const ids = new Set(entry.memoryIds);
  const seen = new Set<string>();
  records.forEach((r, i) => {
    if (!isPayload(r)) throw new ArchiveError('corrupt', `record ${i} is not an archived memory`);
    if (!ids.has(r.memory.id) || seen.has(r.memory.id))
      throw new ArchiveError('corrupt', `record ${i} (id "${r.memory.id}") is not one of this archive's memories`);
    seen.add(r.memory.id);
  });
  if (seen.size !== ids.size)
    throw new ArchiveError('count-mismatch', `the file holds ${seen.size} memories, the index names ${ids.size}`);
  return records as Payload[];
}

function isPayload(r: unknown): r is Payload {
  const x = r as Partial<Payload> | null;
  const m = x?.memory;
  const a = x?.access;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.id === 'string' &&
    typeof m.crew === 'string' &&
    typeof m.content === 'string' &&
    typeof m.contentHash === 'string' &&
    Array.isArray(m.tags) &&
    Array.isArray(m.history) &&
    typeof a === 'object' &&
    a !== null &&
    Number.isInteger(a.count) &&
    (a.last === null || Number.isFinite(a.last))
  );
}

function toArchive(e: ArchiveEntry): Archive {
  const restored = new Set(e.restoredIds);
  return {
    id: e.id,
    sha256: e.sha256,
    count: e.count,
    crews: [...e.crews],
    bytesIn: e.bytesIn,
    bytesOut: e.bytesOut,
    ratio: e.ratio,
    policy: e.policy,
    createdAt: iso(e.createdAt),
    restoredIds: [...e.restoredIds],
    state: e.state === 'pending' ? 'pending' : e.memoryIds.every((x) => restored.has(x)) ? 'restored' : 'complete',
  };
}

function candidateOf(s: Selected, payload: Payload): ArchiveCandidate {
  const r = s.record;
  return {
    id: r.id,
    crew: r.crew,
    kind: r.kind,
    pinned: r.pinned,
    preview: preview(r.content),
    createdAt: iso(r.createdAt),
    lastAccessedAt: s.counters.last === null ? null : iso(s.counters.last),
    lastActiveAt: iso(s.activeAt),
    accessCount: s.counters.count,
    retentionScore: s.score,
    bytes: Buffer.byteLength(JSON.stringify(payload), 'utf8'),
  };
}

function preview(content: string): string {
  // Folding a prefix only: a 100 KB body need not be scanned to show 80 characters.
  return Array.from(content.slice(0, 1000).replace(/\s+/g, ' ').trim()).slice(0, 80).join('');
}

function crewsOf(payload: Payload[]): string[] {
  return [...new Set(payload.map((x) => x.memory.crew))].sort();
}

function union(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  const seen = new Set(a);
  for (const x of b) {
    if (seen.has(x)) continue;
    seen.add(x);
    out.push(x);
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
