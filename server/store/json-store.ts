/**
 * The default backend: lowdb for entities (one small JSON document, written durably), a models-cache file of its
 * own (so a catalog refresh never rewrites budgets), and the segment-file ledger. Opening refuses a corrupt or a
 * newer-version store with a message saying what to do, and backs up before migrating.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Low } from 'lowdb';
import { ErrorCodes } from '../../protocol';
import type { AppliedRecommendation, BudgetAlert } from '../../protocol';
import type { Clock } from '../clock';
import { silentLogger, type Logger } from '../log';
import { DomainError } from '../errors';
import { StoreFileCorrupt } from './corrupt';
import { DurableJsonFile, readTextIfExists } from './durable-file';
import { FileLedger, ledgerRepository } from './ledger/file-ledger';
import { LocalGate, type LocalLedger } from '../costs/local-gate';
import type { StoreLocation } from './location';
import type { CrewStore, SettingsRepository } from './store';
import { FileAccessRepository } from './memory/access-store';
import { FileCallProfileRepository } from './call-profile-store';
import { FileMemoryRepository } from './memory/memory-log';
import { FileRunRepository } from './runs/run-log';
import { FileVectorRepository } from './memory/vector-file';
import type {
  AccessRepository,
  ArchiveIndexRepository,
  MemoryRepository,
  VectorRepository,
  AlertRepository,
  BudgetRecord,
  BudgetRepository,
  CrewRecord,
  CrewRepository,
  RunRepository,
  CrewTokenRecord,
  CrewTokenRepository,
  AppliedRecommendationRepository,
  CallProfileRepository,
  LedgerRepository,
  ModelCacheRecord,
  ModelCacheRepository,
  StoreHandle,
  WebhookRecord,
  WebhookRepository,
} from './repositories';
import { checkShape, emptyDb, migrate, MIGRATIONS, SCHEMA_VERSION, type DbData, type Migration } from './schema';
import { writeBackup } from './backup';
import { checkBudgetPlacement } from './conflicts';

const MAX_ALERT_HISTORY = 5_000;
const MAX_FIRED_KEYS = 20_000;

export class StoreError extends DomainError {}

export class JsonStore implements StoreHandle, CrewStore {
  private db!: Low<DbData>;
  private ledgerImpl!: FileLedger;
  private memoryImpl!: FileMemoryRepository;
  private vectorImpl!: FileVectorRepository;
  private accessImpl!: FileAccessRepository;
  private callProfilesImpl!: FileCallProfileRepository;
  private runImpl!: FileRunRepository;
  private modelFile!: DurableJsonFile<ModelCacheRecord>;

  readonly budgets: BudgetRepository;
  readonly alerts: AlertRepository;
  readonly webhooks: WebhookRepository;
  readonly models: ModelCacheRepository;
  readonly ledger: LedgerRepository;
  /** The ledger as the in-process gate uses it (synchronous sums over what is in memory). */
  readonly ledgerFile: LocalLedger;
  readonly memories: MemoryRepository;
  readonly vectors: VectorRepository;
  readonly access: AccessRepository;
  readonly archives: ArchiveIndexRepository;
  readonly crews: CrewRepository;
  readonly runs: RunRepository;
  readonly crewTokens: CrewTokenRepository;
  readonly appliedRecommendations: AppliedRecommendationRepository;
  readonly callProfiles: CallProfileRepository;
  readonly settings: SettingsRepository;
  readonly location: StoreLocation;
  /** The in-process gate over this store's ledger (only this process writes the data directory). */
  readonly gate: LocalGate;
  readonly local = this;

  private constructor(
    readonly dir: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly schema: { version: number; migrations: Migration[] },
  ) {
    this.location = { kind: 'local', display: path.dirname(dir) };
    this.budgets = budgetRepo(() => this.db);
    this.archives = archiveRepo(() => this.db);
    this.crews = crewRepo(() => this.db);
    this.crewTokens = crewTokenRepo(() => this.db);
    this.appliedRecommendations = appliedRecommendationRepo(() => this.db);
    this.callProfiles = {
      record: (shape) => this.callProfilesImpl.record(shape),
      query: (range) => this.callProfilesImpl.query(range),
      add: (days) => this.callProfilesImpl.add(days),
      flush: () => this.callProfilesImpl.flush(),
    };
    this.settings = {
      get: () => ({ ...this.db.data.settings }),
      set: async (patch) => {
        await this.db.update((d) => (d.settings = { ...d.settings, ...patch }));
      },
    };
    this.alerts = alertRepo(() => this.db);
    this.webhooks = webhookRepo(() => this.db);
    this.models = {
      load: async () => (await this.modelFile.read()) ?? undefined,
      save: (cache) => this.modelFile.write(cache),
    };
    // The ledger object is replaced on restore; delegate so holders of `store.ledger` never go stale.
    this.ledger = ledgerRepository(() => this.ledgerImpl);
    this.ledgerFile = {
      append: (row, opts) => this.ledgerImpl.append(row, opts),
      sumCostNow: (filter) => this.ledgerImpl.sumCostNow(filter),
      countNow: () => this.ledgerImpl.countNow(),
    };
    this.gate = new LocalGate(this.ledgerFile, clock);
    this.memories = {
      get: (id) => this.memoryImpl.get(id),
      all: () => this.memoryImpl.all(),
      byCrew: (crew) => this.memoryImpl.byCrew(crew),
      count: () => this.memoryImpl.count(),
      put: (records) => this.memoryImpl.put(records),
      delete: (ids) => this.memoryImpl.delete(ids),
      // One server owns a data directory: nothing else ever changes it.
      onExternalChange: noExternalChanges,
    };
    this.vectors = {
      get: (id, embedderId) => this.vectorImpl.get(id, embedderId),
      put: (entries) => this.vectorImpl.put(entries),
      delete: (ids) => this.vectorImpl.delete(ids),
      entries: (embedderId) => this.vectorImpl.entries(embedderId),
      embedderIds: () => this.vectorImpl.embedderIds(),
      onExternalChange: noExternalChanges,
    };
    this.access = {
      record: (events) => this.accessImpl.record(events),
      counters: (id) => this.accessImpl.counters(id),
      daily: (q) => this.accessImpl.daily(q),
      forget: (ids) => this.accessImpl.forget(ids),
      restore: (entries) => this.accessImpl.restore(entries),
      flush: () => this.accessImpl.flush(),
      onExternalChange: noExternalChanges,
    };
    this.runs = {
      get: (id) => this.runImpl.get(id),
      list: (filter) => this.runImpl.list(filter),
      put: (run) => this.runImpl.put([run]),
      onExternalChange: noExternalChanges,
    };
  }

  /** `dir` is the store folder (`<dataDir>/store`). */
  static async open(
    dir: string,
    clock: Clock,
    backupsDir: string,
    log: Logger = silentLogger,
    /** The schema to bring the file to; tests pass their own to exercise a migration. */
    schema: { version: number; migrations: Migration[] } = { version: SCHEMA_VERSION, migrations: MIGRATIONS },
  ): Promise<JsonStore> {
    const store = new JsonStore(dir, clock, log, schema);
    await store.load(backupsDir);
    return store;
  }

  healthy(): Promise<boolean> {
    return fsp.access(this.dbFile).then(
      () => true,
      () => false,
    );
  }

  get dbFile(): string {
    return path.join(this.dir, 'db.json');
  }

  private async load(backupsDir: string): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const adapter = new DurableJsonFile<DbData>(this.dbFile);
    const restoreHint = `Restore a backup with "crew store restore <file>" (backups are in ${backupsDir})`;
    // Only a missing file is a new store. Anything there that is not a store document (`null`, a list, a number)
    // is damage like any other: replacing it with an empty store would drop every budget without a word.
    const text = await readTextIfExists(this.dbFile);
    let raw: unknown;
    if (text !== undefined) {
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new StoreError(
          ErrorCodes.StoreCorrupt,
          `the store ${this.dbFile} is not valid JSON (${(e as Error).message}); it was left untouched. ` +
            `${restoreHint}, or move the file away to start empty.`,
        );
      }
    }
    let data: DbData;
    if (text === undefined) {
      data = emptyDb(new Date(this.clock.now()));
    } else {
      const damaged = (problem: string) =>
        new StoreError(
          ErrorCodes.StoreCorrupt,
          `the store ${this.dbFile} is damaged: ${problem}; it was left untouched. ${restoreHint}.`,
        );
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw damaged(
          `the top level is ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}, not a store document`,
        );
      const version = (raw as Partial<DbData>)?.schemaVersion;
      if (typeof version !== 'number' || !Number.isInteger(version))
        throw damaged(checkShape(raw) ?? '"schemaVersion" is missing');
      const { version: target, migrations } = this.schema;
      if (version > target)
        throw new StoreError(
          ErrorCodes.StoreTooNew,
          `the store ${this.dbFile} was written by a newer openrouter-crew (schema ${version}; this one knows ${target}). ` +
            `Update openrouter-crew (npm i -g openrouter-crew) or point --data-dir elsewhere; nothing was changed.`,
        );
      let doc = raw as Record<string, unknown>;
      const before = checkShape(doc);
      if (before) throw damaged(before);
      if (version < target) {
        const backup = await writeBackup(
          this.dir,
          path.join(backupsDir, `pre-migration-v${version}-${stamp(this.clock)}.backup`),
          version,
        );
        try {
          doc = migrate(doc, migrations, target);
        } catch (e) {
          throw new StoreError(
            ErrorCodes.StoreCorrupt,
            `cannot upgrade ${this.dbFile} from schema ${version} to ${target}: ${(e as Error).message}; nothing was changed (a backup is at ${backup.path})`,
          );
        }
      }
      const problem = checkShape(doc);
      if (problem) throw damaged(problem);
      data = doc as unknown as DbData;
    }
    this.db = new Low(adapter, data);
    this.modelFile = new DurableJsonFile<ModelCacheRecord>(path.join(this.dir, 'models-cache.json'));
    const onError = (m: string) => this.log.error(m);
    try {
      this.ledgerImpl = await FileLedger.open(path.join(this.dir, 'ledger'), onError);
      this.memoryImpl = await FileMemoryRepository.open(path.join(this.dir, 'memory'), { onError });
      this.vectorImpl = await FileVectorRepository.open(path.join(this.dir, 'vectors'), { onError });
      this.accessImpl = await FileAccessRepository.open(path.join(this.dir, 'access'), { onError });
      this.callProfilesImpl = await FileCallProfileRepository.open(this.dir, { onError });
      this.runImpl = await FileRunRepository.open(path.join(this.dir, 'runs'), { onError });
    } catch (e) {
      if (e instanceof StoreFileCorrupt)
        throw new StoreError(
          ErrorCodes.StoreCorrupt,
          `the store is damaged: ${e.message}; it was left untouched. ${restoreHint}.`,
          { file: e.file, where: e.where },
        );
      throw e;
    }
    // Written only once every part of the store has opened: a start refused for damage changes no file.
    if (text === undefined || (raw as DbData).schemaVersion !== data.schemaVersion) await this.db.write();
  }

  /** The ledger walked row by row (ids dense, times in order) for store/verify, and its total. */
  checkLedger(): { entries: number; listed: number; ordered: boolean; totalPico: bigint } {
    const l = this.ledgerImpl;
    let prevTs = -Infinity;
    let ordered = true;
    for (let id = 1; id <= l.count(); id++) {
      const row = l.get(id);
      if (!row || row.ts < prevTs) {
        ordered = false;
        break;
      }
      prevTs = row.ts;
    }
    return { entries: l.count(), listed: l.list({ limit: 0 }).total, ordered, totalPico: l.sumCost({}) };
  }

  get schemaVersion(): number {
    return this.db.data.schemaVersion;
  }

  async close(): Promise<void> {
    await this.ledgerImpl.close();
    await this.accessImpl.close();
    await this.callProfilesImpl.close();
    await this.memoryImpl.close();
    await this.vectorImpl.close();
    await this.runImpl.close();
  }

  /**
   * A consistent backup while the server runs: access events flushed, and no compaction deleting a segment
   * between the backup listing the folder and reading it. Writes may go on; a torn last line is dropped on restore.
   */
  async backup(file: string): Promise<{ path: string; bytes: number; sha256: string }> {
    await this.accessImpl.flush();
    await this.callProfilesImpl.flush();
    const resumes = await Promise.all([
      this.memoryImpl.pauseCompaction(),
      this.runImpl.pauseCompaction(),
      this.vectorImpl.pauseCompaction(),
      this.accessImpl.pauseCompaction(),
    ]);
    try {
      return await writeBackup(this.dir, file);
    } finally {
      resumes.forEach((resume) => resume());
    }
  }

  /** Re-reads everything from disk (after a restore swapped the folder). */
  async reload(backupsDir: string): Promise<void> {
    await this.close();
    await this.load(backupsDir);
  }

  compactLedger(): Promise<void> {
    return this.ledgerImpl.compact();
  }
}

