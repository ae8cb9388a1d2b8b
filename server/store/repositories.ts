/**
 * What domains may ask of storage. Domains see only these interfaces; the lowdb + segment-file backend
 * implements them here, and a PostgreSQL backend can implement them without touching a domain.
 */
import type {
  BudgetAction,
  BudgetAlert,
  BudgetPeriod,
  CallStatus,
  MemoryHistoryEntry,
  MemoryKind,
  Webhook,
} from '../../protocol';
import type { Crew } from '../../protocol/crews';
import type { AppliedRecommendation } from '../../protocol/recommendations';
import type { Run, RunStatus } from '../../protocol/runs';
import type { WebhookEvent } from '../../protocol/webhooks';

export interface BudgetRecord {
  id: string;
  scope: string;
  period: BudgetPeriod;
  /** Exact decimal USD. */
  limit: string;
  action: BudgetAction;
  downgradeTo: string | null;
  /** `fit` only; absent in records written before `fit` existed. */
  minTokens?: number | null;
  thresholds: number[];
  alertsEnabled: boolean;
  weekStart: number;
  createdAt: string;
  updatedAt: string;
}

export interface BudgetRepository {
  list(): Promise<BudgetRecord[]>;
  get(id: string): Promise<BudgetRecord | undefined>;
  put(budget: BudgetRecord): Promise<void>;
  putMany(budgets: BudgetRecord[]): Promise<void>;
  delete(id: string): Promise<boolean>;
}

export interface AlertRepository {
  /** Records that `key` (budget, period, threshold) fired; false if it had fired already. Durable. */
  markFired(key: string): Promise<boolean>;
  append(alert: BudgetAlert): Promise<void>;
  /** Newest first; `since` (ISO time) keeps only alerts after it. */
  list(query: { budgetId?: string; since?: string; limit: number }): Promise<BudgetAlert[]>;
  /** Every key that fired, oldest first (what `crew store copy` carries over, so no alert fires twice). */
  firedKeys(): Promise<string[]>;
}

/**
 * A webhook subscription as stored. Records written by `budget/configureAlerts` (and before webhook/register
 * existed) have only the `Webhook` fields: no `events` means budget alerts only, so old stores need no migration.
 */
export interface WebhookRecord extends Webhook {
  events?: WebhookEvent[];
  crew?: string | null;
  description?: string;
  /** The HMAC key. Stored because signing needs it; never returned by a method, logged or audited. */
  secret?: string | null;
  /** Deliveries given up in a row; absent (0) since the last one that got through. */
  failures?: number;
  failingSince?: string | null;
  lastFailure?: string | null;
  /** Set when deliveries stopped because they kept failing (server/webhooks/service.ts). */
  expiredAt?: string | null;
}

export interface WebhookRepository {
  /** In registration order. */
  webhooks(): Promise<WebhookRecord[]>;
  addWebhook(hook: WebhookRecord): Promise<void>;
  removeWebhook(id: string): Promise<boolean>;
  /**
   * One more delivery to `id` given up, in a row (the first sets `failingSince` to `at`); one step, so instances
   * sharing a store count every failure. The record as it is now; undefined when there is none.
   */
  deliveryGivenUp(id: string, at: string, failure: string): Promise<WebhookRecord | undefined>;
  /** A delivery to `id` got through: its failures in a row are forgotten (nothing is written when it had none). */
  deliveryDelivered(id: string): Promise<void>;
  /** Stops deliveries to `id`: true when this call expired it, false when it is gone or was already expired. */
  expireWebhook(id: string, at: string): Promise<boolean>;
}

/** One webhook delivery waiting in a shared queue: the exact request, and how far its attempts have come. */
export interface QueuedDelivery {
  id: string;
  url: string;
  /** The exact bytes to send (the signature is over them). */
  body: string;
  headers: Record<string, string>;
  /** Names the delivery in log lines. */
  what: string;
  /** Attempts made so far. */
  attempt: number;
  /** The subscription it goes to (whose failures in a row it counts in); absent on rows queued before it was kept. */
  subscriptionId?: string | null;
}

/**
 * Webhook deliveries shared by the instances of one store: each is claimed by one instance at a time (for
 * `leaseMs`; an instance that dies leaves it to the others once the lease runs out), so it goes out once however
 * many instances run.
 */
export interface WebhookDeliveryQueue {
  enqueue(deliveries: QueuedDelivery[]): Promise<void>;
  /** Up to `limit` deliveries that are due and unclaimed, now claimed by this instance. */
  claim(limit: number, leaseMs: number): Promise<QueuedDelivery[]>;
  /** Answered 2xx, or given up: gone from the queue. */
  remove(id: string): Promise<void>;
  /** Failed: tried again after `delayMs`, by whichever instance claims it then. */
  retryLater(id: string, delayMs: number, failure: string): Promise<void>;
  /** How many wait, claimed or not. */
  size(): Promise<number>;
}

