/** MemoryService rules that need a clock: expiry (never returned, swept) and a search over expired memories. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../server/clock';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { HashingEmbedder } from '../../server/memory/embeddings/hashing';
import { MemoryService } from '../../server/memory/service';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import { FileMemoryRepository } from '../../server/store/memory/memory-log';
import { FileVectorRepository } from '../../server/store/memory/vector-file';

const T0 = Date.UTC(2026, 5, 1, 12);

describe('memory service: expiry', () => {
  let dir: string;
  let close: () => Promise<void>;
  let svc: MemoryService;
  const clock = new ManualClock(T0);

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-memsvc-'));
    const memories = await FileMemoryRepository.open(path.join(dir, 'memory'));
    const vectors = await FileVectorRepository.open(path.join(dir, 'vectors'));
    const access = await FileAccessRepository.open(path.join(dir, 'access'));
    const embedder = new HashingEmbedder();
    svc = new MemoryService(
      memories,
      vectors,
      access,
      async () => ({ embedder }),
      embedder.id,
      new EventBus(),
      clock,
      silentLogger,
    );
    svc.init();
    close = async () => {
      await access.close();
      await memories.close();
      await vectors.close();
    };
  });
  afterEach(async () => {
    await close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('an expired memory is never returned by search, and the sweep deletes it', async () => {
    const soon = await svc.add({
      crew: 'c',
      content: 'postgres vacuum settings for the reporting database',
      expiresAt: new Date(T0 + 60_000).toISOString(),
    });
    const kept = await svc.add({ crew: 'c', content: 'postgres connection pool size for the reporting database' });
    const q = { crew: 'c', query: 'postgres reporting database', limit: 5 };
    assert.equal((await svc.search(q)).hits.length, 2);

    clock.advance(61_000);
    const hits = (await svc.search(q)).hits.map((h) => h.memory.id);
    assert.deepEqual(hits, [kept.memory.id]);
    assert.equal(svc.get(soon.memory.id).accessCount, 1, 'the expired memory was not counted as accessed again');

    assert.equal(await svc.sweepExpired(), 1);
    assert.throws(() => svc.get(soon.memory.id), /not found/);
    assert.equal(await svc.sweepExpired(), 0);
  });
});