/** The local store has no other writer: a listener for other instances' changes is never called. */
const noExternalChanges = (): (() => void) => () => undefined;

function stamp(clock: Clock): string {
  return new Date(clock.now()).toISOString().replace(/[:.]/g, '-');
}

function budgetRepo(db: () => Low<DbData>): BudgetRepository {
  return {
    list: async () => db().data.budgets.map((b) => ({ ...b })),
    get: async (id) => {
      const b = db().data.budgets.find((x) => x.id === id);
      return b && { ...b };
    },
    put: async (budget) => {
      await db().update((d) => (d.budgets = placed(d.budgets, [budget])));
    },
    putMany: async (budgets: BudgetRecord[]) => {
      await db().update((d) => (d.budgets = placed(d.budgets, budgets)));
    },
    delete: async (id) => {
      const d = db().data;
      const before = d.budgets.length;
      d.budgets = d.budgets.filter((b) => b.id !== id);
      if (d.budgets.length === before) return false;
      await db().write();
      return true;
    },
  };
}

function archiveRepo(db: () => Low<DbData>): ArchiveIndexRepository {
  return {
    list: async () => db().data.archives.map((a) => ({ ...a })),
    get: async (id) => {
      const a = db().data.archives.find((x) => x.id === id);
      return a && { ...a };
    },
    put: async (entry) => {
      await db().update((d) => {
        const i = d.archives.findIndex((x) => x.id === entry.id);
        if (i >= 0) d.archives[i] = { ...entry };
        else d.archives.push({ ...entry });
      });
    },
    delete: async (id) => {
      const d = db().data;
      const before = d.archives.length;
      d.archives = d.archives.filter((a) => a.id !== id);
      if (d.archives.length === before) return false;
      await db().write();
      return true;
    },
  };
}