export interface ModelCacheRecord {
  fetchedAt: string;
  /** Raw model objects as OpenRouter sent them. */
  models: unknown[];
}

export interface ModelCacheRepository {
  load(): Promise<ModelCacheRecord | undefined>;
  save(cache: ModelCacheRecord): Promise<void>;
}

export interface LedgerRow {
  id: number;
  /** Completion time, ms since epoch. */
  ts: number;
  model: string;
  crew: string | null;
  agent: string | null;
  tags: string[];
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Picodollars. */
  costPico: number;
  /** The cost as received (or estimated), as a plain decimal string. */
  cost: string;
  estimated: boolean;
  generationId: string | null;
  latencyMs: number;
  status: CallStatus;
  stream: boolean;
}

export type NewLedgerRow = Omit<LedgerRow, 'id'>;

export interface LedgerFilter {
  crew?: string;
  agent?: string;
  model?: string;
  status?: CallStatus;
  /** Inclusive, ms. */
  from?: number;
  /** Exclusive, ms. */
  to?: number;
}

export type LedgerGroupBy = 'crew' | 'agent' | 'model' | 'day';

export interface LedgerAggregate {
  key: string;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  costPico: bigint;
  estimatedPico: bigint;
  errors: number;
}

export interface LedgerRepository {
  /**
   * Appends a row; resolves once it is on disk. `alone`: the caller knows no other write can join this one (the
   * only call in flight), so the backend may write at once instead of waiting to group it with others.
   */
  append(row: NewLedgerRow, opts?: { alone?: boolean }): Promise<LedgerRow>;
  /** Replaces an estimated cost with the real one (reconcile); undefined when the row is not an estimate. Durable. */
  settleCost(id: number, costPico: number, cost: string): Promise<LedgerRow | undefined>;
  // Reads are asynchronous: with PostgreSQL they are queries (the local store answers from memory at once).
  get(id: number): Promise<LedgerRow | undefined>;
  count(): Promise<number>;
  sumCost(filter: LedgerFilter): Promise<bigint>;
  aggregate(filter: LedgerFilter, by: LedgerGroupBy): Promise<LedgerAggregate[]>;
  /** Newest first. */
  list(filter: LedgerFilter & { before?: number; limit: number }): Promise<{ rows: LedgerRow[]; total: number }>;
  /** Estimated rows that have a generation id, oldest first. */
  estimated(limit: number): Promise<LedgerRow[]>;
  /** Rows grouped by (crew, agent, model) with their token sums and largest call: what savings are priced on. */
  usage(filter: LedgerFilter): Promise<LedgerUsage[]>;
  /**
   * A copy into an EMPTY ledger (`crew store copy`): writes `rows` as they are, ids included, in one transaction,
   * and leaves the budget counters to be derived from them. Backends whose ids are assigned densely on append
   * (the local store) have none: the copy appends in time order instead.
   */
  importRows?(rows: LedgerRow[]): Promise<void>;
}

/** One (crew, agent, model) group of ledger rows. */
export interface LedgerUsage {
  crew: string | null;
  agent: string | null;
  model: string;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costPico: bigint;
  /** The largest prompt + completion of one call: the context length the group needs. */
  maxContextTokens: number;
  maxCompletionTokens: number;
}

export interface StoreHandle {
  budgets: BudgetRepository;
  alerts: AlertRepository;
  webhooks: WebhookRepository;
  models: ModelCacheRepository;
  ledger: LedgerRepository;
}

// ── memory ─────────────────────────────────────────────────────────────

/** A memory as stored: access figures live in the AccessRepository, vectors in the VectorRepository. */
export interface MemoryRecord {
  id: string;
  crew: string;
  agent: string | null;
  content: string;
  kind: MemoryKind;
  tags: string[];
  importance: number;
  pinned: boolean;
  /** ms since epoch */
  expiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** sha256 of the normalised content, for exact-duplicate detection within a crew. */
  contentHash: string;
  history: MemoryHistoryEntry[];
}

/**
 * Memories, all held in memory and written through to disk. A write resolves once durable and never rewrites the
 * whole collection (an append-only log, compacted in the background).
 */
export interface MemoryRepository {
  get(id: string): MemoryRecord | undefined;
  /** Every live memory, in insertion order. */
  all(): Iterable<MemoryRecord>;
  byCrew(crew: string): Iterable<MemoryRecord>;
  count(): number;
  /** Inserts or replaces (by id). */
  put(records: MemoryRecord[]): Promise<void>;
  /** Removes; resolves to how many existed. */
  delete(ids: string[]): Promise<number>;
  /**
   * Where several servers share the store (PostgreSQL): `listener` is told, after the copy this repository reads
   * from has taken them in, which memories another instance added, changed or removed (and which of this
   * instance's writes failed and were set back), so the search index can follow. The local store has no other
   * writer and never calls it.
   */
  onExternalChange?(listener: (change: ExternalChange) => void): () => void;
}

