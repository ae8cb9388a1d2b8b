/**
 * A collection of records keyed by id in one PostgreSQL table (`id text primary key, seq identity, record json`),
 * the PostgreSQL counterpart of store/record-log.ts: every live record is held in memory (frozen, in insertion
 * order) for the synchronous reads; a write changes the copy at once, commits in order (WriteQueue), sends the
 * ids it changed on the table's channel in the same transaction, and resolves once committed. Notices from other
 * instances reload the ids they name; a lost listening connection reloads everything. Memories and runs are kept
 * this way (./memories.ts, ./runs.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import { silentLogger, type Logger } from '../../log';
import type { RecordCodec } from '../record-log';
import type { ExternalChange } from '../repositories';
import type { PgDatabase } from './db';
import { listenForChanges, sendNotices, sendReload, MAX_CHUNKS } from './notices';
import { listeners, PendingKeys, Refresher, WriteQueue, type ExternalChangeListeners } from './write-through';

export interface PgRepositoryOptions {
  /** This server's instance id: its own notices are skipped. */
  instance: string;
  log?: Logger;
}

export interface TableSpec<T extends { id: string }> {
  /** Table and notification channel (the same name). */
  table: string;
  codec: RecordCodec<T>;
  /** The table has an `instance_id` column: set to the writing instance on every put. */
  writer?: boolean;
}

/** Rows read per query when loading everything. */
const PAGE = 2_000;

export abstract class PgRecordTable<T extends { id: string }> {
  private readonly live = new Map<string, T>();
  private readonly queue: WriteQueue;
  private readonly keys: PendingKeys<T>;
  private readonly refresher: Refresher;
  private readonly changes: ExternalChangeListeners<ExternalChange>;
  private unlisten: (() => void) | undefined;
  private closed = false;
  private reloadedIds = 0;
  private reloadsAll = 0;
  protected readonly log: Logger;
  private readonly instance: string;

  protected constructor(
    protected readonly db: PgDatabase,
    private readonly spec: TableSpec<T>,
    opts: PgRepositoryOptions,
  ) {
    this.instance = opts.instance;
    this.log = opts.log ?? silentLogger;
    this.queue = new WriteQueue(db);
    this.keys = new PendingKeys<T>(
      (id) => this.live.get(id),
      (id, r) => (r === undefined ? this.remove(id) : this.set(r)),
    );
    this.changes = listeners(this.log, spec.table);
    this.refresher = new Refresher(
      this.queue,
      { ids: (ids) => this.reloadIds(ids), all: () => this.reloadAll() },
      this.log,
      spec.table,
    );
  }

  /** Subscribes, then loads everything (a notice arriving meanwhile is applied after the load). */
  protected async load(): Promise<void> {
    this.unlisten = await listenForChanges(
      this.db,
      this.spec.table,
      this.instance,
      { ids: (ids) => this.refresher.request(ids), all: () => this.refresher.request() },
      this.log,
    );
    try {
      await this.queue.exclusive(async () => {
        for (const r of await this.readAll()) this.set(r);
      });
    } catch (e) {
      this.unlisten();
      throw e;
    }
  }

  get(id: string): T | undefined {
    return this.live.get(id);
  }

  *all(): Iterable<T> {
    yield* this.live.values();
  }

  count(): number {
    return this.live.size;
  }

  onExternalChange(listener: (change: ExternalChange) => void): () => void {
    return this.changes.add(listener);
  }

