/**
 * Memories through the real server: add (exact duplicates reported), get, update with history, delete, list,
 * search with the documented score components and access recording, context packing, and a restart that keeps
 * memories, vectors, history and access counters. The local neural embedder is the default, so the semantic
 * example of the issue is checked end to end.
 */
import assert from 'node:assert/strict';
import type {
  MemoryAdd,
  MemoryContext,
  MemoryEmbedder,
  MemoryGet,
  MemoryHistory,
  MemoryList,
  MemorySearch,
  MemoryUpdate,
} from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { makeTempDir, removeTempDir, rpcError, startServer, useFake } from '../helpers';

describe('memory (real server, local neural embedder)', function () {
  this.timeout(60_000);
  const up = useFake();

  it('add → duplicate → search → update/history → context → delete, and all of it survives a restart', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const c = first.client;
    const add = (content: string, extra: object = {}) =>
      c.request<MemoryAdd.Result>('memory/add', { crew: 'ops', content, kind: 'fact', ...extra });

    const pg = await add('Tuning Postgres indexes made the nightly report 10x faster', { importance: 0.7 });
    const lunch = await add('Team lunch on Friday at the Thai place', { tags: ['Social'] });
    await add('The deploy pipeline needs a canary step before production');
    const quoted = await add('He said "use {brackets} & https://example.com/?q=1" 🚀', { agent: 'writer' });
    assert.equal(pg.created, true);
    assert.deepEqual(lunch.memory.tags, ['social']);
    assert.equal(pg.memory.embedding?.embedderId, 'local-use-lite@512');

    // Same crew, same content after case/whitespace folding: reported, not stored twice.
    const dup = await add('  team LUNCH on friday   at the thai place ');
    assert.equal(dup.created, false);
    assert.equal(dup.duplicateOf, lunch.memory.id);
    assert.equal((await c.request<MemoryList.Result>('memory/list', { crew: 'ops' })).total, 4);
    // Another crew may hold the same text.
    assert.equal(
      (
        await c.request<MemoryAdd.Result>('memory/add', {
          crew: 'other',
          content: 'Team lunch on Friday at the Thai place',
        })
      ).created,
      true,
    );

    // The semantic example: Postgres index tuning is nearer "database index performance" than lunch.
    const s = await c.request<MemorySearch.Result>('memory/search', {
      crew: 'ops',
      query: 'database index performance',
      limit: 4,
    });
    assert.equal(s.embedderId, 'local-use-lite@512');
    assert.equal(s.hits[0]!.memory.id, pg.memory.id);
    const lunchHit = s.hits.find((h) => h.memory.id === lunch.memory.id)!;
    assert.ok(
      s.hits[0]!.components.cosine! > lunchHit.components.cosine!,
      JSON.stringify(s.hits.map((h) => h.components)),
    );
    for (const h of s.hits) {
      for (const k of ['relevance', 'semantic', 'lexical', 'recency', 'importance', 'frequency', 'bm25'] as const)
        assert.equal(typeof h.components[k], 'number', k);
      assert.ok(h.score > 0);
    }
    assert.ok(s.hits.every((h) => h.memory.crew === 'ops'));
    // Searching recorded an access on each hit.
    const seen = await c.request<MemoryGet.Result>('memory/get', { id: pg.memory.id });
    assert.equal(seen.memory.accessCount, 1);
    assert.ok(seen.memory.lastAccessedAt);

    // Update keeps what it replaced.
    const upd = await c.request<MemoryUpdate.Result>('memory/update', {
      id: pg.memory.id,
      content: 'Tuning Postgres indexes made the nightly report 12x faster',
      importance: 0.9,
    });
    assert.equal(upd.memory.importance, 0.9);
    const hist = await c.request<MemoryHistory.Result>('memory/history', { id: pg.memory.id });
    assert.deepEqual(
      hist.history.map((h) => [h.version, h.change]),
      [
        [1, 'created'],
        [2, 'updated'],
      ],
    );
    assert.equal(hist.history[1]!.previous.content, 'Tuning Postgres indexes made the nightly report 10x faster');
    assert.equal(hist.history[1]!.previous.importance, 0.7);
    // Updating to another memory's content is a conflict naming it.
    const conflict = await rpcError(
      c.request('memory/update', { id: pg.memory.id, content: 'team lunch on friday at the thai place' }),
      ErrorCodes.Conflict,
    );
    assert.match(conflict.message, new RegExp(lunch.memory.id));

    // Context packs within the budget and never over it.
    const ctx = await c.request<MemoryContext.Result>('memory/context', {
      crew: 'ops',
      query: 'database',
      maxTokens: 40,
    });
    assert.ok(ctx.usedTokens <= 40 && ctx.memories.length >= 1, JSON.stringify(ctx));
    assert.equal(ctx.budgetTokens, 40);

    // Bounded content: a clear error naming the limit.
    const big = await rpcError(add('x'.repeat(300 * 1024)), ErrorCodes.InvalidParams);
    assert.match(big.message, /content: .* over the limit/);

    await first.server.stop();
    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    try {
      const c2 = second.client;
      const again = await c2.request<MemoryGet.Result>('memory/get', { id: pg.memory.id });
      assert.equal(again.memory.content, 'Tuning Postgres indexes made the nightly report 12x faster');
      assert.equal(
        again.memory.accessCount,
        seen.memory.accessCount + ctx.memories.filter((m) => m.memory.id === pg.memory.id).length,
      );
      assert.equal(
        (await c2.request<MemoryGet.Result>('memory/get', { id: quoted.memory.id })).memory.content,
        quoted.memory.content,
      );
      assert.equal((await c2.request<MemoryHistory.Result>('memory/history', { id: pg.memory.id })).history.length, 2);
      const s2 = await c2.request<MemorySearch.Result>('memory/search', {
        crew: 'ops',
        query: 'database index performance',
        limit: 1,
      });
      assert.equal(s2.hits[0]!.memory.id, pg.memory.id);
      assert.deepEqual(await c2.request('memory/delete', { ids: [lunch.memory.id] }), { deleted: 1 });
      await rpcError(c2.request('memory/get', { id: lunch.memory.id }), ErrorCodes.NotFound);
      assert.equal((await c2.request<MemoryList.Result>('memory/list', { crew: 'ops' })).total, 3);
    } finally {
      await second.server.stop();
      await removeTempDir(dataDir);
    }
  });

  it('switching the embedder re-embeds in the background with progress, and the choice survives a restart', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const c = first.client;
    for (const content of ['Postgres index tuning', 'Friday team lunch', 'Canary deploys', 'Quarterly budget review'])
      await c.request<MemoryAdd.Result>('memory/add', { crew: 'sw', content });
    const before = await c.request<MemoryEmbedder.Result>('memory/embedder', {});
    assert.equal(before.embedderId, 'local-use-lite@512');
    assert.equal(before.embedded, 4);

    const switched = await c.request<MemoryEmbedder.Result>('memory/embedder', { set: 'hash' });
    assert.match(switched.embedderId, /^hash-tfidf@/);
    const done = await c.notifications.waitFor(
      'memory/reembedProgress',
      (p: { embedderId: string; done: number; total: number }) =>
        p.embedderId === switched.embedderId && p.done === p.total,
    );
    assert.equal(done.total, 4);
    const after = await c.request<MemoryEmbedder.Result>('memory/embedder', {});
    assert.equal(after.embedded, 4);
    const s = await c.request<MemorySearch.Result>('memory/search', { crew: 'sw', query: 'postgres index' });
    assert.equal(s.embedderId, switched.embedderId);
    assert.match(s.hits[0]!.memory.content, /Postgres/);

    await first.server.stop();
    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    try {
      const again = await second.client.request<MemoryEmbedder.Result>('memory/embedder', {});
      assert.equal(again.setting, 'hash');
      assert.equal(again.embedderId, switched.embedderId);
    } finally {
      await second.server.stop();
      await removeTempDir(dataDir);
    }
  });
});
