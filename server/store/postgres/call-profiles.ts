/**
 * Call shapes as per-day aggregates (as server/store/call-profile-store.ts keeps them locally), shared by every
 * instance: crew_call_profile_agents per (day, crew, agent, model), crew_call_profile_prefixes per (day, crew,
 * agent, model, system-prefix hash).
 *
 * `record` and `query` are synchronous (they are on every call's path), so each instance holds the aggregates in
 * memory: `base` (what the database held when last read, plus this instance's flushes since), the batch being
 * written, and `pending` (recorded here, not yet written); `query` reads their sum. A flush adds the pending
 * aggregates to the database's rows (sums add, maxima take the greater, histograms add bucket by bucket) in one
 * transaction, with a notification on Channels.callProfiles naming the days it touched; the other instances
 * re-read those days (everything after their listener reconnects). Flushes and reads run one at a time, so no
 * aggregate is ever counted twice or lost: a batch that fails to write goes back into `pending`.
 *
 * Days older than RETENTION_DAYS before the newest one recorded are dropped, here and in the database. Whether a
 * call with a system prefix would write the prompt cache is told from the previous call with that prefix that this
 * instance knows of (another instance's, once it has flushed).
 */
import { CACHE_LIFETIME_MS, mergeHistogram, tokenBucket } from '../../costs/call-profiles';
import type { Logger } from '../../log';
import { agentKey, dayNumberOf, dayOf, profilesIn, RETENTION_DAYS, type ProfileDay } from '../call-profile-store';
import type { AgentDayProfile, CallProfileRepository, CallShape, PrefixDayProfile } from '../repositories';
import type { PgDatabase, Tx } from './db';
import { Channels, notifyOnCommit, num, parseNotice, Serial, translateWriteError } from './shared';

const DAY_MS = 86_400_000;
/** More days than this in one flush: the notification asks for a full re-read instead of naming them. */
const MAX_NOTICE_DAYS = 200;

type Day = ProfileDay;
type Days = Map<number, Day>;

const prefixKey = (p: Pick<PrefixDayProfile, 'crew' | 'agent' | 'model' | 'sha256'>): string =>
  `${agentKey(p.crew, p.agent, p.model)}\u0000${p.sha256}`;

function dayIn(days: Days, n: number): Day {
  let d = days.get(n);
  if (!d) {
    d = { agents: new Map(), prefixes: new Map() };
    days.set(n, d);
  }
  return d;
}

function addAgent(day: Day, a: AgentDayProfile): void {
  const key = agentKey(a.crew, a.agent, a.model);
  const into = day.agents.get(key);
  if (!into) {
    day.agents.set(key, { ...a, completionHistogram: { ...a.completionHistogram } });
    return;
  }
  into.calls += a.calls;
  into.maxTokensSum += a.maxTokensSum;
  into.maxTokensMax = Math.max(into.maxTokensMax, a.maxTokensMax);
  into.completionSum += a.completionSum;
  into.completionMax = Math.max(into.completionMax, a.completionMax);
  mergeHistogram(into.completionHistogram, a.completionHistogram);
}

function addPrefix(day: Day, p: PrefixDayProfile): void {
  const key = prefixKey(p);
  const into = day.prefixes.get(key);
  if (!into) {
    day.prefixes.set(key, { ...p });
    return;
  }
  into.calls += p.calls;
  into.cachedCalls += p.cachedCalls;
  into.prefixTokens += p.prefixTokens;
  into.writes += p.writes;
  into.lastAt = Math.max(into.lastAt, p.lastAt);
}

/** Adds `from` into `into` (every day, or only `only`). */
function addDays(into: Days, from: Days, only?: number): void {
  for (const [n, d] of from) {
    if (only !== undefined && n !== only) continue;
    const target = dayIn(into, n);
    for (const a of d.agents.values()) addAgent(target, a);
    for (const p of d.prefixes.values()) addPrefix(target, p);
  }
}

