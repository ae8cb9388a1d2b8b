/**
 * `analytics/summary`, `analytics/insights` and `analytics/recommendations`: figures about a crew's memories and
 * how they are used, computed on demand from what the store keeps — the memories, per-memory access counters
 * (lifetime count and last access) and per-day, per-crew aggregates (accesses, distinct memories, by hour). There
 * is no per-memory daily series, so "accessed in the window" means "last accessed on or after the window's first
 * day", and per-memory counts are lifetime counts.
 *
 * Insights are findings, not boilerplate: each is computed from the data, carries the numbers it states, and is
 * emitted only when the data clears its threshold (INSIGHT_RULES, below). Recommendations name memories to archive,
 * merge or pin, with a reason and the prompt tokens the change would save (the same estimate memory/context packs
 * by, so the figures add up with what a run would see).
 */
import { formatShare } from '../../protocol/format';
import { createHash } from 'node:crypto';
import type {
  AnalyticsInsights,
  AnalyticsRecommendations,
  AnalyticsSummary,
  AnalyticsWindow,
  CrewSummary,
  Insight,
  InsightKind,
  MemoryBrief,
  Recommendation,
  RecommendationKind,
} from '../../protocol/analytics';
import type { MemoryKind } from '../../protocol';
import type { Clock } from '../clock';
import type {
  AccessCounters,
  AccessRepository,
  DailyAccess,
  MemoryRecord,
  MemoryRepository,
  VectorRepository,
} from '../store/repositories';
import { live, type ClusterService, type ClusterSource, type RunOptions } from './clusters';
import { DEFAULT_DUPLICATE_THRESHOLD } from './clustering/duplicates';
import { estimateTokens } from './search/context-pack';

/** Everything analytics reads. The app implements it over the repositories with `analyticsSourceOf`. */
export interface AnalyticsSource extends ClusterSource {
  /** As AccessRepository.daily: per-day, per-crew aggregates, days inclusive, sorted by day then crew. */
  daily(query: { crew?: string; fromDay?: string; toDay?: string }): DailyAccess[];
}

/** The source over the store's repositories; `embedderId` is the memory service's current one. */
export function analyticsSourceOf(deps: {
  memories: MemoryRepository;
  vectors: VectorRepository;
  access: AccessRepository;
  embedderId: () => string;
}): AnalyticsSource {
  const { memories, vectors, access } = deps;
  return {
    records: (crew) => (crew === undefined ? memories.all() : memories.byCrew(crew)),
    counters: (id) => access.counters(id),
    daily: (q) => access.daily(q),
    vectorsOf: (crew) => {
      const embedderId = deps.embedderId();
      const items: { id: string; vector: Float32Array }[] = [];
      for (const r of memories.byCrew(crew)) {
        const vector = vectors.get(r.id, embedderId);
        if (vector) items.push({ id: r.id, vector });
      }
      return { embedderId, items };
    },
  };
}

export const DAY_MS = 86_400_000;
export const DEFAULT_WINDOW_DAYS = 30;
const LIST_LIMIT = 10;
const PREVIEW_CHARS = 80;
const KINDS: readonly MemoryKind[] = ['fact', 'insight', 'lesson', 'result', 'note'];

/**
 * When each insight is emitted. Minimum sizes keep a handful of memories from producing sweeping statements
 * ("100 % unused" of one memory); shares are the point where the finding is worth a person's attention.
 */
export const INSIGHT_RULES = {
  /** Memories older than the window and not accessed in it, as a share of those older than the window. */
  unusedShare: { minMemories: 5, minShare: 0.25, warningShare: 0.5 },
  /** The most-accessed 10 % of live memories (at least one) take at least half of all their accesses. */
  hotConcentration: { minMemories: 10, minAccesses: 20, topFraction: 0.1, minShare: 0.5 },
  /** Memories added in the window that were never read, as a share of those added. */
  staleGrowth: { minAdded: 5, minShare: 0.5 },
  /** Accesses of the last 7 complete days against the 7 before (today is partial, so it is left out). */
  accessDrop: { minPreviousWeek: 20, minFall: 0.5 },
  /** Archive candidates (see RECOMMENDATION_RULES) and the tokens they hold. */
  archiveSavings: { minMemories: 3 },
  /** Near-duplicate sets at the default threshold. */
  duplicates: { minSets: 1, threshold: DEFAULT_DUPLICATE_THRESHOLD },
} as const;