function crewRepo(db: () => Low<DbData>): CrewRepository {
  const copy = (c: CrewRecord): CrewRecord => structuredClone(c);
  return {
    list: async () => db().data.crews.map(copy),
    get: async (id) => {
      const c = db().data.crews.find((x) => x.id === id);
      return c && copy(c);
    },
    put: async (crew) => {
      await db().update((d) => {
        const i = d.crews.findIndex((x) => x.id === crew.id);
        if (i >= 0) d.crews[i] = copy(crew);
        else d.crews.push(copy(crew));
      });
    },
    delete: async (id) => {
      const d = db().data;
      const before = d.crews.length;
      d.crews = d.crews.filter((c) => c.id !== id);
      if (d.crews.length === before) return false;
      await db().write();
      return true;
    },
  };
}

function crewTokenRepo(db: () => Low<DbData>): CrewTokenRepository {
  const copy = (t: CrewTokenRecord): CrewTokenRecord => ({ ...t });
  return {
    list: async () => db().data.crewTokens.map(copy),
    get: async (crewId) => {
      const t = db().data.crewTokens.find((x) => x.crewId === crewId);
      return t && copy(t);
    },
    put: async (token) => {
      await db().update((d) => {
        const i = d.crewTokens.findIndex((x) => x.crewId === token.crewId);
        if (i >= 0) d.crewTokens[i] = copy(token);
        else d.crewTokens.push(copy(token));
      });
    },
    delete: async (crewId) => {
      const d = db().data;
      const before = d.crewTokens.length;
      d.crewTokens = d.crewTokens.filter((t) => t.crewId !== crewId);
      if (d.crewTokens.length === before) return false;
      await db().write();
      return true;
    },
  };
}