interface AgentRow {
  day: string;
  crew: string | null;
  agent: string | null;
  model: string;
  calls: string;
  max_tokens_sum: string;
  max_tokens_max: string;
  completion_sum: string;
  completion_max: string;
  completion_histogram: Record<string, number>;
}

interface PrefixRow {
  day: string;
  crew: string | null;
  agent: string | null;
  model: string;
  sha256: string;
  calls: string;
  cached_calls: string;
  prefix_tokens: string;
  writes: string;
  last_at: string;
}

export class PgCallProfileRepository implements CallProfileRepository {
  /** What the database held when last read, plus this instance's flushes since. */
  private base: Days = new Map();
  /** Recorded here, not yet written. */
  private pending: Days = new Map();
  /** base + the batch being written + pending: what `query` reads. */
  private view: Days = new Map();
  private readonly serial = new Serial();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private wanted: Set<number> | 'all' | undefined;
  private queuedLoad: Promise<void> | undefined;
  private unlisten: (() => void) | undefined;

  private constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
    private readonly debounceMs: number,
    private readonly log: Logger,
  ) {}

  static async open(
    db: PgDatabase,
    instanceId: string,
    log: Logger,
    opts: { debounceMs?: number } = {},
  ): Promise<PgCallProfileRepository> {
    const repo = new PgCallProfileRepository(db, instanceId, opts.debounceMs ?? 2_000, log);
    // Listening before the first read: a flush committed in between is read again, never missed.
    repo.unlisten = await db.listen(Channels.callProfiles, {
      notify: (payload) => repo.onNotice(payload),
      resync: () => repo.loadInBackground('all'),
    });
    await repo.reload('all');
    return repo;
  }

  record(s: CallShape): void {
    const n = Math.floor(s.at / DAY_MS);
    if (!this.view.has(n)) this.prune(n);
    const day = dayOf(n);
    const hist = { [tokenBucket(s.completionTokens)]: 1 };
    const agent: AgentDayProfile = {
      day,
      crew: s.crew,
      agent: s.agent,
      model: s.model,
      calls: 1,
      maxTokensSum: s.maxTokens,
      maxTokensMax: s.maxTokens,
      completionSum: s.completionTokens,
      completionMax: s.completionTokens,
      completionHistogram: hist,
    };
    let prefix: PrefixDayProfile | undefined;
    if (s.prefix) {
      const key = prefixKey({ crew: s.crew, agent: s.agent, model: s.model, sha256: s.prefix.sha256 });
      // The previous call with this prefix may have been just before midnight.
      const previous = this.view.get(n)?.prefixes.get(key)?.lastAt ?? this.view.get(n - 1)?.prefixes.get(key)?.lastAt;
      prefix = {
        day,
        crew: s.crew,
        agent: s.agent,
        model: s.model,
        sha256: s.prefix.sha256,
        calls: 1,
        cachedCalls: s.cachedTokens > 0 ? 1 : 0,
        prefixTokens: s.prefix.tokens,
        writes: previous === undefined || s.at - previous > CACHE_LIFETIME_MS ? 1 : 0,
        lastAt: s.at,
      };
    }
    for (const days of [this.pending, this.view]) {
      const d = dayIn(days, n);
      addAgent(d, agent);
      if (prefix) addPrefix(d, prefix);
    }
    this.schedule();
  }

  query(range: { fromDay: string; toDay: string }): { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] } {
    return profilesIn(this.view, range);
  }

  add(days: { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] }): void {
    for (const target of [this.pending, this.view]) {
      for (const a of days.agents) addAgent(dayIn(target, dayNumberOf(a.day)), a);
      for (const p of days.prefixes) addPrefix(dayIn(target, dayNumberOf(p.day)), p);
    }
    this.schedule();
  }

  /** Writes everything recorded so far (resolves once it is committed). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return this.serial.run(() => this.write());
  }

  /** Re-reads days from the database (queued behind flushes and reads in flight; requests coalesce). */
  reload(days: number[] | 'all'): Promise<void> {
    if (days === 'all' || this.wanted === 'all') this.wanted = 'all';
    else {
      this.wanted ??= new Set();
      for (const n of days) this.wanted.add(n);
    }
    this.queuedLoad ??= this.serial.run(async () => {
      const wanted = this.wanted!;
      this.wanted = undefined;
      this.queuedLoad = undefined;
      await this.load(wanted);
    });
    return this.queuedLoad;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unlisten?.();
    this.unlisten = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.db.tx((tx) => this.upsert(tx, batch));
      addDays(this.base, batch);
    } catch (e) {
      // Nothing of the batch was written: it waits with what was recorded since for the next flush.
      addDays(batch, this.pending);
      this.pending = batch;
      this.schedule();
      throw translateWriteError(e);
    }
  }

  private async upsert(tx: Tx, batch: Days): Promise<void> {
    const agents: AgentDayProfile[] = [];
    const prefixes: PrefixDayProfile[] = [];
    for (const d of batch.values()) {
      agents.push(...d.agents.values());
      prefixes.push(...d.prefixes.values());
    }
    // Rows in key order (and agents before prefixes), so two instances flushing at once lock them in one order.
    await tx.query(
      `insert into crew_call_profile_agents as t (day, crew, agent, model, calls, max_tokens_sum, max_tokens_max,
         completion_sum, completion_max, completion_histogram)
       select x.day::date, x.crew, x.agent, x.model, x.calls, x."maxTokensSum", x."maxTokensMax", x."completionSum",
         x."completionMax", x."completionHistogram"
       from jsonb_to_recordset($1::jsonb) as x(day text, crew text, agent text, model text, calls bigint,
         "maxTokensSum" bigint, "maxTokensMax" bigint, "completionSum" bigint, "completionMax" bigint,
         "completionHistogram" jsonb)
       order by x.day, coalesce(x.crew, ''), coalesce(x.agent, ''), x.model
       on conflict (day, crew_k, agent_k, model) do update set
         calls = t.calls + excluded.calls,
         max_tokens_sum = t.max_tokens_sum + excluded.max_tokens_sum,
         max_tokens_max = greatest(t.max_tokens_max, excluded.max_tokens_max),
         completion_sum = t.completion_sum + excluded.completion_sum,
         completion_max = greatest(t.completion_max, excluded.completion_max),
         completion_histogram = (
           select coalesce(jsonb_object_agg(k, coalesce((t.completion_histogram->>k)::bigint, 0)
             + coalesce((excluded.completion_histogram->>k)::bigint, 0)), '{}'::jsonb)
           from (select jsonb_object_keys(t.completion_histogram)
                 union select jsonb_object_keys(excluded.completion_histogram)) as ks(k))`,
      [JSON.stringify(agents)],
    );
    if (prefixes.length)
      await tx.query(
        `insert into crew_call_profile_prefixes as t (day, crew, agent, model, sha256, calls, cached_calls,
           prefix_tokens, writes, last_at)
         select x.day::date, x.crew, x.agent, x.model, x.sha256, x.calls, x."cachedCalls", x."prefixTokens", x.writes,
           x."lastAt"
         from jsonb_to_recordset($1::jsonb) as x(day text, crew text, agent text, model text, sha256 text,
           calls bigint, "cachedCalls" bigint, "prefixTokens" bigint, writes bigint, "lastAt" bigint)
         order by x.day, coalesce(x.crew, ''), coalesce(x.agent, ''), x.model, x.sha256
         on conflict (day, crew_k, agent_k, model, sha256) do update set
           calls = t.calls + excluded.calls,
           cached_calls = t.cached_calls + excluded.cached_calls,
           prefix_tokens = t.prefix_tokens + excluded.prefix_tokens,
           writes = t.writes + excluded.writes,
           last_at = greatest(t.last_at, excluded.last_at)`,
        [JSON.stringify(prefixes)],
      );
    const days = [...batch.keys()];
    const cutoff = dayOf(Math.max(...days) - RETENTION_DAYS);
    await tx.query('delete from crew_call_profile_agents where day <= $1::date', [cutoff]);
    await tx.query('delete from crew_call_profile_prefixes where day <= $1::date', [cutoff]);
    await notifyOnCommit(tx, Channels.callProfiles, {
      instance: this.instanceId,
      days: days.length <= MAX_NOTICE_DAYS ? days.map(dayOf) : null,
    });
  }

  private async load(wanted: Set<number> | 'all'): Promise<void> {
    const only = wanted === 'all' ? null : [...wanted].map(dayOf);
    const where = 'where $1::date[] is null or day = any($1::date[])';
    const agents = await this.db.query<AgentRow>(
      `select to_char(day, 'YYYY-MM-DD') as day, crew, agent, model, calls, max_tokens_sum, max_tokens_max,
         completion_sum, completion_max, completion_histogram
       from crew_call_profile_agents ${where} order by day, crew_k, agent_k, model`,
      [only],
    );
    const prefixes = await this.db.query<PrefixRow>(
      `select to_char(day, 'YYYY-MM-DD') as day, crew, agent, model, sha256, calls, cached_calls, prefix_tokens,
         writes, last_at
       from crew_call_profile_prefixes ${where} order by day, crew_k, agent_k, model, sha256`,
      [only],
    );
    const loaded: Days = new Map();
    for (const r of agents)
      addAgent(dayIn(loaded, dayNumberOf(r.day)), {
        day: r.day,
        crew: r.crew,
        agent: r.agent,
        model: r.model,
        calls: num(r.calls),
        maxTokensSum: num(r.max_tokens_sum),
        maxTokensMax: num(r.max_tokens_max),
        completionSum: num(r.completion_sum),
        completionMax: num(r.completion_max),
        completionHistogram: { ...r.completion_histogram },
      });
    for (const r of prefixes)
      addPrefix(dayIn(loaded, dayNumberOf(r.day)), {
        day: r.day,
        crew: r.crew,
        agent: r.agent,
        model: r.model,
        sha256: r.sha256,
        calls: num(r.calls),
        cachedCalls: num(r.cached_calls),
        prefixTokens: num(r.prefix_tokens),
        writes: num(r.writes),
        lastAt: num(r.last_at),
      });
    // Reads run between flushes (never during one), so the view is the database's days plus what is pending.
    const days = wanted === 'all' ? new Set([...this.base.keys(), ...loaded.keys()]) : wanted;
    for (const n of days) {
      const d = loaded.get(n);
      if (d) this.base.set(n, d);
      else this.base.delete(n);
      const v: Days = new Map();
      addDays(v, this.base, n);
      addDays(v, this.pending, n);
      const merged = v.get(n);
      if (merged) this.view.set(n, merged);
      else this.view.delete(n);
    }
    if (wanted === 'all')
      for (const n of this.view.keys()) if (!days.has(n) && !this.pending.has(n)) this.view.delete(n);
  }

  private onNotice(payload: string): void {
    const notice = parseNotice(payload);
    if (notice && notice.instance === this.instanceId) return;
    const days = notice && Array.isArray(notice.days) ? (notice.days as string[]).map(dayNumberOf) : 'all';
    this.loadInBackground(days);
  }

  private loadInBackground(days: number[] | 'all'): void {
    this.reload(days).catch((e: Error) =>
      this.log.warn(`call profiles could not be re-read from the database (${e.message}); kept the last copy`),
    );
  }

  /** Drops days RETENTION_DAYS or more before `today` (a new day recorded), as the local store does. */
  private prune(today: number): void {
    for (const days of [this.base, this.pending, this.view])
      for (const n of days.keys()) if (n <= today - RETENTION_DAYS) days.delete(n);
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((e: Error) => this.log.error(`call profiles could not be written: ${e.message}`));
    }, this.debounceMs);
    this.timer.unref();
  }
}
