/**
 * Call shapes as per-day aggregates in one small file, `<store>/call-profiles.json`: per (day, crew, agent, model)
 * the max_tokens asked and the completion tokens used (sums, maxima, a log histogram), and per (day, crew, agent,
 * model, system-prefix hash) the calls, their prefix tokens and how many would have written a prompt cache.
 *
 * `record` only updates memory (it is on every call's path); the file is rewritten durably at most once per
 * `debounceMs`, and `flush`/`close` write what is pending. The file holds aggregates, not calls, so it stays small
 * (one record per agent and model per day), and days older than RETENTION_DAYS are dropped.
 */
import path from 'node:path';
import { CACHE_LIFETIME_MS, mergeHistogram, tokenBucket } from '../costs/call-profiles';
import { isFiniteNumber, isObject, parseJsonDocument, StoreFileCorrupt } from './corrupt';
import { readTextIfExists, writeDurably } from './durable-file';
import type { AgentDayProfile, CallProfileRepository, CallShape, PrefixDayProfile } from './repositories';

export const CALL_PROFILES_FILE = 'call-profiles.json';
/** Longer than the longest window recommendations look back over (365 days). */
export const RETENTION_DAYS = 400;
const DAY_MS = 86_400_000;
const FORMAT = 'crew-call-profiles';

interface ProfileFile {
  format: typeof FORMAT;
  version: 1;
  agents: AgentDayProfile[];
  prefixes: PrefixDayProfile[];
}

/** One UTC day of call profiles, by (crew, agent, model) and by prefix; shared with the PostgreSQL repository. */
export interface ProfileDay {
  agents: Map<string, AgentDayProfile>;
  prefixes: Map<string, PrefixDayProfile>;
}
type Day = ProfileDay;

export const dayOf = (dayNumber: number): string => new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
export const dayNumberOf = (day: string): number => Math.floor(Date.parse(`${day}T00:00:00.000Z`) / DAY_MS);
export const agentKey = (crew: string | null, agent: string | null, model: string): string =>
  `${crew ?? ''}\u0000${agent ?? ''}\u0000${model}`;

/** The profiles of the days from `fromDay` to `toDay` inclusive, as copies (callers may not change the store's). */
export function profilesIn(
  days: ReadonlyMap<number, ProfileDay>,
  { fromDay, toDay }: { fromDay: string; toDay: string },
): { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] } {
  const from = dayNumberOf(fromDay);
  const to = dayNumberOf(toDay);
  const agents: AgentDayProfile[] = [];
  const prefixes: PrefixDayProfile[] = [];
  for (const [n, d] of days) {
    if (n < from || n > to) continue;
    for (const a of d.agents.values()) agents.push({ ...a, completionHistogram: { ...a.completionHistogram } });
    for (const p of d.prefixes.values()) prefixes.push({ ...p });
  }
  return { agents, prefixes };
}

const isDayText = (d: unknown) => typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d);
const isNullableText = (v: unknown) => v === null || typeof v === 'string';

/** What is wrong with a parsed call-profiles file, or undefined. */
function profileFileProblem(v: unknown): string | undefined {
  if (!isObject(v) || v.format !== FORMAT) return 'is not a call-profiles file';
  if (v.version !== 1) return `has format version ${String(v.version)}; this build reads 1`;
  if (!Array.isArray(v.agents) || !Array.isArray(v.prefixes)) return 'has no "agents" and "prefixes" lists';
  const keyed = (x: unknown): x is Record<string, unknown> =>
    isObject(x) && isDayText(x.day) && isNullableText(x.crew) && isNullableText(x.agent) && typeof x.model === 'string';
  const counts = (x: Record<string, unknown>, keys: string[]) => keys.every((k) => isFiniteNumber(x[k]));
  const a = v.agents.findIndex(
    (x) =>
      !keyed(x) ||
      !counts(x, ['calls', 'maxTokensSum', 'maxTokensMax', 'completionSum', 'completionMax']) ||
      !isObject(x.completionHistogram),
  );
  if (a >= 0) return `agents entry ${a + 1} is not a day's agent profile`;
  const p = v.prefixes.findIndex(
    (x) =>
      !keyed(x) ||
      typeof x.sha256 !== 'string' ||
      !counts(x, ['calls', 'cachedCalls', 'prefixTokens', 'writes', 'lastAt']),
  );
  if (p >= 0) return `prefixes entry ${p + 1} is not a day's prefix profile`;
  return undefined;
}

