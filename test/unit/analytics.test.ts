/**
 * Memory analytics, clusters and duplicates (issue 3): summary figures exact on a hand-built set; each insight
 * appears only when its rule is met and states the numbers behind it; recommendations pick the right memories with
 * stable ids and exact token figures; clusters recover obvious topics, survive a restart, report progress and stop
 * when cancelled; duplicates and merges follow the documented rules. Access figures come from the real
 * FileAccessRepository; time from a ManualClock.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, type MemoryKind } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { analyticsSchemas } from '../../server/memory/analytics-schemas';
import { AnalyticsService, recommendationId, type AnalyticsSource } from '../../server/memory/analytics';
import { ClusterService } from '../../server/memory/clusters';
import { planMerge } from '../../server/memory/merge';
import { contentHash } from '../../server/memory/normalize';
import { estimateTokens } from '../../server/memory/search/context-pack';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import type { MemoryRecord } from '../../server/store/repositories';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** A Thursday afternoon; the 30-day window is 2025-02-19 … 2025-03-20. */
const NOW = Date.parse('2025-03-20T15:30:00.000Z');
const at = (iso: string) => Date.parse(iso);

/** The read interface over plain arrays and maps, with the real access store behind the counters. */
class MemSource implements AnalyticsSource {
  readonly list: MemoryRecord[] = [];
  readonly vectors = new Map<string, Float32Array>();
  embedderId = 'test-vectors@1';

  constructor(readonly access: FileAccessRepository) {}

  records(crew?: string): Iterable<MemoryRecord> {
    return this.list.filter((r) => crew === undefined || r.crew === crew);
  }
  counters(id: string) {
    return this.access.counters(id);
  }
  daily(q: { crew?: string; fromDay?: string; toDay?: string }) {
    return this.access.daily(q);
  }
  vectorsOf(crew: string) {
    const items = this.list
      .filter((r) => r.crew === crew && this.vectors.has(r.id))
      .map((r) => ({ id: r.id, vector: this.vectors.get(r.id)! }));
    return { embedderId: this.embedderId, items };
  }

  add(
    id: string,
    crew: string,
    o: {
      kind?: MemoryKind;
      importance?: number;
      pinned?: boolean;
      createdAt?: number;
      content?: string;
      expiresAt?: number | null;
      tags?: string[];
      vector?: number[] | Float32Array;
    } = {},
  ): MemoryRecord {
    const createdAt = o.createdAt ?? NOW - 60 * DAY;
    const content = o.content ?? `memory ${id} of crew ${crew}`;
    const r: MemoryRecord = {
      id,
      crew,
      agent: null,
      content,
      kind: o.kind ?? 'note',
      tags: o.tags ?? [],
      importance: o.importance ?? 0.5,
      pinned: o.pinned ?? false,
      expiresAt: o.expiresAt ?? null,
      createdAt,
      updatedAt: createdAt,
      contentHash: contentHash(content),
      history: [{ version: 1, at: new Date(createdAt).toISOString(), change: 'created', previous: {}, note: null }],
    };
    this.list.push(r);
    if (o.vector) this.vectors.set(id, Float32Array.from(o.vector));
    return r;
  }

  /** Accesses in time order (the access store's distinct-memory count per day expects that). */
  read(events: [id: string, at: number][]): void {
    const crewOf = new Map(this.list.map((r) => [r.id, r.crew]));
    const sorted = [...events].sort((a, b) => a[1] - b[1]);
    this.access.record(sorted.map(([id, t]) => ({ id, crew: crewOf.get(id)!, at: t })));
  }
}

/** A one-hot vector in `dim` dimensions, optionally nudged towards another axis. */
function axis(i: number, dim = 32, nudge?: { j: number; by: number }): number[] {
  const v = new Array<number>(dim).fill(0);
  v[i] = 1;
  if (nudge) v[nudge.j] = nudge.by;
  return v;
}