/** What each recommendation picks. */
export const RECOMMENDATION_RULES = {
  /** archive: older than this and not accessed in it, importance ≤ archiveMaxImportance, not pinned. */
  coldDays: 30,
  archiveMaxImportance: 0.3,
  /** The coldest this many go in one archive recommendation (a response stays bounded). */
  archiveMaxIds: 500,
  /** pin: not pinned, importance ≥ pinMinImportance, accessed ≥ pinMinAccesses times, last within coldDays. */
  pinMinImportance: 0.7,
  pinMinAccesses: 10,
  /** merge: duplicate sets at this cosine. */
  mergeThreshold: DEFAULT_DUPLICATE_THRESHOLD,
  defaultLimit: 20,
} as const;

interface Window extends AnalyticsWindow {
  /** ms of the window's first day, 00:00 UTC. */
  start: number;
}

interface Entry {
  r: MemoryRecord;
  c: AccessCounters;
  tokens: number;
}

interface CrewData {
  crew: string;
  entries: Entry[];
  contextTokens: number;
}

type DuplicateFinder = Pick<ClusterService, 'crewDuplicates'>;

export class AnalyticsService {
  constructor(
    private readonly source: AnalyticsSource,
    private readonly clock: Clock,
    /** Duplicate search (ClusterService) for the duplicates insight and merge recommendations. */
    private readonly duplicates: DuplicateFinder,
  ) {}

  summary(p: AnalyticsSummary.Params = {}): AnalyticsSummary.Result {
    const now = this.clock.now();
    const w = windowOf(now, p.days ?? DEFAULT_WINDOW_DAYS);
    const data = this.collect(p.crew, now);
    const daily = this.dailyByCrew(p.crew, w.from, w.to);
    const crews = p.crew !== undefined ? [p.crew] : union(data.keys(), activeCrews(daily));
    return {
      window: publicWindow(w),
      generatedAt: new Date(now).toISOString(),
      crews: crews.map((crew) =>
        crewSummary(data.get(crew) ?? { crew, entries: [], contextTokens: 0 }, daily.get(crew) ?? [], w),
      ),
    };
  }

  async insights(p: AnalyticsInsights.Params = {}, opts: RunOptions = {}): Promise<AnalyticsInsights.Result> {
    const now = this.clock.now();
    const w = windowOf(now, p.days ?? DEFAULT_WINDOW_DAYS);
    const data = this.collect(p.crew, now);
    // The weekly comparison needs the 14 complete days before today, whatever the window.
    const today = dayOf(now);
    const weeks = this.dailyByCrew(p.crew, dayOf(Date.parse(`${today}T00:00:00.000Z`) - 14 * DAY_MS), today);
    const crews = p.crew !== undefined ? [p.crew] : union(data.keys(), activeCrews(weeks));
    // What is worth archiving is judged over the recommendation's cold period at least: over a one-day window,
    // memories made minutes before midnight would count as cold.
    const cold = windowOf(now, Math.max(w.days, RECOMMENDATION_RULES.coldDays));
    const out: Insight[] = [];
    for (const crew of crews) {
      const d = data.get(crew) ?? { crew, entries: [], contextTokens: 0 };
      out.push(...unusedShare(d, w), ...hotConcentration(d), ...staleGrowth(d, w, now), ...archiveSavings(d, cold));
      out.push(...accessDrop(crew, weeks.get(crew) ?? [], today));
      if (d.entries.length >= 2) {
        const { sets } = await this.duplicates.crewDuplicates(crew, INSIGHT_RULES.duplicates.threshold, opts);
        out.push(...duplicatesInsight(crew, sets));
      }
    }
    const order: InsightKind[] = [
      'unused-share',
      'access-drop',
      'archive-savings',
      'duplicates',
      'stale-growth',
      'hot-concentration',
    ];
    out.sort(
      (a, b) =>
        Number(b.severity === 'warning') - Number(a.severity === 'warning') ||
        cmp(a.crew, b.crew) ||
        order.indexOf(a.kind) - order.indexOf(b.kind),
    );
    return { window: publicWindow(w), generatedAt: new Date(now).toISOString(), insights: out };
  }

