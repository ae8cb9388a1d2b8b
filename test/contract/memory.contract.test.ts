/**
 * The memory repositories' contract (MemoryRepository, VectorRepository, AccessRepository, ArchiveIndexRepository,
 * ArchivePayloadRepository, RunRepository), run against the local store and a migrated PostgreSQL database
 * (test/contract/backends.ts): the same calls must give the same answers, before and after a reopen. Access
 * figures are checked against one scripted sequence with its expected figures written out (open and frozen days,
 * late events, a day's first aggregate after it froze, the kept window), so both backends must match the local
 * store's rules, not just each other. Cross-instance cases are in memory-instances.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ArchiveEntry } from '../../server/store/repositories';
import { forEachBackend } from './backends';
import { bits, DAY, HOUR, memory, ODD_FLOATS, run, T0, withRepos, wordsOf } from './memory-fixtures';

function archiveEntry(id: string, sha256: string, extra: Partial<ArchiveEntry> = {}): ArchiveEntry {
  return {
    id,
    file: `${sha256}.crewarc`,
    sha256,
    count: 2,
    crews: ['c'],
    memoryIds: ['x', 'y'],
    bytesIn: 100,
    bytesOut: 20,
    ratio: 5,
    policy: { olderThanDays: 30 },
    createdAt: T0,
    restoredIds: [],
    state: 'pending',
    ...extra,
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

forEachBackend('memory repositories contract', (get) => {
  withRepos(get, (r, reopen) => {
    it('memories: put/get/all/byCrew/count, insertion order, replace in place, frozen copies', async () => {
      const { memories } = r();
      const a = memory('crew-1', 'alpha');
      const b = memory('crew-1', 'beta');
      const c = memory('crew-2', 'gamma');
      const before = memories.count();
      await memories.put([a, b]);
      await memories.put([c]);
      assert.equal(memories.count(), before + 3);
      assert.deepEqual(memories.get(a.id), a);
      assert.notEqual(memories.get(a.id), a, 'a copy is stored');
      assert.ok(Object.isFrozen(memories.get(a.id)) && Object.isFrozen(memories.get(a.id)!.history));
      a.tags.push('changed after put');
      assert.deepEqual(memories.get(a.id)!.tags, ['a', 'b']);
      // Replacing keeps the place in insertion order; moving crews moves it in byCrew.
      const a2 = { ...memories.get(a.id)!, crew: 'crew-2', content: 'alpha, moved' };
      await memories.put([a2]);
      const mine = [...memories.all()].filter((m) => [a.id, b.id, c.id].includes(m.id));
      assert.deepEqual(
        mine.map((m) => m.id),
        [a.id, b.id, c.id],
      );
      assert.deepEqual(
        [...memories.byCrew('crew-1')].map((m) => m.id),
        [b.id],
      );
      assert.deepEqual(
        [...memories.byCrew('crew-2')].map((m) => m.id),
        [c.id, a.id],
      );
      assert.equal(memories.get(a.id)!.content, 'alpha, moved');
      // One put naming an id twice: the last version, in the first one's place.
      const d = memory('crew-3', 'delta');
      await memories.put([d, { ...d, content: 'delta v2' }]);
      assert.equal(memories.get(d.id)!.content, 'delta v2');
      assert.deepEqual(
        [...memories.byCrew('crew-3')].map((m) => m.content),
        ['delta v2'],
      );
    });

    it('memories: a put or delete is visible before it resolves (the domains compare, then write)', async () => {
      const { memories } = r();
      const m = memory('crew-sync', 'seen at once');
      const put = memories.put([m]);
      assert.equal(memories.get(m.id)?.content, 'seen at once');
      await put;
      const del = memories.delete([m.id]);
      assert.equal(memories.get(m.id), undefined);
      assert.deepEqual([...memories.byCrew('crew-sync')], []);
      assert.equal(await del, 1);
    });

    it('memories: delete counts what existed; every kind of string survives a reopen exactly', async () => {
      const { memories } = r();
      const odd = memory('crew-odd', 'nul \u0000, lone \ud800 surrogate, emoji 🧠, quote " backslash \\ tab \t', {
        agent: 'crew-odd/\u0000agent',
        tags: ['ü', '\ud83d'],
        importance: 0.30000000000000004,
        pinned: true,
        expiresAt: T0 + 5 * DAY,
        history: [
          { version: 1, at: new Date(T0).toISOString(), change: 'created', previous: {}, note: null },
          {
            version: 2,
            at: new Date(T0 + 1).toISOString(),
            change: 'updated',
            previous: { content: 'before', tags: ['x'], expiresAt: null },
            note: 'why',
          },
        ],
      });
      const gone = memory('crew-odd', 'to delete');
      await memories.put([odd, gone]);
      assert.equal(await memories.delete([gone.id, gone.id, 'never-existed']), 1);
      assert.equal(await memories.delete([gone.id]), 0);
      const order = [...memories.all()].map((m) => m.id);
      await reopen();
      const back = r().memories;
      assert.deepEqual(back.get(odd.id), odd);
      assert.equal(back.get(odd.id)!.content, odd.content, 'same code units, lone surrogate included');
      assert.equal(back.get(gone.id), undefined);
      assert.deepEqual(
        [...back.all()].map((m) => m.id),
        order,
        'insertion order survives',
      );
      assert.deepEqual(
        [...back.byCrew('crew-odd')].map((m) => m.id),
        [odd.id],
      );
    });

    it('vectors: bit-exact round trip (NaN payloads, -0, denormals, infinities), before and after a reopen', async () => {
      const { vectors } = r();
      const odd = bits(...ODD_FLOATS);
      const plain = bits(
        0x3e800000,
        0xbe800000,
        0x40490fdb,
        0x00800000,
        0x3dcccccd,
        0x7f7fffff,
        0x1,
        0x2,
        0x3,
        0x4,
        0x5,
      );
      await vectors.put([
        { id: 'v1', embedderId: 'emb/one', vector: odd },
        { id: 'v2', embedderId: 'emb/one', vector: plain },
        { id: 'v1', embedderId: 'emb:two', vector: bits(0x7fc00000, 0x80000001) },
      ]);
      assert.deepEqual(wordsOf(vectors.get('v1', 'emb/one')), ODD_FLOATS);
      assert.notEqual(vectors.get('v1', 'emb/one'), odd, 'a copy is stored');
      odd[0] = 1;
      assert.deepEqual(wordsOf(vectors.get('v1', 'emb/one')), ODD_FLOATS);
      await reopen();
      const back = r().vectors;
      assert.deepEqual(wordsOf(back.get('v1', 'emb/one')), ODD_FLOATS);
      assert.deepEqual(wordsOf(back.get('v2', 'emb/one')), wordsOf(plain));
      assert.deepEqual(wordsOf(back.get('v1', 'emb:two')), [0x7fc00000, 0x80000001]);
      assert.deepEqual(back.embedderIds().sort(), ['emb/one', 'emb:two']);
      assert.deepEqual(
        [...back.entries('emb/one')].map(([id, v]) => [id, wordsOf(v)]),
        [
          ['v1', ODD_FLOATS],
          ['v2', wordsOf(plain)],
        ],
      );
    });

    it('vectors: one length per embedder (a mixed call is refused whole); views stay as they were; delete all embedders', async () => {
      const { vectors } = r();
      await vectors.put([{ id: 'w1', embedderId: 'dims-3', vector: bits(1, 2, 3) }]);
      const held = vectors.get('w1', 'dims-3')!;
      await assert.rejects(
        vectors.put([
          { id: 'w2', embedderId: 'dims-3', vector: bits(4, 5, 6) },
          { id: 'w3', embedderId: 'dims-3', vector: bits(7, 8) },
        ]),
        RangeError,
      );
      assert.equal(vectors.get('w2', 'dims-3'), undefined, 'nothing of the refused call was stored');
      await assert.rejects(vectors.put([{ id: 'w4', embedderId: 'dims-3', vector: new Float32Array(0) }]), RangeError);
      await vectors.put([{ id: 'w1', embedderId: 'dims-3', vector: bits(9, 9, 9) }]);
      assert.deepEqual(wordsOf(held), [1, 2, 3], 'a view handed out never changes');
      assert.deepEqual(wordsOf(vectors.get('w1', 'dims-3')), [9, 9, 9]);
      await vectors.put([{ id: 'w1', embedderId: 'dims-1', vector: bits(5) }]);
      await vectors.delete(['w1', 'unknown']);
      assert.equal(vectors.get('w1', 'dims-3'), undefined);
      assert.equal(vectors.get('w1', 'dims-1'), undefined);
      assert.ok(!vectors.embedderIds().includes('dims-1'), 'an embedder with no vector left is not listed');
      await reopen();
      assert.equal(r().vectors.get('w1', 'dims-3'), undefined);
      await assert.rejects(
        r().vectors.put([{ id: 'w5', embedderId: 'dims-3', vector: bits(1, 2) }]),
        RangeError,
        'the length stays fixed after a reopen',
      );
    });

    it('access: counters count at once and survive a flush and a reopen; forget and restore in order', async () => {
      const { access } = r();
      access.record([
        { id: 'a1', crew: 'cc', at: T0 + HOUR },
        { id: 'a1', crew: 'cc', at: T0 + 3 * HOUR },
        { id: 'a1', crew: 'cc', at: T0 + 2 * HOUR },
        { id: 'a2', crew: 'cc', at: T0 },
      ]);
      assert.deepEqual(access.counters('a1'), { count: 3, last: T0 + 3 * HOUR });
      assert.deepEqual(access.counters('nobody'), { count: 0, last: null });
      assert.throws(() => access.record([{ id: 'x', crew: 'cc', at: NaN }]), TypeError);
      await access.flush();
      access.forget(['a2']);
      access.record([{ id: 'a2', crew: 'cc', at: T0 + 5 * HOUR }]);
      assert.deepEqual(access.counters('a2'), { count: 1, last: T0 + 5 * HOUR }, 'counted after the forget');
      access.restore([{ id: 'a3', count: 41, last: T0 - DAY }]);
      access.record([{ id: 'a3', crew: 'cc', at: T0 - 2 * DAY }]);
      assert.deepEqual(access.counters('a3'), { count: 42, last: T0 - DAY });
      access.record([{ id: 'a4', crew: 'cc', at: T0 }]);
      access.forget(['a4']);
      assert.deepEqual(access.counters('a4'), { count: 0, last: null });
      await access.flush();
      await reopen();
      const back = r().access;
      assert.deepEqual(back.counters('a1'), { count: 3, last: T0 + 3 * HOUR });
      assert.deepEqual(back.counters('a2'), { count: 1, last: T0 + 5 * HOUR });
      assert.deepEqual(back.counters('a3'), { count: 42, last: T0 - DAY });
      assert.deepEqual(back.counters('a4'), { count: 0, last: null });
    });

    it('archive index: put, get, list in first-put order, replace in place, delete', async () => {
      const { archives } = r();
      const s1 = 'a'.repeat(64);
      const s2 = 'b'.repeat(64);
      const e1 = archiveEntry('arch-1', s1);
      const e2 = archiveEntry('arch-2', s2, { crews: ['c', 'd'], policy: null });
      await archives.put(e1);
      await archives.put(e2);
      await archives.put({ ...e1, state: 'complete', restoredIds: ['x'] });
      assert.deepEqual(
        (await archives.list()).map((e) => [e.id, e.state]),
        [
          ['arch-1', 'complete'],
          ['arch-2', 'pending'],
        ],
      );
      assert.deepEqual((await archives.get('arch-2'))?.crews, ['c', 'd']);
      assert.equal(await archives.get('nope'), undefined);
      assert.equal(await archives.delete('arch-1'), true);
      assert.equal(await archives.delete('arch-1'), false);
      await reopen();
      assert.deepEqual(
        (await r().archives.list()).map((e) => e.id),
        ['arch-2'],
      );
      assert.deepEqual(await r().archives.get('arch-2'), {
        ...archiveEntry('arch-2', s2, { crews: ['c', 'd'], policy: null }),
      });
    });

    it('archive payloads: content-addressed bytes, exact; wrong hash and non-digests refused; list and delete', async () => {
      const { payloads } = r();
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
      const h = sha(bytes);
      await payloads.write(h, bytes);
      await payloads.write(h, bytes);
      assert.ok((await payloads.read(h))!.equals(bytes));
      await assert.rejects(payloads.write(h, Buffer.from('other bytes')), RangeError);
      await assert.rejects(payloads.write('../../etc/passwd', bytes), RangeError);
      await assert.rejects(payloads.read('../x'), RangeError);
      assert.equal(await payloads.read('0'.repeat(64)), undefined);
      const small = Buffer.from([0, 1, 2, 255]);
      await payloads.write(sha(small), small);
      assert.deepEqual(await payloads.list(), [h, sha(small)].sort());
      await reopen();
      assert.ok((await r().payloads.read(sha(small)))!.equals(small));
      await r().payloads.delete(h);
      await r().payloads.delete(h);
      assert.deepEqual(await r().payloads.list(), [sha(small)]);
      assert.equal(await r().payloads.removePartial(), 0);
    });

    it('runs: put replaces by id, get, list filters newest first, survive a reopen', async () => {
      const { runs } = r();
      await runs.put(run('run-1', 'crew-x', '2026-01-10T10:00:00.000Z'));
      await runs.put(run('run-2', 'crew-y', '2026-01-10T11:00:00.000Z'));
      await runs.put(run('run-3', 'crew-x', '2026-01-10T12:00:00.000Z', { status: 'failed' }));
      await runs.put(run('run-1', 'crew-x', '2026-01-10T10:00:00.000Z', { status: 'completed', output: 'done' }));
      assert.equal(runs.get('run-1')?.status, 'completed');
      assert.ok(Object.isFrozen(runs.get('run-1')));
      const all = runs.list({ limit: 10 });
      assert.deepEqual(
        all.runs.map((x) => x.id),
        ['run-3', 'run-2', 'run-1'],
      );
      assert.equal(all.total, 3);
      assert.deepEqual(runs.list({ crewId: 'crew-x', limit: 1 }), { runs: [runs.get('run-3')], total: 2 });
      assert.deepEqual(
        runs.list({ crewName: ' CREW-Y ', limit: 5 }).runs.map((x) => x.id),
        ['run-2'],
      );
      assert.deepEqual(
        runs
          .list({
            status: 'completed',
            from: Date.parse('2026-01-10T09:00:00Z'),
            before: Date.parse('2026-01-10T11:00:00Z'),
            limit: 5,
          })
          .runs.map((x) => x.id),
        ['run-1'],
      );
      await reopen();
      assert.deepEqual(
        r().runs.get('run-1'),
        run('run-1', 'crew-x', '2026-01-10T10:00:00.000Z', { status: 'completed', output: 'done' }),
      );
      assert.equal(r().runs.list({ limit: 10 }).total, 3);
    });

    it('writes made without waiting land in the order they were made', async () => {
      const { memories, vectors, runs } = r();
      const m = memory('crew-order', 'version 0');
      const writes: Promise<unknown>[] = [];
      for (let i = 1; i <= 60; i++) {
        writes.push(memories.put([{ ...m, content: `version ${i}` }]));
        if (i % 20 === 10) writes.push(memories.delete([m.id]));
        writes.push(vectors.put([{ id: m.id, embedderId: 'order', vector: bits(i) }]));
        writes.push(runs.put(run('run-order', 'crew-o', '2026-01-10T10:00:00.000Z', { task: `step ${i}` })));
      }
      await Promise.all(writes);
      await reopen();
      assert.equal(r().memories.get(m.id)?.content, 'version 60');
      assert.deepEqual(wordsOf(r().vectors.get(m.id, 'order')), [60]);
      assert.equal(r().runs.get('run-order')?.task, 'step 60');
    });
  });
});

// ── access figures: one scripted sequence, expected figures written out ───────────────────────────────────

const D1 = '2026-01-10';
const at = (day: string, hour: number, minute = 0) =>
  Date.parse(`${day}T00:00:00.000Z`) + hour * HOUR + minute * 60_000;
const dayAfter = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
const D2 = dayAfter(D1, 1);
const D3 = dayAfter(D1, 2);

function hours(...hs: number[]): number[] {
  const out = new Array<number>(24).fill(0);
  for (const h of hs) out[h]!++;
  return out;
}

/** The figures after each step of the script (the same on every backend, flushed or not). */
const SCRIPT: {
  events: [string, string, number][];
  flush?: boolean;
  expect: { day: string; crew: string; accesses: number; memories: number; byHour: number[] }[];
}[] = [
  {
    events: [
      ['m1', 'c', at(D1, 10)],
      ['m2', 'c', at(D1, 11)],
      ['m1', 'c', at(D1, 12)],
    ],
    expect: [{ day: D1, crew: 'c', accesses: 3, memories: 2, byHour: hours(10, 11, 12) }],
  },
  {
    // A new newest day: D1 stays open (the day before the newest), so a late m3 counts as distinct.
    events: [
      ['m3', 'c', at(D2, 1)],
      ['m3', 'c', at(D1, 13)],
    ],
    flush: true,
    expect: [
      { day: D1, crew: 'c', accesses: 4, memories: 3, byHour: hours(10, 11, 12, 13) },
      { day: D2, crew: 'c', accesses: 1, memories: 1, byHour: hours(1) },
    ],
  },
  {
    // D3 freezes D1: a late m5 is an access but not a distinct memory; D2 is still open.
    events: [
      ['m4', 'c', at(D3, 23, 59)],
      ['m5', 'c', at(D1, 0)],
      ['m1', 'c', at(D2, 2)],
    ],
    expect: [
      { day: D1, crew: 'c', accesses: 5, memories: 3, byHour: hours(0, 10, 11, 12, 13) },
      { day: D2, crew: 'c', accesses: 2, memories: 2, byHour: hours(1, 2) },
      { day: D3, crew: 'c', accesses: 1, memories: 1, byHour: hours(23) },
    ],
  },
  {
    // A crew's first aggregate on a frozen day starts with nothing seen, so it counts its distinct memories.
    events: [
      ['m6', 'other', at(D1, 5)],
      ['m7', 'other', at(D1, 6)],
      ['m6', 'other', at(D1, 7)],
      ['m5', 'c', at(D1, 8)],
    ],
    flush: true,
    expect: [
      { day: D1, crew: 'c', accesses: 6, memories: 3, byHour: hours(0, 8, 10, 11, 12, 13) },
      { day: D1, crew: 'other', accesses: 3, memories: 2, byHour: hours(5, 6, 7) },
      { day: D2, crew: 'c', accesses: 2, memories: 2, byHour: hours(1, 2) },
      { day: D3, crew: 'c', accesses: 1, memories: 1, byHour: hours(23) },
    ],
  },
  {
    // 401 days on: D1 falls out of the kept window (400 days before the newest); a late D1 event makes no new
    // aggregate (the counter still counts it).
    events: [
      ['m8', 'c', at(dayAfter(D1, 401), 12)],
      ['m9', 'c', at(D1, 9)],
    ],
    expect: [
      { day: D2, crew: 'c', accesses: 2, memories: 2, byHour: hours(1, 2) },
      { day: D3, crew: 'c', accesses: 1, memories: 1, byHour: hours(23) },
      { day: dayAfter(D1, 401), crew: 'c', accesses: 1, memories: 1, byHour: hours(12) },
    ],
  },
];

