/**
 * The method table: one namespace per method, with its name, its RequestType/NotificationType and its Params
 * and Result. `METHODS` lists every request with whether it mutates state; the contract test snapshots it, so a
 * change here is always deliberate. README.md in this folder is the human-readable reference.
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import { ANALYTICS_METHODS } from './analytics';
import { ARCHIVE_METHODS } from './archive';
import { FORECAST_METHODS } from './forecast';
import { CREW_METHODS } from './crews';
import { RUN_METHODS, RunProgressNotification } from './runs';
import { RECOMMENDATION_METHODS } from './recommendations';
import { WEBHOOK_METHODS } from './webhooks';
import { VERIFY_METHODS } from './verify';
import type {
  AuditEntry,
  Attribution,
  Budget,
  BudgetAction,
  BudgetAlert,
  BudgetPeriod,
  BudgetStatus,
  CallStatus,
  ChatMessage,
  LedgerEntry,
  Memory,
  MemoryHistoryEntry,
  MemoryKind,
  MethodMetrics,
  ModelInfo,
  ScopeString,
  TokenUsage,
  Webhook,
} from './types';

/** Params of any method that reports progress: the server sends `$/progress` with this token. */
export interface WithProgress {
  progressToken?: string | number;
}

// ── server ─────────────────────────────────────────────────────────────