  async recommendations(
    p: AnalyticsRecommendations.Params = {},
    opts: RunOptions = {},
  ): Promise<AnalyticsRecommendations.Result> {
    const now = this.clock.now();
    const w = windowOf(now, RECOMMENDATION_RULES.coldDays);
    const data = this.collect(p.crew, now);
    const all: Recommendation[] = [];
    for (const d of [...data.values()].sort((a, b) => cmp(a.crew, b.crew))) {
      const archive = archiveRecommendation(d, w);
      if (archive) all.push(archive);
      if (d.entries.length >= 2) {
        const { sets } = await this.duplicates.crewDuplicates(d.crew, RECOMMENDATION_RULES.mergeThreshold, opts);
        for (const s of sets) {
          const ids = [s.keepId, ...s.duplicates.map((x) => x.id)];
          all.push({
            id: recommendationId('merge', ids),
            kind: 'merge',
            crew: d.crew,
            memoryIds: ids,
            reason:
              `${s.duplicates.length + 1} memories of crew ${d.crew} say nearly the same thing (cosine ` +
              `${s.duplicates.map((x) => x.similarity.toFixed(3)).join(', ')} to ${s.keepId}); ${s.reason}; ` +
              `merging saves about ${fmt(s.tokensSaved)} tokens`,
            tokensSaved: s.tokensSaved,
            score: share(s.tokensSaved, d.contextTokens),
            merge: s.merge,
          });
        }
      }
      all.push(...pinRecommendations(d, now));
    }
    all.sort((a, b) => b.score - a.score || cmp(a.kind, b.kind) || cmp(a.id, b.id));
    return {
      generatedAt: new Date(now).toISOString(),
      recommendations: all.slice(0, p.limit ?? RECOMMENDATION_RULES.defaultLimit),
      total: all.length,
    };
  }

  /** Live memories by crew, each with its counters and tokens read once. */
  private collect(crew: string | undefined, now: number): Map<string, CrewData> {
    const out = new Map<string, CrewData>();
    for (const r of this.source.records(crew)) {
      if (!live(r, now) || (crew !== undefined && r.crew !== crew)) continue;
      let d = out.get(r.crew);
      if (!d) out.set(r.crew, (d = { crew: r.crew, entries: [], contextTokens: 0 }));
      const tokens = estimateTokens(r.content);
      d.entries.push({ r, c: this.source.counters(r.id), tokens });
      d.contextTokens += tokens;
    }
    return out;
  }

  private dailyByCrew(crew: string | undefined, fromDay: string, toDay: string): Map<string, DailyAccess[]> {
    const out = new Map<string, DailyAccess[]>();
    for (const d of this.source.daily({ ...(crew !== undefined ? { crew } : {}), fromDay, toDay })) {
      const list = out.get(d.crew);
      if (list) list.push(d);
      else out.set(d.crew, [d]);
    }
    return out;
  }
}

// ── summary ────────────────────────────────────────────────────────────

function crewSummary(d: CrewData, daily: DailyAccess[], w: Window): CrewSummary {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<MemoryKind, number>;
  const created = new Array<number>(w.days).fill(0);
  let before = 0;
  let pinned = 0;
  let neverAccessed = 0;
  for (const { r, c } of d.entries) {
    byKind[r.kind]++;
    if (r.pinned) pinned++;
    if (c.count === 0) neverAccessed++;
    if (r.createdAt < w.start) before++;
    else {
      const i = Math.floor((r.createdAt - w.start) / DAY_MS);
      // A creation time past today (a clock set back) counts on the last day rather than vanishing.
      created[Math.min(i, w.days - 1)]!++;
    }
  }
  const days = daysOf(w);
  let running = before;
  const createdPerDay = days.map((day, i) => ({ day, created: created[i]!, total: (running += created[i]!) }));

  const perDay = new Map(daily.map((x) => [x.day, x]));
  const byHour = new Array<number>(24).fill(0);
  const byWeekday = new Array<number>(7).fill(0);
  const byWeekdayHour = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  let accessesInWindow = 0;
  const accessesPerDay = days.map((day) => {
    const x = perDay.get(day);
    if (x) {
      const weekday = new Date(`${day}T00:00:00.000Z`).getUTCDay();
      x.byHour.forEach((n, h) => {
        byHour[h]! += n;
        byWeekdayHour[weekday]![h]! += n;
      });
      byWeekday[weekday]! += x.accesses;
      accessesInWindow += x.accesses;
    }
    return { day, accesses: x?.accesses ?? 0, memories: x?.memories ?? 0 };
  });

  const hot = d.entries
    .filter((e) => e.c.last !== null && e.c.last >= w.start)
    .sort((a, b) => b.c.count - a.c.count || b.c.last! - a.c.last! || cmp(a.r.id, b.r.id))
    .slice(0, LIST_LIMIT);
  const aged = d.entries.filter((e) => e.r.createdAt < w.start);
  const unused = coldest(aged.filter((e) => !accessedSince(e, w.start)));
  return {
    crew: d.crew,
    total: d.entries.length,
    pinned,
    byKind,
    createdPerDay,
    accessesPerDay,
    byHour,
    byWeekday,
    byWeekdayHour,
    accessesInWindow,
    hot: hot.map(brief),
    cold: unused.slice(0, LIST_LIMIT).map(brief),
    neverAccessed,
    neverAccessedShare: share(neverAccessed, d.entries.length),
    agedMemories: aged.length,
    unusedInWindow: unused.length,
    unusedInWindowShare: share(unused.length, aged.length),
    contextTokens: d.contextTokens,
  };
}

