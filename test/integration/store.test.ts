/**
 * The store refuses what it cannot trust (a corrupt or newer db.json) without touching it and says what to do;
 * backup → change → restore brings the state back; verify checks it.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { ErrorCodes } from '../../protocol';
import type {
  BudgetSet,
  BudgetStatus,
  ChatComplete,
  LedgerList,
  StoreBackup,
  StoreRestore,
  StoreVerify,
} from '../../protocol';
import { emptyDb, SCHEMA_VERSION } from '../../server/store/schema';
import {
  launchServer,
  makeTempDir,
  pico,
  removeTempDir,
  rpcError,
  startServer,
  USER,
  useFake,
  useServer,
} from '../helpers';

async function refusedWith(dbContent: string): Promise<{ code: number | null; stderr: string; unchanged: boolean }> {
  const dataDir = makeTempDir();
  const db = path.join(dataDir, 'store', 'db.json');
  await fsp.mkdir(path.dirname(db), { recursive: true });
  await fsp.writeFile(db, dbContent);
  const before = await fsp.readFile(db);
  const server = await launchServer({ transport: 'socket', dataDir, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
  const exit = await server.exited;
  const after = await fsp.readFile(db);
  const lockLeft = existsSync(server.paths.lock);
  await removeTempDir(dataDir);
  assert.equal(lockLeft, false, 'a refused start releases the lock');
  return { code: exit.code, stderr: server.stderr, unchanged: before.equals(after) };
}

describe('store refuses what it cannot trust', function () {
  this.timeout(20_000);

  it('a corrupt db.json: non-zero exit, a message saying what to do, the file untouched', async () => {
    const r = await refusedWith('{"schemaVersion": 1, "budgets": [ {"id": "b1", "scope": "glo');
    assert.notEqual(r.code, 0);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /not valid JSON/);
    assert.match(r.stderr, /crew store restore/, 'tells how to restore');
    assert.match(r.stderr, /backups are in/, 'tells where backups are');
    assert.match(r.stderr, /left untouched/);
    assert.ok(r.unchanged, 'db.json must be byte-for-byte unchanged');
  });

  it('a db.json of the wrong shape is refused the same way', async () => {
    const r = await refusedWith(
      JSON.stringify({ schemaVersion: 1, budgets: {}, alerts: [], firedAlerts: [], webhooks: [] }),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /"budgets" is not a list/);
    assert.ok(r.unchanged);
  });

  it('a db.json of schemaVersion 99 is refused as newer, unchanged', async () => {
    const r = await refusedWith(
      JSON.stringify(
        {
          schemaVersion: 99,
          createdAt: '2030-01-01T00:00:00.000Z',
          budgets: [],
          alerts: [],
          firedAlerts: [],
          webhooks: [],
        },
        null,
        2,
      ),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /newer/);
    assert.match(r.stderr, /schema 99/);
    assert.match(r.stderr, /Update openrouter-crew/);
    assert.ok(r.unchanged);
  });
});

/** Starts a server on a data dir whose store holds `files` (relative to `<data dir>/store`); it must refuse. */
async function refusedWithFiles(
  files: Record<string, string>,
): Promise<{ code: number | null; stderr: string; unchanged: boolean; storeDir: string }> {
  const dataDir = makeTempDir();
  const storeDir = path.join(dataDir, 'store');
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(storeDir, rel)), { recursive: true });
    await fsp.writeFile(path.join(storeDir, rel), content);
  }
  const server = await launchServer({ transport: 'socket', dataDir, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
  const exit = await server.exited;
  let unchanged = true;
  for (const [rel, content] of Object.entries(files))
    unchanged &&= (await fsp.readFile(path.join(storeDir, rel), 'utf8')) === content;
  await removeTempDir(dataDir);
  return { code: exit.code, stderr: server.stderr, unchanged, storeDir };
}

describe('store refuses damage it would once have replaced or skipped', function () {
  this.timeout(20_000);

  it('a db.json holding null: exit 4, the file named, the restore command, the file untouched', async () => {
    const r = await refusedWithFiles({ 'db.json': 'null' });
    assert.equal(r.code, 4);
    assert.ok(r.stderr.includes(path.join(r.storeDir, 'db.json')), r.stderr);
    assert.match(r.stderr, /top level is null/);
    assert.match(r.stderr, /crew store restore/);
    assert.ok(r.unchanged, 'db.json must be byte-for-byte unchanged (not an empty store written over it)');
  });

  it('a ledger whose complete last line is of the wrong shape: exit 4 naming the file and line', async () => {
    const db = JSON.stringify(emptyDb(new Date('2026-03-01T00:00:00.000Z')));
    const ledger =
      '{"i":1,"t":1772323200000,"m":"openai/gpt-4o-mini","p":1,"o":2,"$":5,"d":"0.000000000005","l":3}\n' +
      '{"i":2,"t":1772323200001,"m":"openai/gpt-4o-mini","p":1,"o":2,"$":"x","d":"NaN","l":3}\n';
    const r = await refusedWithFiles({ 'db.json': db, 'ledger/000001.jsonl': ledger });
    assert.equal(r.code, 4);
    assert.ok(r.stderr.includes(`${path.join(r.storeDir, 'ledger', '000001.jsonl')} line 2`), r.stderr);
    assert.match(r.stderr, /crew store restore <file>/);
    assert.match(r.stderr, /backups are in/);
    assert.ok(r.unchanged, 'the ledger segment is left byte-identical (the line is not dropped)');
  });
});

describe('store/backup, store/restore, store/verify (socket)', function () {
  this.timeout(30_000);
  const up = useFake();
  const s = useServer(() => ({ transport: 'socket', upstreamUrl: up.fake.url }));

  const state = async () => ({
    budgets: (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status')).budgets,
    ledger: await s.client.request<LedgerList.Result>('ledger/list', { limit: 100 }),
  });

  it('verify is ok on a fresh store with data', async () => {
    await s.client.request<BudgetSet.Result>('budget/set', { scope: 'global', period: 'total', limitUsd: 1 });
    await s.client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('before the backup') });
    const v = await s.client.request<StoreVerify.Result>('store/verify');
    assert.equal(v.ok, true, JSON.stringify(v.checks));
    assert.equal(v.schemaVersion, SCHEMA_VERSION);
    assert.ok(v.checks.length >= 3 && v.checks.every((c) => c.ok));
    assert.match(v.checks.find((c) => c.name === 'ledger')!.detail, /1 entries/);
  });

  it('backup, change, restore: the state is back, and the replaced state was backed up', async () => {
    const saved = await state();
    const backup = await s.client.request<StoreBackup.Result>('store/backup', {});
    assert.ok(existsSync(backup.path));
    assert.equal(backup.ledgerEntries, 1);
    assert.equal((await fsp.stat(backup.path)).size, backup.bytes);
    assert.match(backup.sha256, /^[0-9a-f]{64}$/);

    // Change everything: a new budget, the old one deleted, more ledger rows.
    await s.client.request('budget/set', { scope: 'crew:later', period: 'daily', limitUsd: 9 });
    await s.client.request('budget/delete', { id: saved.budgets[0]!.id });
    await s.client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('after the backup') });
    await s.client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('after the backup, again') });
    const changed = await state();
    assert.notDeepEqual(changed, saved);
    assert.equal(changed.ledger.total, 3);

    const r = await s.client.request<StoreRestore.Result>('store/restore', { path: backup.path });
    assert.equal(r.restoredFrom, backup.path);
    assert.equal(r.ledgerEntries, 1);
    assert.equal(r.budgets, 1);
    assert.ok(existsSync(r.previousBackup), 'the state the restore replaced is kept as a backup');
    assert.deepEqual(await state(), saved, 'budgets (with their derived spend) and ledger are back');
    assert.equal((await s.client.request<StoreVerify.Result>('store/verify')).ok, true);

    // The server keeps working on the restored store: ids continue from the restored ledger.
    const next = await s.client.request<{ ledgerId: number }>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER('after restore'),
    });
    assert.equal(next.ledgerId, 2);

    // And the previous state can be restored in turn.
    await s.client.request('store/restore', { path: r.previousBackup });
    assert.deepEqual(await state(), changed);
  });

  it('a damaged backup is refused (BackupInvalid) and nothing changes', async () => {
    const before = await state();
    const bad = path.join(s.server.paths.backups, 'bad.backup');
    await fsp.mkdir(s.server.paths.backups, { recursive: true });
    await fsp.writeFile(bad, 'not a backup at all');
    const e = await rpcError(s.client.request('store/restore', { path: 'bad.backup' }), ErrorCodes.BackupInvalid);
    assert.match(e.message, /nothing was changed/);
    const missing = await rpcError(
      s.client.request('store/restore', { path: 'bad.backup.nope' }),
      ErrorCodes.BackupInvalid,
    );
    assert.match(missing.message, /no such file/);
    // A real backup with one byte flipped fails its checksum.
    const good = await s.client.request<StoreBackup.Result>('store/backup', { path: 'good.backup' });
    assert.equal(good.path, path.join(s.server.paths.backups, 'good.backup'));
    const { gunzipSync, gzipSync } = await import('node:zlib');
    const bundle = JSON.parse(gunzipSync(await fsp.readFile(good.path)).toString('utf8')) as {
      files: { path: string; base64: string }[];
    };
    const db = bundle.files.find((f) => f.path === 'db.json')!;
    db.base64 = Buffer.from(
      Buffer.from(db.base64, 'base64').toString('utf8').replace('"budgets"', '"budgetz"'),
    ).toString('base64');
    await fsp.writeFile(good.path, gzipSync(JSON.stringify(bundle)));
    const tampered = await rpcError(s.client.request('store/restore', { path: good.path }), ErrorCodes.BackupInvalid);
    assert.match(tampered.message, /checksum mismatch on db\.json/);
    assert.deepEqual(await state(), before);
  });
});

