/**
 * The memory repositories shared by several instances on one PostgreSQL (each instance: its own pool and
 * repositories, as test/contract/backends.ts `peer()` gives): what one writes, the others' in-memory copies take in
 * through the notices (waited on as signals, never a fixed sleep), and tell their onExternalChange listeners;
 * access counts from several instances add up; vectors travel bit for bit; a lost database is StoreUnavailable
 * (1206) for the caller, the copy is set back, counts are kept for the next flush, and the listener catches up
 * after it reconnects; archive operations of two instances never interleave.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { EventBus } from '../../server/events';
import { HashingEmbedder } from '../../server/memory/embeddings/hashing';
import { MemoryService } from '../../server/memory/service';
import { ArchiveService } from '../../server/memory/archive/service';
import { ARCHIVE_LOCK } from '../../server/store/postgres/archives';
import type { PgDatabase } from '../../server/store/postgres/db';
import { openPgMemoryStores, type PgMemoryStores } from '../../server/store/postgres/memory-store';
import { MAX_CHUNKS, MAX_PAYLOAD_BYTES, noticePayloads } from '../../server/store/postgres/notices';
import type { ExternalChange } from '../../server/store/repositories';
import { parseStoreLocation } from '../../server/store/location';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { connectPostgres, postgresBackend, quietLog, type PostgresBackend } from './backends';
import { bits, memory, ODD_FLOATS, run, wordsOf } from './memory-fixtures';

const WAIT_MS = 10_000;

/** Resolves with the first change `repo` reports that `want` accepts; rejects after WAIT_MS. */
function nextChange(
  repo: { onExternalChange(l: (c: ExternalChange) => void): () => void },
  want: (c: ExternalChange) => boolean,
  what: string,
): Promise<ExternalChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no change notice within ${WAIT_MS} ms: ${what}`));
    }, WAIT_MS);
    const off = repo.onExternalChange((c) => {
      if (!want(c)) return;
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}

/** Polls `cond` every 10 ms until it holds; fails after WAIT_MS. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const has = (id: string) => (c: ExternalChange) => c.ids.includes(id);

describe('memory repositories across instances (PostgreSQL)', function () {
  this.timeout(60_000);
  let backend: PostgresBackend;
  let a: PgMemoryStores;
  let b: PgMemoryStores;
  let peerDb: PgDatabase;
  const extra: { close(): Promise<void> }[] = [];
  const tmpDirs: string[] = [];

  const open = (db: PgDatabase, instance: string) =>
    openPgMemoryStores(db, { instance, log: quietLog, access: { flushEveryMs: 20 } });

  before(async () => {
    backend = await postgresBackend();
    peerDb = await backend.peer();
    a = await open(backend.db, 'A');
    b = await open(peerDb, 'B');
  });
  after(async () => {
    for (const x of extra.reverse()) await x.close().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await backend?.close();
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });

  it('notices: ids split under the payload limit, each once; too many become one reload', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `memory-${i}-${'x'.repeat(i % 50)}-"quoted"-ü`);
    const payloads = noticePayloads('A', [...ids, ids[0]!]);
    assert.ok(payloads.length > 1);
    for (const p of payloads) assert.ok(Buffer.byteLength(p) <= MAX_PAYLOAD_BYTES, `${Buffer.byteLength(p)} bytes`);
    const back = payloads.flatMap((p) => (JSON.parse(p) as { instance: string; ids: string[] }).ids);
    assert.deepEqual(back, ids);
    const many = Array.from({ length: MAX_CHUNKS * 300 }, (_, i) => `${randomUUID()}-${i}`);
    assert.deepEqual(noticePayloads('A', many), [JSON.stringify({ instance: 'A', reload: true })]);
    assert.deepEqual(noticePayloads('A', []), []);
  });

  it('a memory one instance adds, updates or deletes reaches the other copy, and its listener', async () => {
    const m = memory('shared', 'written on A');
    const seenOnA: string[][] = [];
    const offA = a.memories.onExternalChange((c) => seenOnA.push(c.ids));
    const statsA = a.memories.stats();
    let change = nextChange(b.memories, has(m.id), 'add on A → B');
    await a.memories.put([m]);
    await change;
    assert.deepEqual(b.memories.get(m.id), m);
    assert.deepEqual(
      [...b.memories.byCrew('shared')].map((x) => x.id),
      [m.id],
    );
    const held = b.memories.get(m.id);

    change = nextChange(a.memories, has(m.id), 'update on B → A');
    await b.memories.put([{ ...m, content: 'updated on B', updatedAt: m.updatedAt + 1 }]);
    await change;
    assert.equal(a.memories.get(m.id)?.content, 'updated on B');
    assert.notEqual(b.memories.get(m.id), held);

    change = nextChange(b.memories, has(m.id), 'delete on A → B');
    assert.equal(await a.memories.delete([m.id]), 1);
    await change;
    assert.equal(b.memories.get(m.id), undefined);
    assert.deepEqual([...b.memories.byCrew('shared')], []);
    offA();
    assert.deepEqual(seenOnA, [[m.id]], "A heard B's update only, never its own writes");
    // A's own notices are skipped, not reloaded: one id reloaded (B's update), nothing reloaded wholesale.
    assert.deepEqual(a.memories.stats(), { ...statsA, reloadedIds: statsA.reloadedIds + 1, live: statsA.live });
  });

  it('an unchanged record reloaded keeps its object (MemoryService.update compares by identity)', async () => {
    const m = memory('identity', 'same');
    const change = nextChange(b.memories, has(m.id), 'add');
    await a.memories.put([m]);
    await change;
    const before = b.memories.get(m.id);
    const other = memory('identity', 'other');
    // A notice naming both: only the changed one is replaced (and reported).
    const again = nextChange(b.memories, has(other.id), 'second put');
    await a.memories.put([m, other]);
    const c = await again;
    assert.deepEqual(c.ids, [other.id]);
    assert.equal(b.memories.get(m.id), before);
  });

  it('a big write (more ids than notices carry) reaches the other copy as a reload', async () => {
    const many = Array.from({ length: 4_000 }, (_, i) =>
      memory('bulk', `bulk memory ${i}`, { id: `bulk-${i}-${'y'.repeat(32)}` }),
    );
    const last = many[many.length - 1]!.id;
    const change = nextChange(b.memories, has(last), 'bulk put');
    await a.memories.put(many);
    const c = await change;
    assert.ok(c.ids.length >= many.length);
    assert.equal([...b.memories.byCrew('bulk')].length, many.length);
    const gone = nextChange(b.memories, has(last), 'bulk delete');
    assert.equal(await a.memories.delete(many.map((m) => m.id)), many.length);
    await gone;
    assert.equal([...b.memories.byCrew('bulk')].length, 0);
  });

  it('vectors travel bit for bit; a length another instance fixed is refused, and the copy set back', async () => {
    const change = nextChange(b.vectors, has('vx'), 'vector put');
    await a.vectors.put([{ id: 'vx', embedderId: 'e-shared', vector: bits(...ODD_FLOATS) }]);
    await change;
    assert.deepEqual(wordsOf(b.vectors.get('vx', 'e-shared')), ODD_FLOATS);
    assert.deepEqual(b.vectors.embedderIds(), ['e-shared']);

    // Another instance fixed 'e-peer' at 3 dimensions, and B has not heard of it (no notice: written directly).
    await backend.db.query("insert into crew_memory_embedders (embedder_id, dims) values ('e-peer', 3)");
    const restored = nextChange(b.vectors, has('vy'), 'set back');
    await assert.rejects(
      b.vectors.put([{ id: 'vy', embedderId: 'e-peer', vector: bits(1, 2) }]),
      /e-peer vectors have 3 dimensions/,
    );
    await restored;
    assert.equal(b.vectors.get('vy', 'e-peer'), undefined, 'the refused vector is gone from the copy');
    await b.vectors.put([{ id: 'vy', embedderId: 'e-peer', vector: bits(1, 2, 3) }]);
    await until(() => a.vectors.get('vy', 'e-peer') !== undefined, 'vy on A');
    assert.deepEqual(wordsOf(a.vectors.get('vy', 'e-peer')), [1, 2, 3]);

    const gone = nextChange(a.vectors, has('vx'), 'vector delete');
    await b.vectors.delete(['vx']);
    await gone;
    assert.equal(a.vectors.get('vx', 'e-shared'), undefined);
  });

  it('writes queued together commit together, but one refused by the database fails alone', async () => {
    await backend.db.query("insert into crew_memory_embedders (embedder_id, dims) values ('e-group', 2)");
    const block = await backend.db.session();
    // Hold B's queue on a first write (its row locked elsewhere), so the next three share one transaction.
    await b.vectors.put([{ id: 'g0', embedderId: 'e-free', vector: bits(0) }]);
    await block.query('begin');
    await block.query("select 1 from crew_memory_vectors where memory_id = 'g0' for update");
    try {
      const first = b.vectors.put([{ id: 'g0', embedderId: 'e-free', vector: bits(1) }]);
      const good1 = b.vectors.put([{ id: 'g1', embedderId: 'e-free', vector: bits(2) }]);
      const bad = b.vectors.put([{ id: 'g2', embedderId: 'e-group', vector: bits(1, 2, 3) }]);
      const good2 = b.vectors.put([{ id: 'g3', embedderId: 'e-free', vector: bits(3) }]);
      await block.query('commit');
      await first;
      await good1;
      await assert.rejects(bad, /e-group vectors have 2 dimensions/);
      await good2;
    } finally {
      block.release();
    }
    const rows = await backend.db.query<{ memory_id: string }>(
      "select memory_id from crew_memory_vectors where memory_id like 'g%' order by memory_id",
    );
    assert.deepEqual(
      rows.map((r) => r.memory_id),
      ['g0', 'g1', 'g3'],
    );
    assert.equal(b.vectors.get('g2', 'e-group'), undefined);
  });

  it('access counts from two instances add up; a memory read on both the same day counts once', async () => {
    const t = Date.UTC(2026, 0, 15, 9);
    a.access.record([
      { id: 'acc-1', crew: 'ac', at: t },
      { id: 'acc-1', crew: 'ac', at: t + 1 },
      { id: 'acc-1', crew: 'ac', at: t + 2 },
    ]);
    b.access.record([
      { id: 'acc-1', crew: 'ac', at: t + 10 },
      { id: 'acc-1', crew: 'ac', at: t - 10 },
      { id: 'acc-2', crew: 'ac', at: t + 5 },
    ]);
    // Flushed at once: whichever commits second reads the sum back from its own write, the other from the notice.
    await Promise.all([a.access.flush(), b.access.flush()]);
    // Each memory's notice arrives on its own: wait for both memories on both instances.
    await until(
      () => [a, b].every((x) => x.access.counters('acc-1').count === 5 && x.access.counters('acc-2').count === 1),
      'the sums on both',
    );
    for (const x of [a, b]) {
      assert.deepEqual(x.access.counters('acc-1'), { count: 5, last: t + 10 });
      assert.deepEqual(x.access.counters('acc-2'), { count: 1, last: t + 5 });
    }
    const [row] = await backend.db.query<{ count: string }>(
      "select count from crew_memory_access where memory_id = 'acc-1'",
    );
    assert.equal(row?.count, '5');
    await until(
      () => a.access.daily({ crew: 'ac' })[0]?.accesses === 6 && b.access.daily({ crew: 'ac' })[0]?.accesses === 6,
      'daily figures on both',
    );
    for (const x of [a, b])
      assert.deepEqual(
        x.access.daily({ crew: 'ac' }).map((d) => [d.day, d.accesses, d.memories, d.byHour[9], d.byHour[8]]),
        [['2026-01-15', 6, 2, 5, 1]],
      );
    // One instance alone: the other's listener hears which counters moved (the search index ranks on them).
    const heard = nextChange(a.access, has('acc-3'), "B's counter on A");
    b.access.record([{ id: 'acc-3', crew: 'ac', at: t }]);
    await b.access.flush();
    assert.deepEqual((await heard).ids, ['acc-3']);
    assert.deepEqual(a.access.counters('acc-3'), { count: 1, last: t });
  });

  it('many flushes from two instances at once lose and double nothing', async () => {
    const t = Date.UTC(2026, 0, 15, 10);
    const work = async (x: PgMemoryStores, tag: string) => {
      for (let i = 0; i < 40; i++) {
        x.access.record(
          Array.from({ length: 25 }, (_, j) => ({ id: `hot-${j % 5}`, crew: 'hot', at: t + i * 1000 + j })),
        );
        if (i % 3 === 0) await x.access.flush();
        else await new Promise((r) => setImmediate(r));
      }
      await x.access.flush();
      return tag;
    };
    await Promise.all([work(a, 'a'), work(b, 'b')]);
    const rows = await backend.db.query<{ memory_id: string; count: string }>(
      "select memory_id, count from crew_memory_access where memory_id like 'hot-%' order by memory_id",
    );
    assert.deepEqual(
      rows.map((r) => [r.memory_id, r.count]),
      ['hot-0', 'hot-1', 'hot-2', 'hot-3', 'hot-4'].map((id) => [id, '400']),
    );
    const [day] = await backend.db.query<{ accesses: string; memories: string }>(
      "select accesses, memories from crew_memory_access_daily where crew = 'hot'",
    );
    assert.deepEqual(day, { accesses: '2000', memories: '5' });
    await until(() => a.access.counters('hot-0').count === 400 && b.access.counters('hot-0').count === 400, 'both');
  });

  it("orphaned runs: only running runs of an instance that stopped heartbeating, never a live one's", async () => {
    // A is alive (its row in crew_instances); B is not (it never registered, or its row was swept).
    await backend.db.query("insert into crew_instances (id, host, pid) values ('A', 'h', 1) on conflict do nothing");
    const started = '2026-01-15T10:00:00.000Z';
    await a.runs.put(run('run-live', 'co', started));
    await b.runs.put(run('run-dead', 'co', started));
    await b.runs.put(run('run-done', 'co', started, { status: 'completed' }));
    const orphaned = await a.runs.orphaned();
    assert.deepEqual(
      orphaned.map((r) => r.id),
      ['run-dead'],
    );
  });

  it('runs one instance writes show on the other', async () => {
    const r = run('run-shared', 'cx', '2026-01-15T10:00:00.000Z');
    const change = nextChange(b.runs, has('run-shared'), 'run put');
    await a.runs.put(structuredClone(r));
    await change;
    assert.equal(b.runs.list({ crewId: 'cx', limit: 5 }).total, 1);
    const done = nextChange(a.runs, has('run-shared'), 'run finished on B');
    await b.runs.put({ ...structuredClone(r), status: 'completed', output: 'ok' });
    await done;
    assert.equal(a.runs.get('run-shared')?.status, 'completed');
    const [row] = await backend.db.query<{ instance_id: string }>(
      "select instance_id from crew_runs where id = 'run-shared'",
    );
    assert.equal(row?.instance_id, 'B', 'the instance that last wrote the run');
  });

  describe('when the database goes away', () => {
    let proxy: TcpProxy;
    let pdb: PgDatabase;
    let p: PgMemoryStores;

    before(async () => {
      const loc = parseStoreLocation(backend.url, '/unused');
      if (loc.kind !== 'postgres') throw new Error('not postgres');
      proxy = await tcpProxy({ host: loc.host, port: loc.port });
      pdb = await connectPostgres(backend.url.replace(`:${loc.port}/`, `:${proxy.port}/`));
      p = await open(pdb, 'P');
      extra.push({ close: () => proxy.close() }, { close: () => pdb.close() }, { close: () => p.close() });
    });

    it('writes fail with StoreUnavailable (1206), the copy is set back, counts wait; all resumes when it is back', async () => {
      const kept = memory('outage', 'written before');
      await p.memories.put([kept]);
      p.access.record([{ id: 'out-1', crew: 'outage', at: Date.UTC(2026, 0, 15, 11) }]);
      await p.access.flush();
      proxy.cut();

      const lost = memory('outage', 'written during the outage');
      const setBack = nextChange(p.memories, has(lost.id), 'set back');
      const put = p.memories.put([lost]);
      assert.equal(p.memories.get(lost.id)?.content, 'written during the outage', 'visible while in flight');
      await assert.rejects(put, (e: { code?: number; data?: { retryable?: boolean } }) => {
        assert.equal(e.code, ErrorCodes.StoreUnavailable);
        assert.equal(e.data?.retryable, true);
        return true;
      });
      await setBack;
      assert.equal(p.memories.get(lost.id), undefined, 'a write that failed does not linger');
      const del = p.memories.delete([kept.id]);
      await assert.rejects(del, { code: ErrorCodes.StoreUnavailable });
      assert.equal(p.memories.get(kept.id)?.content, 'written before', 'a failed delete is set back too');
      await assert.rejects(p.vectors.put([{ id: 'pv', embedderId: 'e-out', vector: bits(1) }]), {
        code: ErrorCodes.StoreUnavailable,
      });
      assert.equal(p.vectors.get('pv', 'e-out'), undefined);

      p.access.record([
        { id: 'out-1', crew: 'outage', at: Date.UTC(2026, 0, 15, 12) },
        { id: 'out-1', crew: 'outage', at: Date.UTC(2026, 0, 15, 13) },
      ]);
      await assert.rejects(p.access.flush(), { code: ErrorCodes.StoreUnavailable });
      assert.deepEqual(p.access.counters('out-1'), { count: 3, last: Date.UTC(2026, 0, 15, 13) }, 'counts kept');

      // Meanwhile another instance writes: P must catch up once its listener is back.
      const during = memory('outage', 'written by A while P was cut off');
      await a.memories.put([during]);

      proxy.restore();
      await until(async () => {
        try {
          await p.access.flush();
          return true;
        } catch {
          return false;
        }
      }, 'a flush once the database is back');
      const [row] = await backend.db.query<{ count: string }>(
        "select count from crew_memory_access where memory_id = 'out-1'",
      );
      assert.equal(row?.count, '3', 'the kept counts were written once');
      await until(() => p.memories.get(during.id) !== undefined, "A's write on P after the listener's resync");
      await p.memories.put([lost]);
      await until(() => b.memories.get(lost.id) !== undefined, 'P writes again');
    });
  });

  it('archive operations of two instances take turns (the payloads lock)', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const aHolds = new Promise<void>((r) => (started = r));
    const first = a.archivePayloads.exclusive(async () => {
      order.push('A in');
      started();
      await gate;
      order.push('A out');
    });
    await aHolds;
    const second = b.archivePayloads.exclusive(async () => {
      order.push('B in');
    });
    // B is blocked on the lock: only a signal from A's side lets it on.
    await until(async () => {
      const rows = await backend.db.query<{ n: string }>(
        `select count(*) as n from pg_locks
         where locktype = 'advisory' and not granted and objid = $1
           and database = (select oid from pg_database where datname = current_database())`,
        [ARCHIVE_LOCK],
      );
      return rows[0]?.n === '1';
    }, 'B waiting on the advisory lock');
    assert.deepEqual(order, ['A in']);
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['A in', 'A out', 'B in']);
  });

  it('one instance archives, another restores: memories, payload and index are shared; search follows', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 12));
    const embedder = new HashingEmbedder();
    const service = (s: PgMemoryStores) => {
      const memory = new MemoryService(
        s.memories,
        s.vectors,
        s.access,
        async () => ({ embedder }),
        embedder.id,
        new EventBus(),
        clock,
        quietLog,
      );
      memory.init();
      // What the app wires (see the report): another instance's changes refresh this one's search index.
      s.memories.onExternalChange(() => memory.init());
      const archive = new ArchiveService({
        memory,
        memories: s.memories,
        access: s.access,
        index: s.archives,
        payloads: s.archivePayloads,
        // Only state.json (schedules, restore times) lives here; the payloads are in the database.
        dir: tmpDirs[tmpDirs.push(mkdtempSync(path.join(os.tmpdir(), 'crew-archive-state-'))) - 1]!,
        clock,
        log: quietLog,
        timers: false,
      });
      return { memory, archive };
    };
    const onA = service(a);
    const onB = service(b);
    const added = await onA.memory.add({ crew: 'arch', content: 'the deploy key rotates every ninety days' });
    const id = added.memory.id;
    await until(() => b.memories.get(id) !== undefined, 'the memory on B');
    const hits = await onB.memory.search({ query: 'deploy key rotation', crew: 'arch' });
    assert.deepEqual(
      hits.hits.map((h) => h.memory.id),
      [id],
      "B's search index learnt of A's memory",
    );
    const before = JSON.stringify(a.memories.get(id));

    const created = await onA.archive.create({ ids: [id] });
    assert.ok(!created.dryRun && created.archive);
    const archiveId = created.archive.id;
    await until(() => b.memories.get(id) === undefined, 'the archived memory gone from B');
    const stored = await b.archivePayloads.list();
    assert.ok(stored.includes(created.archive.sha256));
    const bytes = await b.archivePayloads.read(created.archive.sha256);
    assert.equal(createHash('sha256').update(bytes!).digest('hex'), created.archive.sha256);

    const restored = await onB.archive.restore({ archiveId });
    assert.deepEqual(restored.restored, [id]);
    await until(() => a.memories.get(id) !== undefined, 'the restored memory on A');
    assert.equal(JSON.stringify(a.memories.get(id)), before, 'byte for byte');
    const list = await onA.archive.list();
    assert.equal(list.archives.find((x) => x.id === archiveId)?.state, 'restored');
    // Recovery on either instance leaves a shared payload that an entry names alone.
    const report = await onB.archive.recover();
    assert.deepEqual(report.orphansRemoved, []);
    assert.ok((await a.archivePayloads.list()).includes(created.archive.sha256));
  });
});