export class FileCallProfileRepository implements CallProfileRepository {
  /** By UTC day number. */
  private readonly days = new Map<number, Day>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly debounceMs: number,
    private readonly onError: (message: string) => void,
  ) {}

  /** `dir` is the store folder. */
  static async open(
    dir: string,
    opts: { debounceMs?: number; onError?: (message: string) => void } = {},
  ): Promise<FileCallProfileRepository> {
    const repo = new FileCallProfileRepository(
      path.join(dir, CALL_PROFILES_FILE),
      opts.debounceMs ?? 2_000,
      opts.onError ?? (() => undefined),
    );
    await repo.load();
    return repo;
  }

  private async load(): Promise<void> {
    const text = await readTextIfExists(this.file);
    if (text === undefined) return;
    // Refused when damaged, like every store file: the recommendations it feeds would otherwise quietly start over.
    const parsed = parseJsonDocument(this.file, text);
    const problem = profileFileProblem(parsed);
    if (problem) throw new StoreFileCorrupt(this.file, 'as a whole', problem);
    const file = parsed as ProfileFile;
    for (const a of file.agents) this.day(dayNumberOf(a.day)).agents.set(agentKey(a.crew, a.agent, a.model), a);
    for (const p of file.prefixes)
      this.day(dayNumberOf(p.day)).prefixes.set(`${agentKey(p.crew, p.agent, p.model)}\u0000${p.sha256}`, p);
  }

  private day(n: number): Day {
    let d = this.days.get(n);
    if (!d) {
      d = { agents: new Map(), prefixes: new Map() };
      this.days.set(n, d);
      this.prune(n);
    }
    return d;
  }

  private prune(today: number): void {
    for (const n of this.days.keys()) if (n <= today - RETENTION_DAYS) this.days.delete(n);
  }

  record(s: CallShape): void {
    const n = Math.floor(s.at / DAY_MS);
    const day = this.day(n);
    const key = agentKey(s.crew, s.agent, s.model);
    let a = day.agents.get(key);
    if (!a) {
      a = {
        day: dayOf(n),
        crew: s.crew,
        agent: s.agent,
        model: s.model,
        calls: 0,
        maxTokensSum: 0,
        maxTokensMax: 0,
        completionSum: 0,
        completionMax: 0,
        completionHistogram: {},
      };
      day.agents.set(key, a);
    }
    a.calls++;
    a.maxTokensSum += s.maxTokens;
    if (s.maxTokens > a.maxTokensMax) a.maxTokensMax = s.maxTokens;
    a.completionSum += s.completionTokens;
    if (s.completionTokens > a.completionMax) a.completionMax = s.completionTokens;
    const b = tokenBucket(s.completionTokens);
    a.completionHistogram[b] = (a.completionHistogram[b] ?? 0) + 1;

    if (s.prefix) {
      const pkey = `${key}\u0000${s.prefix.sha256}`;
      let p = day.prefixes.get(pkey);
      // The previous call with this prefix may have been just before midnight.
      const previous = p?.lastAt ?? this.days.get(n - 1)?.prefixes.get(pkey)?.lastAt;
      if (!p) {
        p = {
          day: a.day,
          crew: s.crew,
          agent: s.agent,
          model: s.model,
          sha256: s.prefix.sha256,
          calls: 0,
          cachedCalls: 0,
          prefixTokens: 0,
          writes: 0,
          lastAt: s.at,
        };
        day.prefixes.set(pkey, p);
      }
      p.calls++;
      if (s.cachedTokens > 0) p.cachedCalls++;
      p.prefixTokens += s.prefix.tokens;
      if (previous === undefined || s.at - previous > CACHE_LIFETIME_MS) p.writes++;
      if (s.at > p.lastAt) p.lastAt = s.at;
    }
    this.schedule();
  }

  add(days: { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] }): void {
    for (const a of days.agents) {
      const day = this.day(dayNumberOf(a.day));
      const key = agentKey(a.crew, a.agent, a.model);
      const into = day.agents.get(key);
      if (!into) day.agents.set(key, { ...a, completionHistogram: { ...a.completionHistogram } });
      else {
        into.calls += a.calls;
        into.maxTokensSum += a.maxTokensSum;
        into.maxTokensMax = Math.max(into.maxTokensMax, a.maxTokensMax);
        into.completionSum += a.completionSum;
        into.completionMax = Math.max(into.completionMax, a.completionMax);
        mergeHistogram(into.completionHistogram, a.completionHistogram);
      }
    }
    for (const p of days.prefixes) {
      const day = this.day(dayNumberOf(p.day));
      const key = `${agentKey(p.crew, p.agent, p.model)}\u0000${p.sha256}`;
      const into = day.prefixes.get(key);
      if (!into) day.prefixes.set(key, { ...p });
      else {
        into.calls += p.calls;
        into.cachedCalls += p.cachedCalls;
        into.prefixTokens += p.prefixTokens;
        into.writes += p.writes;
        into.lastAt = Math.max(into.lastAt, p.lastAt);
      }
    }
    this.schedule();
  }

  query(range: { fromDay: string; toDay: string }): { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] } {
    return profilesIn(this.days, range);
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((e: Error) => this.onError(`could not write ${this.file}: ${e.message}`));
    }, this.debounceMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time; records that arrive during a write are picked up by the next one.
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    this.writing = writeDurably(this.file, JSON.stringify(this.snapshot())).finally(() => (this.writing = undefined));
    try {
      await this.writing;
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }

  private snapshot(): ProfileFile {
    const out: ProfileFile = { format: FORMAT, version: 1, agents: [], prefixes: [] };
    for (const n of [...this.days.keys()].sort((x, y) => x - y)) {
      const d = this.days.get(n)!;
      out.agents.push(...d.agents.values());
      out.prefixes.push(...d.prefixes.values());
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
