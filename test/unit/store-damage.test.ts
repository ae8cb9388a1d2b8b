/**
 * A store file that cannot be read exactly as written is refused, never repaired by guessing or replaced: every
 * kind of damage (a complete line that is not JSON, JSON of the wrong shape, `null`, zeroed bytes inside a vector)
 * stops the open with the file and the line (or record and byte) named, and leaves the file byte-identical. The
 * one exception is a torn tail: a last line without its newline, a write that was never acknowledged.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ErrorCodes, type Run } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { DomainError } from '../../server/errors';
import type { StoreFileCorrupt } from '../../server/store/corrupt';
import { crc32Portable } from '../../server/store/crc32';
import { JsonStore } from '../../server/store/json-store';
import { FileLedger, LedgerCorrupt } from '../../server/store/ledger/file-ledger';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import { FileMemoryRepository, MemoryStoreCorrupt } from '../../server/store/memory/memory-log';
import { embedderFileStem, FileVectorRepository } from '../../server/store/memory/vector-file';
import type { MemoryRecord, NewLedgerRow } from '../../server/store/repositories';
import { FileRunRepository } from '../../server/store/runs/run-log';
import { emptyDb } from '../../server/store/schema';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');

const row = (over: Partial<NewLedgerRow> = {}): NewLedgerRow => ({
  ts: T0,
  model: 'openai/gpt-4o-mini',
  crew: 'c',
  agent: null,
  tags: [],
  promptTokens: 10,
  completionTokens: 20,
  cachedTokens: 0,
  reasoningTokens: 0,
  costPico: 1_234_567,
  cost: '0.000001234567',
  estimated: false,
  generationId: 'gen-1',
  latencyMs: 12,
  status: 'ok',
  stream: false,
  ...over,
});

const mem = (id: string): MemoryRecord => ({
  id,
  crew: 'crew-a',
  agent: null,
  content: `memory ${id}`,
  kind: 'fact',
  tags: ['t'],
  importance: 0.5,
  pinned: false,
  expiresAt: null,
  createdAt: T0,
  updatedAt: T0,
  contentHash: `hash-${id}`,
  history: [{ version: 1, at: new Date(T0).toISOString(), change: 'created', previous: {}, note: null }],
});

const run = (id: string): Run => ({
  id,
  crewId: 'crew_1',
  crew: 'writers',
  task: 't',
  process: 'sequential',
  status: 'completed',
  steps: [],
  output: 'done',
  usage: { promptTokens: 1, completionTokens: 2, cachedTokens: 0, reasoningTokens: 0 },
  costUsd: 0.001,
  cost: '0.001',
  error: null,
  memoryId: null,
  startedAt: new Date(T0).toISOString(),
  finishedAt: new Date(T0 + 1000).toISOString(),
});

let root: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-damage-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

/** Replaces line `n` (1-based) of a JSON-lines file; the file keeps its final newline. */
async function replaceLine(file: string, n: number, text: string): Promise<Buffer> {
  const lines = (await fsp.readFile(file, 'utf8')).split('\n');
  lines[n - 1] = text;
  await fsp.writeFile(file, lines.join('\n'));
  return fsp.readFile(file);
}

/** `open` is refused with a StoreFileCorrupt of `kind` naming `file` and `where`, and the file is unchanged. */
async function refused(
  open: () => Promise<unknown>,
  kind: typeof StoreFileCorrupt,
  file: string,
  where: RegExp,
  before: Buffer,
): Promise<StoreFileCorrupt> {
  let caught: StoreFileCorrupt | undefined;
  await assert.rejects(open(), (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.match(e.where, where);
    caught = e;
    return true;
  });
  assert.ok((await fsp.readFile(file)).equals(before), `${path.basename(file)} must be left byte-identical`);
  return caught!;
}

