/**
 * The archive payloads of the local store: one file per archive, `<sha256>.crewarc` in the archives folder
 * (`<store>/archives`, beside the archive service's state.json), written with writeDurably (temp `.<name>.<pid>.tmp`,
 * fsync, rename, fsync of the folder), so a payload is either whole under its final name or a temp file that
 * `removePartial` deletes. Content-addressed: a file of that name whose bytes still hash to it already holds
 * exactly these bytes and is not written again.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeDurably } from './durable-file';
import type { ArchivePayloadRepository } from './repositories';

export const ARCHIVE_EXTENSION = '.crewarc';
const SHA256_HEX = /^[0-9a-f]{64}$/;
const ARCHIVE_FILE = /^([0-9a-f]{64})\.crewarc$/;
/** writeDurably's temp names for an archive file. */
const ARCHIVE_TEMP = /^\.[0-9a-f]{64}\.crewarc\.\d+\.tmp$/;

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Refuses anything but a lowercase sha256 hex digest: no path ever comes from a caller. */
export function checkSha256(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new RangeError(`not a sha256 hex digest: ${sha256}`);
  return sha256;
}

export class FileArchivePayloads implements ArchivePayloadRepository {
  constructor(readonly dir: string) {}

  private file(sha256: string): string {
    return path.join(this.dir, `${checkSha256(sha256)}${ARCHIVE_EXTENSION}`);
  }

  async write(sha256: string, bytes: Uint8Array): Promise<void> {
    const file = this.file(sha256);
    if (sha256Hex(bytes) !== sha256) throw new RangeError(`the bytes given for ${sha256} hash to something else`);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const existing = await fsp.readFile(file).catch(() => undefined);
    if (!existing || sha256Hex(existing) !== sha256) await writeDurably(file, bytes);
  }

  async read(sha256: string): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(this.file(sha256));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      await fsp.unlink(this.file(sha256));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  async list(): Promise<string[]> {
    return (await this.names())
      .map((n) => ARCHIVE_FILE.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .sort();
  }

  async removePartial(): Promise<number> {
    let n = 0;
    for (const name of await this.names()) {
      if (!ARCHIVE_TEMP.test(name)) continue;
      try {
        await fsp.unlink(path.join(this.dir, name));
        n++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return n;
  }

  private async names(): Promise<string[]> {
    try {
      return await fsp.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}