/** Ids whose stored state changed other than through this instance's own (successful) writes. */
export interface ExternalChange {
  ids: string[];
}

/** Vectors by (memory id, embedder id), stored compactly (Float32), never as JSON decimals. */
export interface VectorRepository {
  get(id: string, embedderId: string): Float32Array | undefined;
  put(entries: { id: string; embedderId: string; vector: Float32Array }[]): Promise<void>;
  delete(ids: string[]): Promise<void>;
  /** All vectors of one embedder. */
  entries(embedderId: string): Iterable<[string, Float32Array]>;
  embedderIds(): string[];
  /** As MemoryRepository.onExternalChange; `ids` are memory ids whose vectors (of any embedder) changed. */
  onExternalChange?(listener: (change: ExternalChange) => void): () => void;
}

export interface AccessCounters {
  count: number;
  /** ms since epoch, null if never accessed */
  last: number | null;
}

/** One day's access figures for one crew. */
export interface DailyAccess {
  /** YYYY-MM-DD (UTC) */
  day: string;
  crew: string;
  accesses: number;
  /** distinct memories accessed that day */
  memories: number;
  /** 24 counters, by UTC hour */
  byHour: number[];
}

/**
 * Access events kept compactly: per-memory counters plus per-day, per-crew aggregates — never one row per read
 * forever. `record` is synchronous (searches must not wait on disk); events are journaled and snapshotted in the
 * background, and `flush` makes everything so far durable.
 */
export interface AccessRepository {
  record(events: { id: string; crew: string; at: number }[]): void;
  counters(id: string): AccessCounters;
  daily(query: { crew?: string; fromDay?: string; toDay?: string }): DailyAccess[];
  forget(ids: string[]): void;
  /** Sets counters back to what they were (restoring archived memories). */
  restore(entries: { id: string; count: number; last: number | null }[]): void;
  flush(): Promise<void>;
  /** As MemoryRepository.onExternalChange; `ids` are memories whose counters another instance changed. */
  onExternalChange?(listener: (change: ExternalChange) => void): () => void;
}

export interface ArchiveEntry {
  id: string;
  /** The archive file's name in the archives folder (named by checksum). */
  file: string;
  sha256: string;
  count: number;
  crews: string[];
  memoryIds: string[];
  bytesIn: number;
  bytesOut: number;
  ratio: number;
  policy: Record<string, unknown> | null;
  createdAt: number;
  /** Ids already restored out of this archive (a partial restore). */
  restoredIds: string[];
  /**
   * `pending`: the file is durable and verified but the live memories may not all be removed yet (a crash
   * here is finished at the next start); `complete` once they are.
   */
  state: 'pending' | 'complete';
}

