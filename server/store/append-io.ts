/** Low-level appends shared by the ledger and the memory stores: O_DSYNC where available, complete writes. */
import fs from 'node:fs';

/** O_DSYNC where the platform has it (not on Windows, which falls back to fdatasync after each write). */
export const DSYNC: number | undefined = (fs.constants as Record<string, number | undefined>).O_DSYNC;

/** Writes all of `buf` (a single write may be partial) on the thread pool. */
export function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) =>
      fs.write(fd, buf, offset, buf.length - offset, null, (e, written) => {
        if (e) return reject(e);
        if (offset + written < buf.length) step(offset + written);
        else resolve();
      });
    step(0);
  });
}

export function writeAllSync(fd: number, buf: Buffer): void {
  let offset = 0;
  while (offset < buf.length) offset += fs.writeSync(fd, buf, offset, buf.length - offset, null);
}
