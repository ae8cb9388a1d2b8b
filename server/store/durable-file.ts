/**
 * A lowdb adapter whose writes are durable: write a temp file, fsync it, rename over the target, fsync the
 * directory. steno (lowdb's default) renames atomically but never fsyncs, so an acknowledged write could vanish
 * on power loss. Concurrent writes coalesce: callers that arrive during a write share the next one.
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Adapter } from 'lowdb';
import { writeAll } from './append-io';
import { files } from './fs-layer';

export class DurableJsonFile<T> implements Adapter<T> {
  private inFlight: Promise<void> | undefined;
  private next: { data: T; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | undefined;

  constructor(readonly filename: string) {}

  async read(): Promise<T | null> {
    const text = await readTextIfExists(this.filename);
    return text === undefined ? null : (JSON.parse(text) as T);
  }

  write(data: T): Promise<void> {
    if (this.next) {
      this.next.data = data;
    } else {
      this.next = { data, waiters: [] };
    }
    const pending = this.next;
    const done = new Promise<void>((resolve, reject) => pending.waiters.push({ resolve, reject }));
    if (!this.inFlight) this.drain();
    return done;
  }

  private drain(): void {
    const job = this.next;
    if (!job) return;
    this.next = undefined;
    this.inFlight = writeDurably(this.filename, JSON.stringify(job.data)).then(
      () => job.waiters.forEach((w) => w.resolve()),
      (e) => job.waiters.forEach((w) => w.reject(e)),
    );
    void this.inFlight.finally(() => {
      this.inFlight = undefined;
      this.drain();
    });
  }
}

export async function writeDurably(filename: string, content: string | Uint8Array): Promise<void> {
  const dir = path.dirname(filename);
  const tmp = path.join(dir, `.${path.basename(filename)}.${process.pid}.tmp`);
  const io = files();
  const { O_WRONLY, O_CREAT, O_TRUNC } = fs.constants;
  const fd = await io.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
  try {
    await writeAll(fd, typeof content === 'string' ? Buffer.from(content) : content);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, filename);
  await syncDir(dir);
}

/** Makes the names in `dir` durable (a file created, renamed or removed in it). */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const io = files();
  const fd = await io.open(dir, fs.constants.O_RDONLY);
  try {
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
}

/** As syncDir, on the caller's thread. */
export function syncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  const io = files();
  const fd = io.openSync(dir, fs.constants.O_RDONLY);
  try {
    io.fsyncSync(fd);
  } finally {
    io.closeSync(fd);
  }
}

/** A file's text, or undefined when there is no such file (a store's side files are absent until first written). */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
