/**
 * "A write is acknowledged only after it is on disk", made visible: the store's file layer (server/store/fs-layer.ts)
 * is replaced by one that records every open (with its flags), write, fsync/fdatasync and rename, and each test
 * checks that before an acknowledgement (the promise resolving) the bytes were written to a file opened O_DSYNC or
 * fsynced after the write, that a replaced file was fsynced before its rename and its folder after it, and that a
 * new file's folder was synced. Dropping the O_DSYNC flag, an fsync or a folder sync makes these fail.
 */
import assert from 'node:assert/strict';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../server/clock';
import { DSYNC } from '../../server/store/append-io';
import { writeDurably } from '../../server/store/durable-file';
import { type FileLayer, nodeFileLayer, useFileLayer } from '../../server/store/fs-layer';
import { JsonStore } from '../../server/store/json-store';
import { FileLedger } from '../../server/store/ledger/file-ledger';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import { FileMemoryRepository } from '../../server/store/memory/memory-log';
import { FileVectorRepository } from '../../server/store/memory/vector-file';
import type { BudgetRecord, MemoryRecord, NewLedgerRow } from '../../server/store/repositories';

type Event =
  | { op: 'open'; fd: number; file: string; flags: number }
  | { op: 'write'; fd: number; file: string; bytes: number }
  | { op: 'fsync' | 'fdatasync' | 'close'; fd: number; file: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'ack'; what: string };

/** A file layer that does the real thing and records it, each call once it has completed. */
class RecordingLayer implements FileLayer {
  readonly events: Event[] = [];
  private readonly names = new Map<number, string>();
  private readonly real = nodeFileLayer;

  private name(fd: number): string {
    return this.names.get(fd) ?? `fd ${fd}`;
  }
  private opened(file: string, flags: number, fd: number): number {
    this.names.set(fd, path.resolve(file));
    this.events.push({ op: 'open', fd, file: path.resolve(file), flags });
    return fd;
  }
  openSync(file: string, flags: number, mode?: number): number {
    return this.opened(file, flags, this.real.openSync(file, flags, mode));
  }
  async open(file: string, flags: number, mode?: number): Promise<number> {
    return this.opened(file, flags, await this.real.open(file, flags, mode));
  }
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number): number {
    const n = this.real.writeSync(fd, buf, offset, length);
    this.events.push({ op: 'write', fd, file: this.name(fd), bytes: n });
    return n;
  }
  async write(fd: number, buf: Uint8Array, offset: number, length: number): Promise<number> {
    const n = await this.real.write(fd, buf, offset, length);
    this.events.push({ op: 'write', fd, file: this.name(fd), bytes: n });
    return n;
  }
  fsyncSync(fd: number): void {
    this.real.fsyncSync(fd);
    this.events.push({ op: 'fsync', fd, file: this.name(fd) });
  }
  async fsync(fd: number): Promise<void> {
    await this.real.fsync(fd);
    this.events.push({ op: 'fsync', fd, file: this.name(fd) });
  }
  async fdatasync(fd: number): Promise<void> {
    await this.real.fdatasync(fd);
    this.events.push({ op: 'fdatasync', fd, file: this.name(fd) });
  }
  ftruncateSync(fd: number, length: number): void {
    this.real.ftruncateSync(fd, length);
  }
  closeSync(fd: number): void {
    this.real.closeSync(fd);
    this.events.push({ op: 'close', fd, file: this.name(fd) });
  }
  async close(fd: number): Promise<void> {
    await this.real.close(fd);
    this.events.push({ op: 'close', fd, file: this.name(fd) });
  }
  async rename(from: string, to: string): Promise<void> {
    await this.real.rename(from, to);
    this.events.push({ op: 'rename', from: path.resolve(from), to: path.resolve(to) });
  }

  /** Marks the moment `promise` resolves: everything recorded before the mark happened before the ack. */
  async acked<T>(what: string, promise: Promise<T>): Promise<T> {
    const v = await promise;
    this.events.push({ op: 'ack', what });
    return v;
  }

  ackIndex(what: string): number {
    const i = this.events.findIndex((e) => e.op === 'ack' && e.what === what);
    assert.ok(i >= 0, `no ack "${what}"`);
    return i;
  }

  /**
   * Asserts that every byte written to `file` before the ack `what` was durable before it: the write went to a
   * descriptor opened with O_DSYNC, or an fsync/fdatasync of that descriptor followed it (still before the ack).
   */
  assertDurableBeforeAck(file: string, what: string): void {
    const ack = this.ackIndex(what);
    const target = path.resolve(file);
    const writes = this.events
      .slice(0, ack)
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => e.op === 'write' && e.file === target);
    assert.ok(writes.length > 0, `nothing was written to ${path.basename(file)} before "${what}" was acknowledged`);
    for (const { e, i } of writes) {
      const fd = (e as { fd: number }).fd;
      const open = this.lastOpenBefore(fd, i);
      const dsync = DSYNC !== undefined && (open.flags & DSYNC) === DSYNC;
      const synced = this.events
        .slice(i + 1, ack)
        .some((x) => (x.op === 'fsync' || x.op === 'fdatasync') && x.fd === fd);
      assert.ok(
        dsync || synced,
        `a write to ${path.basename(file)} was acknowledged ("${what}") without O_DSYNC or an fsync after it`,
      );
    }
  }

  private lastOpenBefore(fd: number, before: number): { flags: number } {
    for (let i = before; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.op === 'open' && e.fd === fd) return e;
    }
    assert.fail(`fd ${fd} was not opened through the file layer`);
  }

  /** Asserts the folder `dir` was fsynced after event index `after` and before the ack `what`. */
  assertDirSynced(dir: string, after: number, what: string): void {
    const ack = this.ackIndex(what);
    const d = path.resolve(dir);
    const ok = this.events.slice(after + 1, ack).some((e) => e.op === 'fsync' && e.file === d);
    assert.ok(ok, `${dir} was not fsynced between event ${after} and the ack "${what}"`);
  }

  indexOf(pred: (e: Event) => boolean, from = 0): number {
    const i = this.events.findIndex((e, k) => k >= from && pred(e));
    assert.ok(i >= 0, 'no such event');
    return i;
  }

  /**
   * Asserts the atomic replace of `file`: a temp file written and fsynced, renamed over `file`, then the folder
   * fsynced, all before the ack `what`.
   */
  assertReplacedDurably(file: string, what: string): void {
    const target = path.resolve(file);
    const ack = this.ackIndex(what);
    let rename = -1;
    for (let i = ack - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.op === 'rename' && e.to === target) {
        rename = i;
        break;
      }
    }
    assert.ok(rename >= 0, `${path.basename(file)} was not renamed into place before "${what}"`);
    const tmp = (this.events[rename] as { from: string }).from;
    const lastWrite = this.events.slice(0, rename).findLastIndex((e) => e.op === 'write' && e.file === tmp);
    assert.ok(lastWrite >= 0, `nothing was written to the temp file of ${path.basename(file)}`);
    const syncAfterWrite = this.events.slice(lastWrite + 1, rename).some((e) => e.op === 'fsync' && e.file === tmp);
    assert.ok(syncAfterWrite, `the temp file of ${path.basename(file)} was not fsynced before its rename`);
    this.assertDirSynced(path.dirname(target), rename, what);
  }
}

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const row = (over: Partial<NewLedgerRow> = {}): NewLedgerRow => ({
  ts: T0,
  model: 'openai/gpt-4o-mini',
  crew: null,
  agent: null,
  tags: [],
  promptTokens: 10,
  completionTokens: 20,
  cachedTokens: 0,
  reasoningTokens: 0,
  costPico: 1_234_567,
  cost: '0.000001234567',
  estimated: true,
  generationId: null,
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
  tags: [],
  importance: 0.5,
  pinned: false,
  expiresAt: null,
  createdAt: T0,
  updatedAt: T0,
  contentHash: `hash-${id}`,
  history: [{ version: 1, at: new Date(T0).toISOString(), change: 'created', previous: {}, note: null }],
});

