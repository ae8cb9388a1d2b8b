/**
 * AccessRepository on PostgreSQL, shared by every instance: per-memory counters (`crew_memory_access`), per-day
 * per-crew aggregates (`crew_memory_access_daily`: accesses, distinct memories, 24 hourly counts, UTC), the ids seen
 * on days whose distinct count is still open (`crew_memory_access_seen`), and the newest day seen
 * (`crew_memory_access_state`).
 *
 * `record` is synchronous: events go into a pending batch, written in the background (every `flushEveryMs`, or at
 * once past `flushEveryEvents`); `flush` writes everything recorded so far. A flush *adds* to what is stored
 * (`count = count + excluded.count`, by-hour counts summed element-wise), so the counts of several instances add
 * up and never overwrite each other; `forget` and `restore` are the only writes that set a counter outright. A
 * flush that fails (the database away) keeps its batch for the next one, so a short outage loses no counts.
 *
 * Distinct memories per day follow the local store (store/memory/access-store.ts) exactly: a (day, crew) counts
 * distinct ids while it is *tracking* — from its first event until the newest day seen moves past the day after
 * it (the newest day and the one before it stay open); then its count is frozen and its ids dropped. A late event
 * for a frozen day still counts as an access, not as a distinct memory. Aggregates more than `keepDays` before the
 * newest day are dropped. Flushes lock the state row, so they apply one after the other, in commit order, as if
 * every instance's events had been recorded by one store; the distinct count is decided by the shared seen table
 * (`insert … on conflict do nothing`), so a memory read on two instances the same day counts once.
 *
 * The reads (`counters`, `daily`) answer from memory: what the database held as last read (loaded at open, kept
 * current by the rows each flush returns and by other instances' notices on `crew_memory_access`) plus the events
 * this instance recorded but has not written yet. Until a flush, a distinct memory counted here may also have been
 * counted by another instance's unwritten batch; the flush settles it from the database.
 */
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import { silentLogger, type Logger } from '../../log';
import type { AccessCounters, AccessRepository, DailyAccess, ExternalChange } from '../repositories';
import type { PgDatabase, Tx } from './db';
import { listenForChanges, sendNotices } from './notices';
import type { PgRepositoryOptions } from './record-table';
import { listeners, Refresher, WriteQueue, type ExternalChangeListeners } from './write-through';

const CHANNEL = 'crew_memory_access';
const DAY = 86_400_000;
const HOUR = 3_600_000;

export interface PgAccessOptions extends PgRepositoryOptions {
  /** Background write failures (the database away); `flush` rejects instead. */
  onError?(message: string): void;
  /** Write the events recorded so far this often (default 200 ms)… */
  flushEveryMs?: number;
  /** …or as soon as this many are waiting (default 1,000). */
  flushEveryEvents?: number;
  /** Daily aggregates older than this many days before the newest are dropped (default 400). */
  keepDays?: number;
}

type EventTuple = [id: string, crew: string, at: number];

interface Counter {
  count: number;
  last: number | null;
}

/** What a batch does to one counter: optionally set it (forget: to nothing), then add. */
interface CounterDelta {
  reset: { count: number; last: number | null; drop: boolean } | null;
  add: number;
  last: number | null;
}

/** A batch's share of one (day, crew), as the reads see it before it is written. */
interface DayOverlay {
  accesses: number;
  byHour: number[];
  /** Ids recorded while the day was tracking: distinct-memory candidates. */
  ids: Set<string>;
}

interface DayRow {
  accesses: number;
  memories: number;
  byHour: number[];
  tracking: boolean;
}

class Batch {
  readonly counters = new Map<string, CounterDelta>();
  readonly events: EventTuple[] = [];
  readonly days = new Map<string, DayOverlay>();

  get empty(): boolean {
    return this.counters.size === 0 && this.events.length === 0;
  }

