/**
 * What the app holds of its store, whichever backend: the repositories the domains use, the budget gate over the
 * store's counters, and how to close it. `local` is the data directory's store (lowdb + segment files) when that is
 * the backend: its file-level operations (backup, restore, verify, compaction) have no meaning on a database.
 */
import type { VerificationSummary } from '../../protocol/verify';
import type { BudgetGate } from '../costs/gate';
import type { JsonStore } from './json-store';
import type { StoreLocation } from './location';
import type {
  AccessRepository,
  AlertRepository,
  AppliedRecommendationRepository,
  ArchiveIndexRepository,
  ArchivePayloadRepository,
  BudgetRepository,
  CallProfileRepository,
  CrewRepository,
  CrewTokenRepository,
  LedgerRepository,
  MemoryRepository,
  ModelCacheRepository,
  RunRepository,
  VectorRepository,
  WebhookDeliveryQueue,
  WebhookRepository,
} from './repositories';

/** Small server state kept in both stores: a key each (JSON document field / crew_settings row). */
export interface ServerSettings {
  embedder?: string;
  /** What the last `cost/verify` found (the Costs dashboard shows it). */
  ledgerVerification?: VerificationSummary;
}

export interface SettingsRepository {
  get(): ServerSettings;
  set(patch: ServerSettings): Promise<void>;
}

export interface CrewStore {
  readonly location: StoreLocation;
  readonly budgets: BudgetRepository;
  readonly alerts: AlertRepository;
  readonly webhooks: WebhookRepository;
  /** On a shared store: the webhook deliveries every instance sends from (none: each is sent from memory). */
  readonly webhookQueue?: WebhookDeliveryQueue;
  readonly models: ModelCacheRepository;
  readonly ledger: LedgerRepository;
  readonly memories: MemoryRepository;
  readonly vectors: VectorRepository;
  readonly access: AccessRepository;
  readonly archives: ArchiveIndexRepository;
  /** Where archive payloads live; none: files in the data directory's archives folder. */
  readonly archivePayloads?: ArchivePayloadRepository;
  readonly crews: CrewRepository;
  readonly runs: RunRepository;
  readonly crewTokens: CrewTokenRepository;
  readonly appliedRecommendations: AppliedRecommendationRepository;
  readonly callProfiles: CallProfileRepository;
  readonly settings: SettingsRepository;
  readonly gate: BudgetGate;
  /**
   * On a shared store: calls `onChange` when another instance changed these (or after the notifications
   * connection came back, when some may have been missed), so services that keep a copy re-read it.
   */
  watch?(what: 'crewTokens' | 'budgets', onChange: () => void): Promise<void>;
  /** On a shared store: carries client notifications to the other instances. */
  readonly bridge?: {
    start(deliver: (method: string, params: unknown) => void): Promise<void>;
    send(method: string, params: unknown): void;
  };
  /**
   * On a shared store: runs `job` only when no other instance is running the job of that name (undefined when one
   * is: it will be done there). Background work (reconciliation, the expiry sweep, the cost watch) goes through it.
   */
  exclusive?<T>(name: string, job: () => Promise<T>): Promise<T | undefined>;
  /** The local store itself, when it is the backend. */
  readonly local?: JsonStore;
  /** Whether the store answers now (server/health). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
