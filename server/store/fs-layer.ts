/**
 * The file operations that make a write durable, in one replaceable place. Every store file that is appended to
 * or replaced goes through `files()`: the O_DSYNC opens, the writes, fsync/fdatasync, the renames and the folder
 * syncs after them. The default is node:fs; a test swaps in a layer that records every call (`useFileLayer`), so
 * "acknowledged = on disk" is something a test can see: drop a sync or the O_DSYNC flag and it fails.
 *
 * Reads are not routed here: they cannot lose an acknowledged write.
 */
import fs from 'node:fs';

export interface FileLayer {
  openSync(file: string, flags: number, mode?: number): number;
  open(file: string, flags: number, mode?: number): Promise<number>;
  /** Writes at the file position (O_APPEND files: at the end); may write less than asked. */
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): Promise<number>;
  fsyncSync(fd: number): void;
  fsync(fd: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  ftruncateSync(fd: number, length: number): void;
  closeSync(fd: number): void;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

const cb =
  <T>(resolve: (v: T) => void, reject: (e: Error) => void) =>
  (e: Error | null, v: T) =>
    e ? reject(e) : resolve(v);

export const nodeFileLayer: FileLayer = {
  openSync: (file, flags, mode) => fs.openSync(file, flags, mode),
  open: (file, flags, mode) => new Promise((res, rej) => fs.open(file, flags, mode, cb(res, rej))),
  writeSync: (fd, buf, offset, length) => fs.writeSync(fd, buf, offset, length, null),
  write: (fd, buf, offset, length) =>
    new Promise((res, rej) => fs.write(fd, buf, offset, length, null, (e, n) => (e ? rej(e) : res(n)))),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fsync: (fd) => new Promise((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res()))),
  fdatasync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  closeSync: (fd) => fs.closeSync(fd),
  close: (fd) => new Promise((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res()))),
  rename: (from, to) => new Promise((res, rej) => fs.rename(from, to, (e) => (e ? rej(e) : res()))),
};

let current: FileLayer = nodeFileLayer;

/** The file layer in use; call it at each use (not once at import), so a swapped layer takes effect. */
export function files(): FileLayer {
  return current;
}

/** Replaces the file layer (tests); returns a function that puts the previous one back. */
export function useFileLayer(layer: FileLayer): () => void {
  const previous = current;
  current = layer;
  return () => {
    current = previous;
  };
}
