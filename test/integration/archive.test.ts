/**
 * Memory archives through the real server: a byte-identical round trip, a damaged file refused with nothing
 * changed, and the crash case — the server SIGKILLed at arbitrary moments while archiving — losing and
 * duplicating nothing after a restart. Analytics and clusters answer over the same server.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  AnalyticsInsights,
  AnalyticsSummary,
  ArchiveCreate,
  ArchiveList,
  ArchiveRestore,
  ClustersCompute,
  MemoryAdd,
  MemoryGet,
  MemoryHistory,
  MemoryList,
} from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { makeTempDir, removeTempDir, rpcError, startServer, useFake } from '../helpers';
import type { RpcClient } from '../helpers/rpc';

const HASH = { CREW_EMBEDDER: 'hash' };

async function addMany(c: RpcClient, crew: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) =>
        c.request<MemoryAdd.Result>('memory/add', {
          crew,
          content: `Memory ${i + j}: the ${['deploy', 'database', 'lunch', 'budget'][(i + j) % 4]} note number ${i + j} — "quoted" {braces} https://example.com/${i + j}`,
          kind: 'note',
        }),
      ),
    );
    ids.push(...batch.map((b) => b.memory.id));
  }
  return ids;
}

async function liveTotal(c: RpcClient, crew: string): Promise<number> {
  return (await c.request<MemoryList.Result>('memory/list', { crew, limit: 1 })).total;
}

describe('memory archives (real server)', function () {
  this.timeout(120_000);
  const up = useFake();

  it('round trip is byte-identical with metadata and history; a damaged file is refused with nothing changed', async () => {
    const dataDir = makeTempDir();
    const { server, client: c } = await startServer({
      transport: 'socket',
      dataDir,
      upstreamUrl: up.fake.url,
      env: HASH,
    });
    try {
      const bodies = [
        'He said "stop" — [brackets] {braces} <tags> & https://example.com/a?b=1#c 🚀👩‍💻',
        'x'.repeat(100 * 1024) + ' end',
        'line one\nline two\r\n\ttabbed \\ backslash \u0000 nul',
      ];
      const ids: string[] = [];
      for (const content of bodies) {
        const r = await c.request<MemoryAdd.Result>('memory/add', {
          crew: 'arc',
          content,
          tags: ['x'],
          importance: 0.3,
        });
        ids.push(r.memory.id);
      }
      await c.request('memory/update', { id: ids[0], importance: 0.6 });
      const before = await Promise.all(ids.map((id) => c.request<MemoryGet.Result>('memory/get', { id })));
      const histories = await Promise.all(ids.map((id) => c.request<MemoryHistory.Result>('memory/history', { id })));

      const dry = await c.request<ArchiveCreate.Result>('archive/create', { ids, dryRun: true });
      assert.equal(await liveTotal(c, 'arc'), 3, 'a dry run moves nothing');
      assert.equal(JSON.stringify(dry).includes(ids[1]!), true);

      const made = await c.request<ArchiveCreate.Result>('archive/create', { ids });
      assert.equal(await liveTotal(c, 'arc'), 0);
      const list = await c.request<ArchiveList.Result>('archive/list', {});
      assert.equal(list.archives.length, 1);
      const archive = list.archives[0]!;
      assert.equal(archive.count, 3);
      assert.ok(archive.ratio > 1, JSON.stringify(archive));
      assert.equal(JSON.stringify(made).includes(archive.id), true);

      // Flip one byte of the archive file: restore refuses, nothing comes back.
      const file = path.join(dataDir, 'store', 'archives', `${archive.sha256}.crewarc`);
      const good = await fsp.readFile(file);
      const bad = Buffer.from(good);
      bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
      await fsp.writeFile(file, bad);
      const e = await rpcError(c.request('archive/restore', { archiveId: archive.id }), ErrorCodes.ArchiveInvalid);
      assert.match(e.message, /checksum|corrupt|damaged|mismatch/i);
      assert.equal(await liveTotal(c, 'arc'), 0);
      await fsp.writeFile(file, good.subarray(0, good.length - 100));
      await rpcError(c.request('archive/restore', { archiveId: archive.id }), ErrorCodes.ArchiveInvalid);
      assert.equal(await liveTotal(c, 'arc'), 0);

      await fsp.writeFile(file, good);
      await c.request<ArchiveRestore.Result>('archive/restore', { archiveId: archive.id });
      for (let i = 0; i < ids.length; i++) {
        const after = await c.request<MemoryGet.Result>('memory/get', { id: ids[i] });
        assert.equal(after.memory.content, before[i]!.memory.content);
        assert.deepEqual(
          { ...after.memory, embedding: null, accessCount: 0, lastAccessedAt: null },
          { ...before[i]!.memory, embedding: null, accessCount: 0, lastAccessedAt: null },
        );
        assert.deepEqual(await c.request<MemoryHistory.Result>('memory/history', { id: ids[i] }), histories[i]);
      }
    } finally {
      await server.stop();
      await removeTempDir(dataDir);
    }
  });

  it('SIGKILL while archiving loses and duplicates nothing', async () => {
    const dataDir = makeTempDir();
    const N = 1200;
    let s = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url, env: HASH });
    const ids = await addMany(s.client, 'bulk', N);
    try {
      for (const delayMs of [1, 15, 60, 200]) {
        const pending = s.client.request('archive/create', { ids: ids.slice(0, 600) }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, delayMs));
        await s.server.stop('SIGKILL');
        await pending;
        s = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url, env: HASH });
        const live = await liveTotal(s.client, 'bulk');
        const { archives } = await s.client.request<ArchiveList.Result>('archive/list', {});
        const archived = archives.reduce((n, a) => n + a.count - a.restoredIds.length, 0);
        assert.equal(live + archived, N, `after a kill at ${delayMs} ms: ${live} live + ${archived} archived ≠ ${N}`);
        // Bring everything back for the next round: nothing may be missing.
        for (const a of archives) await s.client.request('archive/restore', { archiveId: a.id });
        assert.equal(await liveTotal(s.client, 'bulk'), N);
        for (const a of archives) await s.client.request('archive/delete', { id: a.id });
      }
    } finally {
      await s.server.stop();
      await removeTempDir(dataDir);
    }
  });

  it('analytics and clusters answer from the same memories', async () => {
    const { server, client: c } = await startServer({ transport: 'socket', upstreamUrl: up.fake.url, env: HASH });
    try {
      await addMany(c, 'an', 60);
      const summary = await c.request<AnalyticsSummary.Result>('analytics/summary', { crew: 'an' });
      assert.equal(summary.crews[0]!.total, 60);
      assert.equal(summary.crews[0]!.neverAccessedShare, 1);
      const insights = await c.request<AnalyticsInsights.Result>('analytics/insights', { crew: 'an' });
      assert.ok(Array.isArray(insights.insights));
      const clusters = await c.request<ClustersCompute.Result>('clusters/compute', { crew: 'an', k: 4 });
      assert.equal(clusters.k, 4);
      assert.equal(
        clusters.clusters.reduce((n, cl) => n + cl.size, 0),
        60,
      );
    } finally {
      await server.stop();
      await removeTempDir(server.dataDir);
    }
  });
});
