/**
 * The store of an instance on a team's PostgreSQL: connects (a clear error naming host and port when it cannot),
 * applies the migrations under the advisory lock, opens every repository with this instance's id, and starts the
 * shared gate (registration, heartbeat, the sweep of stopped instances' reservations).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import type { Logger } from '../../log';
import type { StoreLocation } from '../location';
import type { CrewStore } from '../store';
import { PgDatabase } from './db';
import { openEntities, type PgEntities } from './entities';
import { PgGate, type LeaseTiming } from './gate';
import { PgLedger } from './ledger';
import { openPgMemoryStores, type PgMemoryStores } from './memory-store';
import { migrate } from './migrate';
import path from 'node:path';
import { PendingSettlements } from './pending-settlements';
import { PgEventBridge } from './event-bridge';
import { PgWebhookDeliveryQueue } from './webhook-queue';
import { Channels } from './shared';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

export interface PgStore extends CrewStore {
  readonly db: PgDatabase;
  readonly instanceId: string;
  readonly gate: PgGate;
}

export async function openPgStore(
  location: PostgresLocation,
  clock: Clock,
  log: Logger,
  /** `dataDir`: this machine's data directory, where settlements wait while the database is away. */
  opts: { instanceId?: string; lease?: LeaseTiming; dataDir?: string } = {},
): Promise<PgStore> {
  const db = await PgDatabase.connect(location, log);
  let entities: PgEntities | undefined;
  let memory: PgMemoryStores | undefined;
  try {
    const { applied, version } = await migrate(db, log);
    log.info(
      `PostgreSQL ${location.display}: schema ${version}` + (applied.length ? ` (applied ${applied.join(', ')})` : ''),
    );
    const instanceId = opts.instanceId ?? randomUUID();
    entities = await openEntities(db, instanceId, log);
    memory = await openPgMemoryStores(db, { instance: instanceId, log });
    const pending = opts.dataDir
      ? new PendingSettlements(path.join(opts.dataDir, 'pending-settlements.json'))
      : undefined;
    const gate = new PgGate(db, instanceId, clock, log, opts.lease, pending);
    await gate.start();
    const replayed = await gate.replayPending();
    if (replayed) log.info(`wrote ${replayed} call(s) kept while the database was away into the shared ledger`);
    const bridge = new PgEventBridge(db, instanceId, log);
    const ledger = new PgLedger(
      db,
      async (row) => (await gate.settle(null, { crew: row.crew, agent: row.agent, model: row.model }, row, false)).row,
    );
    // Reports read hourly roll-ups: settled rows are folded into them in the background (instances take turns).
    const folding = setInterval(
      () => void ledger.fold().catch((err: Error) => log.warn(`folding the ledger into roll-ups: ${err.message}`)),
      5_000,
    );
    folding.unref();
    const e = entities;
    const m = memory;
    return {
      location,
      db,
      instanceId,
      gate,
      ledger,
      budgets: e.budgets,
      alerts: e.alerts,
      webhooks: e.webhooks,
      models: e.models,
      settings: e.settings,
      crews: e.crews,
      crewTokens: e.crewTokens,
      appliedRecommendations: e.appliedRecommendations,
      callProfiles: e.callProfiles,
      memories: m.memories,
      vectors: m.vectors,
      access: m.access,
      archives: m.archives,
      archivePayloads: m.archivePayloads,
      runs: m.runs,
      bridge,
      webhookQueue: new PgWebhookDeliveryQueue(db, instanceId),
      exclusive: (name, job) => db.exclusive(name, job),
      watch: async (what, onChange) => {
        await db.listen(Channels[what], {
          notify: (payload) => {
            // Our own writes are already in our copy.
            if (noticeFrom(payload) !== instanceId) onChange();
          },
          resync: onChange,
        });
      },
      healthy: () =>
        db.query('select 1').then(
          () => true,
          () => false,
        ),
      close: async () => {
        clearInterval(folding);
        bridge.stop();
        await gate.stop();
        await m.close().catch((err: Error) => log.warn(`closing the memory stores: ${err.message}`));
        await e.close().catch((err: Error) => log.warn(`closing the entity stores: ${err.message}`));
        await db.close();
      },
    };
  } catch (e) {
    await memory?.close().catch(() => undefined);
    await entities?.close().catch(() => undefined);
    await db.close();
    throw e;
  }
}

function noticeFrom(payload: string): string | undefined {
  try {
    return (JSON.parse(payload) as { instance?: string }).instance;
  } catch {
    return undefined;
  }
}
