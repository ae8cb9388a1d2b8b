/**
 * Backups: one gzip file holding every file of the store folder with its sha256, plus a sha256 of the whole
 * bundle. Restoring verifies all of it before anything on disk changes, then swaps the store folder in one rename.
 *
 * The server reads and writes backups only inside `<data dir>/backups/` (backupFileIn): a path from a request (over
 * HTTP, from anything holding the token) must never name a file elsewhere, to overwrite or to probe. The CLI, which
 * runs as the user on the user's machine, copies a backup out of that folder or into it.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { ErrorCodes } from '../../protocol';
import { DomainError, errors } from '../errors';
import { syncDir, writeDurably } from './durable-file';
import { SCHEMA_VERSION } from './schema';

const FORMAT = 'openrouter-crew-backup';

interface BundleFile {
  path: string;
  sha256: string;
  base64: string;
}

interface Bundle {
  format: typeof FORMAT;
  formatVersion: 1;
  createdAt: string;
  schemaVersion: number;
  files: BundleFile[];
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // temp files of in-flight writes
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

export async function writeBackup(
  storeDir: string,
  file: string,
  schemaVersion: number = SCHEMA_VERSION,
): Promise<{ path: string; bytes: number; sha256: string }> {
  const files: BundleFile[] = [];
  for (const rel of await listFiles(storeDir)) {
    const content = await fsp.readFile(path.join(storeDir, rel));
    files.push({ path: rel, sha256: sha256(content), base64: content.toString('base64') });
  }
  const bundle: Bundle = {
    format: FORMAT,
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    schemaVersion,
    files,
  };
  const packed = await promisify(gzip)(JSON.stringify(bundle), { level: 6 });
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeDurably(file, packed);
  return { path: file, bytes: packed.length, sha256: sha256(packed) };
}

/** Whether `p` is `dir` itself or inside it (both resolved). */
function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The file a request's `path` names in the backups folder: a file name, or a relative path (or an absolute one)
 * that resolves inside it, with no symbolic link leading out of it. Anything else is refused (-32602 naming
 * `field`) before any file is touched. Creates the folder if needed.
 */
export async function backupFileIn(backupsDir: string, name: string, field = 'path'): Promise<string> {
  const base = path.resolve(backupsDir);
  const refuse = (why: string) =>
    errors.invalidParams(
      `${field}: ${why}; the server reads and writes backups only in ${base} (name a file there; ` +
        `"crew store backup --output" and "crew store restore" copy a backup out of it or into it)`,
      { field, issues: [{ field, message: why }] },
    );
  if (name.includes('\0')) throw refuse('contains a NUL byte');
  const target = path.resolve(base, name);
  if (!within(base, target) || target === base) throw refuse(`"${name}" is not a file in the backups folder`);
  if (
    path
      .relative(base, target)
      .split(path.sep)
      .some((part) => Buffer.byteLength(part) > 255)
  )
    throw refuse('has a name longer than 255 bytes');
  await fsp.mkdir(base, { recursive: true, mode: 0o700 });
  const realBase = await fsp.realpath(base);
  // The nearest part of the path that exists (the file itself when it does) must really be inside the folder:
  // a symbolic link in the way would lead the read or write elsewhere.
  for (let probe = target; ; probe = path.dirname(probe)) {
    let real: string;
    try {
      real = await fsp.realpath(probe);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && probe !== base) continue;
      if (code === 'ENOTDIR') throw refuse(`"${name}" goes through something that is not a folder`);
      if (code === 'ELOOP') throw refuse(`"${name}" leads into a loop of symbolic links`);
      throw e;
    }
    if (!within(realBase, real) || (probe === target && real === realBase))
      throw refuse(`"${name}" leads out of the backups folder through a symbolic link`);
    if (probe === target && (await fsp.stat(real)).isDirectory()) throw refuse(`"${name}" is a folder`);
    return target;
  }
}

function invalid(file: string, why: string): DomainError {
  return new DomainError(ErrorCodes.BackupInvalid, `${file} is not a usable backup: ${why}; nothing was changed`, {
    path: file,
  });
}

/** Reads and fully verifies a backup; throws BackupInvalid naming what is wrong. */
export async function readBackup(file: string): Promise<Bundle> {
  let packed: Buffer;
  try {
    packed = await fsp.readFile(file);
  } catch (e) {
    throw invalid(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  let bundle: Bundle;
  try {
    bundle = JSON.parse((await promisify(gunzip)(packed)).toString('utf8')) as Bundle;
  } catch {
    throw invalid(file, 'it is not a gzip-compressed openrouter-crew backup');
  }
  if (bundle.format !== FORMAT || !Array.isArray(bundle.files)) throw invalid(file, 'unknown format');
  if (bundle.schemaVersion > SCHEMA_VERSION)
    throw invalid(file, `it was made by a newer openrouter-crew (schema ${bundle.schemaVersion}); update first`);
  for (const f of bundle.files) {
    if (typeof f.path !== 'string' || f.path.includes('..') || path.isAbsolute(f.path))
      throw invalid(file, `unsafe path ${String(f.path)}`);
    if (sha256(Buffer.from(f.base64, 'base64')) !== f.sha256) throw invalid(file, `checksum mismatch on ${f.path}`);
  }
  if (!bundle.files.some((f) => f.path === 'db.json')) throw invalid(file, 'it holds no db.json');
  return bundle;
}

/** Writes a verified bundle into a staging folder, then swaps it in for `storeDir`. */
export async function installBackup(bundle: Bundle, storeDir: string): Promise<void> {
  const staging = `${storeDir}.restore-${process.pid}`;
  const old = `${storeDir}.old-${process.pid}`;
  await fsp.rm(staging, { recursive: true, force: true });
  for (const f of bundle.files) {
    const target = path.join(staging, f.path);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await writeDurably(target, Buffer.from(f.base64, 'base64'));
  }
  await fsp.rename(storeDir, old);
  await fsp.rename(staging, storeDir);
  await syncDir(path.dirname(storeDir));
  await fsp.rm(old, { recursive: true, force: true });
}
