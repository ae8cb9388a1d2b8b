/**
 * What every PostgreSQL repository with an in-memory copy shares:
 *
 * - WriteQueue: a repository's writes commit in the order they were made (one after the other, never two at once
 *   on two pooled connections, where a later write could commit first). Writes queued while one is in flight go
 *   together in the next transaction, each in a savepoint of its own: one refused write (a bad vector length)
 *   fails alone, a lost connection fails them all. Reloads after a peer's notice run in the same queue, between
 *   writes, so a reload never reads the database between one of our writes and its bookkeeping.
 * - PendingKeys: the copy is changed when a write is made (the domains rely on that: MemoryService.update
 *   compares-then-puts and detach compares-then-deletes with no await in between, as the local store allows), and
 *   the write resolves only once committed. While a key has writes in flight, reloads leave it alone (our write
 *   lands after what the reload read). When its last write settles, a key whose write failed is set back to what
 *   the database last held for it as far as this instance knows, so a refused or lost write never lingers.
 * - Refresher: coalesces reload requests (ids, or everything) and retries a reload that failed.
 */
import type { Logger } from '../../log';
import { isConnectionError, type PgDatabase, type Tx } from './db';

/** At most this many writes share one transaction. */
const MAX_GROUP = 256;

type Job =
  | { kind: 'write'; work: (c: Tx) => Promise<void>; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'solo'; fn: () => Promise<void>; resolve: () => void; reject: (e: unknown) => void };

export class WriteQueue {
  private readonly jobs: Job[] = [];
  private busy = false;
  private idle: (() => void)[] = [];

  constructor(private readonly db: PgDatabase) {}

  /** Runs `work` in a transaction after every write and reload queued before it; resolves once committed. */
  write(work: (c: Tx) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ kind: 'write', work, resolve, reject });
      this.pump();
    });
  }

  /** Runs `fn` alone, in queue order (no write is in flight meanwhile). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let out: T;
      this.jobs.push({
        kind: 'solo',
        fn: async () => {
          out = await fn();
        },
        resolve: () => resolve(out),
        reject,
      });
      this.pump();
    });
  }

  /** Resolves once everything queued so far has run. */
  drain(): Promise<void> {
    if (!this.busy && !this.jobs.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    if (this.busy) return;
    const first = this.jobs[0];
    if (!first) {
      const idle = this.idle;
      this.idle = [];
      idle.forEach((f) => f());
      return;
    }
    this.busy = true;
    let run: Promise<void>;
    if (first.kind === 'solo') {
      this.jobs.shift();
      run = first.fn().then(first.resolve, first.reject);
    } else {
      let n = 0;
      while (n < this.jobs.length && n < MAX_GROUP && this.jobs[n]!.kind === 'write') n++;
      run = this.runGroup(this.jobs.splice(0, n) as Extract<Job, { kind: 'write' }>[]);
    }
    void run.finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  private async runGroup(group: Extract<Job, { kind: 'write' }>[]): Promise<void> {
    const failed = new Map<number, unknown>();
    try {
      await this.db.tx(async (c) => {
        if (group.length === 1) return group[0]!.work(c);
        for (let i = 0; i < group.length; i++) {
          await c.query('savepoint crew_write');
          try {
            await group[i]!.work(c);
            await c.query('release savepoint crew_write');
          } catch (e) {
            if (isConnectionError(e)) throw e;
            await c.query('rollback to savepoint crew_write');
            failed.set(i, e);
          }
        }
      });
    } catch (e) {
      for (const job of group) job.reject(e);
      return;
    }
    group.forEach((job, i) => (failed.has(i) ? job.reject(failed.get(i)) : job.resolve()));
  }
}

export class PendingKeys<V> {
  private readonly pending = new Map<string, { count: number; committed: V | undefined }>();

  constructor(
    /** The copy's value of a key. */
    private readonly read: (key: string) => V | undefined,
    /** Sets the copy's value back (undefined: absent). */
    private readonly restore: (key: string, value: V | undefined) => void,
  ) {}

  /** Call before an operation changes the copy. */
  begin(keys: Iterable<string>): void {
    for (const key of keys) {
      const p = this.pending.get(key);
      if (p) p.count++;
      else this.pending.set(key, { count: 1, committed: this.read(key) });
    }
  }

  /**
   * Call once the operation's write settled, with what it wrote per key (undefined: deleted). Returns the keys set
   * back because the write failed.
   */
  end(wrote: Map<string, V | undefined>, ok: boolean): string[] {
    const restored: string[] = [];
    for (const [key, value] of wrote) {
      const p = this.pending.get(key);
      if (!p) continue;
      if (ok) p.committed = value;
      if (--p.count > 0) continue;
      this.pending.delete(key);
      if (this.read(key) !== p.committed) {
        this.restore(key, p.committed);
        restored.push(key);
      }
    }
    return restored;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** A reload read `value` for a pending key: it is what the database holds, should our write fail. */
  committed(key: string, value: V | undefined): void {
    const p = this.pending.get(key);
    if (p) p.committed = value;
  }
}

export interface ExternalChangeListeners<C> {
  add(listener: (change: C) => void): () => void;
  emit(change: C): void;
}

export function listeners<C>(log: Logger, what: string): ExternalChangeListeners<C> {
  const set = new Set<(change: C) => void>();
  return {
    add: (listener) => {
      set.add(listener);
      return () => set.delete(listener);
    },
    emit: (change) => {
      for (const l of set)
        try {
          l(change);
        } catch (e) {
          log.error(`${what}: a change listener failed: ${(e as Error).message}`);
        }
    },
  };
}

/**
 * Reloads what peers changed, in the write queue: requests made while one is waiting join it; a reload that fails
 * (the database away) is retried with a backoff, so the copy catches up once the database is back.
 */
export class Refresher {
  private ids = new Set<string>();
  private all = false;
  private queued = false;
  private retry: NodeJS.Timeout | undefined;
  private delay = 250;
  private closed = false;

  constructor(
    private readonly queue: WriteQueue,
    private readonly reload: { ids(ids: string[]): Promise<void>; all(): Promise<void> },
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  request(ids?: string[]): void {
    if (this.closed) return;
    if (ids) for (const id of ids) this.ids.add(id);
    else this.all = true;
    if (this.queued || this.retry) return;
    this.queued = true;
    void this.queue.exclusive(() => this.run());
  }

  private async run(): Promise<void> {
    this.queued = false;
    if (this.closed) return;
    const all = this.all;
    const ids = [...this.ids];
    this.all = false;
    this.ids.clear();
    try {
      if (all) await this.reload.all();
      else if (ids.length) await this.reload.ids(ids);
      this.delay = 250;
    } catch (e) {
      if (this.closed) return;
      this.all ||= all;
      for (const id of ids) this.ids.add(id);
      this.log.warn(`${this.what}: reloading what another instance changed failed (${(e as Error).message}); retrying`);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.request([]);
      }, this.delay);
      this.retry.unref();
      this.delay = Math.min(this.delay * 2, 10_000);
      if (!isConnectionError(e) && !(e as { code?: number }).code) this.log.error((e as Error).stack ?? String(e));
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = undefined;
  }
}