/** Kept to the most recent; older applications only matter to the audit log, which has them too. */
const MAX_APPLIED_RECOMMENDATIONS = 1_000;

function appliedRecommendationRepo(db: () => Low<DbData>): AppliedRecommendationRepository {
  const copy = (a: AppliedRecommendation): AppliedRecommendation => structuredClone(a);
  return {
    list: async (limit) => (limit > 0 ? db().data.appliedRecommendations.slice(-limit).reverse().map(copy) : []),
    get: async (id) => {
      const list = db().data.appliedRecommendations;
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.id === id) return copy(list[i]!);
      return undefined;
    },
    append: async (entry) => {
      await db().update((d) => {
        d.appliedRecommendations.push(copy(entry));
        if (d.appliedRecommendations.length > MAX_APPLIED_RECOMMENDATIONS)
          d.appliedRecommendations.splice(0, d.appliedRecommendations.length - MAX_APPLIED_RECOMMENDATIONS);
      });
    },
  };
}

/** `list` with `budgets` upserted in order (a copy: nothing changes when one of them is refused). */
function placed(list: BudgetRecord[], budgets: BudgetRecord[]): BudgetRecord[] {
  const next = [...list];
  for (const b of budgets) {
    checkBudgetPlacement(next, b);
    const i = next.findIndex((x) => x.id === b.id);
    if (i >= 0) next[i] = { ...b };
    else next.push({ ...b });
  }
  return next;
}

