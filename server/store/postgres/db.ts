/**
 * The connection to a team's PostgreSQL: a pool for queries and transactions, one dedicated connection for
 * LISTEN, and the one translation of "the database is not there" into StoreUnavailable (retryable, nothing
 * recorded). A pool re-dials on the next query, so service resumes on its own when the database is back; the
 * listener reconnects with a backoff and tells its subscribers, who catch up on what they missed.
 */
import pg from 'pg';
import { ErrorCodes, type StoreUnavailableData } from '../../../protocol';
import { DomainError } from '../../errors';
import type { Logger } from '../../log';
import type { StoreLocation } from '../location';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

// numeric (picodollars) and int8 come back as strings; they are parsed where they are read, as BigInt.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  if (!err) return false;
  if (err.code && CONNECTION_CODES.has(err.code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(
    err.message ?? '',
  );
}

export type Tx = pg.PoolClient;

export interface ListenHandler {
  /** A NOTIFY on the channel. */
  notify(payload: string): void;
  /** The listener reconnected after a loss: notifications may have been missed; catch up. */
  resync?(): void;
}

export class PgDatabase {
  private listener: pg.Client | undefined;
  private readonly channels = new Map<string, Set<ListenHandler>>();
  private closed = false;
  private relisten: NodeJS.Timeout | undefined;

  private constructor(
    readonly location: PostgresLocation,
    private readonly pool: pg.Pool,
    /** The gate's connections (see gateQuery). */
    private readonly gatePool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** Connects (and checks the connection once), or fails naming host, port and database. */
  static async connect(location: PostgresLocation, log: Logger, opts: { max?: number } = {}): Promise<PgDatabase> {
    const common = { connectionString: location.url, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 };
    const pool = new pg.Pool({ ...common, max: opts.max ?? 16, application_name: 'crew-server' });
    const gatePool = new pg.Pool({
      ...common,
      max: 4,
      application_name: 'crew-server gate',
      // The gate's functions run the same few statements on every call: planned once per connection, not once per
      // call (a custom plan per call was half of a settlement's time; a SET clause on the function costs as much).
      options: '-c plan_cache_mode=force_generic_plan',
    });
    // An idle client that loses its connection emits on the pool; the next query dials again.
    for (const p of [pool, gatePool])
      p.on('error', (e) => log.warn(`PostgreSQL ${location.display}: idle connection lost (${e.message})`));
    const db = new PgDatabase(location, pool, gatePool, log);
    try {
      await pool.query('select 1');
    } catch (e) {
      await pool.end().catch(() => undefined);
      await gatePool.end().catch(() => undefined);
      throw new DomainError(
        ErrorCodes.StoreUnavailable,
        `cannot reach PostgreSQL at ${location.host}:${location.port} (database "${location.database}"): ` +
          `${(e as Error).message}. Check that the server runs and the URL is right (--store / CREW_STORE_URL)`,
        db.unavailableData(e),
      );
    }
    return db;
  }

  private unavailableData(e: unknown): StoreUnavailableData {
    return {
      retryable: true,
      store: `${this.location.host}:${this.location.port}/${this.location.database}`,
      reason: (e as Error)?.message ?? String(e),
    };
  }

  /** What a caller sees when the database went away mid-call. */
  unavailable(e: unknown): DomainError {
    return new DomainError(
      ErrorCodes.StoreUnavailable,
      `the database (PostgreSQL at ${this.location.host}:${this.location.port}) is unreachable: ` +
        `${(e as Error)?.message ?? String(e)}; nothing was recorded, retry when it is back`,
      this.unavailableData(e),
    );
  }

  private translate(e: unknown): unknown {
    return isConnectionError(e) ? this.unavailable(e) : e;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** A query on the gate's own connections: every call's reservation and settlement, kept off the busy pool. */
  async gateQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string | { name: string; text: string },
    params?: unknown[],
  ): Promise<R[]> {
    try {
      const q = typeof sql === 'string' ? { text: sql, values: params } : { ...sql, values: params };
      return (await this.gatePool.query<R>(q)).rows;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** Runs `fn` in one transaction (committed when it resolves, rolled back when it throws). */
  async tx<T>(fn: (c: Tx) => Promise<T>): Promise<T> {
    const client = await this.session();
    let broken = false;
    try {
      await client.query('begin');
      const out = await fn(client);
      await client.query('commit');
      return out;
    } catch (e) {
      broken = isConnectionError(e);
      if (!broken) await client.query('rollback').catch(() => (broken = true));
      throw this.translate(e);
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  /**
   * A client of its own for work that holds a session (a transaction, advisory locks); the caller releases it. A
   * checked-out client has no pool listener: its connection dying would emit an unhandled 'error' and end the
   * process, so one listens here while it is out; the query in flight fails with it, and a client that lost its
   * connection never goes back to the pool.
   */
  async session(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.translate(e);
    }
    let broken = false;
    const lost = () => (broken = true);
    client.on('error', lost);
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.removeListener('error', lost);
      release(err ?? (broken ? true : undefined));
    };
    return client;
  }

  /**
   * Runs `job` holding the session advisory lock named `name` (two-key form, apart from the migrations' lock), or
   * not at all when another session holds it: resolves undefined then.
   */
  async exclusive<T>(name: string, job: () => Promise<T>): Promise<T | undefined> {
    const session = await this.session();
    try {
      const key = [0x43524557, name] as const; // 'CREW'
      const [{ ok }] = (
        await session.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [...key])
      ).rows as [{ ok: boolean }];
      if (!ok) return undefined;
      try {
        return await job();
      } finally {
        await session.query('select pg_advisory_unlock($1, hashtext($2))', [...key]).catch(() => undefined);
      }
    } catch (e) {
      throw this.translate(e);
    } finally {
      session.release();
    }
  }

  /** Subscribes to a channel over the one listening connection (re-established, with resync, after a loss). */
  async listen(channel: string, handler: ListenHandler): Promise<() => void> {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
      if (this.listener) await this.listener.query(`listen ${pg.escapeIdentifier(channel)}`);
    }
    set.add(handler);
    if (!this.listener) await this.startListener();
    return () => set.delete(handler);
  }

  private async startListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.location.url, application_name: 'crew-server listen' });
    client.on('notification', (n) => {
      for (const h of this.channels.get(n.channel) ?? []) h.notify(n.payload ?? '');
    });
    const lost = (e?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.log.warn(`PostgreSQL ${this.location.display}: notifications connection lost (${e?.message ?? 'closed'})`);
      this.scheduleRelisten(500);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    for (const channel of this.channels.keys()) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
    this.listener = client;
  }

  private scheduleRelisten(delayMs: number): void {
    if (this.relisten || this.closed) return;
    this.relisten = setTimeout(() => {
      this.relisten = undefined;
      this.startListener().then(
        () => {
          this.log.info(`PostgreSQL ${this.location.display}: notifications connection back`);
          for (const set of this.channels.values()) for (const h of set) h.resync?.();
        },
        () => this.scheduleRelisten(Math.min(delayMs * 2, 5_000)),
      );
    }, delayMs);
    this.relisten.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relisten);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.gatePool.end().catch(() => undefined);
  }
}