export namespace ServerHello {
  export const method = 'server/hello';
  export interface Params {
    clientKind: string;
    clientName?: string;
    clientVersion?: string;
    protocolVersion: string;
  }
  export type Result = ServerInfo.Result;
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ServerHealth {
  export const method = 'server/health';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    ok: boolean;
    uptimeMs: number;
    store: 'ok' | 'error';
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ServerInfo {
  export const method = 'server/info';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    name: 'crew-server';
    version: string;
    protocolVersion: string;
    pid: number;
    dataDir: string;
    socket: string | null;
    httpPort: number | null;
    startedAt: string;
    upstream: { baseUrl: string; sandbox: boolean; keyConfigured: boolean };
    /**
     * Where the data is: `local` (the data directory) or `postgres` (a database shared by a team's instances;
     * `location` is `postgres://user@host:port/db`, never with a password). Absent from servers before 1.8.
     */
    store?: { kind: 'local' | 'postgres'; location: string };
    /**
     * Clients attached now (socket and stdio connections, event streams), the asking one included: a client about
     * to restart the daemon can say who else it disconnects. Absent from older servers.
     */
    clients?: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ServerMetrics {
  export const method = 'server/metrics';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    uptimeMs: number;
    requests: number;
    errors: number;
    methods: MethodMetrics[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ServerShutdown {
  export const method = 'server/shutdown';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    stopping: true;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ServerUpstream {
  export const method = 'server/upstream';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    baseUrl: string;
    sandbox: boolean;
    keyConfigured: boolean;
    /** Present when `GET /key` answered. */
    key: {
      label: string | null;
      limitUsd: number | null;
      limitRemainingUsd: number | null;
      usageUsd: number;
      isFreeTier: boolean;
    } | null;
    error: string | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/**
 * Hands the server an OpenRouter API key for this run of the daemon, in memory only (the VS Code extension keeps it
 * in SecretStorage and sends it after connecting); null forgets it. The key is never written to the store, logs,
 * audit entries or errors. Refused for a sandbox server, whose upstream is the built-in fake.
 */
export namespace ServerSetApiKey {
  export const method = 'server/setApiKey';
  export interface Params {
    apiKey: string | null;
  }
  export interface Result {
    keyConfigured: boolean;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace AuditList {
  export const method = 'audit/list';
  export interface Params {
    limit?: number;
    method?: string;
  }
  export interface Result {
    entries: AuditEntry[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── models ─────────────────────────────────────────────────────────────

export namespace ModelsList {
  export const method = 'models/list';
  export interface Params {
    search?: string;
    /** Ignore the cache's TTL and ask upstream now. */
    refresh?: boolean;
  }
  export interface Result {
    models: ModelInfo[];
    fetchedAt: string | null;
    /** `network`: fresh from upstream; `cache`: within TTL; `stale-cache`: upstream failed, cache used. */
    source: 'network' | 'cache' | 'stale-cache';
    warning: string | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── chat ───────────────────────────────────────────────────────────────

export namespace ChatComplete {
  export const method = 'chat/complete';
  export interface Params extends Attribution, WithProgress {
    model: string;
    /**
     * A fallback chain (OpenRouter's `models`): when `model` fails upstream (down, rate-limited, refused, prompt too
     * long), OpenRouter tries these in order. The chain is `model` followed by these, each once (`model` may be
     * repeated here, as OpenRouter clients often write `models: [model, …]`), at most MAX_FALLBACK_CHAIN (3) models
     * in all, as OpenRouter takes. Budgets reserve the largest worst case over the chain, on the model budgets of
     * every model in it; the cost counts where the model that answered is in scope. Without `maxTokens`, the call
     * asks for the least completion limit over the chain (one `max_tokens` goes upstream, and every model of the
     * chain must take it).
     */
    models?: string[];
    messages: ChatMessage[];
    maxTokens?: number;
    temperature?: number;
    stream?: boolean;
    /**
     * Mark the system prompt (the first message, when it is a system message) cacheable: it is sent as a text part
     * with `cache_control: {type: 'ephemeral'}`, which providers with explicit caching (Anthropic, Gemini) need and
     * the others ignore. Keep what changes per call (memories, the task) in later messages so the cache hits.
     */
    cacheSystemPrompt?: boolean;
  }
  export interface Result {
    ledgerId: number;
    generationId: string | null;
    /**
     * The model that answered, as the ledger row names it: not `requestedModel` after a budget downgrade (then
     * `downgradedBy` is set) or when a fallback of `models` answered.
     */
    model: string;
    requestedModel: string;
    downgradedBy: string | null;
    content: string;
    finishReason: string | null;
    usage: TokenUsage;
    costUsd: number;
    cost: string;
    costEstimated: boolean;
    latencyMs: number;
    /** What budgets said of the call: a `warn` limit it may cross, a `fit` budget that lowered its max_tokens. */
    warnings: string[];
    /** The max_tokens a `fit` budget lowered the call to (null: sent as asked). Absent from older servers. */
    fittedMaxTokens?: number | null;
  }
  /** `$/progress` value sent while a streamed completion runs. */
  export interface Progress {
    kind: 'delta';
    text: string;
    completionTokens: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── ledger & costs ─────────────────────────────────────────────────────

export namespace LedgerList {
  export const method = 'ledger/list';
  export interface Params {
    limit?: number;
    /** Only entries with an id below this (paging backwards). */
    before?: number;
    crew?: string;
    agent?: string;
    model?: string;
    status?: CallStatus;
  }
  export interface Result {
    entries: LedgerEntry[];
    total: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace CostReport {
  export const method = 'cost/report';
  export type GroupBy = 'crew' | 'agent' | 'model' | 'day';
  export interface Params {
    by?: GroupBy;
    from?: string;
    to?: string;
    crew?: string;
    agent?: string;
    model?: string;
    format?: 'json' | 'csv';
    /** Also split each day's spend by crew, agent or model (`stacked`), for a stacked chart over time. */
    stack?: StackBy;
  }
  export type StackBy = 'crew' | 'agent' | 'model';
  export interface Stacked {
    by: StackBy;
    /**
     * Every UTC day (`YYYY-MM-DD`) of the range, zero-filled: from `from` (or the first day with calls) to `to` (or
     * the last day with calls). Without calls and without both bounds, empty.
     */
    days: string[];
    /**
     * One series per key, largest total first; `costUsd[i]` and `calls[i]` are for `days[i]`. At most
     * `STACK_SERIES_MAX` (12) keys; beyond that the smallest are summed into one `(other)` series, kept last.
     */
    series: { key: string; costUsd: number[]; calls: number[]; totalUsd: number }[];
  }
  export const STACK_SERIES_MAX = 12;
  export interface Row {
    key: string;
    calls: number;
    promptTokens: number;
    completionTokens: number;
    /** Of the prompt tokens, those read from the provider's prompt cache. */
    cachedTokens: number;
    /** Of the completion tokens, those spent reasoning. */
    reasoningTokens: number;
    costUsd: number;
    estimatedCostUsd: number;
    errors: number;
  }
  export interface Result {
    by: GroupBy;
    from: string | null;
    to: string | null;
    rows: Row[];
    total: Omit<Row, 'key'>;
    /** Present when `format` is `csv`. */
    csv?: string;
    /** Present when `stack` was given. */
    stacked?: Stacked;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── budgets ────────────────────────────────────────────────────────────

export namespace BudgetSet {
  export const method = 'budget/set';
  export interface Params {
    /** Update this budget; without it, the budget with the same scope and period is updated, or one is made. */
    id?: string;
    scope: ScopeString;
    period: BudgetPeriod;
    limitUsd: number;
    action?: BudgetAction;
    downgradeTo?: string;
    /** With action `fit`: the fewest completion tokens a call may be lowered to (default DEFAULT_FIT_MIN_TOKENS). */
    minTokens?: number;
    thresholds?: number[];
    weekStart?: number;
  }
  export interface Result {
    budget: Budget;
    created: boolean;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace BudgetStatusRequest {
  export const method = 'budget/status';
  export interface Params {
    scope?: ScopeString;
    id?: string;
  }
  export interface Result {
    budgets: BudgetStatus[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace BudgetDelete {
  export const method = 'budget/delete';
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace BudgetConfigureAlerts {
  export const method = 'budget/configureAlerts';
  export interface Params {
    /** Without it, `thresholds`/`enabled` apply to every budget. */
    budgetId?: string;
    thresholds?: number[];
    enabled?: boolean;
    /** Register a webhook (POSTed every alert in scope). */
    webhookUrl?: string;
    /** Remove a webhook by id. */
    removeWebhook?: string;
  }
  export interface Result {
    budgets: Budget[];
    webhooks: Webhook[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace BudgetAlerts {
  export const method = 'budget/alerts';
  export interface Params {
    budgetId?: string;
    limit?: number;
    /** Only alerts after this ISO time (exclusive): a poller passes the `at` of the newest alert it has seen. */
    since?: string;
  }
  export interface Result {
    alerts: BudgetAlert[];
    webhooks: Webhook[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── store ──────────────────────────────────────────────────────────────

export namespace StoreVerify {
  export const method = 'store/verify';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    ok: boolean;
    schemaVersion: number;
    checks: { name: string; ok: boolean; detail: string }[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace StoreBackup {
  export const method = 'store/backup';
  export interface Params {
    /**
     * A file name in `<dataDir>/backups/` (or a path that resolves inside that folder); default:
     * `crew-<timestamp>.backup` there. The server writes nowhere else: anything outside the folder (an absolute path
     * elsewhere, `..`, a symbolic link leading out) is refused with -32602 naming `path`. `crew store backup --output`
     * copies the backup to any place the user names.
     */
    path?: string;
  }
  export interface Result {
    path: string;
    bytes: number;
    sha256: string;
    ledgerEntries: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace StoreRestore {
  export const method = 'store/restore';
  export interface Params {
    /**
     * A backup in `<dataDir>/backups/`, by file name (or a path that resolves inside that folder); the server reads
     * nowhere else (-32602 naming `path`). `crew store restore <file>` copies a backup from anywhere into the folder
     * first.
     */
    path: string;
  }
  export interface Result {
    restoredFrom: string;
    /** A backup of the state that the restore replaced. */
    previousBackup: string;
    ledgerEntries: number;
    budgets: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── memory ─────────────────────────────────────────────────────────────

/** The parts of a memory/search score (the formula is in server/memory/search/README.md). */
export interface ScoreComponents {
  /** The blend of semantic and lexical that the relevance weight multiplies. */
  relevance: number;
  /** max(0, cosine). */
  semantic: number;
  /** BM25 normalised by this query's best hit (0 when not a hit). */
  lexical: number;
  recency: number;
  importance: number;
  frequency: number;
  /** Raw cosine, or null when the memory has no vector of the query's embedder. */
  cosine: number | null;
  /** Raw BM25 (0 when not a hit). */
  bm25: number;
}

/** Optional ranking overrides of memory/search and memory/context (see server/memory/search/README.md). */
export interface RankingParams {
  weights?: { relevance?: number; recency?: number; importance?: number; frequency?: number };
  /** Share of cosine (vs BM25) in relevance, 0 … 1. */
  vectorShare?: number;
  /** Recency half-life in days. */
  halfLifeDays?: number;
}

export namespace MemoryAdd {
  export const method = 'memory/add';
  export interface Params {
    crew: string;
    agent?: string;
    content: string;
    kind?: MemoryKind;
    tags?: string[];
    importance?: number;
    pinned?: boolean;
    expiresAt?: string;
  }
  export interface Result {
    memory: Memory;
    /** false when the crew already had this content (then `duplicateOf` names it and nothing was stored). */
    created: boolean;
    duplicateOf: string | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryGet {
  export const method = 'memory/get';
  export interface Params {
    id: string;
  }
  export interface Result {
    memory: Memory;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryUpdate {
  export const method = 'memory/update';
  export interface Params {
    id: string;
    content?: string;
    kind?: MemoryKind;
    tags?: string[];
    importance?: number;
    pinned?: boolean;
    expiresAt?: string | null;
    agent?: string | null;
  }
  export interface Result {
    memory: Memory;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryDelete {
  export const method = 'memory/delete';
  export interface Params {
    ids: string[];
  }
  export interface Result {
    deleted: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryList {
  export const method = 'memory/list';
  export interface Params {
    crew?: string;
    agent?: string;
    kind?: MemoryKind;
    tag?: string;
    limit?: number;
    offset?: number;
  }
  export interface Result {
    memories: Memory[];
    total: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemorySearch {
  export const method = 'memory/search';
  export interface Params extends RankingParams {
    query: string;
    crew?: string;
    agent?: string;
    kinds?: MemoryKind[];
    tags?: string[];
    limit?: number;
  }
  export interface Hit {
    memory: Memory;
    score: number;
    /** Every component of the score (see the ranking formula). */
    components: ScoreComponents;
  }
  export interface Result {
    hits: Hit[];
    embedderId: string;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryHistory {
  export const method = 'memory/history';
  export interface Params {
    id: string;
  }
  export interface Result {
    history: MemoryHistoryEntry[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryContext {
  export const method = 'memory/context';
  export interface Params extends RankingParams {
    query: string;
    crew?: string;
    agent?: string;
    kinds?: MemoryKind[];
    tags?: string[];
    /** Token budget to pack memories into. */
    maxTokens: number;
    /** Candidates considered (default 50). */
    limit?: number;
  }
  export interface Result {
    memories: { memory: Memory; score: number; tokens: number }[];
    usedTokens: number;
    budgetTokens: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace MemoryEmbedder {
  export const method = 'memory/embedder';
  export interface Params {
    /** Switch to `local`, `hash` or `openrouter:<model>` (kept across restarts); omit to only read. */
    set?: string;
  }
  export interface Result {
    /** The embedder in use, e.g. `local-use-lite@512`. */
    embedderId: string;
    /** The setting it came from. */
    setting: string;
    /** Live memories with a vector of this embedder. */
    embedded: number;
    total: number;
    /** Background embedding still running (after a switch, or for memories added offline). */
    reembedding: { done: number; total: number } | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── notifications (server → client) ────────────────────────────────────

export namespace BudgetAlertNotification {
  export const method = 'budget/alert';
  export type Params = BudgetAlert;
  export const type = new NotificationType<Params>(method);
}

export namespace UsageRecordedNotification {
  export const method = 'usage/recorded';
  export type Params = LedgerEntry;
  export const type = new NotificationType<Params>(method);
}

export namespace ServerStatusNotification {
  export const method = 'server/status';
  export interface Params {
    state: 'starting' | 'ready' | 'stopping' | 'error';
    message: string | null;
  }
  export const type = new NotificationType<Params>(method);
}

export namespace MemoryChangedNotification {
  export const method = 'memory/changed';
  export interface Params {
    ids: string[];
    change: 'added' | 'updated' | 'deleted' | 'archived' | 'restored';
    crew: string;
  }
  export const type = new NotificationType<Params>(method);
}

export namespace MemoryReembedNotification {
  export const method = 'memory/reembedProgress';
  export interface Params {
    embedderId: string;
    done: number;
    total: number;
  }
  export const type = new NotificationType<Params>(method);
}

/**
 * A mutating call changed what the server holds (a crew, a budget, an archive, a recommendation applied…), so views
 * showing that domain should re-read it. Sent after every successful mutating request except chat/complete (every
 * call is already a `usage/recorded`), whoever made it: the CLI, the extension, n8n or a browser.
 */
export namespace StoreChangedNotification {
  export const method = 'store/changed';
  export interface Params {
    /** The method's domain: `crew`, `budget`, `archive`, `memory`, `cost`, `store`, … */
    domain: string;
    method: string;
  }
  export const type = new NotificationType<Params>(method);
}

export namespace ProgressNotification {
  export const method = '$/progress';
  export interface Params<T = unknown> {
    token: string | number;
    value: T;
  }
  export const type = new NotificationType<Params>(method);
}

/** Every request method, and whether it changes state (mutating calls are rate limited harder and audited). */
export const METHODS = {
  [ServerHello.method]: { mutating: false },
  [ServerHealth.method]: { mutating: false },
  [ServerInfo.method]: { mutating: false },
  [ServerMetrics.method]: { mutating: false },
  [ServerShutdown.method]: { mutating: true },
  [ServerUpstream.method]: { mutating: false },
  [ServerSetApiKey.method]: { mutating: true },
  [AuditList.method]: { mutating: false },
  [ModelsList.method]: { mutating: false },
  [ChatComplete.method]: { mutating: true },
  [LedgerList.method]: { mutating: false },
  [CostReport.method]: { mutating: false },
  [BudgetSet.method]: { mutating: true },
  [BudgetStatusRequest.method]: { mutating: false },
  [BudgetDelete.method]: { mutating: true },
  [BudgetConfigureAlerts.method]: { mutating: true },
  [BudgetAlerts.method]: { mutating: false },
  [StoreVerify.method]: { mutating: false },
  [StoreBackup.method]: { mutating: true },
  [StoreRestore.method]: { mutating: true },
  [MemoryAdd.method]: { mutating: true },
  [MemoryGet.method]: { mutating: false },
  [MemoryUpdate.method]: { mutating: true },
  [MemoryDelete.method]: { mutating: true },
  [MemoryList.method]: { mutating: false },
  [MemorySearch.method]: { mutating: false },
  [MemoryHistory.method]: { mutating: false },
  [MemoryContext.method]: { mutating: false },
  [MemoryEmbedder.method]: { mutating: true },
  ...ANALYTICS_METHODS,
  ...ARCHIVE_METHODS,
  ...FORECAST_METHODS,
  ...CREW_METHODS,
  ...RUN_METHODS,
  ...RECOMMENDATION_METHODS,
  ...WEBHOOK_METHODS,
  ...VERIFY_METHODS,
} as const satisfies Record<string, { mutating: boolean }>;

export type MethodName = keyof typeof METHODS;

export const NOTIFICATIONS = [
  BudgetAlertNotification.method,
  UsageRecordedNotification.method,
  ServerStatusNotification.method,
  MemoryChangedNotification.method,
  MemoryReembedNotification.method,
  RunProgressNotification.method,
  StoreChangedNotification.method,
  ProgressNotification.method,
] as const;

/** Discovery file written next to the data by the daemon. */
export interface DiscoveryFile {
  pid: number;
  socket: string | null;
  httpPort: number | null;
  protocolVersion: string;
  version: string;
  dataDir: string;
  startedAt: string;
}

export type { Budget, BudgetAlert, BudgetStatus, LedgerEntry, ModelInfo, ScopeString };