describe('store damage: the ledger', () => {
  let dir: string;
  const segment = () => path.join(dir, '000001.jsonl');
  beforeEach(async () => {
    dir = path.join(root, 'ledger');
    const l = await FileLedger.open(dir);
    await l.append(row());
    await l.append(row({ ts: T0 + 1 }));
    await l.append(row({ ts: T0 + 2 }));
    await l.close();
  });

  const cases: [string, (good: Record<string, unknown>) => string][] = [
    ['a complete line that is not JSON', () => '{"i":3,"t":1772323200002,"m":"openai/gpt-4o-mini"'],
    ['null', () => 'null'],
    ['a list', () => '[1,2,3]'],
    ['a row without its cost', (g) => JSON.stringify({ ...g, $: undefined, d: undefined })],
    ['a cost that is not picodollars', (g) => JSON.stringify({ ...g, $: 'lots' })],
    ['a cost text that is not a decimal', (g) => JSON.stringify({ ...g, d: 'NaN' })],
    ['a token count that is text', (g) => JSON.stringify({ ...g, p: '10' })],
    ['a row id out of order', (g) => JSON.stringify({ ...g, i: 7 })],
    ['an unknown field', (g) => JSON.stringify({ ...g, zz: 1 })],
    ['a correction of a row that does not exist', () => JSON.stringify({ fix: 99, $: 1, d: '0.000000000001' })],
    ['a correction without a cost', () => JSON.stringify({ fix: 1 })],
  ];
  for (const [what, make] of cases)
    for (const n of [2, 3]) {
      it(`refuses ${what} on line ${n} (${n === 3 ? 'the complete last line' : 'mid-file'})`, async () => {
        const good = JSON.parse((await fsp.readFile(segment(), 'utf8')).split('\n')[n - 1]!) as Record<string, unknown>;
        const before = await replaceLine(segment(), n, make(good));
        const e = await refused(
          () => FileLedger.open(dir),
          LedgerCorrupt,
          segment(),
          new RegExp(`^line ${n}$`),
          before,
        );
        assert.match(e.message, new RegExp(`000001\\.jsonl line ${n}: `));
      });
    }

  it('still drops a torn last line (no newline): a write that was never acknowledged', async () => {
    const good = await fsp.readFile(segment());
    await fsp.appendFile(segment(), '{"i":4,"t":1772323200003,"m":"openai/gpt');
    const errors: string[] = [];
    const l = await FileLedger.open(dir, (m) => errors.push(m));
    assert.equal(l.count(), 3);
    await l.close();
    assert.ok((await fsp.readFile(segment())).equals(good));
    assert.match(errors.join('\n'), /dropped \d+ bytes of a write that never finished \(line 4\)/);
  });

  it('refuses a torn line in a segment that is not the last one', async () => {
    const before = Buffer.concat([await fsp.readFile(segment()), Buffer.from('{"i":4,"t":17')]);
    await fsp.writeFile(segment(), before);
    await fsp.writeFile(path.join(dir, '000002.jsonl'), '');
    await refused(() => FileLedger.open(dir), LedgerCorrupt, segment(), /^line 4$/, before);
  });
});

describe('store damage: nothing is written that could not be read back', () => {
  it('a ledger row with a NaN cost, or a memory/run of the wrong shape, is refused before anything changes', async () => {
    const ledgerDir = path.join(root, 'ledger');
    const l = await FileLedger.open(ledgerDir);
    await l.append(row());
    await assert.rejects(l.append(row({ costPico: NaN })), /costPico NaN is not a whole number/);
    await assert.rejects(l.append(row({ cost: 'lots' })), /cost "lots" is not a decimal/);
    await assert.rejects(l.settleCost(1, 1.5, '0.0000000000015'), /not exact/);
    assert.equal(l.count(), 1);
    assert.equal((await l.append(row({ ts: T0 + 1 }))).id, 2, 'ids are not used up by refused rows');
    await l.close();
    const reopened = await FileLedger.open(ledgerDir);
    assert.equal(reopened.count(), 2, 'the file opens: nothing unreadable went in');
    await reopened.close();

    const memDir = path.join(root, 'memory');
    const m = await FileMemoryRepository.open(memDir);
    await assert.rejects(m.put([mem('ok'), { ...mem('bad'), importance: NaN }]), /not a memory record: bad/);
    assert.equal(m.count(), 0, 'refused whole');
    await m.close();
    const runDir = path.join(root, 'runs');
    const r = await FileRunRepository.open(runDir);
    await assert.rejects(r.put([{ ...run('run_1'), output: undefined as unknown as string }]), /not a run record/);
    await r.close();
  });
});