function brief(e: Entry): MemoryBrief {
  return {
    id: e.r.id,
    kind: e.r.kind,
    importance: e.r.importance,
    pinned: e.r.pinned,
    accessCount: e.c.count,
    lastAccessedAt: e.c.last === null ? null : new Date(e.c.last).toISOString(),
    createdAt: new Date(e.r.createdAt).toISOString(),
    preview: e.r.content.replace(/\s+/g, ' ').trim().slice(0, PREVIEW_CHARS),
    tokens: e.tokens,
  };
}

/** Never accessed first (oldest created first), then by oldest last access; ties by id. */
function coldest(entries: Entry[]): Entry[] {
  return entries.sort(
    (a, b) =>
      Number(b.c.last === null) - Number(a.c.last === null) ||
      (a.c.last ?? 0) - (b.c.last ?? 0) ||
      a.r.createdAt - b.r.createdAt ||
      cmp(a.r.id, b.r.id),
  );
}

function accessedSince(e: Entry, start: number): boolean {
  return e.c.last !== null && e.c.last >= start;
}

// ── insights ───────────────────────────────────────────────────────────

function insight(
  kind: InsightKind,
  crew: string,
  severity: Insight['severity'],
  text: string,
  figures: Record<string, number>,
): Insight {
  return { id: `${kind}:${crew}`, kind, crew, severity, text, figures };
}

function unusedShare(d: CrewData, w: Window): Insight[] {
  const rule = INSIGHT_RULES.unusedShare;
  const aged = d.entries.filter((e) => e.r.createdAt < w.start);
  const unused = aged.filter((e) => !accessedSince(e, w.start)).length;
  const s = share(unused, aged.length);
  if (aged.length < rule.minMemories || s < rule.minShare) return [];
  return [
    insight(
      'unused-share',
      d.crew,
      s >= rule.warningShare ? 'warning' : 'info',
      `${pct(s)} of crew ${d.crew}'s memories were never used in ${w.days} days ` +
        `(${fmt(unused)} of the ${fmt(aged.length)} older than that)`,
      { memories: aged.length, unused, share: s, days: w.days },
    ),
  ];
}

function hotConcentration(d: CrewData): Insight[] {
  const rule = INSIGHT_RULES.hotConcentration;
  const n = d.entries.length;
  const accesses = d.entries.reduce((sum, e) => sum + e.c.count, 0);
  if (n < rule.minMemories || accesses < rule.minAccesses) return [];
  const top = Math.max(1, Math.ceil(n * rule.topFraction));
  const topAccesses = d.entries
    .map((e) => e.c.count)
    .sort((a, b) => b - a)
    .slice(0, top)
    .reduce((a, b) => a + b, 0);
  const s = share(topAccesses, accesses);
  if (s < rule.minShare) return [];
  return [
    insight(
      'hot-concentration',
      d.crew,
      'info',
      `In crew ${d.crew}, the top ${pct(rule.topFraction)} of memories (${fmt(top)} of ${fmt(n)}) take ` +
        `${pct(s)} of all accesses (${fmt(topAccesses)} of ${fmt(accesses)})`,
      { memories: n, top, topAccesses, accesses, share: s },
    ),
  ];
}

