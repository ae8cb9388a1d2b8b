/**
 * Where the daemon's socket goes must be this user's alone. A socket that does not fit in the data directory lives
 * in a per-user folder (protocol/node privateSocketDir); that folder is created 0700, and an existing one must be a
 * real folder (not a symbolic link) owned by this user with mode 0700, or the server refuses to start and says
 * what is wrong. Whatever sits at the socket's own path must be a socket (left by an earlier run), never a file or
 * folder someone put there.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export class SocketPathUnsafe extends Error {}

/** Creates `dir` 0700 if missing; otherwise checks it is a folder of `uid`'s with mode 0700 (lstat, no links). */
export async function ensurePrivateDir(dir: string, uid: number | undefined = process.getuid?.()): Promise<void> {
  if (process.platform === 'win32' || uid === undefined) return;
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new SocketPathUnsafe(`cannot create the socket folder ${dir}: its parent does not exist`);
    if (code !== 'EEXIST') throw e;
  }
  const st = await fsp.lstat(dir);
  const unsafe = (problem: string) =>
    new SocketPathUnsafe(
      `the socket folder ${dir} ${problem}, so another user could take over or listen in on the connection; ` +
        `nothing was started. If it is yours, remove it (rm -r ${dir}) and start again; or pass --socket <path> ` +
        `in a folder only you can write, or use a shorter --data-dir (the socket then goes inside it)`,
    );
  if (st.isSymbolicLink()) throw unsafe('is a symbolic link');
  if (!st.isDirectory()) throw unsafe('is not a folder');
  if (st.uid !== uid) throw unsafe(`belongs to uid ${st.uid}, not to you (uid ${uid})`);
  const mode = st.mode & 0o777;
  if (mode !== 0o700) throw unsafe(`has mode ${mode.toString(8).padStart(4, '0')}, not 0700`);
}

/** Refuses a socket path where something other than a socket (a file, a folder, a link) is in the way. */
export async function checkSocketPath(socket: string): Promise<void> {
  if (process.platform === 'win32') return;
  let st;
  try {
    st = await fsp.lstat(socket);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (st.isSocket()) return; // left by an earlier run; listening replaces it
  const what = st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : 'a file';
  throw new SocketPathUnsafe(
    `${socket} is ${what}, not a socket; nothing was started. Remove it if it is yours ` +
      `(rm -r ${socket}), or pass --socket <path> elsewhere`,
  );
}

/** The checks for the socket at `socket`: its private folder (when it is the per-user one), then the path itself. */
export async function prepareSocketPath(socket: string, privateDir: string): Promise<void> {
  if (path.dirname(path.resolve(socket)) === path.resolve(privateDir)) await ensurePrivateDir(privateDir);
  await checkSocketPath(socket);
}