describe('store damage: memories, runs and access figures', () => {
  it('memory log: a last line of null, a garbled complete last line, a record of the wrong shape', async () => {
    const dir = path.join(root, 'memory');
    const repo = await FileMemoryRepository.open(dir);
    await repo.put([mem('m1')]);
    await repo.put([mem('m2')]);
    await repo.close();
    const log = path.join(dir, 'log-000001.jsonl');
    const original = await fsp.readFile(log, 'utf8');
    const wrong = (over: Record<string, unknown>) => JSON.stringify({ op: 'put', r: { ...mem('m2'), ...over } });
    for (const bad of [
      'null',
      '{"op":"put","r":{"id":"m2","crew":"crew-a"',
      wrong({ importance: 'high' }),
      wrong({ kind: 'gossip' }),
      wrong({ history: [{ version: 1 }] }),
      wrong({ tags: [1] }),
      JSON.stringify({ op: 'put', r: mem('m2'), rs: [mem('m3')] }),
      JSON.stringify({ op: 'del', ids: 'm1' }),
    ]) {
      const before = await replaceLine(log, 2, bad);
      await refused(() => FileMemoryRepository.open(dir), MemoryStoreCorrupt, log, /^line 2$/, before);
      await fsp.writeFile(log, original);
    }
    const back = await FileMemoryRepository.open(dir);
    assert.equal(back.count(), 2, 'the untouched log still opens');
    await back.close();
  });

  it('memory snapshot: a header of the wrong shape and a record of the wrong shape', async () => {
    const dir = path.join(root, 'memory');
    const repo = await FileMemoryRepository.open(dir);
    await repo.put([mem('m1'), mem('m2')]);
    await repo.compact();
    await repo.close();
    const snap = path.join(dir, 'snapshot.jsonl');
    const original = await fsp.readFile(snap, 'utf8');
    let before = await replaceLine(snap, 1, '{"snapshot":1,"through":"1","count":2}');
    await refused(() => FileMemoryRepository.open(dir), MemoryStoreCorrupt, snap, /^line 1$/, before);
    await fsp.writeFile(snap, original);
    before = await replaceLine(snap, 3, JSON.stringify({ op: 'put', r: { ...mem('m2'), createdAt: 'yesterday' } }));
    await refused(() => FileMemoryRepository.open(dir), MemoryStoreCorrupt, snap, /^line 3$/, before);
  });

  it('run log: a run of the wrong shape, on the last line', async () => {
    const dir = path.join(root, 'runs');
    const repo = await FileRunRepository.open(dir);
    await repo.put([run('run_1')]);
    await repo.put([run('run_2')]);
    await repo.close();
    const log = path.join(dir, 'log-000001.jsonl');
    for (const bad of [
      { ...run('run_2'), usage: null },
      { ...run('run_2'), steps: [{ index: 0 }] },
      { ...run('run_2'), costUsd: '0.001' },
    ]) {
      const original = await fsp.readFile(log);
      const before = await replaceLine(log, 2, JSON.stringify({ op: 'put', r: bad }));
      await refused(() => FileRunRepository.open(dir), MemoryStoreCorrupt, log, /^line 2$/, before);
      await fsp.writeFile(log, original);
    }
  });

  it('access journal and snapshot: null, entries of the wrong shape', async () => {
    const dir = path.join(root, 'access');
    const repo = await FileAccessRepository.open(dir);
    repo.record([{ id: 'm1', crew: 'a', at: T0 }]);
    await repo.flush();
    repo.forget(['m0']);
    await repo.flush();
    await repo.close();
    const journal = path.join(dir, 'journal-000001.jsonl');
    const original = await fsp.readFile(journal);
    for (const bad of [
      'null',
      '{"e":[["m1","a","noon"]]}',
      '{"f":"m0"}',
      '{"e":[],"f":[]}',
      '{"s":[["m1",-1,null]]}',
    ]) {
      const before = await replaceLine(journal, 2, bad);
      await refused(() => FileAccessRepository.open(dir), MemoryStoreCorrupt, journal, /^line 2$/, before);
      await fsp.writeFile(journal, original);
    }
    const r = await FileAccessRepository.open(dir);
    await r.snapshot();
    await r.close();
    const snap = path.join(dir, 'access.json');
    const doc = JSON.parse(await fsp.readFile(snap, 'utf8')) as { days: unknown[][] };
    doc.days[0]![4] = [1, 2, 3];
    const before = Buffer.from(JSON.stringify(doc));
    await fsp.writeFile(snap, before);
    await refused(() => FileAccessRepository.open(dir), MemoryStoreCorrupt, snap, /as a whole/, before);
  });
});