  /** This batch followed by `later`, as one. */
  then(later: Batch): Batch {
    const out = new Batch();
    for (const [id, d] of this.counters) out.counters.set(id, d);
    for (const [id, d] of later.counters) out.counters.set(id, compose(out.counters.get(id), d));
    out.events.push(...this.events, ...later.events);
    for (const src of [this, later])
      for (const [key, o] of src.days) {
        const t = out.days.get(key);
        if (!t) out.days.set(key, { accesses: o.accesses, byHour: [...o.byHour], ids: new Set(o.ids) });
        else {
          t.accesses += o.accesses;
          o.byHour.forEach((n, h) => (t.byHour[h]! += n));
          for (const id of o.ids) t.ids.add(id);
        }
      }
    return out;
  }
}

const maxNullable = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function compose(first: CounterDelta | undefined, next: CounterDelta): CounterDelta {
  if (!first || next.reset) return next;
  return { reset: first.reset, add: first.add + next.add, last: maxNullable(first.last, next.last) };
}

function applyDelta(c: Counter, d: CounterDelta | undefined): Counter {
  if (!d) return c;
  const start = d.reset ?? c;
  return { count: start.count + d.add, last: maxNullable(start.last, d.last) };
}

/** YYYY-MM-DD `n` days from `day`. */
function dayOffset(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + n * DAY).toISOString().slice(0, 10);
}

// A (day, crew) as one string: the day is always 10 characters.
const dayKey = (day: string, crew: string) => day + crew;
const keyDay = (key: string) => key.slice(0, 10);
const keyCrew = (key: string) => key.slice(10);

const num = (v: string | number) => Number(v);
const numOrNull = (v: string | number | null) => (v === null ? null : Number(v));

export class PgAccessRepository implements AccessRepository {
  // What the database held as last read.
  private readonly baseCounters = new Map<string, Counter>();
  private readonly baseDays = new Map<string, DayRow>();
  /** The ids seen of tracking (day, crew)s, as far as this instance knows. */
  private readonly baseSeen = new Map<string, Set<string>>();
  private baseLatest: string | null = null;

  // What this instance recorded and has not written yet: `inflight` is being written.
  private pending = new Batch();
  private inflight: Batch | undefined;
  /** The newest day with this instance's unwritten events counted. */
  private viewLatest: string | null = null;
  /** (day, crew)s frozen by an unwritten event's new newest day. */
  private readonly viewFrozen = new Set<string>();
  private cacheStart = NaN;
  private cacheDay = '';

  private readonly queue: WriteQueue;
  private readonly refresher: Refresher;
  private readonly changes: ExternalChangeListeners<ExternalChange>;
  private unlisten: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  private failures = 0;
  private closed = false;

  private readonly instance: string;
  private readonly log: Logger;
  private readonly onError: (message: string) => void;
  private readonly flushEveryMs: number;
  private readonly flushEveryEvents: number;
  private readonly keepDays: number;

  private constructor(
    private readonly db: PgDatabase,
    opts: PgAccessOptions,
  ) {
    this.instance = opts.instance;
    this.log = opts.log ?? silentLogger;
    this.onError = (m) => (opts.onError ? opts.onError(m) : this.log.warn(m));
    this.flushEveryMs = opts.flushEveryMs ?? 200;
    this.flushEveryEvents = opts.flushEveryEvents ?? 1_000;
    this.keepDays = opts.keepDays ?? 400;
    this.queue = new WriteQueue(db);
    this.changes = listeners(this.log, CHANNEL);
    this.refresher = new Refresher(
      this.queue,
      { ids: (keys) => this.reloadKeys(keys), all: () => this.reloadAll() },
      this.log,
      CHANNEL,
    );
  }

  static async open(db: PgDatabase, opts: PgAccessOptions): Promise<PgAccessRepository> {
    const repo = new PgAccessRepository(db, opts);
    repo.unlisten = await listenForChanges(
      db,
      CHANNEL,
      repo.instance,
      { ids: (keys) => repo.refresher.request(keys), all: () => repo.refresher.request() },
      repo.log,
    );
    try {
      await repo.queue.exclusive(() => repo.reloadAll());
    } catch (e) {
      repo.unlisten();
      throw e;
    }
    return repo;
  }

