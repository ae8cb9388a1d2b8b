/** Low-level appends shared by the ledger and the memory stores: O_DSYNC where available, complete writes. */
import fs from 'node:fs';
import { files } from './fs-layer';

/** O_DSYNC where the platform has it (not on Windows, which falls back to fdatasync after each write). */
export const DSYNC: number | undefined = (fs.constants as Record<string, number | undefined>).O_DSYNC;

/** Opens `file` for appending, created 0600, O_DSYNC: a write to it returns once its data is on disk. */
export function openAppend(file: string): number {
  const { O_WRONLY, O_CREAT, O_APPEND } = fs.constants;
  return files().openSync(file, O_WRONLY | O_CREAT | O_APPEND | (DSYNC ?? 0), 0o600);
}

/** What makes a write to an `openAppend` file durable where there is no O_DSYNC; nothing where there is. */
export async function syncAppended(fd: number): Promise<void> {
  if (DSYNC === undefined) await files().fdatasync(fd);
}

/** Writes all of `buf` (a single write may be partial) on the thread pool. */
export async function writeAll(fd: number, buf: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < buf.length) offset += await files().write(fd, buf, offset, buf.length - offset);
}

export function writeAllSync(fd: number, buf: Uint8Array): void {
  let offset = 0;
  while (offset < buf.length) offset += files().writeSync(fd, buf, offset, buf.length - offset);
}
