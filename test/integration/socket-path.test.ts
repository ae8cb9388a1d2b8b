/**
 * The daemon's socket never sits where another user could squat it. A data dir too long for a socket path puts its
 * socket in the user's private socket folder (`<temp>/openrouter-crew-<uid>/`, created 0700), not directly in the
 * shared temp dir: a folder squatting the old `/tmp/openrouter-crew-<hash>.sock` name stops nothing, and a private
 * folder that is not private (wrong mode, a symbolic link) is refused with a message saying what is wrong.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { launchServer, makeTempDir, removeTempDir, startServer } from '../helpers';

const uid = process.getuid?.() ?? 0;

/** A data dir whose `crew.sock` would not fit in a socket path, and a temp dir of the test's own. */
async function longDataDir(): Promise<{ tmp: string; dataDir: string; env: Record<string, string | undefined> }> {
  const tmp = makeTempDir('crew-sockdir-');
  const dataDir = path.join(tmp, 'a-data-directory-whose-path-is-long'.repeat(3));
  await fsp.mkdir(dataDir, { recursive: true });
  // TMPDIR decides os.tmpdir(); without XDG_RUNTIME_DIR the private folder is <temp>/openrouter-crew-<uid>.
  return { tmp, dataDir, env: { TMPDIR: tmp, XDG_RUNTIME_DIR: undefined } };
}

const hashOf = (dataDir: string) => createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);

describe('socket path: a per-user private folder, checked (unix)', function () {
  this.timeout(30_000);
  if (process.platform === 'win32') return;

  it('a folder squatting the old shared name changes nothing: the socket is in a fresh 0700 folder of ours', async () => {
    const { tmp, dataDir, env } = await longDataDir();
    await fsp.mkdir(path.join(tmp, `openrouter-crew-${hashOf(dataDir)}.sock`));
    const s = await startServer({ transport: 'http', dataDir, env, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    const d = await s.server.discovery();
    const dir = path.join(tmp, `openrouter-crew-${uid}`);
    assert.equal(d.socket, path.join(dir, `${hashOf(dataDir)}.sock`));
    const st = await fsp.lstat(dir);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, uid);
    assert.equal((await s.server.stop()).code, 0);
    await removeTempDir(tmp);
  });

  for (const [what, make, expect] of [
    [
      'a private folder with mode 0777',
      (dir: string) => fsp.mkdir(dir, { mode: 0o777 }).then(() => fsp.chmod(dir, 0o777)),
      /has mode 0777, not 0700/,
    ],
    [
      'a symbolic link as the private folder',
      async (dir: string, tmp: string) => {
        await fsp.mkdir(path.join(tmp, 'elsewhere'), { mode: 0o700 });
        await fsp.symlink(path.join(tmp, 'elsewhere'), dir);
      },
      /is a symbolic link/,
    ],
    ['a file as the private folder', (dir: string) => fsp.writeFile(dir, ''), /is not a folder/],
  ] as const)
    it(`${what} is refused: exit 5, the folder named, what is wrong and what to do`, async () => {
      const { tmp, dataDir, env } = await longDataDir();
      const dir = path.join(tmp, `openrouter-crew-${uid}`);
      await make(dir, tmp);
      const server = await launchServer({ transport: 'http', dataDir, env, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
      const exit = await server.exited;
      assert.equal(exit.code, 5, server.stderr);
      assert.ok(server.stderr.includes(`the socket folder ${dir} `), server.stderr);
      assert.match(server.stderr, expect);
      assert.match(server.stderr, /another user could take over/);
      assert.match(server.stderr, /--socket <path>/);
      await removeTempDir(tmp);
    });

  it('something that is not a socket at the socket path itself is refused, not removed', async () => {
    const dataDir = makeTempDir('crew-sockpath-');
    await fsp.mkdir(path.join(dataDir, 'crew.sock'));
    const server = await launchServer({ transport: 'http', dataDir, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    const exit = await server.exited;
    assert.equal(exit.code, 5, server.stderr);
    assert.match(server.stderr, /crew\.sock is a folder, not a socket/);
    assert.ok((await fsp.lstat(path.join(dataDir, 'crew.sock'))).isDirectory(), 'left in place');
    await removeTempDir(dataDir);
  });
});