describe('store/backup and store/restore touch nothing outside <data dir>/backups (HTTP)', function () {
  this.timeout(30_000);
  const s = useServer(() => ({ transport: 'http', upstreamUrl: 'http://127.0.0.1:9/api/v1' }));

  it('a path elsewhere (absolute, .., a symbolic link out) is refused with -32602 naming path; no file is written', async () => {
    const outside = makeTempDir('crew-outside-');
    const victim = path.join(outside, 'victim.txt');
    await fsp.writeFile(victim, 'precious');
    const token = await fsp.readFile(s.server.paths.token, 'utf8');
    await fsp.mkdir(s.server.paths.backups, { recursive: true });
    await fsp.symlink(outside, path.join(s.server.paths.backups, 'link-out'));
    await fsp.symlink(victim, path.join(s.server.paths.backups, 'victim-link.backup'));
    for (const p of [
      victim,
      path.join(outside, 'new.backup'),
      '../token',
      '../../x.backup',
      'sub/../../escape.backup',
      'link-out/victim.txt',
      'link-out/new.backup',
      'victim-link.backup',
      s.server.paths.backups,
    ]) {
      const e = await rpcError(s.client.request('store/backup', { path: p }), ErrorCodes.InvalidParams);
      assert.ok(e.message.startsWith('path: '), e.message);
      assert.equal((e.data as { field: string }).field, 'path');
      assert.ok(e.message.includes(s.server.paths.backups), 'says where backups go');
    }
    assert.equal(await fsp.readFile(victim, 'utf8'), 'precious', 'the file outside was not overwritten');
    assert.deepEqual((await fsp.readdir(outside)).sort(), ['victim.txt'], 'nothing was created outside');
    assert.equal(await fsp.readFile(s.server.paths.token, 'utf8'), token, 'the HTTP token was not overwritten');
    await removeTempDir(outside);
  });

  it('store/restore reads only inside backups: probing another file is refused the same way, before any read', async () => {
    for (const p of ['/etc/hostname', '../token', path.join(s.server.dataDir, 'store', 'db.json')]) {
      const e = await rpcError(s.client.request('store/restore', { path: p }), ErrorCodes.InvalidParams);
      assert.ok(e.message.startsWith('path: '), e.message);
      assert.doesNotMatch(e.message, /no such file|not a gzip/, 'says nothing about the file it was pointed at');
    }
  });

  it('a bare name, a relative name inside, and the default all land in backups, and restore by name works', async () => {
    await s.client.request('budget/set', { scope: 'global', period: 'total', limitUsd: 3 });
    const named = await s.client.request<StoreBackup.Result>('store/backup', { path: 'mine.backup' });
    assert.equal(named.path, path.join(s.server.paths.backups, 'mine.backup'));
    const nested = await s.client.request<StoreBackup.Result>('store/backup', { path: 'weekly/./w1.backup' });
    assert.equal(nested.path, path.join(s.server.paths.backups, 'weekly', 'w1.backup'));
    const inside = await s.client.request<StoreBackup.Result>('store/backup', {
      path: path.join(s.server.paths.backups, 'abs.backup'),
    });
    assert.equal(inside.path, path.join(s.server.paths.backups, 'abs.backup'));
    const dflt = await s.client.request<StoreBackup.Result>('store/backup', {});
    assert.equal(path.dirname(dflt.path), s.server.paths.backups);
    await s.client.request('budget/set', { scope: 'crew:later', period: 'total', limitUsd: 4 });
    const r = await s.client.request<StoreRestore.Result>('store/restore', { path: 'mine.backup' });
    assert.equal(r.restoredFrom, named.path);
    assert.equal(r.budgets, 1);

    // Odd names inside the folder get a -32602 naming path too, never an internal error.
    for (const method of ['store/backup', 'store/restore'])
      for (const p of ['weekly', 'mine.backup/inner.backup', `${'x'.repeat(300)}.backup`]) {
        const e = await rpcError(s.client.request(method, { path: p }), ErrorCodes.InvalidParams);
        assert.ok(e.message.startsWith('path: '), `${method} ${p}: ${e.message}`);
      }
  });
});

