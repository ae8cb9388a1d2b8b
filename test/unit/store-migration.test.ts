import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../server/clock';
import { readBackup } from '../../server/store/backup';
import { JsonStore } from '../../server/store/json-store';
import { checkShape, emptyDb, migrate, MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../server/store/schema';

/** A document as schema 1 had it (before the archives index and the crews). */
function v1Doc(): Record<string, unknown> {
  const { archives: _archives, crews: _crews, ...rest } = emptyDb(new Date(0));
  return { ...rest, schemaVersion: 1 };
}

describe('store migrations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-migrate-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  // Schema 2's real change (the archives list) plus a marker, so the test can see this migration ran.
  const addNote: Migration = { to: 2, describe: 'add a note', up: (d) => ({ ...d, archives: [], note: 'migrated' }) };

  it('runs steps in order and refuses a gap', () => {
    const v1 = v1Doc();
    const toV3: Migration = { to: 3, describe: 'rename', up: (d) => ({ ...d, note: `${String(d.note)}!` }) };
    assert.deepEqual(migrate(v1, [toV3, addNote], 3).note, 'migrated!');
    assert.equal(migrate(v1, [toV3, addNote], 3).schemaVersion, 3);
    assert.throws(() => migrate(v1, [toV3], 3), /no migration from schema 1 to 2/);
  });

  it('the real migration to schema 2 adds the archives index', () => {
    const v2 = migrate(v1Doc(), MIGRATIONS, 2);
    assert.equal(v2.schemaVersion, 2);
    assert.deepEqual(v2.archives, []);
  });

  it('the real migrations bring schema 1 to the current version, adding the crews list', () => {
    const current = migrate(v1Doc());
    assert.equal(current.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(current.archives, []);
    assert.deepEqual(current.crews, []);
    assert.equal(checkShape(current), undefined);
    assert.match(checkShape({ ...current, crews: undefined }) ?? '', /"crews" is not a list/);
  });

  it('takes a backup of the old store before migrating, then writes the new version', async () => {
    const storeDir = path.join(dir, 'store');
    const backups = path.join(dir, 'backups');
    await fsp.mkdir(storeDir, { recursive: true });
    const before = JSON.stringify(v1Doc());
    await fsp.writeFile(path.join(storeDir, 'db.json'), before);

    const store = await JsonStore.open(storeDir, new ManualClock(Date.UTC(2026, 0, 1)), backups, undefined, {
      version: 2,
      migrations: [addNote],
    });
    await store.close();

    const after = JSON.parse(await fsp.readFile(path.join(storeDir, 'db.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(after.schemaVersion, 2);
    assert.equal(after.note, 'migrated');
    const [file] = await fsp.readdir(backups);
    assert.match(file!, /^pre-migration-v1-/);
    const bundle = await readBackup(path.join(backups, file!));
    const saved = bundle.files.find((f) => f.path === 'db.json')!;
    assert.equal(Buffer.from(saved.base64, 'base64').toString('utf8'), before);
  });

  it('a failing migration leaves the file untouched and says where the backup is', async () => {
    const storeDir = path.join(dir, 'store');
    await fsp.mkdir(storeDir, { recursive: true });
    const before = JSON.stringify(v1Doc());
    await fsp.writeFile(path.join(storeDir, 'db.json'), before);
    const broken: Migration = {
      to: 2,
      describe: 'boom',
      up: () => {
        throw new Error('boom');
      },
    };
    await assert.rejects(
      JsonStore.open(storeDir, new ManualClock(0), path.join(dir, 'backups'), undefined, {
        version: 2,
        migrations: [broken],
      }),
      /cannot upgrade .* from schema 1 to 2: boom; nothing was changed \(a backup is at /,
    );
    assert.equal(await fsp.readFile(path.join(storeDir, 'db.json'), 'utf8'), before);
  });
});