describe('store damage: vector files carry checksums', () => {
  const E = 'local:hash-tfidf@64';
  let dir: string;
  const file = (seq = 1) => path.join(dir, `${embedderFileStem(E)}.${String(seq).padStart(6, '0')}.vec`);
  const vec = (seed: number) => Float32Array.from({ length: 64 }, (_, i) => Math.sin(seed * 100 + i));
  const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  beforeEach(() => {
    dir = path.join(root, 'vectors');
  });

  it('200 zeroed bytes inside a vector are refused, naming the file, record and byte; the file is unchanged', async () => {
    const repo = await FileVectorRepository.open(dir);
    for (const id of ['a', 'b', 'c']) await repo.put([{ id, embedderId: E, vector: vec(id.charCodeAt(0)) }]);
    await repo.close();
    const whole = await fsp.readFile(file());
    const headerLen = 14 + Buffer.byteLength(E) + 4;
    const damaged = Buffer.from(whole);
    damaged.fill(0, headerLen + 40, headerLen + 240); // inside record 1's floats (it is 7 + 1 + 256 + 4 bytes)
    await fsp.writeFile(file(), damaged);
    const e = await refused(() => FileVectorRepository.open(dir), MemoryStoreCorrupt, file(), /record 1/, damaged);
    assert.match(e.message, new RegExp(`byte ${headerLen} \\(record 1\\): fails its checksum`));
  });

  it('a damaged header is refused; zeros at the very end of the last segment are a write that never finished', async () => {
    const repo = await FileVectorRepository.open(dir);
    await repo.put([{ id: 'a', embedderId: E, vector: vec(1) }]);
    await repo.put([{ id: 'b', embedderId: E, vector: vec(2) }]);
    await repo.close();
    const whole = await fsp.readFile(file());
    const header = Buffer.from(whole);
    header[9] = header[9]! ^ 1; // dims
    await fsp.writeFile(file(), header);
    await refused(() => FileVectorRepository.open(dir), MemoryStoreCorrupt, file(), /header/, header);

    // The last record's end (its checksum included) zeroed to the end of the file: what a crash mid-append leaves.
    const tail = Buffer.from(whole);
    tail.fill(0, tail.length - 30);
    await fsp.writeFile(file(), tail);
    const errors: string[] = [];
    const r = await FileVectorRepository.open(dir, { onError: (m) => errors.push(m) });
    assert.deepEqual(
      [...r.entries(E)].map(([id]) => id),
      ['a'],
    );
    assert.match(errors.join('\n'), /dropped \d+ bytes/);
    await r.close();
  });

  it('a new last segment holding only zeros (its first write never finished) is dropped; damaged magic is refused', async () => {
    const repo = await FileVectorRepository.open(dir);
    await repo.put([{ id: 'a', embedderId: E, vector: vec(1) }]);
    await repo.close();
    const zeros = Buffer.alloc(300);
    await fsp.writeFile(file(2), zeros);
    const errors: string[] = [];
    const r = await FileVectorRepository.open(dir, { onError: (m) => errors.push(m) });
    assert.deepEqual(
      [...r.entries(E)].map(([id]) => id),
      ['a'],
    );
    await r.put([{ id: 'b', embedderId: E, vector: vec(2) }]);
    await r.close();
    const back = await FileVectorRepository.open(dir);
    assert.deepEqual([...back.entries(E)].map(([id]) => id).sort(), ['a', 'b']);
    await back.close();

    const damaged = Buffer.from(await fsp.readFile(file(2)));
    damaged.write('XRVL', 0, 'latin1');
    await fsp.writeFile(file(2), damaged);
    await refused(() => FileVectorRepository.open(dir), MemoryStoreCorrupt, file(2), /header/, damaged);
  });

  it('reads a version 1 file (no checksums) exactly, appends to a new segment, and rewrites it as version 2', async () => {
    // A version 1 segment as the previous build wrote it: header without checksum, records without checksums.
    await fsp.mkdir(dir, { recursive: true });
    const id = Buffer.from(E);
    const head = Buffer.alloc(14 + id.length);
    head.write('CRVL', 0, 'latin1');
    head.writeUInt16LE(1, 4);
    head.writeUInt16LE(0, 6);
    head.writeUInt32LE(64, 8);
    head.writeUInt16LE(id.length, 12);
    id.copy(head, 14);
    const put1 = (key: string, v: Float32Array) => {
      const k = Buffer.from(key);
      const b = Buffer.alloc(7 + k.length + v.byteLength);
      b[0] = 1;
      b.writeUInt16LE(k.length, 1);
      k.copy(b, 3);
      b.writeUInt32LE(v.length, 3 + k.length);
      bytes(v).copy(b, 7 + k.length);
      return b;
    };
    const del1 = (key: string) => {
      const k = Buffer.from(key);
      const b = Buffer.alloc(7 + k.length);
      b[0] = 2;
      b.writeUInt16LE(k.length, 1);
      k.copy(b, 3);
      return b;
    };
    const v1 = Buffer.concat([
      head,
      put1('old-a', vec(1)),
      put1('old-b', vec(2)),
      del1('old-b'),
      put1('old-c', vec(3)),
    ]);
    await fsp.writeFile(file(1), v1);

    const errors: string[] = [];
    const repo = await FileVectorRepository.open(dir, { onError: (m) => errors.push(m) });
    assert.deepEqual([...repo.entries(E)].map(([k]) => k).sort(), ['old-a', 'old-c']);
    assert.ok(bytes(repo.get('old-a', E)!).equals(bytes(vec(1))), 'bit for bit');
    await repo.put([{ id: 'new-d', embedderId: E, vector: vec(4) }]);
    await repo.close(); // waits for the upgrade that opening started
    assert.deepEqual(errors, []);

    const names = (await fsp.readdir(dir)).sort();
    assert.ok(!names.includes(path.basename(file(1))) || (await fsp.readFile(file(1))).readUInt16LE(4) === 2);
    for (const n of names)
      assert.equal((await fsp.readFile(path.join(dir, n))).readUInt16LE(4), 2, `${n} is version 2`);
    const back = await FileVectorRepository.open(dir);
    assert.deepEqual([...back.entries(E)].map(([k]) => k).sort(), ['new-d', 'old-a', 'old-c']);
    for (const [k, seed] of [
      ['old-a', 1],
      ['old-c', 3],
      ['new-d', 4],
    ] as const)
      assert.ok(bytes(back.get(k, E)!).equals(bytes(vec(seed))), k);
    await back.close();
  });

  it('the portable CRC-32 (for runtimes without zlib.crc32) agrees with zlib', () => {
    const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131) & 0xff));
    assert.equal(crc32Portable(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
    if (native) {
      assert.equal(crc32Portable(data), native(data));
      assert.equal(crc32Portable(data.subarray(100), crc32Portable(data.subarray(0, 100))), native(data));
    }
  });
});