export interface ArchiveIndexRepository {
  list(): Promise<ArchiveEntry[]>;
  get(id: string): Promise<ArchiveEntry | undefined>;
  put(entry: ArchiveEntry): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/**
 * The archives' compressed bytes, content-addressed by their sha256 (lowercase hex): files named
 * `<sha256>.crewarc` beside the store (store/archive-payloads.ts), or `bytea` rows in PostgreSQL. The archive
 * service checks what it reads (hash, lengths) itself: a payload store hands bytes back as they are.
 */
export interface ArchivePayloadRepository {
  /** Stores `bytes` (which must hash to `sha256`); resolves once durable. Storing the same bytes again is harmless. */
  write(sha256: string, bytes: Uint8Array): Promise<void>;
  /** The bytes as stored, or undefined if there are none. */
  read(sha256: string): Promise<Buffer | undefined>;
  /** Removes the payload; no error if there was none. */
  delete(sha256: string): Promise<void>;
  /** The sha256 of every payload stored, sorted. */
  list(): Promise<string[]>;
  /** Removes what writes cut short by a crash left behind (temp files); resolves to how many. */
  removePartial(): Promise<number>;
  /**
   * Runs `fn` while no other server sharing these payloads runs an archive operation (PostgreSQL: an advisory
   * lock), so one server's recovery never takes another's payload in the middle of being archived for an orphan.
   * Absent where one server owns the payloads (the local store: its data-directory lock already says so).
   */
  exclusive?<T>(fn: () => Promise<T>): Promise<T>;
}

// ── crews ──────────────────────────────────────────────────────────────

/** A crew as stored: the same shape as on the wire. */
export type CrewRecord = Crew;

export interface CrewRepository {
  list(): Promise<CrewRecord[]>;
  get(id: string): Promise<CrewRecord | undefined>;
  /** Inserts or replaces (by id). Durable. */
  put(crew: CrewRecord): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** A gateway token bound to one crew: calls made with it are attributed to that crew. Only its hash is stored. */
export interface CrewTokenRecord {
  crewId: string;
  /** sha256 of the token, hex. */
  sha256: string;
  createdAt: string;
}

/** Crews' gateway tokens, at most one per crew (by hash only; the token itself is never stored). */
export interface CrewTokenRepository {
  list(): Promise<CrewTokenRecord[]>;
  get(crewId: string): Promise<CrewTokenRecord | undefined>;
  /** Inserts or replaces the crew's token. Durable. */
  put(token: CrewTokenRecord): Promise<void>;
  /** Removes the crew's token; false if it had none. Durable. */
  delete(crewId: string): Promise<boolean>;
}

// ── runs ───────────────────────────────────────────────────────────────

/** A run as stored: the same shape as on the wire. */
export type RunRecord = Run;

export interface RunFilter {
  crewId?: string;
  /** The crew's name as the run recorded it (any case): runs of a crew since deleted. */
  crewName?: string;
  status?: RunStatus;
  /** Started at or after (ms). */
  from?: number;
  /** Started before (ms). */
  before?: number;
}

/**
 * Crew runs, held in memory and written through to an append-only file (a run is written as it progresses; the
 * last record of an id wins), compacted in the background. Never part of the JSON document.
 */
export interface RunRepository {
  get(id: string): RunRecord | undefined;
  /** Newest first. */
  list(filter: RunFilter & { limit: number }): { runs: RunRecord[]; total: number };
  /** Inserts or replaces (by id). Durable. */
  put(run: RunRecord): Promise<void>;
  /**
   * Runs still `running` that no live server is running: after a crash, they stopped with it. Without this (the
   * local store, one server per data directory), every `running` run at start is one.
   */
  orphaned?(): Promise<RunRecord[]>;
  /** As MemoryRepository.onExternalChange, for runs. */
  onExternalChange?(listener: (change: ExternalChange) => void): () => void;
}

// ── savings recommendations ────────────────────────────────────────────

/** Recommendations applied (`cost/applyRecommendation`), and what they changed. */
export interface AppliedRecommendationRepository {
  /** Newest first. */
  list(limit: number): Promise<AppliedRecommendation[]>;
  /** The latest application of this recommendation id, if any. */
  get(id: string): Promise<AppliedRecommendation | undefined>;
  /** Durable. */
  append(entry: AppliedRecommendation): Promise<void>;
}

/**
 * What one successful call looked like, beyond its ledger row: what it asked for (`maxTokens`) and whether it
 * began with a long system prefix (its sha256 and its share of the real prompt tokens).
 */
export interface CallShape {
  /** ms since epoch */
  at: number;
  crew: string | null;
  agent: string | null;
  model: string;
  /** The max_tokens sent (the caller's, or the default the gate reserved). */
  maxTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** The system prompt (the first message, when a system message), when long enough to be worth caching. */
  prefix: { sha256: string; tokens: number } | null;
}

/** One UTC day of one (crew, agent, model)'s calls. */
export interface AgentDayProfile {
  /** YYYY-MM-DD (UTC) */
  day: string;
  crew: string | null;
  agent: string | null;
  model: string;
  calls: number;
  maxTokensSum: number;
  maxTokensMax: number;
  completionSum: number;
  completionMax: number;
  /** Completion tokens by log bucket (see costs/token-histogram.ts): bucket → calls. */
  completionHistogram: Record<string, number>;
}

/** One UTC day of the calls of one (crew, agent, model) that began with one system prefix. */
export interface PrefixDayProfile {
  day: string;
  crew: string | null;
  agent: string | null;
  model: string;
  /** sha256 of the prefix (hex, first 32 digits). */
  sha256: string;
  calls: number;
  /** Calls that were already served cached tokens. */
  cachedCalls: number;
  /** Sum over the calls of the prefix's tokens. */
  prefixTokens: number;
  /** Calls more than the cache's lifetime after the previous one with this prefix: each would write the cache. */
  writes: number;
  /** The last call's time (ms), to tell the next one's gap. */
  lastAt: number;
}

/**
 * Call shapes kept as per-day aggregates (never one row per call). `record` is synchronous and cheap (it is on
 * every call's path); aggregates are written in the background, and `flush` makes everything so far durable.
 */
export interface CallProfileRepository {
  record(shape: CallShape): void;
  /** Days from `fromDay` to `toDay` inclusive (YYYY-MM-DD). */
  query(range: { fromDay: string; toDay: string }): { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] };
  /** Adds days' aggregates as they are (`crew store copy` into an empty store); written by the next flush. */
  add(days: { agents: AgentDayProfile[]; prefixes: PrefixDayProfile[] }): void;
  flush(): Promise<void>;
}