describe('durability is observable: acknowledged writes are on disk (recording file layer)', () => {
  let root: string;
  let rec: RecordingLayer;
  let restore: () => void;
  beforeEach(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-durable-'));
    rec = new RecordingLayer();
    restore = useFileLayer(rec);
  });
  afterEach(async () => {
    restore();
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('this platform has O_DSYNC (the appends rely on it; without it they fdatasync)', () => {
    assert.equal(typeof DSYNC, process.platform === 'win32' ? 'undefined' : 'number');
  });

  it('ledger: a grouped append, an alone append and a cost correction are durable before they resolve', async () => {
    const dir = path.join(root, 'ledger');
    const ledger = await FileLedger.open(dir);
    const seg = path.join(dir, '000001.jsonl');
    const a = await rec.acked(
      'grouped',
      Promise.all([ledger.append(row()), ledger.append(row({ ts: T0 + 1 }))]).then(([x]) => x),
    );
    rec.assertDurableBeforeAck(seg, 'grouped');
    // The segment was created by that append: its name must be durable too (the folder synced).
    rec.assertDirSynced(
      dir,
      rec.indexOf((e) => e.op === 'open' && e.file === seg),
      'grouped',
    );

    await rec.acked('alone', ledger.append(row({ ts: T0 + 2 }), { alone: true }));
    rec.assertDurableBeforeAck(seg, 'alone');
    const writesBefore = rec.events.filter((e) => e.op === 'write').length;
    await rec.acked('settle', ledger.settleCost(a.id, 2_000_000, '0.000002'));
    assert.ok(rec.events.filter((e) => e.op === 'write').length > writesBefore, 'the correction was written');
    rec.assertDurableBeforeAck(seg, 'settle');
    await ledger.close();
  });

  it('memory log: a put is durable before it resolves (and the new segment folder synced); so is a compaction', async () => {
    const dir = path.join(root, 'memory');
    const repo = await FileMemoryRepository.open(dir);
    const seg = path.join(dir, 'log-000001.jsonl');
    await rec.acked('put', repo.put([mem('m1')]));
    rec.assertDurableBeforeAck(seg, 'put');
    rec.assertDirSynced(
      dir,
      rec.indexOf((e) => e.op === 'open' && e.file === seg),
      'put',
    );
    await rec.acked('alone', repo.put([mem('m2')], { alone: true }));
    rec.assertDurableBeforeAck(seg, 'alone');
    await rec.acked('delete', repo.delete(['m1']));
    rec.assertDurableBeforeAck(seg, 'delete');
    await rec.acked('compact', repo.compact());
    rec.assertReplacedDurably(path.join(dir, 'snapshot.jsonl'), 'compact');
    await repo.close();
  });

  it('vectors: a put is durable before it resolves; a compaction is fsynced, renamed, folder synced', async () => {
    const dir = path.join(root, 'vectors');
    const repo = await FileVectorRepository.open(dir);
    const E = 'local:hash@8';
    await rec.acked('put', repo.put([{ id: 'a', embedderId: E, vector: new Float32Array(8).fill(0.5) }]));
    const seg = rec.events.find((e) => e.op === 'open' && e.file.endsWith('.000001.vec')) as { file: string };
    rec.assertDurableBeforeAck(seg.file, 'put');
    rec.assertDirSynced(
      dir,
      rec.indexOf((e) => e.op === 'open' && e.file === seg.file),
      'put',
    );
    await rec.acked('compact', repo.compact());
    const base = (rec.events.findLast((e) => e.op === 'rename') as { to: string }).to;
    rec.assertReplacedDurably(base, 'compact');
    await repo.close();
  });

  it('access journal: flush resolves once the journal is durable; a snapshot replaces access.json durably', async () => {
    const dir = path.join(root, 'access');
    const repo = await FileAccessRepository.open(dir);
    repo.record([{ id: 'm1', crew: 'a', at: T0 }]);
    await rec.acked('flush', repo.flush());
    rec.assertDurableBeforeAck(path.join(dir, 'journal-000001.jsonl'), 'flush');
    await rec.acked('snapshot', repo.snapshot());
    rec.assertReplacedDurably(path.join(dir, 'access.json'), 'snapshot');
    await repo.close();
  });

  it('db.json (budgets) and side files are replaced durably: temp fsynced, renamed, folder fsynced', async () => {
    const dir = path.join(root, 'store');
    const store = await JsonStore.open(dir, new ManualClock(T0), path.join(root, 'backups'));
    const budget: BudgetRecord = {
      id: 'b1',
      scope: 'global',
      period: 'total',
      limit: '5',
      action: 'block',
      downgradeTo: null,
      thresholds: [0.8],
      alertsEnabled: true,
      weekStart: 1,
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    };
    await rec.acked('budget', store.budgets.put(budget));
    rec.assertReplacedDurably(path.join(dir, 'db.json'), 'budget');
    await rec.acked('ledger', store.ledger.append(row()));
    rec.assertDurableBeforeAck(path.join(dir, 'ledger', '000001.jsonl'), 'ledger');
    const file = path.join(root, 'side.json');
    await rec.acked('side', writeDurably(file, '{"x":1}'));
    rec.assertReplacedDurably(file, 'side');
    await store.close();
  });

  it('ledger: a write that fails halfway is cut back off the file, and later writes are refused until a reopen', async () => {
    const dir = path.join(root, 'ledger');
    const ledger = await FileLedger.open(dir);
    const seg = path.join(dir, '000001.jsonl');
    await ledger.append(row());
    const good = await fsp.readFile(seg);
    // The disk fills up in the middle of the next write: half the bytes land, then ENOSPC.
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const failing = Object.assign(Object.create(rec) as FileLayer, {
      write: async (fd: number, buf: Uint8Array, offset: number, length: number) => {
        await rec.write(fd, buf, offset, Math.ceil(length / 2));
        throw enospc();
      },
      writeSync: () => {
        throw enospc();
      },
    });
    const undo = useFileLayer(failing);
    try {
      await assert.rejects(ledger.append(row({ ts: T0 + 1 })), /ENOSPC/);
    } finally {
      undo();
    }
    assert.ok((await fsp.readFile(seg)).equals(good), 'no partial line is left in the segment');
    await assert.rejects(ledger.append(row({ ts: T0 + 2 })), /restart the server/);
    await assert.rejects(ledger.settleCost(1, 5, '0.000000000005'), /restart the server/);
    await ledger.close();
    const back = await FileLedger.open(dir);
    assert.equal(back.count(), 1);
    assert.equal((await back.append(row({ ts: T0 + 3 }))).id, 2, 'ids go on from what is on disk');
    await back.close();
  });

  it('the recording layer sees a write that skips the sync (the check itself can fail)', async () => {
    // A plain write through the layer with neither O_DSYNC nor an fsync must be caught by the assertion.
    const file = path.join(root, 'plain.txt');
    const fd = await rec.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
    await rec.acked('plain', rec.write(fd, Buffer.from('x'), 0, 1));
    await rec.close(fd);
    assert.throws(() => rec.assertDurableBeforeAck(file, 'plain'), /without O_DSYNC or an fsync/);
  });
});