describe('a restore with a call in flight (socket)', function () {
  this.timeout(30_000);
  const up = useFake();
  const s = useServer(() => ({ transport: 'socket', upstreamUrl: up.fake.url }));

  it("keeps the call's reservation, and the call settles cleanly afterwards", async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:inflight',
      period: 'total',
      limitUsd: 1,
    });
    const reserved = async () =>
      (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
    const backup = await s.client.request<StoreBackup.Result>('store/backup', {});
    up.fake.behave({ chunkDelayMs: 100, completionTokens: 10 });
    const call = s.client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o',
      messages: USER('slow one'),
      stream: true,
      maxTokens: 1000,
      progressToken: 'inflight',
      crew: 'inflight',
    });
    await s.client.notifications.waitFor('$/progress', (p: { token: unknown }) => p.token === 'inflight');
    const during = (await reserved()).reservedUsd;
    assert.ok(during > 0);
    await s.client.request('store/restore', { path: backup.path });
    assert.equal((await reserved()).reservedUsd, during, 'the in-flight reservation still holds after the restore');
    const r = await call;
    const after = await reserved();
    assert.equal(after.reservedUsd, 0, 'released exactly once, never negative');
    assert.equal(pico(after.spentUsd), pico(r.cost));
    assert.equal(pico(after.remainingUsd), pico(1) - pico(r.cost));
  });
});

describe('a restored store survives a restart', function () {
  this.timeout(30_000);
  const up = useFake();

  it('restart after a restore serves the restored state', async () => {
    const dataDir = makeTempDir();
    const a = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    await a.client.request('budget/set', { scope: 'crew:kept', period: 'total', limitUsd: 4 });
    const backup = await a.client.request<StoreBackup.Result>('store/backup', {});
    await a.client.request('budget/set', { scope: 'crew:dropped', period: 'total', limitUsd: 5 });
    await a.client.request('store/restore', { path: backup.path });
    assert.equal((await a.server.stop()).code, 0);
    const b = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const budgets = (await b.client.request<{ budgets: BudgetStatus[] }>('budget/status')).budgets;
    assert.deepEqual(
      budgets.map((x) => x.scope),
      ['crew:kept'],
    );
    assert.equal((await b.server.stop()).code, 0);
    await removeTempDir(dataDir);
  });
});