  onExternalChange(listener: (change: ExternalChange) => void): () => void {
    return this.changes.add(listener);
  }

  // ── recording ────────────────────────────────────────────────────────

  record(events: { id: string; crew: string; at: number }[]): void {
    for (const e of events)
      if (typeof e.id !== 'string' || typeof e.crew !== 'string' || !Number.isFinite(e.at))
        throw new TypeError(`not an access event: ${JSON.stringify(e)}`);
    if (this.closed) return;
    for (const e of events) this.apply(e.id, e.crew, e.at);
    this.schedule();
  }

  private apply(id: string, crew: string, at: number): void {
    const b = this.pending;
    b.counters.set(id, compose(b.counters.get(id), { reset: null, add: 1, last: at }));
    b.events.push([id, crew, at]);

    if (!(at >= this.cacheStart && at < this.cacheStart + DAY)) {
      this.cacheStart = Math.floor(at / DAY) * DAY;
      this.cacheDay = new Date(this.cacheStart).toISOString().slice(0, 10);
    }
    const day = this.cacheDay;
    if (this.viewLatest === null || day > this.viewLatest) this.advanceView(day);
    const key = dayKey(day, crew);
    let o = b.days.get(key);
    if (!o) {
      const known = this.baseDays.has(key) || this.inflight?.days.has(key);
      // A day older than the kept window is not worth a new aggregate.
      if (!known && day < dayOffset(this.viewLatest!, -this.keepDays)) return;
      o = { accesses: 0, byHour: new Array<number>(24).fill(0), ids: new Set() };
      b.days.set(key, o);
    }
    o.accesses++;
    o.byHour[Math.floor((at - this.cacheStart) / HOUR)]!++;
    if (this.viewTracking(key) && !this.baseSeen.get(key)?.has(id)) o.ids.add(id);
  }

  /** Whether the reads count distinct memories of `key` for events recorded now. */
  private viewTracking(key: string): boolean {
    if (this.viewFrozen.has(key)) return false;
    return this.baseDays.get(key)?.tracking ?? true;
  }

  /** A new newest day in the reads: the days no longer open stop counting distinct memories. */
  private advanceView(day: string): void {
    this.viewLatest = day;
    const openFrom = dayOffset(day, -1);
    const freeze = (keys: Iterable<string>) => {
      for (const key of keys) if (keyDay(key) < openFrom) this.viewFrozen.add(key);
    };
    freeze(this.baseDays.keys());
    if (this.inflight) freeze(this.inflight.days.keys());
    freeze(this.pending.days.keys());
  }

  forget(ids: string[]): void {
    if (this.closed) return;
    for (const id of ids)
      this.pending.counters.set(id, { reset: { count: 0, last: null, drop: true }, add: 0, last: null });
    this.schedule();
  }

  restore(entries: { id: string; count: number; last: number | null }[]): void {
    if (this.closed) return;
    for (const e of entries)
      this.pending.counters.set(e.id, { reset: { count: e.count, last: e.last, drop: false }, add: 0, last: null });
    this.schedule();
  }

  // ── reading ──────────────────────────────────────────────────────────

  counters(id: string): AccessCounters {
    let c = this.baseCounters.get(id) ?? { count: 0, last: null };
    c = applyDelta(c, this.inflight?.counters.get(id));
    c = applyDelta(c, this.pending.counters.get(id));
    return { count: c.count, last: c.last };
  }

