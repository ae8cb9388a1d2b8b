/** Secrets on disk: the HTTP bearer token (made on first start) and an optional API key file, both 0600. */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';

export async function loadOrCreateToken(file: string): Promise<string> {
  try {
    const t = (await fsp.readFile(file, 'utf8')).trim();
    if (t.length >= 32) return t;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('base64url');
  await fsp.writeFile(file, token + '\n', { mode: 0o600 });
  await fsp.chmod(file, 0o600);
  return token;
}

/** Reads the API key file, refusing one that others can read (it would be a leaked key). */
export async function readKeyFile(file: string): Promise<string | undefined> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch {
    return undefined;
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0)
    throw new Error(`${file} is readable by other users; run: chmod 600 ${file}`);
  const key = (await fsp.readFile(file, 'utf8')).trim();
  return key || undefined;
}