function staleGrowth(d: CrewData, w: Window, now: number): Insight[] {
  const rule = INSIGHT_RULES.staleGrowth;
  const added = d.entries.filter((e) => e.r.createdAt >= w.start && e.r.createdAt <= now);
  const neverRead = added.filter((e) => e.c.count === 0).length;
  const s = share(neverRead, added.length);
  if (added.length < rule.minAdded || s < rule.minShare) return [];
  return [
    insight(
      'stale-growth',
      d.crew,
      'info',
      `Crew ${d.crew} added ${fmt(added.length)} memories in the last ${w.days} days and ${fmt(neverRead)} ` +
        `of them (${pct(s)}) have never been read`,
      { added: added.length, neverRead, share: s, days: w.days },
    ),
  ];
}

function accessDrop(crew: string, daily: DailyAccess[], today: string): Insight[] {
  const rule = INSIGHT_RULES.accessDrop;
  const t = Date.parse(`${today}T00:00:00.000Z`);
  const lastFrom = dayOf(t - 7 * DAY_MS);
  const prevFrom = dayOf(t - 14 * DAY_MS);
  let lastWeek = 0;
  let previousWeek = 0;
  for (const x of daily) {
    if (x.day >= lastFrom && x.day < today) lastWeek += x.accesses;
    else if (x.day >= prevFrom && x.day < lastFrom) previousWeek += x.accesses;
  }
  if (previousWeek < rule.minPreviousWeek) return [];
  const fall = (previousWeek - lastWeek) / previousWeek;
  if (fall < rule.minFall) return [];
  return [
    insight(
      'access-drop',
      crew,
      'warning',
      `Accesses to crew ${crew}'s memories fell by ${pct(fall)} week over week ` +
        `(${fmt(previousWeek)} in the 7 days to ${dayOf(t - 8 * DAY_MS)}, ${fmt(lastWeek)} in the 7 days to ` +
        `${dayOf(t - DAY_MS)})`,
      { previousWeek, lastWeek, fall },
    ),
  ];
}

function archiveSavings(d: CrewData, w: Window): Insight[] {
  const candidates = archiveCandidates(d, w);
  if (candidates.length < INSIGHT_RULES.archiveSavings.minMemories) return [];
  const tokens = candidates.reduce((sum, e) => sum + e.tokens, 0);
  const s = share(tokens, d.contextTokens);
  return [
    insight(
      'archive-savings',
      d.crew,
      'info',
      `Archiving crew ${d.crew}'s ${fmt(candidates.length)} cold, low-importance memories (not used in ` +
        `${w.days} days) would save about ${fmt(tokens)} tokens, ${pct(s)} of its ${fmt(d.contextTokens)}`,
      { memories: candidates.length, tokens, contextTokens: d.contextTokens, share: s, days: w.days },
    ),
  ];
}

function duplicatesInsight(
  crew: string,
  sets: { keepId: string; duplicates: unknown[]; tokensSaved: number }[],
): Insight[] {
  if (sets.length < INSIGHT_RULES.duplicates.minSets) return [];
  const removable = sets.reduce((sum, s) => sum + s.duplicates.length, 0);
  const tokens = sets.reduce((sum, s) => sum + s.tokensSaved, 0);
  return [
    insight(
      'duplicates',
      crew,
      'info',
      `Crew ${crew} holds ${fmt(sets.length)} set${sets.length === 1 ? '' : 's'} of near-duplicate memories ` +
        `(${fmt(sets.length + removable)} memories, cosine ≥ ${INSIGHT_RULES.duplicates.threshold}); merging ` +
        `${sets.length === 1 ? 'it' : 'them'} would remove ${fmt(removable)} and save about ${fmt(tokens)} tokens`,
      {
        sets: sets.length,
        memories: sets.length + removable,
        removable,
        tokens,
        threshold: INSIGHT_RULES.duplicates.threshold,
      },
    ),
  ];
}

// ── recommendations ────────────────────────────────────────────────────