  daily(query: { crew?: string; fromDay?: string; toDay?: string }): DailyAccess[] {
    const keys = new Set(this.baseDays.keys());
    for (const k of this.inflight?.days.keys() ?? []) keys.add(k);
    for (const k of this.pending.days.keys()) keys.add(k);
    const oldest = this.viewLatest === null ? undefined : dayOffset(this.viewLatest, -this.keepDays);
    const out: DailyAccess[] = [];
    for (const key of keys) {
      const day = keyDay(key);
      const crew = keyCrew(key);
      if (query.fromDay !== undefined && day < query.fromDay) continue;
      if (query.toDay !== undefined && day > query.toDay) continue;
      if (query.crew !== undefined && crew !== query.crew) continue;
      if (oldest !== undefined && day < oldest) continue;
      const base = this.baseDays.get(key);
      const a = {
        accesses: base?.accesses ?? 0,
        memories: base?.memories ?? 0,
        byHour: [...(base?.byHour ?? zeros())],
      };
      const seen = this.baseSeen.get(key);
      const fresh = new Set<string>();
      for (const o of [this.inflight?.days.get(key), this.pending.days.get(key)]) {
        if (!o) continue;
        a.accesses += o.accesses;
        o.byHour.forEach((n, h) => (a.byHour[h]! += n));
        for (const id of o.ids) if (!seen?.has(id)) fresh.add(id);
      }
      out.push({ day, crew, accesses: a.accesses, memories: a.memories + fresh.size, byHour: a.byHour });
    }
    return out.sort((x, y) =>
      x.day < y.day ? -1 : x.day > y.day ? 1 : x.crew < y.crew ? -1 : x.crew > y.crew ? 1 : 0,
    );
  }

  // ── writing ──────────────────────────────────────────────────────────

