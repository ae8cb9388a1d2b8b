/** The checks of the daemon's private socket folder (server/daemon/socket-dir.ts) that need another user to fail. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { privateSocketDir } from '../../protocol/node';
import { ensurePrivateDir, SocketPathUnsafe } from '../../server/daemon/socket-dir';

describe('private socket folder', () => {
  if (process.platform === 'win32') return;
  let tmp: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-sockdir-'));
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  it('is created 0700, accepted when it is ours and 0700, refused when it belongs to someone else', async () => {
    const dir = path.join(tmp, 'openrouter-crew-x');
    const me = process.getuid!();
    await ensurePrivateDir(dir, me);
    assert.equal((await fsp.lstat(dir)).mode & 0o777, 0o700);
    await ensurePrivateDir(dir, me); // again: it exists and is fine
    await assert.rejects(ensurePrivateDir(dir, me + 1), (e: unknown) => {
      assert.ok(e instanceof SocketPathUnsafe);
      assert.match(e.message, new RegExp(`belongs to uid ${me}, not to you \\(uid ${me + 1}\\)`));
      return true;
    });
  });

  it('lives in $XDG_RUNTIME_DIR when set, else in the temp dir under the uid, never a shared name', () => {
    assert.equal(privateSocketDir({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/openrouter-crew');
    assert.equal(privateSocketDir({}), path.join(os.tmpdir(), `openrouter-crew-${process.getuid!()}`));
    assert.equal(privateSocketDir({ XDG_RUNTIME_DIR: 'relative' }), privateSocketDir({}));
  });
});
