/**
 * The memory stores on disk: memories (JSON-lines log + snapshot), vectors (binary segments per embedder) and
 * access figures (journal + snapshot). Everything acknowledged survives a reopen exactly; compaction keeps every
 * record and shrinks the files, and a crash at any point of it loses and duplicates nothing; a torn tail is
 * dropped, damage elsewhere is refused with the file named. The last test prints load figures at 100k scale.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MemoryRecord } from '../../server/store/repositories';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import { FileMemoryRepository, MemoryStoreCorrupt } from '../../server/store/memory/memory-log';
import { embedderFileStem, FileVectorRepository } from '../../server/store/memory/vector-file';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function mem(id: string, over: Partial<MemoryRecord> = {}): MemoryRecord {
  return {
    id,
    crew: 'crew-a',
    agent: null,
    content: `memory ${id}`,
    kind: 'fact',
    tags: [],
    importance: 0.5,
    pinned: false,
    expiresAt: null,
    createdAt: T0,
    updatedAt: T0,
    contentHash: `hash-${id}`,
    history: [{ version: 1, at: new Date(T0).toISOString(), change: 'created', previous: {}, note: null }],
    ...over,
  };
}

/** A small deterministic PRNG, so generated data is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomVector(dims: number, next: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = next() * 2 - 1;
  return v;
}

const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const n of await fsp.readdir(dir)) total += (await fsp.stat(path.join(dir, n))).size;
  return total;
}

let root: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-memstore-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('FileMemoryRepository', () => {
  let dir: string;
  let repo: FileMemoryRepository | undefined;
  const errors: string[] = [];
  const open = async (opts: { compactMinBytes?: number } = {}) => {
    await repo?.close();
    repo = await FileMemoryRepository.open(dir, { onError: (m) => errors.push(m), ...opts });
    return repo;
  };
  const segment = (seq = 1) => path.join(dir, `log-${String(seq).padStart(6, '0')}.jsonl`);

  beforeEach(async () => {
    dir = path.join(root, 'memory');
    errors.length = 0;
    repo = undefined;
    await open();
  });
  afterEach(async () => {
    await repo?.close();
    repo = undefined;
  });

  it('put, get, delete and byCrew survive a reopen, in insertion order', async () => {
    let r = repo!;
    await r.put([mem('m1'), mem('m2', { crew: 'crew-b' }), mem('m3')]);
    await r.put([mem('m1', { content: 'm1 v2', crew: 'crew-b' })]);
    assert.equal(await r.delete(['m3', 'nope']), 1);
    assert.equal(await r.delete(['nope']), 0);
    await r.put([mem('m4')]);

    r = await open();
    assert.equal(r.count(), 3);
    assert.deepEqual(
      [...r.all()].map((m) => m.id),
      ['m1', 'm2', 'm4'],
    );
    assert.equal(r.get('m1')?.content, 'm1 v2');
    assert.equal(r.get('m3'), undefined);
    assert.deepEqual(
      [...r.byCrew('crew-b')].map((m) => m.id),
      ['m2', 'm1'],
    );
    assert.deepEqual(
      [...r.byCrew('crew-a')].map((m) => m.id),
      ['m4'],
    );
    assert.deepEqual([...r.byCrew('nobody')], []);
  });

  it('history and awkward content come back byte-identical', async () => {
    const big = 'x'.repeat(50_000) + '"\\\n\t\u2028\u2029😀' + 'é'.repeat(25_000);
    const tricky = 'quotes " and \\" and \'; emoji 👩‍👩‍👧 🎉; nul \u0000; lone surrogate \ud800; crlf \r\n';
    const rec = mem('m1', {
      content: big,
      tags: ['a "tag"', '🏷️'],
      agent: 'agent "x"',
      expiresAt: T0 + DAY,
      history: [
        { version: 1, at: '2026-03-01T00:00:00.000Z', change: 'created', previous: {}, note: null },
        {
          version: 2,
          at: '2026-03-02T00:00:00.000Z',
          change: 'updated',
          previous: { content: tricky, tags: ['old'], importance: 0.25, pinned: true, expiresAt: null, agent: null },
          note: 'merged m7, m8 "and" 😀',
        },
      ],
    });
    assert.ok(Buffer.byteLength(big) > 100_000);
    await repo!.put([rec, mem('m2', { content: tricky })]);
    const r = await open();
    assert.deepEqual(r.get('m1'), rec);
    assert.equal(Buffer.compare(Buffer.from(r.get('m1')!.content), Buffer.from(big)), 0);
    assert.equal(r.get('m2')!.content, tricky);
  });

  it('hands out frozen copies: changing a record read back throws instead of diverging from disk', async () => {
    const mine = mem('m1', { tags: ['t'] });
    await repo!.put([mine]);
    mine.tags.push('changed after put');
    assert.deepEqual(repo!.get('m1')!.tags, ['t']);
    assert.throws(() => repo!.get('m1')!.tags.push('x'), TypeError);
    assert.throws(() => {
      (repo!.get('m1') as { content: string }).content = 'x';
    }, TypeError);
  });

  it('50 concurrent puts are all durable, and an alone put is written at once', async () => {
    const r = repo!;
    await Promise.all(Array.from({ length: 50 }, (_, i) => r.put([mem(`c${i}`, { content: `content ${i}` })])));
    await r.put([mem('alone')], { alone: true });
    // A crash now must lose nothing: read the files as they are, without closing.
    const copy = path.join(root, 'copy');
    await fsp.cp(dir, copy, { recursive: true });
    const fresh = await FileMemoryRepository.open(copy);
    assert.equal(fresh.count(), 51);
    for (let i = 0; i < 50; i++) assert.equal(fresh.get(`c${i}`)?.content, `content ${i}`);
    assert.ok(fresh.get('alone'));
    await fresh.close();
  });

  it('a multi-record put is one line: it lands whole', async () => {
    await repo!.put([mem('a'), mem('b'), mem('c')]);
    const text = await fsp.readFile(segment(), 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 1);
    assert.equal((await open()).count(), 3);
  });

  it('compaction keeps every record, shrinks the files, and happens on its own once the log outgrows the live set', async () => {
    let r = await open({ compactMinBytes: 20_000 });
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => r.put([mem(`m${i}`, { content: `round ${round} ${'y'.repeat(200)}` })])),
      );
      // On a slow disk one compaction can outlast a whole round; the files' size is only fixed once none runs.
      await r.compactionsSettled();
    }
    await r.delete(['m0', 'm1']);
    // Automatic compactions ran in the background; close waits for the last one.
    await r.close();
    repo = undefined;
    const names = await fsp.readdir(dir);
    assert.ok(names.includes('snapshot.jsonl'), `no snapshot among ${names.join(', ')}`);
    // 400 puts of ~550 bytes were written; compaction keeps the files near the live set (38 records).
    assert.ok((await dirBytes(dir)) < 100_000, `files hold ${await dirBytes(dir)} bytes`);

    r = await open({ compactMinBytes: 20_000 });
    assert.equal(r.count(), 38);
    for (let i = 2; i < 40; i++) assert.equal(r.get(`m${i}`)?.content, `round 9 ${'y'.repeat(200)}`);

    // An explicit compaction leaves just the snapshot, and the next write starts a new segment.
    const before = await dirBytes(dir);
    await r.put([mem('m2', { content: 'after' })]);
    await r.compact();
    assert.deepEqual(await fsp.readdir(dir), ['snapshot.jsonl']);
    assert.ok((await dirBytes(dir)) <= before);
    await r.put([mem('m3', { content: 'later' })]);
    r = await open();
    assert.equal(r.count(), 38);
    assert.equal(r.get('m2')?.content, 'after');
    assert.equal(r.get('m3')?.content, 'later');
    assert.deepEqual(r.stats().live, 38);
  });

  it('random puts and deletes under repeated background compaction match a plain Map after reopen', async () => {
    const r = await open({ compactMinBytes: 8_000 });
    const model = new Map<string, string>();
    const next = rng(11);
    for (let round = 0; round < 30; round++) {
      const ops: Promise<unknown>[] = [];
      for (let k = 0; k < 20; k++) {
        const id = `m${Math.floor(next() * 40)}`;
        if (next() < 0.3) {
          model.delete(id);
          ops.push(r.delete([id]));
        } else {
          const content = `${id} r${round} k${k} ${'q'.repeat(Math.floor(next() * 300))}`;
          model.set(id, content);
          ops.push(r.put([mem(id, { content })]));
        }
      }
      await Promise.all(ops);
    }
    const expected = [...model];
    assert.deepEqual(
      [...r.all()].map((m) => [m.id, m.content]),
      expected,
    );
    const back = await open();
    assert.deepEqual(
      [...back.all()].map((m) => [m.id, m.content]),
      expected,
    );
    assert.ok((await fsp.readdir(dir)).includes('snapshot.jsonl'));
  });

  it('pauseCompaction holds compaction off (a backup reading the folder) until released', async () => {
    const r = await open({ compactMinBytes: 5_000 });
    const release = await r.pauseCompaction();
    for (let i = 0; i < 60; i++) await r.put([mem('same', { content: `v${i} ${'z'.repeat(100)}` })]);
    assert.deepEqual(await fsp.readdir(dir), ['log-000001.jsonl']);
    release();
    await r.compact();
    assert.ok((await fsp.readdir(dir)).includes('snapshot.jsonl'));
    assert.equal((await open()).get('same')?.content, `v59 ${'z'.repeat(100)}`);
  });

  it('a crash at any point of a compaction loses nothing and applies nothing twice', async () => {
    const r = repo!;
    await r.put([mem('a', { content: 'a1' }), mem('b')]);
    await r.put([mem('a', { content: 'a2' })]);
    const firstLog = await fsp.readFile(segment(1));
    await r.compact(); // snapshot through 1: a, b
    await r.delete(['b']); // segment 2
    await r.compact(); // snapshot through 2: a
    await r.put([mem('c')]); // segment 3
    await r.close();
    repo = undefined;

    // Crash after a snapshot's rename, before the segments it covers were removed: replaying segment 1 over the
    // snapshot would bring b back (its delete went with segment 2). The load must skip it.
    await fsp.writeFile(segment(1), firstLog);
    let back = await open();
    assert.deepEqual(
      [...back.all()].map((m) => [m.id, m.content]),
      [
        ['a', 'a2'],
        ['c', 'memory c'],
      ],
    );
    assert.ok(!(await fsp.readdir(dir)).includes(path.basename(segment(1))), 'superseded segment removed');

    // Crash before the rename: a half-written temp snapshot is ignored (and removed); the segments rule.
    await back.close();
    repo = undefined;
    await fsp.writeFile(path.join(dir, '.snapshot.jsonl.tmp'), '{"snapshot":1,"through":99,"count":5}\n{"op":"pu');
    back = await open();
    assert.deepEqual(
      [...back.all()].map((m) => m.id),
      ['a', 'c'],
    );
    assert.ok(!(await fsp.readdir(dir)).some((n) => n.endsWith('.tmp')));
  });

  it('drops a torn last line, and keeps appending cleanly after it', async () => {
    await repo!.put([mem('m1')]);
    await repo!.put([mem('m2')]);
    await repo!.close();
    repo = undefined;
    await fsp.appendFile(segment(), '{"op":"put","r":{"id":"m3","crew":"crew-a","con');
    let r = await open();
    assert.equal(r.count(), 2);
    assert.equal(r.get('m3'), undefined);
    assert.match(errors.join('\n'), /dropped \d+ bytes/);
    await r.put([mem('m4')]);
    r = await open();
    assert.deepEqual(
      [...r.all()].map((m) => m.id),
      ['m1', 'm2', 'm4'],
    );
  });

  it('refuses a damaged line in the middle, naming the file and line', async () => {
    await repo!.put([mem('m1')]);
    await repo!.put([mem('m2')]);
    await repo!.put([mem('m3')]);
    await repo!.close();
    repo = undefined;
    const lines = (await fsp.readFile(segment(), 'utf8')).split('\n');
    lines[1] = lines[1]!.slice(0, 30);
    await fsp.writeFile(segment(), lines.join('\n'));
    await assert.rejects(FileMemoryRepository.open(dir), (e: unknown) => {
      assert.ok(e instanceof MemoryStoreCorrupt);
      assert.equal(e.file, segment());
      assert.match(e.message, /log-000001\.jsonl line 2/);
      return true;
    });
    // Left untouched: nothing was truncated away.
    assert.equal((await fsp.readFile(segment(), 'utf8')).split('\n').length, lines.length);
  });

  it('refuses a damaged snapshot', async () => {
    await repo!.put([mem('m1'), mem('m2')]);
    await repo!.compact();
    await repo!.close();
    repo = undefined;
    const snap = path.join(dir, 'snapshot.jsonl');
    const text = await fsp.readFile(snap, 'utf8');
    await fsp.writeFile(snap, text.slice(0, text.length - 10));
    await assert.rejects(FileMemoryRepository.open(dir), MemoryStoreCorrupt);
  });
});

describe('FileVectorRepository', () => {
  let dir: string;
  let repo: FileVectorRepository | undefined;
  const errors: string[] = [];
  const open = async (opts: { compactMinBytes?: number } = {}) => {
    await repo?.close();
    repo = await FileVectorRepository.open(dir, { onError: (m) => errors.push(m), ...opts });
    return repo;
  };
  const E1 = 'openrouter:openai/text-embedding-3-small@512';
  const E2 = 'local:hash-tfidf@64';
  const file = (embedderId: string, seq = 1) =>
    path.join(dir, `${embedderFileStem(embedderId)}.${String(seq).padStart(6, '0')}.vec`);

  beforeEach(async () => {
    dir = path.join(root, 'vectors');
    errors.length = 0;
    repo = undefined;
    await open();
  });
  afterEach(async () => {
    await repo?.close();
    repo = undefined;
  });

  it('round-trips bit for bit across a reopen (NaN payloads, -0, subnormals, infinities)', async () => {
    const odd = new Float32Array(8);
    const u = new Uint32Array(odd.buffer);
    u[0] = 0x7fc00001; // a NaN with a payload
    u[1] = 0xffa00000; // a signalling-pattern NaN, negative
    odd[2] = -0;
    u[3] = 1; // the smallest subnormal
    odd[4] = Infinity;
    odd[5] = -Infinity;
    odd[6] = 3.4028234663852886e38;
    odd[7] = 1 / 3;
    const next = rng(7);
    const v1 = randomVector(512, next);
    // Typed-array set copies bits; spreading would go through Numbers and lose the NaN payloads.
    const padded = new Float32Array(64);
    padded.set(odd);
    await repo!.put([
      { id: 'odd', embedderId: E2, vector: padded },
      { id: 'm1', embedderId: E1, vector: v1 },
    ]);
    const r = await open();
    const back = r.get('odd', E2)!;
    assert.equal(Buffer.compare(bytes(back.subarray(0, 8)), bytes(odd)), 0);
    assert.equal(Buffer.compare(bytes(r.get('m1', E1)!), bytes(v1)), 0);
  });

  it('keeps embedders apart, honours deletes and replacements, and refuses a wrong length', async () => {
    const next = rng(1);
    const a1 = randomVector(512, next);
    const a2 = randomVector(64, next);
    const b1 = randomVector(512, next);
    await repo!.put([
      { id: 'a', embedderId: E1, vector: a1 },
      { id: 'a', embedderId: E2, vector: a2 },
      { id: 'b', embedderId: E1, vector: randomVector(512, next) },
      { id: 'c', embedderId: E1, vector: randomVector(512, next) },
    ]);
    await repo!.put([{ id: 'b', embedderId: E1, vector: b1 }]);
    await repo!.delete(['c', 'zzz']);
    await assert.rejects(repo!.put([{ id: 'x', embedderId: E1, vector: new Float32Array(3) }]), RangeError);
    await assert.rejects(repo!.put([{ id: 'x', embedderId: E1, vector: new Float32Array(0) }]), RangeError);

    const r = await open();
    assert.deepEqual(r.embedderIds().sort(), [E1, E2].sort());
    assert.deepEqual(
      [...r.entries(E1)].map(([id]) => id),
      ['a', 'b'],
    );
    assert.deepEqual(
      [...r.entries(E2)].map(([id]) => id),
      ['a'],
    );
    assert.equal(Buffer.compare(bytes(r.get('a', E1)!), bytes(a1)), 0);
    assert.equal(Buffer.compare(bytes(r.get('a', E2)!), bytes(a2)), 0);
    assert.equal(Buffer.compare(bytes(r.get('b', E1)!), bytes(b1)), 0);
    assert.equal(r.get('c', E1), undefined);
    assert.equal(r.get('a', 'other'), undefined);

    await r.delete(['a']);
    const again = await open();
    assert.deepEqual(again.embedderIds(), [E1]);
    assert.equal(again.get('a', E2), undefined);
  });

  it('a vector handed out never changes, even when its id is replaced or the store repacks', async () => {
    const next = rng(2);
    const first = randomVector(16, next);
    await repo!.put([{ id: 'v', embedderId: E2, vector: first }]);
    const view = repo!.get('v', E2)!;
    await Promise.all(
      Array.from({ length: 3000 }, () => repo!.put([{ id: 'v', embedderId: E2, vector: randomVector(16, next) }])),
    );
    assert.equal(Buffer.compare(bytes(view), bytes(first)), 0);
  });

  it('compaction keeps every vector, shrinks the files, and a leftover older segment is ignored', async () => {
    let r = await open({ compactMinBytes: 50_000 });
    const next = rng(3);
    const latest = new Map<string, Float32Array>();
    for (let round = 0; round < 8; round++) {
      const batch = Array.from({ length: 30 }, (_, i) => ({
        id: `m${i}`,
        embedderId: E1,
        vector: randomVector(128, next),
      }));
      batch.forEach((b) => latest.set(b.id, b.vector));
      await r.put(batch);
    }
    await r.delete(['m0']);
    latest.delete('m0');
    const segOne = await fsp.readFile(file(E1, 1)).catch(() => undefined);
    await r.compact();
    const names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.vec'));
    assert.equal(names.length, 1, names.join(', '));
    assert.ok((await dirBytes(dir)) < 1.2 * 29 * (7 + 3 + 512));
    await r.put([{ id: 'late', embedderId: E1, vector: randomVector(128, next) }]);
    await r.close();
    repo = undefined;
    // A crash between the rename and the cleanup would leave an older segment behind.
    if (segOne) await fsp.writeFile(file(E1, 1), segOne);
    r = await open();
    assert.equal(r.count(E1), 30);
    for (const [id, v] of latest) assert.equal(Buffer.compare(bytes(r.get(id, E1)!), bytes(v)), 0, id);
    assert.equal(r.get('m0', E1), undefined);
  });

  it('random puts and deletes under repeated background compaction match a plain Map after reopen', async () => {
    const r = await open({ compactMinBytes: 20_000 });
    const model = new Map<string, Float32Array>();
    const next = rng(12);
    for (let round = 0; round < 30; round++) {
      const ops: Promise<unknown>[] = [];
      for (let k = 0; k < 10; k++) {
        const id = `m${Math.floor(next() * 30)}`;
        if (next() < 0.3) {
          model.delete(id);
          ops.push(r.delete([id]));
        } else {
          const vector = randomVector(64, next);
          model.set(id, vector);
          ops.push(r.put([{ id, embedderId: E2, vector }]));
        }
      }
      await Promise.all(ops);
    }
    const back = await open();
    assert.deepEqual([...back.entries(E2)].map(([id]) => id).sort(), [...model.keys()].sort());
    for (const [id, v] of model) assert.equal(Buffer.compare(bytes(back.get(id, E2)!), bytes(v)), 0, id);
    assert.ok((await fsp.readdir(dir)).length <= 3);
  });

  it('drops a torn last record and refuses damage in the middle, naming the file', async () => {
    const next = rng(4);
    await repo!.put([{ id: 'a', embedderId: E2, vector: randomVector(64, next) }]);
    await repo!.put([{ id: 'b', embedderId: E2, vector: randomVector(64, next) }]);
    await repo!.close();
    repo = undefined;
    const f = file(E2);
    const whole = await fsp.readFile(f);
    const headerLen = 14 + Buffer.byteLength(E2) + 4; // fixed part, embedder id, checksum
    // The first 100 bytes of a record: what a write cut short leaves.
    await fsp.appendFile(f, whole.subarray(headerLen, headerLen + 100));
    let r = await open();
    assert.deepEqual(
      [...r.entries(E2)].map(([id]) => id),
      ['a', 'b'],
    );
    assert.match(errors.join('\n'), /dropped 100 bytes/);
    assert.equal((await fsp.stat(f)).size, whole.length);
    await r.close();
    repo = undefined;

    // The first record's type byte is damaged while a valid record follows.
    const damaged = Buffer.from(whole);
    damaged[headerLen] = 9;
    await fsp.writeFile(f, damaged);
    await assert.rejects(FileVectorRepository.open(dir), (e: unknown) => {
      assert.ok(e instanceof MemoryStoreCorrupt);
      assert.equal(e.file, f);
      assert.match(e.message, new RegExp(`byte ${headerLen}`));
      return true;
    });
    r = await FileVectorRepository.open(path.join(root, 'fresh-vectors'));
    await r.close();
  });
});

describe('FileAccessRepository', () => {
  let dir: string;
  let repo: FileAccessRepository | undefined;
  const errors: string[] = [];
  const open = async (opts: { snapshotMinBytes?: number } = {}) => {
    await repo?.close();
    repo = await FileAccessRepository.open(dir, { onError: (m) => errors.push(m), ...opts });
    return repo;
  };

  beforeEach(async () => {
    dir = path.join(root, 'access');
    errors.length = 0;
    repo = undefined;
    await open();
  });
  afterEach(async () => {
    await repo?.close();
    repo = undefined;
  });

  it('counters and daily aggregates (UTC days and hours, distinct memories) survive a reopen after flush', async () => {
    const r = repo!;
    const late = T0 + 23 * HOUR + 30 * 60_000; // 2026-03-01 23:30Z
    r.record([
      { id: 'm1', crew: 'a', at: late },
      { id: 'm1', crew: 'a', at: late + 60_000 },
      { id: 'm2', crew: 'a', at: late },
      { id: 'm3', crew: 'b', at: late },
    ]);
    r.record([
      { id: 'm1', crew: 'a', at: T0 + DAY + 10 * 60_000 }, // 2026-03-02 00:10Z
      { id: 'm1', crew: 'a', at: T0 + DAY + 5 * HOUR },
    ]);
    assert.deepEqual(r.counters('m1'), { count: 4, last: T0 + DAY + 5 * HOUR });
    await r.flush();

    // Read the files as a crash would leave them: no close.
    const copy = path.join(root, 'access-copy');
    await fsp.cp(dir, copy, { recursive: true });
    const back = await FileAccessRepository.open(copy);
    assert.deepEqual(back.counters('m1'), { count: 4, last: T0 + DAY + 5 * HOUR });
    assert.deepEqual(back.counters('m3'), { count: 1, last: late });
    assert.deepEqual(back.counters('never'), { count: 0, last: null });
    const hours = (set: Record<number, number>) => Array.from({ length: 24 }, (_, h) => set[h] ?? 0);
    assert.deepEqual(back.daily({}), [
      { day: '2026-03-01', crew: 'a', accesses: 3, memories: 2, byHour: hours({ 23: 3 }) },
      { day: '2026-03-01', crew: 'b', accesses: 1, memories: 1, byHour: hours({ 23: 1 }) },
      { day: '2026-03-02', crew: 'a', accesses: 2, memories: 1, byHour: hours({ 0: 1, 5: 1 }) },
    ]);
    assert.deepEqual(
      back.daily({ crew: 'a', fromDay: '2026-03-02' }).map((d) => d.day),
      ['2026-03-02'],
    );
    assert.deepEqual(
      back.daily({ toDay: '2026-03-01' }).map((d) => d.crew),
      ['a', 'b'],
    );
    await back.close();
  });

  it('forget drops counters but keeps the daily aggregates, across a reopen', async () => {
    repo!.record([
      { id: 'm1', crew: 'a', at: T0 },
      { id: 'm2', crew: 'a', at: T0 },
    ]);
    repo!.forget(['m1']);
    repo!.record([{ id: 'm1', crew: 'a', at: T0 + HOUR }]);
    assert.deepEqual(repo!.counters('m1'), { count: 1, last: T0 + HOUR });
    await repo!.flush();
    const r = await open();
    assert.deepEqual(r.counters('m1'), { count: 1, last: T0 + HOUR });
    assert.deepEqual(r.counters('m2'), { count: 1, last: T0 });
    assert.equal(r.daily({})[0]!.accesses, 3);
    assert.equal(r.daily({})[0]!.memories, 2);
  });

  it('a snapshot plus the journal after it restore everything, distinct counts included', async () => {
    let r = await open({ snapshotMinBytes: 2_000 });
    // Enough events to pass the threshold: a snapshot is taken on its own, then more events follow it.
    for (let i = 0; i < 300; i++) r.record([{ id: `m${i % 50}`, crew: 'a', at: T0 + i * 1000 }]);
    await r.flush();
    await r.snapshot();
    r.record([
      { id: 'm1', crew: 'a', at: T0 + 2 * HOUR },
      { id: 'new', crew: 'a', at: T0 + 2 * HOUR },
    ]);
    await r.flush();
    const names = await fsp.readdir(dir);
    assert.ok(names.includes('access.json'));
    assert.ok(!names.includes('journal-000001.jsonl'), names.join(', '));
    r = await open({ snapshotMinBytes: 2_000 });
    assert.deepEqual(r.counters('m1'), { count: 7, last: T0 + 2 * HOUR });
    // m1 was already counted as distinct today before the snapshot; the day's Set came back with it.
    assert.equal(r.daily({})[0]!.memories, 51);
    assert.equal(r.daily({})[0]!.accesses, 302);
    r.record([{ id: 'm2', crew: 'a', at: T0 + 3 * HOUR }]);
    assert.equal(r.daily({})[0]!.memories, 51);
  });

  it('freezes the distinct count of days that are over, and drops a torn journal tail', async () => {
    const r = repo!;
    r.record([{ id: 'm1', crew: 'a', at: T0 }]);
    r.record([{ id: 'm2', crew: 'a', at: T0 + 2 * DAY }]); // day 1 is now closed
    r.record([{ id: 'm9', crew: 'a', at: T0 + HOUR }]); // late: an access, not a known-distinct memory
    await r.flush();
    await r.close();
    repo = undefined;
    const journal = path.join(dir, 'journal-000001.jsonl');
    await fsp.appendFile(journal, '{"e":[["m5","a",17');
    const back = await open();
    const day1 = back.daily({ toDay: '2026-03-01' })[0]!;
    assert.equal(day1.accesses, 2);
    assert.equal(day1.memories, 1);
    assert.deepEqual(back.counters('m5'), { count: 0, last: null });
    assert.match(errors.join('\n'), /dropped/);
  });

  it('record is synchronous and journals in the background without a flush', async () => {
    await repo!.close();
    let r = await FileAccessRepository.open(dir, { flushEveryMs: 10 });
    repo = r;
    r.record([{ id: 'm1', crew: 'a', at: T0 }]);
    const journal = path.join(dir, 'journal-000001.jsonl');
    // Wait on the file itself (bounded), not a fixed sleep.
    for (let i = 0; i < 200; i++) {
      const text = await fsp.readFile(journal, 'utf8').catch(() => '');
      if (text.includes('m1')) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.match(await fsp.readFile(journal, 'utf8'), /"m1"/);
    r = await open();
    assert.equal(r.counters('m1').count, 1);
  });
});

describe('memory stores at 100k scale', function () {
  this.timeout(60_000);

  it('loads 100k memories and 100k × 512 vectors (prints figures)', async () => {
    const N = 100_000;
    const DIMS = 512;
    const memDir = path.join(root, 'memory');
    const vecDir = path.join(root, 'vectors');
    const words = 'agent budget crew memory vector model cost token context search cluster archive'.split(' ');
    const next = rng(42);

    let t = performance.now();
    let mem1 = await FileMemoryRepository.open(memDir);
    for (let b = 0; b < N; b += 1000) {
      const batch: MemoryRecord[] = [];
      for (let i = b; i < b + 1000; i++) {
        const content = Array.from({ length: 40 }, () => words[Math.floor(next() * words.length)]).join(' ');
        batch.push(mem(`mem-${i}`, { crew: `crew-${i % 20}`, content, tags: ['t1', 't2'] }));
      }
      await mem1.put(batch);
    }
    const memWrite = performance.now() - t;
    const memBytes = await dirBytes(memDir);
    await mem1.close();
    t = performance.now();
    mem1 = await FileMemoryRepository.open(memDir);
    const memLoad = performance.now() - t;
    assert.equal(mem1.count(), N);
    assert.equal([...mem1.byCrew('crew-3')].length, N / 20);
    t = performance.now();
    await mem1.compact();
    const memCompact = performance.now() - t;
    t = performance.now();
    const single = 200;
    for (let i = 0; i < single; i++) await mem1.put([mem(`one-${i}`)], { alone: true });
    const memPutAlone = (performance.now() - t) / single;
    t = performance.now();
    for (let i = 0; i < single; i++) await mem1.put([mem(`two-${i}`)]);
    const memPutGrouped = (performance.now() - t) / single;
    await mem1.close();
    t = performance.now();
    mem1 = await FileMemoryRepository.open(memDir);
    const memLoadSnap = performance.now() - t;
    assert.equal(mem1.count(), N + 2 * single);
    await mem1.close();

    let vec = await FileVectorRepository.open(vecDir);
    const raw = new Uint32Array(DIMS * 1000);
    t = performance.now();
    for (let b = 0; b < N; b += 1000) {
      // Cheap deterministic bits (the values' spread does not matter for storage).
      for (let i = 0; i < raw.length; i++) raw[i] = 0x3c000000 + ((Math.imul(b + i, 2654435761) >>> 9) & 0x7fffff);
      const floats = new Float32Array(raw.buffer);
      await vec.put(
        Array.from({ length: 1000 }, (_, i) => ({
          id: `mem-${b + i}`,
          embedderId: 'local:neural@512',
          vector: floats.subarray(i * DIMS, (i + 1) * DIMS),
        })),
      );
    }
    const vecWrite = performance.now() - t;
    const vecBytes = await dirBytes(vecDir);
    await vec.close();
    t = performance.now();
    vec = await FileVectorRepository.open(vecDir);
    const vecLoad = performance.now() - t;
    assert.equal(vec.count('local:neural@512'), N);
    const lastFloats = new Float32Array(raw.buffer);
    assert.equal(
      Buffer.compare(bytes(vec.get(`mem-${N - 1}`, 'local:neural@512')!), bytes(lastFloats.subarray(999 * DIMS))),
      0,
    );
    await vec.close();

    console.log(
      [
        `      memories: ${N} written in ${memWrite.toFixed(0)} ms (batches of 1000), ${(memBytes / 2 ** 20).toFixed(1)} MiB;`,
        `        load from log ${memLoad.toFixed(0)} ms, compaction ${memCompact.toFixed(0)} ms, load from snapshot ${memLoadSnap.toFixed(0)} ms;`,
        `        one put: ${memPutAlone.toFixed(3)} ms alone (sync O_DSYNC), ${memPutGrouped.toFixed(3)} ms queued`,
        `      vectors: ${N} × ${DIMS} written in ${vecWrite.toFixed(0)} ms, ${(vecBytes / 2 ** 20).toFixed(1)} MiB; load ${vecLoad.toFixed(0)} ms`,
      ].join('\n'),
    );
  });
});
