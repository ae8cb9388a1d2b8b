/**
 * What domains may ask of storage. Domains see only these interfaces; the lowdb + segment-file backend
 * implements them here, and a PostgreSQL backend can implement them without touching a domain.
 */
import type { BudgetAction, BudgetAlert, BudgetPeriod, CallStatus, Webhook } from '../../protocol';

export interface BudgetRecord {
  id: string;
  scope: string;
  period: BudgetPeriod;
  /** Exact decimal USD. */
  limit: string;
  action: BudgetAction;
  downgradeTo: string | null;
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
  list(query: { budgetId?: string; limit: number }): Promise<BudgetAlert[]>;
  webhooks(): Promise<Webhook[]>;
  addWebhook(hook: Webhook): Promise<void>;
  removeWebhook(id: string): Promise<boolean>;
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
  /** Replaces an estimated cost with the real one (reconcile). Durable. */
  settleCost(id: number, costPico: number, cost: string): Promise<LedgerRow | undefined>;
  get(id: number): LedgerRow | undefined;
  count(): number;
  sumCost(filter: LedgerFilter): bigint;
  aggregate(filter: LedgerFilter, by: LedgerGroupBy): LedgerAggregate[];
  /** Newest first. */
  list(filter: LedgerFilter & { before?: number; limit: number }): { rows: LedgerRow[]; total: number };
  /** Estimated rows that have a generation id, oldest first. */
  estimated(limit: number): LedgerRow[];
}

export interface StoreHandle {
  budgets: BudgetRepository;
  alerts: AlertRepository;
  models: ModelCacheRepository;
  ledger: LedgerRepository;
}
