// copyStore on real stores: a local store with the awkward cases (cost text as received, estimated rows, errors,
// fractional latency, vectors with NaN payloads, -0 and denormals, an archive payload) into a fresh PostgreSQL
// database and back into a new local store, verified both ways; a database ledger with id gaps comes back in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../server/clock';
import { FileArchivePayloads } from '../../server/store/archive-payloads';
import { copyStore, TargetNotEmpty, type PayloadsOf } from '../../server/store/copy';
import { JsonStore } from '../../server/store/json-store';
import { parseStoreLocation } from '../../server/store/location';
import { openPgStore, type PgStore } from '../../server/store/postgres/pg-store';
import type { NewLedgerRow } from '../../server/store/repositories';
import type { CrewStore } from '../../server/store/store';
import { createTestDatabase } from '../helpers/postgres';
import { quietLog } from './backends';

const T0 = Date.UTC(2026, 0, 15, 12);

describe('store copy (local ⇄ PostgreSQL, row for row)', function () {
  this.timeout(60_000);
  const clock = new ManualClock(T0);
  const dirs: string[] = [];
  const dbs: { drop(): Promise<void> }[] = [];
  const open: CrewStore[] = [];

  const payloads: PayloadsOf = (s) => s.archivePayloads ?? new FileArchivePayloads(path.join(s.local!.dir, 'archives'));
  const local = async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'crew-copy-'));
    dirs.push(dir);
    const s = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'), quietLog);
    open.push(s);
    return s;
  };
  const reopenLocal = async (s: CrewStore) => {
    await s.close();
    const again = await JsonStore.open(s.local!.dir, clock, path.join(s.local!.dir, '..', 'backups'), quietLog);
    open.push(again);
    return again;
  };
  const database = async () => {
    const db = await createTestDatabase('crew_copy_unit');
    dbs.push(db);
    const loc = parseStoreLocation(db.url, '/unused');
    if (loc.kind !== 'postgres') throw new Error('not postgres');
    const openIt = async () => {
      const s = await openPgStore(loc, clock, quietLog);
      open.push(s);
      return s;
    };
    return { store: await openIt(), reopen: async (s: CrewStore) => (await s.close(), openIt()) };
  };

  after(async () => {
    for (const s of open) await s.close().catch(() => undefined);
    for (const db of dbs) await db.drop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const row = (over: Partial<NewLedgerRow>): NewLedgerRow => ({
    ts: T0,
    model: 'openai/gpt-4o-mini',
    crew: 'alpha',
    // As callers write it (the local ledger reads an agent back as `<crew>/<agent>` whatever was written).
    agent: 'alpha/scout',
    tags: [],
    promptTokens: 10,
    completionTokens: 5,
    cachedTokens: 0,
    reasoningTokens: 0,
    costPico: 1_000_000,
    cost: '0.000001',
    estimated: false,
    generationId: null,
    latencyMs: 12,
    status: 'ok',
    stream: false,
    ...over,
  });

  it('local → PostgreSQL → local keeps every row, cost text, flag and vector bit', async () => {
    const src = await local();
    await src.budgets.put({
      id: 'b1',
      scope: 'crew:alpha',
      period: 'monthly',
      limit: '0.000005',
      action: 'block',
      downgradeTo: null,
      thresholds: [50, 100],
      alertsEnabled: true,
      weekStart: 1,
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    await src.ledger.append(row({ cost: '0.000001000', tags: ['a', 'b'], latencyMs: 12.4 }));
    await src.ledger.append(
      row({ ts: T0 + 1, estimated: true, generationId: 'gen-1', costPico: 2_500_000, cost: '0.0000025' }),
    );
    await src.ledger.append(row({ ts: T0 + 2, status: 'error', costPico: 0, cost: '0', crew: null, agent: null }));
    await src.alerts.markFired('b1:2026-01:50');
    const words = new Float32Array(4);
    new DataView(words.buffer).setUint32(0, 0x7fc00123, true); // a NaN with a payload
    words[1] = -0;
    words[2] = 1e-45; // a denormal
    words[3] = 0.1;
    await src.memories.put([
      {
        id: 'm1',
        crew: 'alpha',
        agent: null,
        content: 'lone \ud800 surrogate and \u0000 nul',
        kind: 'note',
        tags: [],
        importance: 0.5,
        pinned: false,
        expiresAt: null,
        createdAt: T0,
        updatedAt: T0,
        contentHash: 'h',
        history: [
          { version: 1, at: new Date(T0).toISOString(), change: 'created', previous: {}, note: null },
          { version: 2, at: new Date(T0).toISOString(), change: 'updated', previous: { content: 'before' }, note: 'x' },
        ],
      },
    ]);
    await src.vectors.put([{ id: 'm1', embedderId: 'hash-4', vector: words }]);
    src.access.record([{ id: 'm1', crew: 'alpha', at: T0 }]);
    await src.access.flush();
    const bytes = Buffer.from('archive bytes');
    const sha = createHash('sha256').update(bytes).digest('hex');
    await payloads(src).write(sha, bytes);

    const pg = await database();
    const { report, target } = await copyStore({ source: src, target: pg.store, payloads, reopen: pg.reopen });
    assert.equal(report.verified, true, JSON.stringify(report.kinds.filter((k) => !k.match)));
    assert.equal(report.ledger.idsKept, true);
    assert.equal(report.ledger.sourcePico, '3500000');
    const copied = await target.ledger.list({ limit: 10 });
    assert.deepEqual(
      copied.rows.map((r) => [r.id, r.cost, r.estimated, r.generationId, r.status, r.latencyMs]),
      [
        [3, '0', false, null, 'error', 12],
        [2, '0.0000025', true, 'gen-1', 'ok', 12],
        [1, '0.000001000', false, null, 'ok', 12],
      ],
    );
    const v = target.vectors.get('m1', 'hash-4')!;
    assert.deepEqual(Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(words.buffer));
    assert.deepEqual(await target.alerts.firedKeys(), ['b1:2026-01:50']);
    assert.deepEqual(target.access.counters('m1'), { count: 1, last: T0 });
    // The counters derive from the copied ledger: the crew budget has spent exactly what its rows cost.
    const status = await (target as PgStore).db.query<{ f: { spent: string }[] }>(
      'select crew_figures($1, null) as f',
      [T0 + 10],
    );
    assert.equal(status[0]!.f[0]!.spent, '3500000');
    // The next call the database settles gets the next id.
    const next = await target.ledger.append(row({ ts: T0 + 3 }));
    assert.equal(next.id, 4);

    const back = await local();
    const again = await copyStore({ source: target, target: back, payloads, reopen: reopenLocal });
    assert.equal(again.report.verified, true, JSON.stringify(again.report.kinds.filter((k) => !k.match)));
    assert.equal(again.report.ledger.rows, 4);
  });

  it('refuses a target that is not empty before writing anything', async () => {
    const src = await local();
    await src.ledger.append(row({}));
    const dst = await local();
    await dst.crews.put({ id: 'c1', name: 'x', description: '', agents: [], createdAt: '', updatedAt: '' });
    await assert.rejects(
      copyStore({ source: src, target: dst, payloads, reopen: reopenLocal }),
      (e: unknown) => e instanceof TargetNotEmpty && /1 crews/.test(e.message),
    );
    assert.equal(await dst.ledger.count(), 0);
  });

  it('a database ledger with id gaps comes into a local store in order, renumbered', async () => {
    const pg = await database();
    await pg.store.ledger.append(row({ ts: T0 }));
    await pg.store.ledger.append(row({ ts: T0 + 1, cost: '0.000002', costPico: 2_000_000 }));
    await pg.store.ledger.append(row({ ts: T0 + 2, cost: '0.000003', costPico: 3_000_000 }));
    await pg.store.db.query('delete from crew_ledger where id = 2');
    const dst = await local();
    const { report, target } = await copyStore({ source: pg.store, target: dst, payloads, reopen: reopenLocal });
    assert.equal(report.verified, true);
    assert.equal(report.ledger.idsKept, false);
    const rows = (await target.ledger.list({ limit: 10 })).rows;
    assert.deepEqual(
      rows.map((r) => [r.id, r.cost]),
      [
        [2, '0.000003'],
        [1, '0.000001'],
      ],
    );
  });
});