  /** Inserts or replaces by id (frozen copies); the copy changes now, the promise resolves once committed. */
  protected putRecords(records: T[]): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!records.length) return Promise.resolve();
    // One row per id, in first-seen order, the last version winning: what applying them in order gives.
    const byId = new Map<string, T>();
    for (const r of records) byId.set(r.id, this.spec.codec.copy(r));
    const rows = [...byId.values()];
    const ids = [...byId.keys()];
    const jsons = rows.map((r) => JSON.stringify(r));
    this.keys.begin(ids);
    for (const r of rows) this.set(r);
    const wrote = new Map<string, T | undefined>(byId);
    return this.settle(
      this.queue.write(async (c) => {
        if (this.spec.writer)
          await c.query(
            `insert into ${this.spec.table} (id, record, instance_id)
             select u.id, u.record, $3 from unnest($1::text[], $2::json[]) with ordinality as u(id, record, n)
             order by u.n
             on conflict (id) do update set record = excluded.record, instance_id = excluded.instance_id`,
            [ids, jsons, this.instance],
          );
        else
          await c.query(
            `insert into ${this.spec.table} (id, record)
             select u.id, u.record from unnest($1::text[], $2::json[]) with ordinality as u(id, record, n)
             order by u.n
             on conflict (id) do update set record = excluded.record`,
            [ids, jsons],
          );
        await sendNotices(c, this.spec.table, this.instance, ids);
      }),
      wrote,
    );
  }

  /** Removes; resolves to how many were live in the copy. */
  protected deleteIds(ids: string[]): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    const gone = [...new Set(ids)].filter((id) => this.live.has(id));
    if (!gone.length) return Promise.resolve(0);
    this.keys.begin(gone);
    for (const id of gone) this.remove(id);
    const wrote = new Map<string, T | undefined>(gone.map((id) => [id, undefined]));
    return this.settle(
      this.queue.write(async (c) => {
        await c.query(`delete from ${this.spec.table} where id = any($1::text[])`, [gone]);
        if (gone.length > PAGE * MAX_CHUNKS) await sendReload(c, this.spec.table, this.instance);
        else await sendNotices(c, this.spec.table, this.instance, gone);
      }),
      wrote,
    ).then(() => gone.length);
  }

  private settle(write: Promise<void>, wrote: Map<string, T | undefined>): Promise<void> {
    return write.then(
      () => {
        this.keys.end(wrote, true);
      },
      (e: unknown) => {
        const restored = this.keys.end(wrote, false);
        if (restored.length) this.changes.emit({ ids: restored });
        throw e;
      },
    );
  }

  /** Indexing hook: `r` replaced `old` (or was added). */
  protected onPut(_r: T, _old: T | undefined): void {}
  /** Indexing hook: `r` was removed. */
  protected onDelete(_r: T): void {}

  private set(r: T): void {
    const old = this.live.get(r.id);
    this.live.set(r.id, r);
    this.onPut(r, old);
  }

  private remove(id: string): void {
    const old = this.live.get(id);
    if (!old) return;
    this.live.delete(id);
    this.onDelete(old);
  }

  private parse(id: string, record: unknown): T {
    if (!this.spec.codec.is(record) || record.id !== id)
      throw new DomainError(
        ErrorCodes.StoreCorrupt,
        `the ${this.spec.codec.what} "${id}" in ${this.spec.table} on ${this.db.location.display} is not a ` +
          `${this.spec.codec.what} record; it was left untouched`,
      );
    return this.spec.codec.freeze(record);
  }

  private async readAll(): Promise<T[]> {
    const out: T[] = [];
    let after = '0';
    for (;;) {
      const rows = await this.db.query<{ id: string; seq: string; record: unknown }>(
        `select id, seq, record from ${this.spec.table} where seq > $1 order by seq limit ${PAGE}`,
        [after],
      );
      for (const row of rows) out.push(this.parse(row.id, row.record));
      if (rows.length < PAGE) return out;
      after = rows[rows.length - 1]!.seq;
    }
  }

  /** A version equal to the copy's keeps the copy's object (MemoryService.update compares by identity). */
  private fresh(r: T): T {
    const old = this.live.get(r.id);
    return old && isDeepStrictEqual(old, r) ? old : r;
  }

  private async reloadIds(ids: string[]): Promise<void> {
    this.reloadedIds += ids.length;
    const rows = await this.db.query<{ id: string; record: unknown }>(
      `select id, record from ${this.spec.table} where id = any($1::text[])`,
      [ids],
    );
    const found = new Map(rows.map((row) => [row.id, this.parse(row.id, row.record)]));
    const changed: string[] = [];
    for (const id of new Set(ids)) {
      const r = found.get(id);
      if (this.keys.has(id)) {
        this.keys.committed(id, r && this.fresh(r));
        continue;
      }
      if (r) {
        const next = this.fresh(r);
        if (next === this.live.get(id)) continue;
        this.set(next);
      } else {
        if (!this.live.has(id)) continue;
        this.remove(id);
      }
      changed.push(id);
    }
    if (changed.length) this.changes.emit({ ids: changed });
  }

  private async reloadAll(): Promise<void> {
    this.reloadsAll++;
    const rows = await this.readAll();
    const inDb = new Set<string>();
    const changed: string[] = [];
    for (const r of rows) {
      inDb.add(r.id);
      if (this.keys.has(r.id)) {
        this.keys.committed(r.id, this.fresh(r));
        continue;
      }
      const next = this.fresh(r);
      if (next === this.live.get(r.id)) continue;
      this.set(next);
      changed.push(r.id);
    }
    for (const id of [...this.live.keys()]) {
      if (inDb.has(id)) continue;
      if (this.keys.has(id)) {
        this.keys.committed(id, undefined);
        continue;
      }
      this.remove(id);
      changed.push(id);
    }
    if (changed.length) this.changes.emit({ ids: changed });
  }

  /** Figures for tests and diagnostics: what was reloaded because another instance wrote it. */
  stats(): { live: number; reloadedIds: number; reloadsAll: number } {
    return { live: this.live.size, reloadedIds: this.reloadedIds, reloadsAll: this.reloadsAll };
  }

  private closedError(): Error {
    return new Error(`the ${this.spec.codec.what} store (${this.spec.table}) is closed`);
  }

  /** Waits for the writes in flight; later writes are refused and notices ignored. */
  async close(): Promise<void> {
    this.closed = true;
    this.unlisten?.();
    this.refresher.close();
    await this.queue.drain();
  }
}