describe('store damage: the JSON document and what the store says', () => {
  const open = (dir: string) => JsonStore.open(dir, new ManualClock(T0), path.join(root, 'backups'));

  const refusedDb = async (content: string) => {
    const dir = path.join(root, 'store');
    await fsp.mkdir(dir, { recursive: true });
    const db = path.join(dir, 'db.json');
    await fsp.writeFile(db, content);
    await assert.rejects(open(dir), (e: unknown) => {
      assert.ok(e instanceof DomainError, String(e));
      assert.equal(e.code, ErrorCodes.StoreCorrupt);
      assert.ok(e.message.includes(db), e.message);
      assert.match(e.message, /crew store restore/);
      return true;
    });
    assert.equal(await fsp.readFile(db, 'utf8'), content, 'db.json is byte-identical');
  };

  it('db.json holding null (or a list, or a number) is refused, not replaced; only a missing one is a new store', async () => {
    for (const content of ['null', '[]', '42']) await refusedDb(content);
    await fsp.rm(path.join(root, 'store', 'db.json'));
    const s = await open(path.join(root, 'store'));
    assert.deepEqual(await s.budgets.list(), []);
    await s.close();
  });

  it('db.json whose budgets are not whole budget records is refused', async () => {
    const doc = emptyDb(new Date(T0));
    await refusedDb(JSON.stringify({ ...doc, budgets: [{ id: 'b1', scope: 'global' }] }));
    await refusedDb(JSON.stringify({ ...doc, budgets: [null] }));
  });

  it('damage in a ledger segment: the message names the file, the line and the restore command', async () => {
    const dir = path.join(root, 'store');
    const s = await open(dir);
    await s.ledger.append(row());
    await s.ledger.append(row());
    await s.close();
    const segment = path.join(dir, 'ledger', '000001.jsonl');
    const db = await fsp.readFile(path.join(dir, 'db.json'));
    const before = await replaceLine(segment, 2, '{"i":2}');
    await assert.rejects(open(dir), (e: unknown) => {
      assert.ok(e instanceof DomainError);
      assert.equal(e.code, ErrorCodes.StoreCorrupt);
      assert.ok(e.message.includes(`${segment} line 2`), e.message);
      assert.match(e.message, /crew store restore <file>/);
      assert.ok(e.message.includes(path.join(root, 'backups')), 'says where the backups are');
      return true;
    });
    assert.ok((await fsp.readFile(segment)).equals(before));
    assert.ok((await fsp.readFile(path.join(dir, 'db.json'))).equals(db));
  });
});
