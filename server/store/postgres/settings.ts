/**
 * Server settings (crew_settings, one row per key) and the models cache (crew_model_cache, one row).
 *
 * `settings.get()` is synchronous (the server reads it while wiring), so the settings are held in memory: loaded
 * at open, written through (the write, a read-back of every key and the notification in one transaction), and
 * reloaded when another instance's notification on Channels.settings arrives, or everything after the listener
 * reconnects. Loads and writes run one at a time, each reading after the one before it, so the copy never goes
 * back to an older state.
 */
import type { Logger } from '../../log';
import type { ModelCacheRecord, ModelCacheRepository } from '../repositories';
import type { ServerSettings } from '../store';
import type { PgDatabase } from './db';
import { Channels, notifyOnCommit, parseNotice, Serial, translateWriteError } from './shared';

export type Settings = ServerSettings;

const SELECT_ALL = 'select key, value from crew_settings order by key';
type Row = { key: string; value: unknown };
const toSettings = (rows: Row[]): Record<string, unknown> => Object.fromEntries(rows.map((r) => [r.key, r.value]));

export class PgSettings {
  private cache: Record<string, unknown> = {};
  private readonly serial = new Serial();
  private queuedLoad: Promise<void> | undefined;
  private unlisten: (() => void) | undefined;

  private constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  static async open(db: PgDatabase, instanceId: string, log: Logger): Promise<PgSettings> {
    const s = new PgSettings(db, instanceId, log);
    // Listening before the first load: a change committed in between is reloaded, never missed.
    s.unlisten = await db.listen(Channels.settings, {
      notify: (payload) => s.onNotice(payload),
      resync: () => s.reloadInBackground(),
    });
    await s.reload();
    return s;
  }

  get(): Settings {
    return { ...this.cache };
  }

  set(patch: Settings): Promise<void> {
    return this.serial.run(async () => {
      try {
        this.cache = await this.db.tx(async (tx) => {
          for (const [key, value] of Object.entries(patch)) {
            if (value === undefined) await tx.query('delete from crew_settings where key = $1', [key]);
            else
              await tx.query(
                `insert into crew_settings (key, value) values ($1, $2)
                 on conflict (key) do update set value = excluded.value`,
                [key, JSON.stringify(value)],
              );
          }
          await notifyOnCommit(tx, Channels.settings, { instance: this.instanceId, keys: Object.keys(patch) });
          return toSettings((await tx.query<Row>(SELECT_ALL)).rows);
        });
      } catch (e) {
        throw translateWriteError(e);
      }
    });
  }

  /** Reads every setting again (queued behind writes and loads in flight; one load queued at most). */
  reload(): Promise<void> {
    this.queuedLoad ??= this.serial.run(async () => {
      this.queuedLoad = undefined;
      this.cache = toSettings(await this.db.query<Row>(SELECT_ALL));
    });
    return this.queuedLoad;
  }

  close(): void {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  private onNotice(payload: string): void {
    const notice = parseNotice(payload);
    if (notice && notice.instance === this.instanceId) return;
    this.reloadInBackground();
  }

  private reloadInBackground(): void {
    this.reload().catch((e: Error) =>
      this.log.warn(`settings could not be reloaded from the database (${e.message}); kept the last copy`),
    );
  }
}

/** The catalog as last fetched, shared by every instance; a save notifies Channels.models (`{instance, fetchedAt}`). */
export class PgModelCacheRepository implements ModelCacheRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
  ) {}

  async load(): Promise<ModelCacheRecord | undefined> {
    const [row] = await this.db.query<{ fetched_at: string; models: unknown[] }>(
      'select fetched_at, models from crew_model_cache',
    );
    return row && { fetchedAt: row.fetched_at, models: row.models };
  }

  async save(cache: ModelCacheRecord): Promise<void> {
    try {
      await this.db.tx(async (tx) => {
        await tx.query(
          `insert into crew_model_cache (one, fetched_at, models) values (true, $1, $2)
           on conflict (one) do update set fetched_at = excluded.fetched_at, models = excluded.models`,
          [cache.fetchedAt, JSON.stringify(cache.models)],
        );
        await notifyOnCommit(tx, Channels.models, { instance: this.instanceId, fetchedAt: cache.fetchedAt });
      });
    } catch (e) {
      throw translateWriteError(e);
    }
  }
}
