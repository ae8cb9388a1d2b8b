// The runs' record log (server/store/runs/run-log.ts): the last version of a run wins across a reopen, listing
// filters and orders newest first, and compaction keeps only the last versions.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Run } from '../../protocol';
import { FileRunRepository } from '../../server/store/runs/run-log';

const run = (id: string, crewId: string, startedAt: string, status: Run['status'] = 'running'): Run => ({
  id,
  crewId,
  crew: crewId,
  task: 't',
  process: 'sequential',
  status,
  steps: [],
  output: null,
  usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
  costUsd: 0,
  cost: '0',
  error: null,
  memoryId: null,
  startedAt,
  finishedAt: null,
});

describe('FileRunRepository', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-runs-'));
  });
  afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

  it('keeps the last version of each run across a reopen, and lists newest first with filters', async () => {
    const repo = await FileRunRepository.open(dir);
    await repo.put([run('r1', 'c1', '2026-01-01T00:00:00.000Z')]);
    await repo.put([run('r2', 'c2', '2026-01-02T00:00:00.000Z')]);
    await repo.put([run('r3', 'c1', '2026-01-03T00:00:00.000Z')]);
    await repo.put([{ ...run('r1', 'c1', '2026-01-01T00:00:00.000Z', 'completed'), output: 'done' }]);
    await repo.close();

    const again = await FileRunRepository.open(dir);
    assert.equal(again.get('r1')?.status, 'completed');
    assert.equal(again.get('r1')?.output, 'done');
    const all = again.list({ limit: 10 });
    assert.deepEqual(
      all.runs.map((r) => r.id),
      ['r3', 'r2', 'r1'],
    );
    assert.equal(all.total, 3);
    assert.deepEqual(again.list({ crewId: 'c1', limit: 1 }), { runs: [again.get('r3')], total: 2 });
    assert.deepEqual(
      again.list({ status: 'completed', limit: 10 }).runs.map((r) => r.id),
      ['r1'],
    );
    assert.deepEqual(
      again
        .list({
          before: Date.parse('2026-01-03T00:00:00.000Z'),
          from: Date.parse('2026-01-02T00:00:00.000Z'),
          limit: 10,
        })
        .runs.map((r) => r.id),
      ['r2'],
    );
    // A stored run cannot be changed behind the log's back.
    assert.throws(() => {
      (again.get('r1') as { status: string }).status = 'failed';
    });
    await again.close();
  });

  it('compacts many versions of a run down to the last', async () => {
    const repo = await FileRunRepository.open(dir, { compactMinBytes: 4096 });
    for (let i = 0; i < 200; i++) await repo.put([{ ...run('r1', 'c1', '2026-01-01T00:00:00.000Z'), output: `v${i}` }]);
    await repo.compact();
    const { snapshotBytes, logBytes } = repo.stats();
    assert.ok(snapshotBytes + logBytes < 4096, `${snapshotBytes} + ${logBytes} bytes after compaction`);
    await repo.close();
    const again = await FileRunRepository.open(dir);
    assert.equal(again.get('r1')?.output, 'v199');
    await again.close();
  });
});