/** Older than the window, not accessed in it, low importance, not pinned: coldest first. */
function archiveCandidates(d: CrewData, w: Window): Entry[] {
  return coldest(
    d.entries.filter(
      (e) =>
        !e.r.pinned &&
        e.r.importance <= RECOMMENDATION_RULES.archiveMaxImportance &&
        e.r.createdAt < w.start &&
        !accessedSince(e, w.start),
    ),
  );
}

function archiveRecommendation(d: CrewData, w: Window): Recommendation | undefined {
  const picked = archiveCandidates(d, w).slice(0, RECOMMENDATION_RULES.archiveMaxIds);
  if (picked.length === 0) return undefined;
  const tokens = picked.reduce((sum, e) => sum + e.tokens, 0);
  const never = picked.filter((e) => e.c.count === 0).length;
  const ids = picked.map((e) => e.r.id);
  return {
    id: recommendationId('archive', ids),
    kind: 'archive',
    crew: d.crew,
    memoryIds: ids,
    reason:
      `${fmt(picked.length)} memor${picked.length === 1 ? 'y' : 'ies'} of crew ${d.crew} ` +
      `${picked.length === 1 ? 'was' : 'were'} not used in ${w.days} days (${fmt(never)} never), ` +
      `${picked.length === 1 ? 'has' : 'have'} importance ≤ ${RECOMMENDATION_RULES.archiveMaxImportance} ` +
      `and ${picked.length === 1 ? 'is' : 'are'} not pinned; archiving (lossless, restorable) saves about ` +
      `${fmt(tokens)} of the crew's ${fmt(d.contextTokens)} context tokens`,
    tokensSaved: tokens,
    score: share(tokens, d.contextTokens),
  };
}

function pinRecommendations(d: CrewData, now: number): Recommendation[] {
  const rule = RECOMMENDATION_RULES;
  const since = now - rule.coldDays * DAY_MS;
  const maxCount = d.entries.reduce((m, e) => Math.max(m, e.c.count), 0);
  return d.entries
    .filter(
      (e) =>
        !e.r.pinned &&
        e.r.importance >= rule.pinMinImportance &&
        e.c.count >= rule.pinMinAccesses &&
        e.c.last !== null &&
        e.c.last >= since,
    )
    .map((e) => ({
      id: recommendationId('pin', [e.r.id]),
      kind: 'pin' as const,
      crew: d.crew,
      memoryIds: [e.r.id],
      reason:
        `accessed ${fmt(e.c.count)} times (last ${daysAgo(now, e.c.last!)}) with importance ${e.r.importance}, ` +
        `but not pinned: pinning keeps it out of archiving and makes it the keeper in merges`,
      tokensSaved: 0,
      score: (e.c.count / maxCount) * e.r.importance,
    }));
}

/** `<kind>-<16 hex>` over the kind and the sorted ids: the same advice keeps its id across calls. */
export function recommendationId(kind: RecommendationKind, ids: readonly string[]): string {
  const h = createHash('sha256')
    .update(`${kind}\u0000${[...ids].sort().join('\u0000')}`)
    .digest('hex');
  return `${kind}-${h.slice(0, 16)}`;
}

// ── helpers ────────────────────────────────────────────────────────────

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `days` UTC days ending with today's. */
function windowOf(now: number, days: number): Window {
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be a positive integer, got ${days}`);
  const start = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
  return { from: dayOf(start), to: dayOf(now), days, start };
}

function publicWindow(w: Window): AnalyticsWindow {
  return { from: w.from, to: w.to, days: w.days };
}

function daysOf(w: Window): string[] {
  return Array.from({ length: w.days }, (_, i) => dayOf(w.start + i * DAY_MS));
}

function activeCrews(daily: Map<string, DailyAccess[]>): string[] {
  return [...daily].filter(([, list]) => list.some((x) => x.accesses > 0)).map(([crew]) => crew);
}

function union(a: Iterable<string>, b: Iterable<string>): string[] {
  return [...new Set([...a, ...b])].sort(cmp);
}

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function pct(x: number): string {
  return formatShare(x);
}

/** An integer with thousands separated by commas, whatever the server's locale: texts read the same everywhere. */
function fmt(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function daysAgo(now: number, t: number): string {
  const d = Math.floor((now - t) / DAY_MS);
  return d <= 0 ? 'today' : d === 1 ? 'yesterday' : `${d} days ago`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
