/**
 * analytics/summary's hour × weekday matrix (the Analytics dashboard's heatmap): exact cells from the real access
 * store's per-day hours, outside-window reads left out, and rows and columns that add up to byWeekday and byHour.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../server/clock';
import { AnalyticsService, type AnalyticsSource } from '../../server/memory/analytics';
import { ClusterService } from '../../server/memory/clusters';
import { contentHash } from '../../server/memory/normalize';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import type { MemoryRecord } from '../../server/store/repositories';

const DAY = 86_400_000;
/** A Thursday; the 30-day window is 2025-02-19 … 2025-03-20. */
const NOW = Date.parse('2025-03-20T15:30:00.000Z');

describe('analytics/summary byWeekdayHour', () => {
  let dir: string;
  let access: FileAccessRepository;
  let analytics: AnalyticsService;
  let clusters: ClusterService;
  const records: MemoryRecord[] = [];

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-heatmap-'));
    access = await FileAccessRepository.open(path.join(dir, 'access'));
    records.length = 0;
    const source: AnalyticsSource = {
      records: (crew) => records.filter((r) => crew === undefined || r.crew === crew),
      counters: (id) => access.counters(id),
      daily: (q) => access.daily(q),
      vectorsOf: () => ({ embedderId: 'none', items: [] }),
    };
    const clock = new ManualClock(NOW);
    clusters = new ClusterService(source, clock, path.join(dir, 'clusters'));
    analytics = new AnalyticsService(source, clock, clusters);
    for (const id of ['m1', 'm2']) {
      const createdAt = NOW - 40 * DAY;
      records.push({
        id,
        crew: 'ops',
        agent: null,
        content: `memory ${id}`,
        kind: 'note',
        tags: [],
        importance: 0.5,
        pinned: false,
        expiresAt: null,
        createdAt,
        updatedAt: createdAt,
        contentHash: contentHash(`memory ${id}`),
        history: [],
      });
    }
  });

  afterEach(async () => {
    await access.close();
    await clusters.flush();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('counts each access in its UTC weekday row and hour column', () => {
    const reads: [string, string][] = [
      ['m1', '2025-02-10T08:00:00Z'], // before the window: in no cell
      ['m1', '2025-03-16T09:10:00Z'], // Sunday 09
      ['m2', '2025-03-16T09:50:00Z'], // Sunday 09
      ['m1', '2025-03-18T23:59:00Z'], // Tuesday 23
      ['m2', '2025-03-20T00:00:00Z'], // Thursday 00
      ['m2', '2025-03-20T14:00:00Z'], // Thursday 14
    ];
    access.record(reads.map(([id, at]) => ({ id, crew: 'ops', at: Date.parse(at) })));
    const s = analytics.summary({ crew: 'ops' }).crews[0]!;
    const expected = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
    expected[0]![9] = 2;
    expected[2]![23] = 1;
    expected[4]![0] = 1;
    expected[4]![14] = 1;
    assert.deepEqual(s.byWeekdayHour, expected);
    const matrix = s.byWeekdayHour;
    assert.deepEqual(
      matrix.map((row) => row.reduce((a, b) => a + b, 0)),
      s.byWeekday,
    );
    assert.deepEqual(
      s.byHour.map((_, h) => matrix.reduce((a, row) => a + row[h]!, 0)),
      s.byHour,
    );
  });
});