describe('memory analytics (issue 3)', () => {
  let dir: string;
  let access: FileAccessRepository;
  let src: MemSource;
  let clock: ManualClock;
  let clusters: ClusterService;
  let analytics: AnalyticsService;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-analytics-'));
    access = await FileAccessRepository.open(path.join(dir, 'access'));
    src = new MemSource(access);
    clock = new ManualClock(NOW);
    clusters = new ClusterService(src, clock, path.join(dir, 'clusters'));
    analytics = new AnalyticsService(src, clock, clusters);
  });

  afterEach(async () => {
    await access.close();
    await clusters.flush();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  describe('analytics/summary', () => {
    beforeEach(() => {
      src.add('a1', 'alpha', { kind: 'fact', createdAt: NOW - 60 * DAY });
      src.add('a2', 'alpha', { kind: 'lesson', createdAt: NOW - 40 * DAY });
      src.add('a3', 'alpha', { kind: 'note', createdAt: NOW - 50 * DAY });
      src.add('a4', 'alpha', { kind: 'note', createdAt: at('2025-03-15T10:00:00Z') });
      src.add('a5', 'alpha', { kind: 'insight', createdAt: NOW - 100 * DAY, pinned: true });
      // Expired: not live, so in no figure.
      src.add('a6', 'alpha', { kind: 'fact', expiresAt: NOW - HOUR });
      src.add('b1', 'beta', { kind: 'result', createdAt: NOW - 10 * DAY });
      src.read([
        ['a2', at('2025-02-10T08:00:00Z')], // before the window
        ['a5', at('2025-03-18T23:15:00Z')],
        ['a1', at('2025-03-19T09:00:00Z')],
        ['a1', at('2025-03-19T09:30:00Z')],
        ['a1', at('2025-03-20T14:00:00Z')],
        ['b1', at('2025-03-20T14:45:00Z')],
        ['a6', at('2025-03-20T14:50:00Z')],
      ]);
    });

    it('gives exact figures per crew: kinds, growth, accesses by day/hour/weekday, hot, cold, shares, tokens', () => {
      const res = analytics.summary({ crew: 'alpha' });
      assert.deepEqual(res.window, { from: '2025-02-19', to: '2025-03-20', days: 30 });
      assert.equal(res.crews.length, 1);
      const s = res.crews[0]!;
      assert.equal(s.crew, 'alpha');
      assert.equal(s.total, 5);
      assert.equal(s.pinned, 1);
      assert.deepEqual(s.byKind, { fact: 1, insight: 1, lesson: 1, result: 0, note: 2 });
      assert.equal(s.neverAccessed, 2); // a3, a4
      assert.equal(s.neverAccessedShare, 0.4);
      assert.equal(s.agedMemories, 4); // a1, a2, a3, a5
      assert.equal(s.unusedInWindow, 2); // a2 (last read before the window), a3 (never)
      assert.equal(s.unusedInWindowShare, 0.5);
      assert.deepEqual(
        s.cold.map((m) => m.id),
        ['a3', 'a2'],
      );
      assert.deepEqual(
        s.hot.map((m) => [m.id, m.accessCount]),
        [
          ['a1', 3],
          ['a5', 1],
        ],
      );
      assert.equal(s.hot[0]!.lastAccessedAt, '2025-03-20T14:00:00.000Z');

      // The daily aggregates are per crew, not per memory: a6's read (before it expired) counts at 14:50.
      const byHour = new Array<number>(24).fill(0);
      byHour[9] = 2;
      byHour[14] = 2;
      byHour[23] = 1;
      assert.deepEqual(s.byHour, byHour);
      assert.deepEqual(s.byWeekday, [0, 0, 1, 2, 2, 0, 0]); // Tue 03-18, Wed 03-19, Thu 03-20
      assert.equal(s.accessesInWindow, 5);
      assert.equal(s.accessesPerDay.length, 30);
      assert.deepEqual(
        s.accessesPerDay.filter((d) => d.accesses > 0),
        [
          { day: '2025-03-18', accesses: 1, memories: 1 },
          { day: '2025-03-19', accesses: 2, memories: 1 },
          { day: '2025-03-20', accesses: 2, memories: 2 },
        ],
      );

      assert.equal(s.createdPerDay.length, 30);
      assert.deepEqual(s.createdPerDay[0], { day: '2025-02-19', created: 0, total: 4 });
      assert.deepEqual(
        s.createdPerDay.find((d) => d.day === '2025-03-15'),
        { day: '2025-03-15', created: 1, total: 5 },
      );
      assert.deepEqual(s.createdPerDay.at(-1), { day: '2025-03-20', created: 0, total: 5 });

      const tokens = ['a1', 'a2', 'a3', 'a4', 'a5'].reduce(
        (sum, id) => sum + estimateTokens(src.list.find((r) => r.id === id)!.content),
        0,
      );
      assert.equal(s.contextTokens, tokens);
    });

    it('covers every crew with memories or accesses, and a shorter window moves the figures', () => {
      const all = analytics.summary({});
      assert.deepEqual(
        all.crews.map((c) => c.crew),
        ['alpha', 'beta'],
      );
      assert.equal(all.crews[1]!.byHour[14], 1);
      assert.equal(all.crews[1]!.agedMemories, 0); // b1 is 10 days old: inside the window

      const week = analytics.summary({ crew: 'alpha', days: 7 }).crews[0]!;
      assert.deepEqual(analytics.summary({ crew: 'alpha', days: 7 }).window, {
        from: '2025-03-14',
        to: '2025-03-20',
        days: 7,
      });
      assert.equal(week.agedMemories, 4); // a4 (03-15) is inside the 7 days
      assert.equal(week.createdPerDay.find((d) => d.day === '2025-03-15')!.created, 1);
      assert.equal(week.unusedInWindow, 2);

      // An unknown crew answers with zeros, not an error.
      const none = analytics.summary({ crew: 'nobody' }).crews[0]!;
      assert.equal(none.total, 0);
      assert.equal(none.neverAccessedShare, 0);
      assert.equal(none.accessesInWindow, 0);
    });
  });

  describe('analytics/insights', () => {
    it('states "41 % … never used in 30 days" with the numbers, and nothing else for that crew', async () => {
      for (let i = 0; i < 100; i++) src.add(`g${i}`, 'gamma', { createdAt: NOW - 60 * DAY });
      src.read(Array.from({ length: 59 }, (_, i) => [`g${i}`, NOW - 2 * DAY] as [string, number]));
      const { insights } = await analytics.insights({ crew: 'gamma' });
      assert.equal(insights.length, 1, JSON.stringify(insights));
      const [x] = insights;
      assert.equal(x!.id, 'unused-share:gamma');
      assert.equal(x!.severity, 'info');
      assert.match(x!.text, /^41% of crew gamma's memories were never used in 30 days \(41 of the 100/);
      assert.deepEqual(x!.figures, { memories: 100, unused: 41, share: 0.41, days: 30 });
    });

    it('is a warning from half unused; silent under 25 % or with fewer than 5 old memories', async () => {
      for (let i = 0; i < 10; i++) src.add(`w${i}`, 'warn', { createdAt: NOW - 60 * DAY });
      src.read([0, 1, 2, 3].map((i) => [`w${i}`, NOW - DAY] as [string, number]));
      const warn = (await analytics.insights({ crew: 'warn' })).insights.find((i) => i.kind === 'unused-share')!;
      assert.equal(warn.severity, 'warning');
      assert.equal(warn.figures.share, 0.6);

      for (let i = 0; i < 10; i++) src.add(`q${i}`, 'quiet', { createdAt: NOW - 60 * DAY });
      src.read([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [`q${i}`, NOW - DAY] as [string, number]));
      assert.deepEqual((await analytics.insights({ crew: 'quiet' })).insights, []); // 20 % unused

      for (let i = 0; i < 4; i++) src.add(`f${i}`, 'few', { createdAt: NOW - 60 * DAY });
      assert.deepEqual((await analytics.insights({ crew: 'few' })).insights, []); // 100 % of 4
    });

    it('finds hot concentration: the top 10 % take most accesses', async () => {
      for (let i = 0; i < 10; i++) src.add(`h${i}`, 'hot', { createdAt: NOW - 3 * DAY });
      const events: [string, number][] = [];
      for (let k = 0; k < 30; k++) events.push(['h0', NOW - HOUR - k * 1000]);
      for (let i = 1; i < 10; i++) events.push([`h${i}`, NOW - 2 * HOUR]);
      src.read(events);
      const { insights } = await analytics.insights({ crew: 'hot' });
      assert.deepEqual(
        insights.map((i) => i.kind),
        ['hot-concentration'],
      );
      assert.deepEqual(insights[0]!.figures, { memories: 10, top: 1, topAccesses: 30, accesses: 39, share: 30 / 39 });
      assert.match(insights[0]!.text, /top 10% of memories \(1 of 10\) take 76\.9% of all accesses \(30 of 39\)/);

      // Evenly used: no concentration to report.
      for (let i = 0; i < 10; i++) src.add(`e${i}`, 'even', { createdAt: NOW - 3 * DAY });
      src.read(Array.from({ length: 30 }, (_, k) => [`e${k % 10}`, NOW - HOUR] as [string, number]));
      assert.deepEqual((await analytics.insights({ crew: 'even' })).insights, []);
    });

    it('finds stale growth: memories added in the window that nobody read', async () => {
      for (let i = 0; i < 6; i++) src.add(`z${i}`, 'zeta', { createdAt: NOW - 3 * DAY });
      src.read([
        ['z0', NOW - HOUR],
        ['z1', NOW - HOUR],
      ]);
      const { insights } = await analytics.insights({ crew: 'zeta' });
      assert.deepEqual(
        insights.map((i) => i.kind),
        ['stale-growth'],
      );
      assert.deepEqual(insights[0]!.figures, { added: 6, neverRead: 4, share: 4 / 6, days: 30 });
      assert.match(
        insights[0]!.text,
        /added 6 memories in the last 30 days and 4 of them \(66\.7%\) have never been read/,
      );
    });

    it('finds a week-over-week fall in accesses, only past the thresholds', async () => {
      src.add('d1', 'delta', { createdAt: NOW - 20 * DAY });
      src.add('s1', 'steady', { createdAt: NOW - 20 * DAY });
      const ev: [string, number][] = [];
      for (let k = 0; k < 25; k++) ev.push(['d1', at('2025-03-08T10:00:00Z') + k]); // previous week
      for (let k = 0; k < 5; k++) ev.push(['d1', at('2025-03-15T10:00:00Z') + k]); // last week
      for (let k = 0; k < 40; k++) ev.push(['d1', at('2025-03-20T10:00:00Z') + k]); // today: partial, left out
      for (let k = 0; k < 19; k++) ev.push(['s1', at('2025-03-08T10:00:00Z') + k]); // too few to judge
      src.read(ev);
      const { insights } = await analytics.insights({});
      const drop = insights.filter((i) => i.kind === 'access-drop');
      assert.equal(drop.length, 1);
      assert.equal(drop[0]!.crew, 'delta');
      assert.equal(drop[0]!.severity, 'warning');
      assert.deepEqual(drop[0]!.figures, { previousWeek: 25, lastWeek: 5, fall: 0.8 });
      assert.match(
        drop[0]!.text,
        /fell by 80% week over week \(25 in the 7 days to 2025-03-12, 5 in the 7 days to 2025-03-19\)/,
      );
      // Warnings come first.
      assert.equal(insights[0]!.severity, 'warning');
    });

    it('never calls memories made minutes ago cold, whatever the window (one day, just past midnight)', async () => {
      for (const id of ['n1', 'n2', 'n3', 'n4'])
        src.add(id, 'fresh', { importance: 0.1, createdAt: at('2025-03-19T23:50:00.000Z') });
      clock.set(at('2025-03-20T00:05:00.000Z'));
      const { insights } = await analytics.insights({ crew: 'fresh', days: 1 });
      assert.deepEqual(
        insights.filter((i) => i.kind === 'archive-savings'),
        [],
        'fifteen minutes old is not cold',
      );
      assert.equal((await analytics.recommendations({ crew: 'fresh' })).recommendations.length, 0);
    });

    it('counts the tokens archiving the cold set would save, and duplicate sets', async () => {
      const cold = ['c1', 'c2', 'c3'].map((id, i) =>
        src.add(id, 'cold', { importance: 0.2, content: `cold memory ${id} `.repeat(i + 1), vector: axis(i) }),
      );
      src.add('c4', 'cold', { importance: 0.2, pinned: true, vector: axis(3) }); // pinned: kept
      const warm = src.add('c5', 'cold', { importance: 0.9, vector: axis(4) });
      src.add('c6', 'cold', {
        importance: 0.9,
        content: 'warm memory c6, said again at more length',
        vector: axis(4, 32, { j: 5, by: 0.1 }),
      });
      src.read([
        ['c5', NOW - HOUR],
        ['c6', NOW - HOUR],
      ]);
      const { insights } = await analytics.insights({ crew: 'cold' });
      const arch = insights.find((i) => i.kind === 'archive-savings')!;
      const tokens = cold.reduce((s, r) => s + estimateTokens(r.content), 0);
      const all = src.list.reduce((s, r) => s + estimateTokens(r.content), 0);
      assert.deepEqual(arch.figures, { memories: 3, tokens, contextTokens: all, share: tokens / all, days: 30 });
      const dup = insights.find((i) => i.kind === 'duplicates')!;
      assert.deepEqual(dup.figures, {
        sets: 1,
        memories: 2,
        removable: 1,
        tokens: estimateTokens(warm.content),
        threshold: 0.92,
      });
      // 4 of the 6 were not used in the window; nothing was added in it, and 6 memories are too few to judge
      // concentration.
      assert.deepEqual(
        insights.map((i) => i.kind),
        ['unused-share', 'archive-savings', 'duplicates'],
      );
    });
  });

  describe('analytics/recommendations', () => {
    beforeEach(() => {
      src.add('r1', 'rec', { importance: 0.2, vector: axis(1) }); // cold, never read → archive
      src.add('r2', 'rec', { importance: 0.1, vector: axis(2) }); // cold, read 45 days ago → archive
      src.add('r3', 'rec', { importance: 0.1, pinned: true, vector: axis(3) }); // pinned → not archived
      src.add('r4', 'rec', { importance: 0.5, vector: axis(4) }); // important enough → not archived
      src.add('r5', 'rec', { importance: 0.9, vector: axis(5) }); // hot, important, unpinned → pin
      src.add('r6', 'rec', { importance: 0.9, pinned: true, vector: axis(6) }); // already pinned
      src.add('r7', 'rec', { importance: 0.8, vector: axis(7) }); // only 5 reads
      src.add('r8', 'rec', { content: 'deploy with blue green', vector: axis(8) });
      src.add('r9', 'rec', {
        content: 'deploy with blue green switching, keeping the old stack warm',
        tags: ['Deploy'],
        vector: axis(8, 32, { j: 9, by: 0.1 }),
      });
      const ev: [string, number][] = [['r2', NOW - 45 * DAY]];
      for (let k = 0; k < 12; k++) ev.push(['r5', NOW - DAY - k], ['r6', NOW - DAY - k]);
      for (let k = 0; k < 5; k++) ev.push(['r7', NOW - DAY - k]);
      for (let k = 0; k < 3; k++) ev.push(['r8', NOW - DAY - k]);
      ev.push(['r9', NOW - DAY]);
      src.read(ev);
    });

    it('recommends archive, merge and pin with stable ids, reasons and exact tokens', async () => {
      const res = await analytics.recommendations({ crew: 'rec' });
      const tok = (id: string) => estimateTokens(src.list.find((r) => r.id === id)!.content);
      const all = src.list.reduce((s, r) => s + estimateTokens(r.content), 0);
      assert.equal(res.total, 3);
      const byKind = Object.fromEntries(res.recommendations.map((r) => [r.kind, r]));

      const archive = byKind.archive!;
      assert.deepEqual(archive.memoryIds, ['r1', 'r2']); // never read first
      assert.equal(archive.tokensSaved, tok('r1') + tok('r2'));
      assert.equal(archive.score, archive.tokensSaved / all);
      const hash = createHash('sha256').update('archive\u0000r1\u0000r2').digest('hex').slice(0, 16);
      assert.equal(archive.id, `archive-${hash}`);
      assert.match(archive.reason, /2 memories of crew rec were not used in 30 days \(1 never\)/);

      const merge = byKind.merge!;
      // Equal importance, r8 read more → r8 kept; r9's longer content and tag carried over.
      assert.deepEqual(merge.memoryIds, ['r8', 'r9']);
      assert.equal(merge.id, recommendationId('merge', ['r9', 'r8']));
      assert.deepEqual(merge.merge, {
        keepId: 'r8',
        mergeIds: ['r9'],
        content: 'deploy with blue green switching, keeping the old stack warm',
        tags: ['deploy'],
        importance: 0.5,
      });
      assert.equal(merge.tokensSaved, tok('r8'));
      assert.match(merge.reason, /most accessed/);

      const pin = byKind.pin!;
      assert.deepEqual(pin.memoryIds, ['r5']);
      assert.equal(pin.tokensSaved, 0);
      assert.equal(pin.score, 0.9); // the crew's most-read memory (tied with r6) × importance 0.9
      assert.equal(pin.id, recommendationId('pin', ['r5']));

      // Highest score first; the same data gives the same ids.
      const scores = res.recommendations.map((r) => r.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
      );
      const again = await analytics.recommendations({ crew: 'rec' });
      assert.deepEqual(
        again.recommendations.map((r) => r.id),
        res.recommendations.map((r) => r.id),
      );
      assert.equal((await analytics.recommendations({ crew: 'rec', limit: 1 })).recommendations.length, 1);
    });

    it('stops recommending what no longer applies', async () => {
      src.read([
        ['r1', NOW - HOUR],
        ['r2', NOW - HOUR],
      ]);
      src.list.find((r) => r.id === 'r5')!.pinned = true;
      const res = await analytics.recommendations({ crew: 'rec' });
      assert.deepEqual(
        res.recommendations.map((r) => r.kind),
        ['merge'],
      );
    });
  });

  describe('clusters', () => {
    const TOPICS = {
      databases: [
        'postgres query planner index scan table statistics',
        'database index on table column speeds query',
        'sql query plan uses index scan on postgres table',
        'postgres table vacuum and index bloat in database',
        'slow database query fixed by a composite index',
        'database table partition and query index',
      ],
      cooking: [
        'bake bread dough in a hot oven with steam',
        'pasta sauce with garlic tomato and olive oil in a pan',
        'roast chicken in the oven with garlic and butter',
        'simmer tomato sauce in a pan for pasta',
        'knead bread dough and bake in the oven',
        'fry garlic in olive oil in a pan before the sauce',
      ],
      music: [
        'guitar chord progression in the key of g major',
        'practice piano scales and chord inversions daily',
        'tune the guitar strings before playing the chord',
        'piano melody in a minor key with a slow tempo',
        'guitar solo over a blues chord progression',
        'metronome tempo for piano scale practice',
      ],
    };

    /**
     * Hand-made vectors: each topic a direction of its own plus a small, fixed spread on shared axes, so the
     * groups are obvious by construction (the clustering suite tests recovery from real embeddings).
     */
    function addTopics(crew: string): Map<string, string> {
      const topicOf = new Map<string, string>();
      Object.entries(TOPICS).forEach(([topic, texts], t) => {
        texts.forEach((content, i) => {
          const v = new Array<number>(16).fill(0);
          v[t] = 1;
          v[8 + ((i + t) % 8)] = 0.25;
          v[8 + ((i * 3 + 1) % 8)]! += 0.15;
          const id = `${topic}-${i}`;
          src.add(id, crew, { content, vector: v });
          topicOf.set(id, topic);
        });
      });
      return topicOf;
    }

    it('finds three obvious topics, labels them, and keeps the result across a restart', async () => {
      const topicOf = addTopics('band');
      const fractions: number[] = [];
      const r = await clusters.compute({ crew: 'band', kMin: 2, kMax: 6 }, { onProgress: (f) => fractions.push(f) });
      assert.equal(r.k, 3);
      assert.equal(r.embedderId, src.embedderId);
      assert.equal(r.computedAt, new Date(NOW).toISOString());
      assert.equal(r.memories, 18);
      assert.ok(r.silhouette > 0.5, `silhouette ${r.silhouette}`);
      assert.deepEqual(
        r.candidates.map((c) => c.k),
        [2, 3, 4, 5, 6],
      );
      for (const c of r.clusters) {
        const topics = new Set(c.memberIds.map((id) => topicOf.get(id)));
        assert.equal(topics.size, 1, `cluster ${c.label} mixes ${[...topics].join(', ')}`);
        assert.equal(c.size, 6);
        assert.ok(c.memberIds.includes(c.representativeId));
        assert.ok(c.cohesion > 0 && c.cohesion <= 1);
        assert.ok(c.label.length > 0 && c.terms.length > 0);
      }
      const labels = r.clusters.map((c) => c.label).join(' | ');
      assert.match(labels, /index|query|database|table|postgres/);
      assert.match(labels, /guitar|piano|chord/);
      assert.match(labels, /oven|garlic|pan|sauce|bread/);
      assert.deepEqual(
        fractions,
        [...fractions].sort((a, b) => a - b),
      );
      assert.equal(fractions.at(-1), 1);

      // Deterministic: the same memories give the same clusters.
      const again = await clusters.compute({ crew: 'band', kMin: 2, kMax: 6 });
      assert.deepEqual(again, r);

      // A new service over the same folder answers clusters/list from disk.
      const restarted = new ClusterService(src, clock, path.join(dir, 'clusters'));
      const listed = await restarted.list('band');
      assert.deepEqual(listed.results, [{ ...r, stale: false }]);
      assert.deepEqual((await restarted.list('other')).results, []);

      // reload() forgets memory and reads the file again (a store restore swaps it).
      await fsp.rm(path.join(dir, 'clusters', 'clusters.json'));
      await clusters.reload();
      assert.deepEqual((await clusters.list()).results, []);

      // A new memory makes the kept result stale.
      src.add('late', 'band', { content: 'new memory', vector: axis(3, 16), createdAt: NOW });
      assert.equal((await restarted.list()).results[0]!.stale, true);
    });

    it('takes a given k', async () => {
      addTopics('band');
      const r = await clusters.compute({ crew: 'band', k: 2 });
      assert.equal(r.k, 2);
      assert.deepEqual(r.candidates, []);
      assert.equal(
        r.clusters.reduce((s, c) => s + c.size, 0),
        18,
      );
    });

    it('stops when cancelled and keeps the previous result', async () => {
      addTopics('band');
      const first = await clusters.compute({ crew: 'band', k: 3 });
      clock.advance(HOUR);
      const ac = new AbortController();
      await assert.rejects(
        clusters.compute({ crew: 'band', kMin: 2, kMax: 8 }, { signal: ac.signal, onProgress: () => ac.abort() }),
        (e: Error & { code?: number }) => e.name === 'AbortError' && e.code === ErrorCodes.RequestCancelled,
      );
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(clusters.compute({ crew: 'band' }, { signal: pre.signal }), { name: 'AbortError' });
      const kept = await new ClusterService(src, clock, path.join(dir, 'clusters')).list('band');
      assert.equal(kept.results[0]!.computedAt, first.computedAt);
    });

    it('ignores a corrupt clusters file with a warning', async () => {
      await fsp.mkdir(path.join(dir, 'clusters'), { recursive: true });
      await fsp.writeFile(path.join(dir, 'clusters', 'clusters.json'), '{not json');
      const warnings: string[] = [];
      const svc = new ClusterService(src, clock, path.join(dir, 'clusters'), { warn: (m) => warnings.push(m) });
      assert.deepEqual((await svc.list()).results, []);
      assert.equal(warnings.length, 1);
    });
  });

  describe('memory/duplicates and memory/merge', () => {
    it('finds near-duplicates per crew (never across crews) with a merge to apply', async () => {
      src.add('x1', 'one', { content: 'the api key lives in the vault', importance: 0.4, vector: axis(1) });
      src.add('x2', 'one', {
        content: 'the api key lives in the vault under ops/openrouter',
        importance: 0.7,
        vector: axis(1, 32, { j: 2, by: 0.2 }),
      });
      src.add('x3', 'one', { content: 'unrelated', vector: axis(3) });
      src.add('y1', 'two', { content: 'the api key lives in the vault', vector: axis(1) });
      const res = await clusters.duplicates({});
      assert.equal(res.threshold, 0.92);
      assert.deepEqual(res.embedderIds, { one: src.embedderId, two: src.embedderId });
      assert.equal(res.sets.length, 1);
      const s = res.sets[0]!;
      assert.equal(s.crew, 'one');
      assert.equal(s.keepId, 'x2'); // more important
      assert.deepEqual(
        s.duplicates.map((d) => d.id),
        ['x1'],
      );
      assert.ok(Math.abs(s.duplicates[0]!.similarity - 1 / Math.sqrt(1.04)) < 1e-6);
      assert.deepEqual(s.merge, { keepId: 'x2', mergeIds: ['x1'], tags: [], importance: 0.7 });
      assert.equal(s.tokensSaved, estimateTokens('the api key lives in the vault'));
      // A stricter threshold than their cosine (0.9806) finds nothing.
      assert.deepEqual((await clusters.duplicates({ crew: 'one', threshold: 0.99 })).sets, []);

      // Asked again, the answer is reused; a change to the crew's memories is seen at once.
      const messages: string[] = [];
      await clusters.duplicates({ crew: 'one' }, { onProgress: (_f, m) => messages.push(m) });
      assert.ok(messages.some((m) => /unchanged/.test(m)));
      src.add('x4', 'one', { content: 'the api key is in the vault', importance: 0.1, vector: axis(1) });
      const after = await clusters.duplicates({ crew: 'one' });
      assert.deepEqual(after.sets[0]!.merge.mergeIds.sort(), ['x1', 'x4']);
      // Access counts choose the keeper, so a read is a change too.
      src.read([['x1', NOW - HOUR]]);
      const again: string[] = [];
      await clusters.duplicates({ crew: 'one' }, { onProgress: (_f, m) => again.push(m) });
      assert.ok(!again.some((m) => /unchanged/.test(m)));
    });

    it('plans a merge: union of tags, highest importance, pinned if any, counters summed, history kept', () => {
      const keep = src.add('k', 'crew', { content: 'short', tags: ['a'], importance: 0.3, expiresAt: NOW + DAY });
      const other = src.add('o', 'crew', { content: 'a longer text', tags: ['b'], importance: 0.6, pinned: true });
      src.read([
        ['k', NOW - 2 * HOUR],
        ['o', NOW - HOUR],
        ['o', NOW - HOUR + 1],
      ]);
      const plan = planMerge(keep, [other], { keepId: 'k', mergeIds: ['o'] }, NOW, (id) => access.counters(id));
      assert.deepEqual(plan.removeIds, ['o']);
      assert.equal(plan.contentChanged, false);
      assert.equal(plan.record.content, 'short');
      assert.deepEqual(plan.record.tags, ['a', 'b']);
      assert.equal(plan.record.importance, 0.6);
      assert.equal(plan.record.pinned, true);
      assert.equal(plan.record.expiresAt, null); // o never expires
      assert.deepEqual(plan.counters, { id: 'k', count: 3, last: NOW - HOUR + 1 });
      assert.equal(plan.tokensSaved, estimateTokens('a longer text'));
      const h = plan.record.history.at(-1)!;
      assert.equal(h.change, 'merged');
      assert.equal(h.version, 2);
      assert.equal(h.note, 'merged o');
      assert.deepEqual(h.previous, {
        tags: ['a'],
        importance: 0.3,
        pinned: false,
        expiresAt: new Date(NOW + DAY).toISOString(),
      });
      assert.equal(keep.history.length, 1, 'the input record is not mutated');

      const withContent = planMerge(
        keep,
        [other],
        { keepId: 'k', mergeIds: ['o'], content: 'a longer text' },
        NOW,
        () => ({ count: 0, last: null }),
      );
      assert.equal(withContent.contentChanged, true);
      assert.equal(withContent.record.contentHash, contentHash('a longer text'));
      assert.equal(withContent.tokensSaved, estimateTokens('short'));

      const stranger = src.add('s', 'elsewhere');
      assert.throws(
        () => planMerge(keep, [stranger], { keepId: 'k', mergeIds: ['s'] }, NOW, () => ({ count: 0, last: null })),
        (e: Error & { code?: number; data?: { field?: string } }) =>
          e.code === ErrorCodes.InvalidParams && e.data?.field === 'mergeIds' && /crew elsewhere/.test(e.message),
      );
      assert.throws(
        () => planMerge(keep, [keep], { keepId: 'k', mergeIds: ['k'] }, NOW, () => ({ count: 0, last: null })),
        /cannot be merged into itself/,
      );
    });
  });

  describe('params schemas', () => {
    it('accepts the documented params and names what is wrong', () => {
      assert.ok(analyticsSchemas['analytics/summary'].safeParse({ crew: 'a', days: 7 }).success);
      assert.ok(!analyticsSchemas['analytics/summary'].safeParse({ days: 0 }).success);
      assert.ok(!analyticsSchemas['analytics/insights'].safeParse({ dayz: 7 }).success);
      assert.ok(
        analyticsSchemas['clusters/compute'].safeParse({ crew: 'a', kMin: 2, kMax: 5, progressToken: 1 }).success,
      );
      const bad = analyticsSchemas['clusters/compute'].safeParse({ crew: 'a', kMin: 6, kMax: 5 });
      assert.ok(!bad.success);
      assert.deepEqual(bad.error.issues[0]!.path, ['kMax']);
      assert.ok(!analyticsSchemas['memory/duplicates'].safeParse({ threshold: 0 }).success);
      assert.ok(!analyticsSchemas['memory/merge'].safeParse({ keepId: 'a', mergeIds: [] }).success);
      assert.ok(analyticsSchemas['memory/merge'].safeParse({ keepId: 'a', mergeIds: ['b'], importance: 1 }).success);
    });
  });
});