function alertRepo(db: () => Low<DbData>): AlertRepository {
  return {
    markFired: async (key) => {
      const d = db().data;
      if (d.firedAlerts.includes(key)) return false;
      d.firedAlerts.push(key);
      if (d.firedAlerts.length > MAX_FIRED_KEYS) d.firedAlerts.splice(0, d.firedAlerts.length - MAX_FIRED_KEYS);
      await db().write();
      return true;
    },
    append: async (alert: BudgetAlert) => {
      await db().update((d) => {
        d.alerts.push(alert);
        if (d.alerts.length > MAX_ALERT_HISTORY) d.alerts.splice(0, d.alerts.length - MAX_ALERT_HISTORY);
      });
    },
    firedKeys: async () => [...db().data.firedAlerts],
    list: async ({ budgetId, since, limit }) => {
      const after = since === undefined ? -Infinity : Date.parse(since);
      return db()
        .data.alerts.filter((a) => (!budgetId || a.budgetId === budgetId) && Date.parse(a.at) > after)
        .slice(-limit)
        .reverse();
    },
  };
}

function webhookRepo(db: () => Low<DbData>): WebhookRepository {
  return {
    webhooks: async () => db().data.webhooks.map((w) => structuredClone(w)),
    addWebhook: async (hook: WebhookRecord) => {
      await db().update((d) => d.webhooks.push(structuredClone(hook)));
    },
    removeWebhook: async (id) => {
      const d = db().data;
      const before = d.webhooks.length;
      d.webhooks = d.webhooks.filter((w) => w.id !== id);
      if (before === d.webhooks.length) return false;
      await db().write();
      return true;
    },
    deliveryGivenUp: async (id, at, failure) => {
      const mine = db().data.webhooks.filter((w) => w.id === id);
      if (!mine.length) return undefined;
      for (const w of mine) {
        if (!w.failures) w.failingSince = at;
        w.failures = (w.failures ?? 0) + 1;
        w.lastFailure = failure;
      }
      await db().write();
      return structuredClone(mine[0]);
    },
    deliveryDelivered: async (id) => {
      const failing = db().data.webhooks.filter((w) => w.id === id && w.failures);
      if (!failing.length) return;
      for (const w of failing) {
        delete w.failures;
        delete w.failingSince;
        delete w.lastFailure;
      }
      await db().write();
    },
    expireWebhook: async (id, at) => {
      const live = db().data.webhooks.filter((w) => w.id === id && !w.expiredAt);
      if (!live.length) return false;
      for (const w of live) w.expiredAt = at;
      await db().write();
      return true;
    },
  };
}
