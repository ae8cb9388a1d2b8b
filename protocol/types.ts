/** Entity shapes shared by several methods. USD amounts are numbers; exact figures are kept server-side. */

export type BudgetPeriod = 'daily' | 'weekly' | 'monthly' | 'total';
/**
 * What a budget does with a call whose worst case does not fit: `block` refuses it, `warn` lets it through (and
 * alerts), `downgrade` sends it to `downgradeTo`, `fit` lowers its `max_tokens` to the most that fits (never below
 * `minTokens`), and refuses it as `block` does below that.
 */
export type BudgetAction = 'block' | 'warn' | 'downgrade' | 'fit';
/** The fewest completion tokens a `fit` budget lowers a call to, unless the budget says otherwise. */
export const DEFAULT_FIT_MIN_TOKENS = 16;
/**
 * The ledger tag of a call a fit lowered: `fit:max_tokens=<n>`. The server's own, like `correction-of:`: a caller's
 * tag may not start with it (a ledger entry's `fittedMaxTokens` is read from it).
 */
export const FIT_TAG_PREFIX = 'fit:max_tokens=';
/** The most models a fallback chain (chat/complete's `model` and `models`) may hold: OpenRouter refuses more. */
export const MAX_FALLBACK_CHAIN = 3;

/** A call's fallback chain: `model`, then each model of `models` not already in it, in order. */
export function fallbackChain(model: string, models: readonly string[] | undefined): string[] {
  const chain = [model];
  if (models) for (const m of models) if (!chain.includes(m)) chain.push(m);
  return chain;
}
export type BudgetState = 'ok' | 'warning' | 'exceeded';
/** `global`, `crew:<id>`, `agent:<id>` or `model:<id>`. */
export type ScopeString = string;

export interface Budget {
  id: string;
  scope: ScopeString;
  period: BudgetPeriod;
  limitUsd: number;
  action: BudgetAction;
  downgradeTo: string | null;
  /** `fit` budgets: the fewest completion tokens a call is lowered to (null: DEFAULT_FIT_MIN_TOKENS). */
  minTokens?: number | null;
  /** Percentages of the limit at which an alert fires, ascending. */
  thresholds: number[];
  alertsEnabled: boolean;
  /** 0 = Sunday … 6 = Saturday; used by weekly budgets. */
  weekStart: number;
  createdAt: string;
  updatedAt: string;
}

export interface BudgetStatus extends Budget {
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
  percentUsed: number;
  state: BudgetState;
  periodStart: string | null;
  periodEnd: string | null;
}

/**
 * `blocked`: a call was refused (critical). `over_limit`: a `warn` budget went over its limit and calls go on (a
 * warning; stores written before this kind existed hold such alerts as `blocked`). `ledger_drift`: `cost/verify` found
 * calls whose ledger cost differs from what OpenRouter billed (budgetId `ledger/drift`; protocol/verify.ts).
 */
export type AlertKind = 'threshold' | 'blocked' | 'over_limit' | 'downgraded' | 'forecast' | 'anomaly' | 'ledger_drift';

export interface BudgetAlert {
  id: string;
  budgetId: string;
  scope: ScopeString;
  kind: AlertKind;
  /** The threshold crossed (percent), for `threshold` alerts. */
  threshold: number | null;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  spentUsd: number;
  limitUsd: number;
  percentUsed: number;
  periodStart: string | null;
  at: string;
}

/**
 * A budget-alert webhook registered with `budget/configureAlerts {webhookUrl}`. `webhook/list` shows it, with every
 * `webhook/register` subscription, as a `WebhookSubscription` (protocol/webhooks.ts).
 */
export interface Webhook {
  id: string;
  url: string;
  /** Restrict to one budget; null means every budget. */
  budgetId: string | null;
  createdAt: string;
}

export interface ModelPricing {
  /** USD per token (or per request/image), exactly as OpenRouter gives it. */
  prompt: string;
  completion: string;
  request?: string;
  image?: string;
  webSearch?: string;
  internalReasoning?: string;
  inputCacheRead?: string;
  inputCacheWrite?: string;
}

export interface ModelInfo {
  id: string;
  name: string;
  contextLength: number | null;
  maxCompletionTokens: number | null;
  pricing: ModelPricing;
  /** USD per million tokens, for display. */
  promptUsdPerMillion: number;
  completionUsdPerMillion: number;
  inputModalities: string[];
  outputModalities: string[];
  expirationDate: string | null;
  created: number | null;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
}

export type CallStatus = 'ok' | 'error' | 'cancelled';

export interface LedgerEntry {
  id: number;
  at: string;
  model: string;
  crew: string | null;
  agent: string | null;
  tags: string[];
  usage: TokenUsage;
  costUsd: number;
  /** The cost exactly as recorded (OpenRouter's `usage.cost`, or the estimate), as a decimal string. */
  cost: string;
  costEstimated: boolean;
  generationId: string | null;
  latencyMs: number;
  status: CallStatus;
  stream: boolean;
  /**
   * The `max_tokens` a `fit` budget (or a run's ceiling) lowered the call to before it was sent; null when the call
   * went as asked. Kept in the row's tags as `fit:max_tokens=<n>` (so both stores hold it, and a tag filter finds it).
   */
  fittedMaxTokens?: number | null;
}

export interface Attribution {
  crew?: string;
  /**
   * The agent's name; with `crew`, the call is the crew agent's `<crew>/<agent>` (crewAgentId), whether it is given
   * as `researcher` or `ops/researcher`: one id in the ledger, in reports and for `agent:` budgets.
   */
  agent?: string;
  tags?: string[];
}

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  name?: string;
}

export interface AuditEntry {
  at: string;
  /**
   * Who was authenticated: `server-token`, `crew-token:<crew id>`, `socket:<connection>` or `stdio:<connection>`.
   * Absent in entries written before protocol 1.8.
   */
  principal?: string;
  /** The kind the client declared (server/hello, X-Crew-Client): recorded as said, not verified. */
  clientKind: string;
  /** The connection (socket/stdio), `http`, or `gateway:<crew>/<agent>`. */
  clientId: string;
  /** The client's own name for itself (clientName, or the X-Crew-Client header), as declared. */
  declaredClient?: string | null;
  method: string;
  /** Params with secrets and bulky fields elided. */
  summary: string;
  outcome: 'ok' | 'error';
  errorCode: number | null;
  durationMs: number;
}

export interface MethodMetrics {
  method: string;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

// ── memory ─────────────────────────────────────────────────────────────

export type MemoryKind = 'fact' | 'insight' | 'lesson' | 'result' | 'note';

export interface Memory {
  id: string;
  crew: string;
  agent: string | null;
  content: string;
  kind: MemoryKind;
  tags: string[];
  /** 0 … 1 */
  importance: number;
  pinned: boolean;
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  lastAccessedAt: string | null;
  accessCount: number;
  /**
   * Which embedder produced the stored vector; null until embedded — also while a budget refuses to pay for a paid
   * embedder's call (the memory is kept and found by text meanwhile; it is embedded once a budget has room).
   */
  embedding: { embedderId: string; dimensions: number } | null;
}

export interface MemoryHistoryEntry {
  /** 1 for the first version; +1 per change. */
  version: number;
  at: string;
  change: 'created' | 'updated' | 'merged' | 'restored';
  /** The fields as they were before this change (empty for `created`). */
  previous: Partial<Pick<Memory, 'content' | 'kind' | 'tags' | 'importance' | 'pinned' | 'expiresAt' | 'agent'>>;
  /** Free text: e.g. the ids merged into this memory. */
  note: string | null;
}