for (const variant of ['flushing where the script says', 'flushing after every event'] as const)
  forEachBackend(`access figures, the local store's rules (${variant})`, (get) => {
    withRepos(get, (r, reopen) => {
      it('daily aggregates: accesses, hours, distinct memories of open and frozen days, the kept window', async () => {
        for (const [i, step] of SCRIPT.entries()) {
          const access = r().access;
          for (const [id, crew, t] of step.events) {
            access.record([{ id, crew, at: t }]);
            if (variant === 'flushing after every event') await access.flush();
          }
          if (step.flush) await access.flush();
          assert.deepEqual(access.daily({}), step.expect, `after step ${i + 1}`);
          await access.flush();
          assert.deepEqual(access.daily({}), step.expect, `after step ${i + 1}, flushed`);
        }
        assert.deepEqual(r().access.counters('m9'), { count: 1, last: at(D1, 9) });
        assert.deepEqual(r().access.counters('m1'), { count: 3, last: at(D2, 2) });
        const last = SCRIPT[SCRIPT.length - 1]!.expect;
        await reopen();
        assert.deepEqual(r().access.daily({}), last, 'after a reopen');
        assert.deepEqual(r().access.daily({ crew: 'c', fromDay: D3, toDay: D3 }), [last[1]]);
        assert.deepEqual(r().access.daily({ crew: 'nobody' }), []);
      });
    });
  });