  private schedule(): void {
    if (this.closed) return;
    const delay =
      this.failures > 0
        ? Math.min(this.flushEveryMs * 2 ** this.failures, 10_000)
        : this.pending.events.length >= this.flushEveryEvents
          ? 0
          : this.flushEveryMs;
    if (this.timer && this.timerDelay <= delay) return;
    clearTimeout(this.timer);
    this.timerDelay = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write().catch((e: unknown) => this.onError(`access counts could not be written: ${(e as Error).message}`));
    }, delay);
    this.timer.unref();
  }

  /** Resolves once everything recorded so far is in the database; rejects (StoreUnavailable…) if it is not. */
  flush(): Promise<void> {
    return this.write();
  }

  private write(): Promise<void> {
    return this.queue.exclusive(async () => {
      if (this.pending.empty) return;
      const batch = this.pending;
      this.inflight = batch;
      this.pending = new Batch();
      let result: FlushResult;
      try {
        result = await this.db.tx((c) => this.writeBatch(c, batch));
      } catch (e) {
        // Kept for the next flush: the counts are not lost to an outage.
        this.pending = batch.then(this.pending);
        this.inflight = undefined;
        this.failures++;
        this.schedule();
        throw e;
      }
      this.failures = 0;
      this.applyResult(result);
      this.inflight = undefined;
      if (!this.pending.empty) this.schedule();
    });
  }

  private async writeBatch(c: Tx, batch: Batch): Promise<FlushResult> {
    const [state] = (
      await c.query<{ latest_day: string | null }>(
        'select latest_day from crew_memory_access_state where id for update',
      )
    ).rows;
    if (!state) throw new DomainError(ErrorCodes.StoreCorrupt, 'crew_memory_access_state has no row');
    const result: FlushResult = {
      counters: new Map(),
      days: new Map(),
      seen: new Map(),
      latest: state.latest_day,
      advanced: false,
      keepTracking: [],
    };

    // Counters: forget drops, restore sets, events add.
    const drops: string[] = [];
    const sets: [string, number, number | null][] = [];
    const adds: [string, number, number | null][] = [];
    for (const [id, d] of batch.counters) {
      if (d.reset?.drop && d.add === 0) drops.push(id);
      else if (d.reset) sets.push([id, d.reset.count + d.add, maxNullable(d.reset.last, d.last)]);
      else adds.push([id, d.add, d.last]);
    }
    if (drops.length) {
      await c.query('delete from crew_memory_access where memory_id = any($1::text[])', [drops]);
      for (const id of drops) result.counters.set(id, null);
    }
    type CounterRow = { memory_id: string; count: string; last: string | null };
    const counterRows = (rows: CounterRow[]) => {
      for (const r of rows) result.counters.set(r.memory_id, { count: num(r.count), last: numOrNull(r.last) });
    };
    if (sets.length)
      counterRows(
        (
          await c.query<CounterRow>(
            `insert into crew_memory_access (memory_id, count, last)
             select * from unnest($1::text[], $2::bigint[], $3::bigint[])
             on conflict (memory_id) do update set count = excluded.count, last = excluded.last
             returning memory_id, count, last`,
            [sets.map((s) => s[0]), sets.map((s) => s[1]), sets.map((s) => s[2])],
          )
        ).rows,
      );
    if (adds.length)
      counterRows(
        (
          await c.query<CounterRow>(
            `insert into crew_memory_access as a (memory_id, count, last)
             select * from unnest($1::text[], $2::bigint[], $3::bigint[])
             on conflict (memory_id) do update
               set count = a.count + excluded.count, last = greatest(a.last, excluded.last)
             returning memory_id, count, last`,
            [adds.map((s) => s[0]), adds.map((s) => s[1]), adds.map((s) => s[2])],
          )
        ).rows,
      );

    // Daily aggregates: the events replayed in order against the stored days, as the local store applies them.
    if (batch.events.length) await this.writeDays(c, batch, result);

    // The newest day first: a receiver applies it before the days named (which may still track).
    await sendNotices(c, CHANNEL, this.instance, [
      ...(result.advanced ? ['l'] : []),
      ...[...result.counters.keys()].map((id) => `c:${id}`),
      ...[...result.days.keys()].map((k) => `d:${k}`),
    ]);
    return result;
  }

  private async writeDays(c: Tx, batch: Batch, result: FlushResult): Promise<void> {
    const keys = new Set<string>();
    const dayCache = new Map<number, string>();
    const dayOf = (at: number) => {
      const start = Math.floor(at / DAY) * DAY;
      let d = dayCache.get(start);
      if (d === undefined) dayCache.set(start, (d = new Date(start).toISOString().slice(0, 10)));
      return d;
    };
    for (const [, crew, at] of batch.events) keys.add(dayKey(dayOf(at), crew));
    const existing = await c.query<{ day: string; crew: string; tracking: boolean }>(
      `select d.day, d.crew, d.tracking from crew_memory_access_daily d
       join unnest($1::text[], $2::text[]) as k(day, crew) on d.day = k.day and d.crew = k.crew`,
      [[...keys].map(keyDay), [...keys].map(keyCrew)],
    );
    interface Sim {
      exists: boolean;
      tracking: boolean;
      dropped: boolean;
      accesses: number;
      byHour: number[];
      candidates: Set<string>;
    }
    const sims = new Map<string, Sim>();
    for (const r of existing.rows)
      sims.set(dayKey(r.day, r.crew), {
        exists: true,
        tracking: r.tracking,
        dropped: false,
        accesses: 0,
        byHour: zeros(),
        candidates: new Set(),
      });
    const startLatest = result.latest;
    let latest = startLatest;
    for (const [id, crew, at] of batch.events) {
      const day = dayOf(at);
      if (latest === null || day > latest) {
        latest = day;
        const openFrom = dayOffset(day, -1);
        const oldest = dayOffset(day, -this.keepDays);
        for (const [key, s] of sims) {
          if (keyDay(key) < oldest) {
            s.dropped = true;
            s.exists = false;
          } else if (keyDay(key) < openFrom) s.tracking = false;
        }
      }
      const key = dayKey(day, crew);
      let s = sims.get(key);
      if (!s) {
        s = { exists: false, tracking: true, dropped: false, accesses: 0, byHour: zeros(), candidates: new Set() };
        sims.set(key, s);
      }
      if (!s.exists) {
        if (s.dropped || day < dayOffset(latest, -this.keepDays)) continue;
        s.exists = true;
        s.tracking = true;
      }
      s.accesses++;
      s.byHour[Math.floor((at - Date.parse(`${day}T00:00:00.000Z`)) / HOUR)]!++;
      if (s.tracking) s.candidates.add(id);
    }

    // Distinct memories: what the shared seen table did not have yet.
    const seenDays: string[] = [];
    const seenCrews: string[] = [];
    const seenIds: string[] = [];
    for (const [key, s] of sims) {
      if (s.dropped || !s.exists) continue;
      for (const id of s.candidates) {
        seenDays.push(keyDay(key));
        seenCrews.push(keyCrew(key));
        seenIds.push(id);
      }
    }
    const added = new Map<string, number>();
    if (seenIds.length) {
      const ins = await c.query<{ day: string; crew: string }>(
        `insert into crew_memory_access_seen (day, crew, memory_id)
         select * from unnest($1::text[], $2::text[], $3::text[]) on conflict do nothing returning day, crew`,
        [seenDays, seenCrews, seenIds],
      );
      for (const r of ins.rows) {
        const key = dayKey(r.day, r.crew);
        added.set(key, (added.get(key) ?? 0) + 1);
      }
    }
    const rows = [...sims].filter(([, s]) => s.exists && !s.dropped && s.accesses > 0);
    if (rows.length) {
      const out = await c.query<{
        day: string;
        crew: string;
        accesses: string;
        memories: string;
        by_hour: string[];
        tracking: boolean;
      }>(
        `insert into crew_memory_access_daily as d (day, crew, accesses, memories, by_hour, tracking)
         select u.day, u.crew, u.accesses, u.memories, u.by_hour::bigint[], u.tracking
         from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::boolean[])
           as u(day, crew, accesses, memories, by_hour, tracking)
         on conflict (day, crew) do update set
           accesses = d.accesses + excluded.accesses,
           memories = d.memories + excluded.memories,
           by_hour = array(select h.a + h.b from unnest(d.by_hour, excluded.by_hour) with ordinality as h(a, b, n)
                           order by h.n),
           tracking = excluded.tracking
         returning day, crew, accesses, memories, by_hour, tracking`,
        [
          rows.map(([k]) => keyDay(k)),
          rows.map(([k]) => keyCrew(k)),
          rows.map(([, s]) => s.accesses),
          rows.map(([k]) => added.get(k) ?? 0),
          rows.map(([, s]) => `{${s.byHour.join(',')}}`),
          rows.map(([, s]) => s.tracking),
        ],
      );
      for (const r of out.rows) {
        const key = dayKey(r.day, r.crew);
        result.days.set(key, {
          accesses: num(r.accesses),
          memories: num(r.memories),
          byHour: r.by_hour.map(num),
          tracking: r.tracking,
        });
        if (r.tracking) result.seen.set(key, sims.get(key)!.candidates);
      }
    }
    for (const [key, s] of sims) if (s.dropped) result.days.set(key, null);

    if (latest !== startLatest) {
      // The newest day moved: days no longer open stop tracking (but those created since, in this batch, as the
      // local store gives a day's first aggregate a fresh seen set), and the days past the window go.
      result.latest = latest;
      result.advanced = true;
      const openFrom = dayOffset(latest!, -1);
      const oldest = dayOffset(latest!, -this.keepDays);
      const keep = [...sims].filter(([k, s]) => s.exists && !s.dropped && s.tracking && keyDay(k) < openFrom);
      result.keepTracking = keep.map(([k]) => k);
      const keepDays = keep.map(([k]) => keyDay(k));
      const keepCrews = keep.map(([k]) => keyCrew(k));
      await c.query('update crew_memory_access_state set latest_day = $1 where id', [latest]);
      await c.query(
        `update crew_memory_access_daily d set tracking = false
         where d.tracking and d.day < $1
           and not exists (select 1 from unnest($2::text[], $3::text[]) as k(day, crew)
                           where k.day = d.day and k.crew = d.crew)`,
        [openFrom, keepDays, keepCrews],
      );
      await c.query(
        `delete from crew_memory_access_seen s
         where s.day < $1
           and not exists (select 1 from unnest($2::text[], $3::text[]) as k(day, crew)
                           where k.day = s.day and k.crew = s.crew)`,
        [openFrom, keepDays, keepCrews],
      );
      await c.query('delete from crew_memory_access_daily where day < $1', [oldest]);
      await c.query('delete from crew_memory_access_seen where day < $1', [oldest]);
    }
  }

  /** Takes a committed flush's rows in as the database's state. */
  private applyResult(r: FlushResult): void {
    for (const [id, c] of r.counters) {
      if (c) this.baseCounters.set(id, c);
      else this.baseCounters.delete(id);
    }
    if (r.advanced) this.setBaseLatest(r.latest, new Set(r.keepTracking));
    for (const [key, row] of r.days) {
      if (!row) {
        this.baseDays.delete(key);
        this.baseSeen.delete(key);
        continue;
      }
      this.baseDays.set(key, row);
      if (!row.tracking) this.baseSeen.delete(key);
    }
    for (const [key, ids] of r.seen) {
      let s = this.baseSeen.get(key);
      if (!s) this.baseSeen.set(key, (s = new Set()));
      for (const id of ids) s.add(id);
    }
    this.settleViewFrozen();
  }

  /** The database's newest day moved to `latest`: freeze and drop in the copy as the database did. */
  private setBaseLatest(latest: string | null, keepTracking: Set<string> = new Set()): void {
    this.baseLatest = latest;
    if (latest === null) return;
    const openFrom = dayOffset(latest, -1);
    const oldest = dayOffset(latest, -this.keepDays);
    for (const [key, row] of this.baseDays) {
      if (keyDay(key) < oldest) {
        this.baseDays.delete(key);
        this.baseSeen.delete(key);
      } else if (keyDay(key) < openFrom && row.tracking && !keepTracking.has(key)) {
        row.tracking = false;
        this.baseSeen.delete(key);
      }
    }
    if (this.viewLatest === null || latest > this.viewLatest) this.advanceView(latest);
  }

  /** Frozen marks the database has caught up with are no longer needed. */
  private settleViewFrozen(): void {
    for (const key of this.viewFrozen) {
      const row = this.baseDays.get(key);
      const unwritten = this.inflight?.days.has(key) || this.pending.days.has(key);
      if ((row && !row.tracking) || (!row && !unwritten)) this.viewFrozen.delete(key);
    }
  }

  // ── other instances' changes ─────────────────────────────────────────

  private async reloadKeys(keys: string[]): Promise<void> {
    const ids: string[] = [];
    const days: string[] = [];
    let latest = false;
    for (const k of keys) {
      if (k.startsWith('c:')) ids.push(k.slice(2));
      else if (k.startsWith('d:')) days.push(k.slice(2));
      else if (k === 'l') latest = true;
    }
    if (latest) {
      const [s] = await this.db.query<{ latest_day: string | null }>(
        'select latest_day from crew_memory_access_state where id',
      );
      if (s && s.latest_day !== this.baseLatest) this.setBaseLatest(s.latest_day);
    }
    const changed: string[] = [];
    if (ids.length) {
      const rows = await this.db.query<{ memory_id: string; count: string; last: string | null }>(
        'select memory_id, count, last from crew_memory_access where memory_id = any($1::text[])',
        [ids],
      );
      const found = new Map(rows.map((r) => [r.memory_id, { count: num(r.count), last: numOrNull(r.last) }]));
      for (const id of new Set(ids)) {
        const before = this.baseCounters.get(id);
        const now = found.get(id);
        if (now) this.baseCounters.set(id, now);
        else this.baseCounters.delete(id);
        if (before?.count !== now?.count || before?.last !== now?.last) changed.push(id);
      }
    }
    if (days.length) {
      const rows = await this.db.query<DbDay>(
        `select d.day, d.crew, d.accesses, d.memories, d.by_hour, d.tracking from crew_memory_access_daily d
         join unnest($1::text[], $2::text[]) as k(day, crew) on d.day = k.day and d.crew = k.crew`,
        [days.map(keyDay), days.map(keyCrew)],
      );
      const found = new Map(rows.map((r) => [dayKey(r.day, r.crew), dayRow(r)]));
      for (const key of days) {
        const row = found.get(key);
        if (row) this.baseDays.set(key, row);
        else this.baseDays.delete(key);
        if (!row?.tracking) this.baseSeen.delete(key);
      }
    }
    this.settleViewFrozen();
    if (changed.length) this.changes.emit({ ids: changed });
  }

  /** Reads everything (at open, and after notices may have been missed). */
  private async reloadAll(): Promise<void> {
    const [state] = await this.db.query<{ latest_day: string | null }>(
      'select latest_day from crew_memory_access_state where id',
    );
    if (!state) throw new DomainError(ErrorCodes.StoreCorrupt, 'crew_memory_access_state has no row');
    const counters = await this.db.query<{ memory_id: string; count: string; last: string | null }>(
      'select memory_id, count, last from crew_memory_access',
    );
    const days = await this.db.query<DbDay>(
      'select day, crew, accesses, memories, by_hour, tracking from crew_memory_access_daily',
    );
    const seen = await this.db.query<{ day: string; crew: string; memory_id: string }>(
      `select s.day, s.crew, s.memory_id from crew_memory_access_seen s
       join crew_memory_access_daily d on d.day = s.day and d.crew = s.crew and d.tracking`,
    );
    const changed: string[] = [];
    const fresh = new Map(counters.map((r) => [r.memory_id, { count: num(r.count), last: numOrNull(r.last) }]));
    for (const id of this.baseCounters.keys()) if (!fresh.has(id)) changed.push(id);
    for (const [id, c] of fresh) {
      const before = this.baseCounters.get(id);
      if (before?.count !== c.count || before?.last !== c.last) changed.push(id);
    }
    this.baseCounters.clear();
    for (const [id, c] of fresh) this.baseCounters.set(id, c);
    this.baseDays.clear();
    for (const r of days) this.baseDays.set(dayKey(r.day, r.crew), dayRow(r));
    this.baseSeen.clear();
    for (const r of seen) {
      const key = dayKey(r.day, r.crew);
      let s = this.baseSeen.get(key);
      if (!s) this.baseSeen.set(key, (s = new Set()));
      s.add(r.memory_id);
    }
    this.baseLatest = state.latest_day;
    if (this.baseLatest !== null && (this.viewLatest === null || this.baseLatest > this.viewLatest))
      this.advanceView(this.baseLatest);
    this.settleViewFrozen();
    if (changed.length) this.changes.emit({ ids: changed });
  }

  /** Writes what is pending, then stops: later events are ignored, notices no longer read. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.write();
    } finally {
      this.closed = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.unlisten?.();
      this.refresher.close();
      await this.queue.drain();
    }
  }
}

interface FlushResult {
  /** null: forgotten. */
  counters: Map<string, Counter | null>;
  /** null: dropped (past the kept window). */
  days: Map<string, DayRow | null>;
  /** Ids now in the seen table of tracking days. */
  seen: Map<string, Set<string>>;
  latest: string | null;
  advanced: boolean;
  /** Days before the open ones that still track (first seen after the newest day moved past them). */
  keepTracking: string[];
}

interface DbDay {
  day: string;
  crew: string;
  accesses: string;
  memories: string;
  by_hour: string[];
  tracking: boolean;
}

function dayRow(r: DbDay): DayRow {
  return { accesses: num(r.accesses), memories: num(r.memories), byHour: r.by_hour.map(num), tracking: r.tracking };
}

function zeros(): number[] {
  return new Array<number>(24).fill(0);
}
