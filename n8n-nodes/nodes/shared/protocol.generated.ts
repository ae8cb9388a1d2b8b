/**
 * GENERATED from protocol/ by n8n-nodes/scripts/protocol.mjs (run by `npm run build`): do not edit.
 * The nodes' copy of the contract (community nodes import nothing but n8n-workflow); a unit test fails when
 * it differs from protocol/.
 */

// ── protocol/analytics.ts ──

/** The days a figure covers: `days` UTC days ending with today (today included, so it is a partial day). */
export interface AnalyticsWindow {
  from: string;
  to: string;
  days: number;
}

/** A memory as analytics lists it: enough to recognise and act on it without fetching it. */
export interface MemoryBrief {
  id: string;
  kind: MemoryKind;
  importance: number;
  pinned: boolean;
  /** Lifetime accesses (the store keeps per-memory counters, not per-memory days). */
  accessCount: number;
  lastAccessedAt: string | null;
  createdAt: string;
  /** The first 80 characters of the content, whitespace folded. */
  preview: string;
  tokens: number;
}

export interface CrewSummary {
  crew: string;
  /** Live memories (expired ones left out). */
  total: number;
  pinned: number;
  byKind: Record<MemoryKind, number>;
  /**
   * Growth: memories created each day of the window, and how many of today's live memories existed at the end of
   * that day (deleted or archived memories are no longer known, so they are not in either figure).
   */
  createdPerDay: { day: string; created: number; total: number }[];
  /** Every day of the window, zero-filled: accesses and distinct memories accessed. */
  accessesPerDay: { day: string; accesses: number; memories: number }[];
  /** Accesses in the window, by UTC hour (24 counters). */
  byHour: number[];
  /** Accesses in the window, by UTC weekday (7 counters, 0 = Sunday). */
  byWeekday: number[];
  /**
   * Accesses in the window by UTC weekday and hour: 7 rows (0 = Sunday) of 24 counters, for a heatmap. Row sums are
   * `byWeekday`, column sums `byHour`. Older servers leave it out.
   */
  byWeekdayHour?: number[][];
  accessesInWindow: number;
  /** Up to 10 memories accessed in the window, most accessed first. */
  hot: MemoryBrief[];
  /** The first 10 of the `unusedInWindow` memories: never accessed first (oldest first), then by oldest access. */
  cold: MemoryBrief[];
  /** Memories never accessed at all, and their share of `total` (0 when there are none). */
  neverAccessed: number;
  neverAccessedShare: number;
  /** Memories created before the window (they had all of it to be used) … */
  agedMemories: number;
  /** … of which this many were not accessed in the window (the cold ones), and their share of `agedMemories`. */
  unusedInWindow: number;
  unusedInWindowShare: number;
  /** Sum of the live memories' estimated tokens: what putting all of them in a prompt would cost. */
  contextTokens: number;
}

export namespace AnalyticsSummary {
  export const method = 'analytics/summary';
  export interface Params {
    /** One crew; without it, every crew that has memories or accesses in the window. */
    crew?: string;
    /** Window length in days (default 30). */
    days?: number;
  }
  export interface Result {
    window: AnalyticsWindow;
    generatedAt: string;
    crews: CrewSummary[];
  }
}

export type InsightKind =
  'unused-share' | 'hot-concentration' | 'stale-growth' | 'duplicates' | 'access-drop' | 'archive-savings';

export interface Insight {
  /** Stable for the same finding: `<kind>:<crew>`. */
  id: string;
  kind: InsightKind;
  crew: string;
  severity: 'info' | 'warning';
  /** One plain-language sentence, with the numbers in it. */
  text: string;
  /** The numbers behind the sentence (shares in [0, 1], counts, tokens, days). */
  figures: Record<string, number>;
}

export namespace AnalyticsInsights {
  export const method = 'analytics/insights';
  export interface Params {
    crew?: string;
    days?: number;
  }
  export interface Result {
    window: AnalyticsWindow;
    generatedAt: string;
    /** Warnings first, then by crew and kind. Only findings the data supports; possibly none. */
    insights: Insight[];
  }
}

export type RecommendationKind = 'archive' | 'merge' | 'pin';

export interface Recommendation {
  /** `<kind>-<16 hex>`: a hash of the kind and the sorted memory ids, so the same advice keeps its id. */
  id: string;
  kind: RecommendationKind;
  crew: string;
  memoryIds: string[];
  reason: string;
  /** Estimated prompt tokens no longer spent if the advice is followed (0 for pin: pinning adds none). */
  tokensSaved: number;
  /**
   * In [0, 1], higher first: the share of the crew's context tokens saved (archive, merge), or the memory's share
   * of the crew's most-accessed count × its importance (pin).
   */
  score: number;
  /** For merge: ready-made `memory/merge` params (the suggested keeper, content, tags and importance). */
  merge?: MemoryMerge.Params;
}

export namespace AnalyticsRecommendations {
  export const method = 'analytics/recommendations';
  export interface Params {
    crew?: string;
    /** Most recommendations returned (default 20). */
    limit?: number;
  }
  export interface Result {
    generatedAt: string;
    recommendations: Recommendation[];
    /** How many there were before `limit`. */
    total: number;
  }
}

export interface ClusterInfo {
  /** 0 for the largest cluster, then by size. */
  id: number;
  label: string;
  /** c-TF-IDF terms, strongest first. */
  terms: { term: string; weight: number }[];
  size: number;
  /** Mean cosine of the members to their centroid, in [-1, 1]. */
  cohesion: number;
  /** The member closest to the centroid. */
  representativeId: string;
  memberIds: string[];
}

export interface ClusteringInfo {
  crew: string;
  /** Vectors of one embedder only are ever clustered together. */
  embedderId: string;
  computedAt: string;
  /** Memories with a vector when computed (clustered or blank). */
  memories: number;
  k: number;
  /** Mean cosine silhouette of the result (0 when k < 2). */
  silhouette: number;
  /** Silhouette of every k tried on the selection sample; empty when k was given. */
  candidates: { k: number; silhouette: number }[];
  clusters: ClusterInfo[];
  /** Blank memories: nothing to cluster them by. */
  unclusteredIds: string[];
}

export namespace ClustersCompute {
  export const method = 'clusters/compute';
  export interface Params extends WithProgress {
    crew: string;
    /** Exactly this many clusters; without it, k is chosen by silhouette in [kMin, kMax]. */
    k?: number;
    /** Default 2. */
    kMin?: number;
    /** Default 12. */
    kMax?: number;
  }
  export type Result = ClusteringInfo;
  /** `$/progress` value while it runs. */
  export interface Progress {
    kind: 'progress';
    /** In [0, 1], non-decreasing. */
    fraction: number;
    message: string;
  }
}

export namespace MemoryDuplicates {
  export const method = 'memory/duplicates';
  export interface Params extends WithProgress {
    /** Without it, every crew (memories of different crews are never duplicates of each other). */
    crew?: string;
    /** Cosine in (0, 1]; default 0.92. */
    threshold?: number;
  }
  export interface DuplicateSet {
    crew: string;
    /** The memory the suggestion keeps. */
    keepId: string;
    /** Each other member with its cosine to the kept one (every one ≥ threshold), most similar first. */
    duplicates: { id: string; similarity: number }[];
    /** Ready-made `memory/merge` params, and why this memory is the one kept. */
    merge: MemoryMerge.Params;
    reason: string;
    tokensSaved: number;
  }
  export interface Result {
    threshold: number;
    /** One per crew looked at. */
    embedderIds: Record<string, string>;
    /** Most similar first. */
    sets: DuplicateSet[];
  }
  export type Progress = ClustersCompute.Progress;
}

export namespace MemoryMerge {
  export const method = 'memory/merge';
  export interface Params {
    keepId: string;
    /** Memories of the same crew, deleted once merged into `keepId`. */
    mergeIds: string[];
    /** The merged content; default: the kept memory's. */
    content?: string;
    /** Default: the union of all tags. */
    tags?: string[];
    /** Default: the highest importance of the set. */
    importance?: number;
  }
  export interface Result {
    /** The kept memory after the merge: pinned if any was, access counts summed, a `merged` history entry. */
    memory: Memory;
    /** The ids deleted. */
    merged: string[];
    tokensSaved: number;
  }
}

// ── protocol/archive.ts ──

/**
 * Which memories a policy archives: every condition given must hold. At least one of `olderThanDays` and
 * `belowScore` is required, so that a policy never means "everything in the crew".
 */
export interface ArchivePolicy {
  /** One crew; without it, every crew. */
  crew?: string;
  /** Last active (created, updated, accessed or restored) at least this many days ago. */
  olderThanDays?: number;
  /** Retention score (recency, importance and use; see RetentionScore) strictly below this, 0 … 1. */
  belowScore?: number;
  kinds?: MemoryKind[];
  /** Pinned memories are left alone unless this is true (default false). */
  includePinned?: boolean;
  /** At most this many memories per archive, the least recently active first (default 10,000; max 100,000). */
  limit?: number;
}

/**
 * The retention score a policy's `belowScore` compares with: how much a memory is worth keeping at hand, 0 … 1,
 * with no query involved. It is the memory ranking without relevance, its weights rescaled to sum to 1:
 *   0.5·recency + 0.375·importance + 0.125·frequency
 * recency = 0.5^(days since last active / 14); frequency = min(1, ln(1 + accesses) / ln(101)).
 */
export type RetentionScore = number;

export interface Archive {
  id: string;
  /** sha256 of the archive file, which is named `<sha256>.crewarc`; `sha256sum` checks it. */
  sha256: string;
  /** Memories in the archive. */
  count: number;
  crews: string[];
  /** UTF-8 bytes of the memories as JSON lines, and of the compressed file. */
  bytesIn: number;
  bytesOut: number;
  /** bytesIn / bytesOut. */
  ratio: number;
  /** The policy that selected the memories; null when they were chosen by id. */
  policy: ArchivePolicy | null;
  createdAt: string;
  /**
   * Ids of this archive that are live again: restored, or kept live because they were changed while being
   * archived. Restoring the whole archive brings back the others.
   */
  restoredIds: string[];
  /**
   * `pending`: written and verified, the live memories not yet all removed (finished at the next start, or before
   * the archive is next used); `complete`; `restored` when every memory of it is live again.
   */
  state: 'pending' | 'complete' | 'restored';
}

/** A memory a create would move, as a dry run lists it. */
export interface ArchiveCandidate {
  id: string;
  crew: string;
  kind: MemoryKind;
  pinned: boolean;
  /** The first 80 characters of the content, whitespace folded. */
  preview: string;
  createdAt: string;
  lastAccessedAt: string | null;
  /** The latest of created, updated, last accessed and restored: what `olderThanDays` measures from. */
  lastActiveAt: string;
  accessCount: number;
  retentionScore: RetentionScore;
  /** UTF-8 bytes of the memory as archived (record, history and counters as one JSON line). */
  bytes: number;
}

export interface ArchiveScheduleInfo {
  name: string;
  policy: ArchivePolicy;
  everyHours: number;
  createdAt: string;
  lastRunAt: string | null;
  nextRunAt: string;
  lastResult: {
    at: string;
    /** The archives the run wrote (one per `limit` memories); empty when nothing matched. */
    archiveIds: string[];
    archived: number;
    error: string | null;
  } | null;
}

export namespace ArchiveCreate {
  export const method = 'archive/create';
  /** Exactly one of `ids` and `policy`. Ids must all be live memories (NotFound names the first that is not). */
  export interface Params extends WithProgress {
    ids?: string[];
    policy?: ArchivePolicy;
    /** List exactly what would move, change nothing. */
    dryRun?: boolean;
  }
  export interface DryRunResult {
    dryRun: true;
    /** In the order they would be archived: least recently active first (ids: as given). */
    candidates: ArchiveCandidate[];
    totals: {
      count: number;
      bytes: number;
      crews: string[];
      /** Memories the policy matched; more than `count` when `limit` cut the list. */
      matched: number;
    };
  }
  export interface CreatedResult {
    dryRun: false;
    /** null when nothing matched (no archive is written). */
    archive: Archive | null;
    /** The memories moved into the archive. */
    ids: string[];
    /** Memories changed while they were being archived: their live version was kept (see Archive.restoredIds). */
    keptLive: string[];
    /** Memories the policy matched beyond `limit`, left for the next run. */
    remaining: number;
  }
  export type Result = DryRunResult | CreatedResult;
  /** `$/progress` value while an archive is written. */
  export interface Progress {
    phase: 'select' | 'encode' | 'write' | 'verify' | 'detach' | 'done';
    count: number;
  }
}

export namespace ArchiveRestore {
  export const method = 'archive/restore';
  /**
   * The whole archive (every memory not restored yet) or the chosen ids (NotFound names an id not in it). The file is
   * read and verified whole first: a damaged one is refused with ArchiveInvalid and nothing restored.
   */
  export interface Params extends WithProgress {
    archiveId: string;
    ids?: string[];
  }
  export interface Result {
    archive: Archive;
    /** Back as they were archived: content, metadata, history and access counters; no new history entry. */
    restored: string[];
    /** Already live (never removed, or restored before): left as they are. */
    skipped: string[];
    /** Restored memories whose content a live memory of the same crew also has (added again since). */
    duplicates: { id: string; duplicateOf: string }[];
  }
  /** `$/progress` value while an archive is restored. */
  export interface Progress {
    phase: 'verify' | 'attach' | 'done';
    count: number;
  }
}

export namespace ArchiveList {
  export const method = 'archive/list';
  export interface Params {
    /** Archives holding memories of this crew. */
    crew?: string;
  }
  export interface Result {
    /** Newest first. */
    archives: Archive[];
    schedules: ArchiveScheduleInfo[];
  }
}

export namespace ArchiveDelete {
  export const method = 'archive/delete';
  /** Removes the index entry, then the file. Memories not restored from it are gone for good. */
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
    /** Memories of the archive that were not live again. */
    unrestored: number;
  }
}

// ── protocol/crews.ts ──

/** A per-agent spending limit, stored on the agent (enforced as a budget `agent:<crew>/<name>` later). */
export interface AgentBudget {
  limitUsd: number;
  period: BudgetPeriod;
}

export interface Agent {
  /** Unique within its crew (case-insensitive). */
  name: string;
  role: string;
  /** A model id known to the catalog. */
  model: string;
  systemPrompt: string;
  /** 0..2; null: the model's default. */
  temperature: number | null;
  /** null: the model's default. */
  maxTokens: number | null;
  budget: AgentBudget | null;
  /**
   * Mark the system prompt cacheable (`cache_control` on OpenRouter, for providers that need it; the others cache
   * long prefixes on their own). Set by the prompt-caching recommendation.
   */
  promptCache: boolean;
}

/** An agent as a client sends it: only name and model are required. */
export interface AgentInput {
  name: string;
  model: string;
  /** Default "". */
  role?: string;
  /** Default "". */
  systemPrompt?: string;
  temperature?: number | null;
  maxTokens?: number | null;
  budget?: AgentBudget | null;
  /** Default false. */
  promptCache?: boolean;
}

export interface Crew {
  /** `crew_<uuid>`; never changes. */
  id: string;
  /** Unique among crews (case-insensitive); may change. */
  name: string;
  description: string;
  agents: Agent[];
  createdAt: string;
  updatedAt: string;
}

export namespace CrewCreate {
  export const method = 'crew/create';
  export interface Params {
    name: string;
    /** Default "". */
    description?: string;
    /** Default none. */
    agents?: AgentInput[];
  }
  export type Result = Crew;
}

export namespace CrewUpdate {
  export const method = 'crew/update';
  export interface Params {
    /** Id or name. */
    crew: string;
    /** Renames the crew. */
    name?: string;
    description?: string;
    /** Replaces every agent; not together with addAgent/removeAgent. */
    agents?: AgentInput[];
    /** Adds one agent (after `removeAgent`, so both together replace one agent). */
    addAgent?: AgentInput;
    /** Removes the agent of this name. */
    removeAgent?: string;
  }
  export type Result = Crew;
}

export namespace CrewList {
  export const method = 'crew/list';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    /** By name. */
    crews: Crew[];
  }
}

export namespace CrewGet {
  export const method = 'crew/get';
  export interface Params {
    /** Id or name. */
    crew: string;
  }
  export type Result = Crew;
}

// ── protocol/errors.ts ──

/**
 * Error codes. JSON-RPC reserves -32768..-32000 and LSP -32899..-32800; domain codes are positive and stable.
 * Every domain error carries a `data` object a client can act on (see the …Data types).
 */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** LSP's RequestCancelled: the client cancelled ($/cancelRequest or a closed HTTP request). */
  RequestCancelled: -32800,

  BudgetExceeded: 1001,
  NotFound: 1002,
  UnknownModel: 1003,
  RateLimited: 1004,
  Unauthorized: 1005,
  Conflict: 1006,

  UpstreamUnauthorized: 1101,
  UpstreamPaymentRequired: 1102,
  UpstreamForbidden: 1103,
  UpstreamRateLimited: 1104,
  UpstreamUnavailable: 1105,
  UpstreamTimeout: 1106,
  UpstreamStreamError: 1107,
  UpstreamBadRequest: 1108,

  StoreCorrupt: 1201,
  StoreTooNew: 1202,
  StoreIo: 1203,
  BackupInvalid: 1204,
  /** A memory archive file failed its checks (data: reason, archiveId, sha256); nothing was restored. */
  ArchiveInvalid: 1205,
  /**
   * The shared database (PostgreSQL) cannot be reached right now (data: StoreUnavailableData). Retryable: nothing
   * was recorded or spent; the server reconnects on its own.
   */
  StoreUnavailable: 1206,
} as const;

// ── protocol/forecast.ts ──

export interface BudgetForecast {
  budgetId: string;
  scope: ScopeString;
  period: BudgetPeriod;
  limitUsd: number;
  /** Spent in the current period so far (from the ledger). */
  spentUsd: number;
  /** null for `total` budgets. */
  periodStart: string | null;
  /** null for `total` budgets. */
  periodEnd: string | null;
  /** The end of the projection: the period's end, or 30 days from now for a `total` budget. */
  horizonEnd: string;
  /** Projected spend at `horizonEnd`: spent + pace × remaining days. */
  projectedUsd: number;
  /** Lower end of the range (never below what is already spent). */
  low: number;
  /** Upper end of the range. */
  high: number;
  /**
   * The UTC day (`YYYY-MM-DD`) on which cumulative spend (actual, then projected) first reaches the limit; null when
   * it does not within the horizon. A day in the past when the limit is already reached.
   */
  exhaustionDate: string | null;
  /** projectedUsd ≥ limitUsd. */
  willExceed: boolean;
  /** How the figure was made (pace blend, range), in words. */
  method: string;
  /** The blended daily pace the projection uses. */
  pacePerDayUsd: number;
  /** The two inputs of the blend: the current period's average per day (null before any time has passed, or for
   * `total`) and the trailing history's (null when the scope has no history). */
  currentPacePerDayUsd: number | null;
  trailingPacePerDayUsd: number | null;
}

export namespace CostForecast {
  export const method = 'cost/forecast';
  export interface Params {
    /** One budget; default: every budget (optionally only those of `scope`). */
    budgetId?: string;
    scope?: ScopeString;
  }
  export interface Result {
    at: string;
    forecasts: BudgetForecast[];
  }
}

// ── protocol/methods.ts ──

/** Params of any method that reports progress: the server sends `$/progress` with this token. */
export interface WithProgress {
  progressToken?: string | number;
}

export namespace ServerHealth {
  export const method = 'server/health';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    ok: boolean;
    uptimeMs: number;
    store: 'ok' | 'error';
  }
}

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
}

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
}

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
}

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
}

export namespace BudgetDelete {
  export const method = 'budget/delete';
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
  }
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
}

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
}

export namespace MemoryGet {
  export const method = 'memory/get';
  export interface Params {
    id: string;
  }
  export interface Result {
    memory: Memory;
  }
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
}

export namespace MemoryDelete {
  export const method = 'memory/delete';
  export interface Params {
    ids: string[];
  }
  export interface Result {
    deleted: number;
  }
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
}

// ── protocol/recommendations.ts ──

/**
 * - `cheaper-model`: an agent's calls re-priced on the cheapest model that has at least the context length and the
 *   modalities the agent actually used.
 * - `prompt-caching`: the same long prompt prefix (system prompt) repeats; re-priced with the model's cache-read price.
 * - `max-tokens`: `max_tokens` set far above what replies use (it holds budget headroom in every reservation).
 * - `unused-memories`: memories packed into run contexts that never influenced an output; their prompt tokens' cost.
 */
export type CostRecommendationKind = 'cheaper-model' | 'prompt-caching' | 'max-tokens' | 'unused-memories';

/** One change a recommendation makes when applied. */
export interface RecommendationChange {
  /** What was changed, e.g. `crew:launch/agent:writer` or `memory:<id>`. */
  target: string;
  /** e.g. `model`, `maxTokens`, `promptCache`, `archived`. */
  field: string;
  before: unknown;
  after: unknown;
}

export interface CostRecommendation {
  /** Stable for the same kind and target (`rec_…`): apply it by this id. */
  id: string;
  kind: CostRecommendationKind;
  /** One line, e.g. "ops/writer: switch openai/gpt-4o to openai/gpt-4o-mini". */
  title: string;
  /** Why, with the figures behind it. */
  detail: string;
  crew: string | null;
  /** The agent as attributed in the ledger (`<crew>/<agent>` for crew runs). */
  agent: string | null;
  model: string | null;
  /** What it would have saved over the window. */
  savingsUsd: number;
  /** Exact decimal of `savingsUsd`. */
  savings: string;
  /** What the calls concerned actually cost over the window. */
  spentUsd: number;
  /** The figures the recommendation rests on (calls, tokens, prices…), by name. */
  evidence: Record<string, number | string>;
  /** The changes `cost/applyRecommendation` would make; empty when it cannot be applied (see `notApplicable`). */
  changes: RecommendationChange[];
  /** Why it cannot be applied with one call (e.g. the agent is not a crew member); null when it can. */
  notApplicable: string | null;
}

export namespace CostRecommendations {
  export const method = 'cost/recommendations';
  export interface Params {
    /** The window to look back over, in days (default 30, 1…365). */
    windowDays?: number;
    /** Only this crew's calls (id or name). */
    crew?: string;
    /** Leave out recommendations that would save less (default 0). */
    minSavingsUsd?: number;
  }
  export interface Result {
    at: string;
    from: string;
    to: string;
    windowDays: number;
    /** Largest savings first. */
    recommendations: CostRecommendation[];
    totalSavingsUsd: number;
    /** Recommendations applied before (newest first, at most 50). */
    applied: AppliedRecommendation[];
  }
}

export interface AppliedRecommendation {
  id: string;
  kind: CostRecommendationKind;
  title: string;
  savingsUsd: number;
  changes: RecommendationChange[];
  appliedAt: string;
}

// ── protocol/runs.ts ──

/**
 * `sequential`: each agent in order sees the task, the previous agents' outputs and the crew's best memories;
 * the last agent's output is the result. `manager`: a lead agent delegates to members by name, one step at a time,
 * until it gives the final answer or the step limit is reached.
 */
export type RunProcess = 'sequential' | 'manager';

/**
 * `budget_exceeded`: a budget or the run's ceiling (`maxCostUsd`) refused a call; the run stopped there, before the
 * call, and what was done is kept (the error's data names the budget, or `run:<id>` for the ceiling). `failed`: an upstream
 * or other error stopped it. `cancelled`: a client cancelled it (in-flight calls aborted, reservations released).
 */
export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'budget_exceeded';

export interface RunError {
  /** The JSON-RPC error code (e.g. 1001 BudgetExceeded, 1104 UpstreamRateLimited, -32800 cancelled). */
  code: number;
  message: string;
  /** The error's data (e.g. BudgetExceededData: scope, limit, spent). */
  data: unknown;
}

/** A memory packed into a step's context. */
export interface RunStepMemory {
  id: string;
  /** Tokens it took in the prompt. */
  tokens: number;
  /**
   * Whether the step's output shows it was used: enough of the memory's distinctive words reappear in the output.
   * Memories that keep riding along without influence are a savings recommendation.
   */
  influenced: boolean;
}

export interface RunStep {
  /** 0-based, in the order the calls were made. */
  index: number;
  /** The agent's name within its crew. */
  agent: string;
  /** `lead`: the manager's deciding call; `member`: an agent doing work. */
  role: 'lead' | 'member';
  /** The model that answered (after a budget downgrade, the one it went to). */
  model: string;
  /** What the agent was asked: the task (sequential) or the lead's instruction (manager). */
  instruction: string;
  output: string;
  status: 'ok' | 'error' | 'cancelled' | 'budget_exceeded';
  error: RunError | null;
  usage: TokenUsage;
  costUsd: number;
  /** Exact decimal USD (OpenRouter's `usage.cost`, or an estimate when `costEstimated`). */
  cost: string;
  costEstimated: boolean;
  /** The ledger row of this step's call; null when no call was made (refused before sending). */
  ledgerId: number | null;
  memories: RunStepMemory[];
  startedAt: string;
  finishedAt: string | null;
}

export interface Run {
  /** `run_<uuid>`. */
  id: string;
  crewId: string;
  /** The crew's name when the run started. */
  crew: string;
  task: string;
  process: RunProcess;
  status: RunStatus;
  steps: RunStep[];
  /** The result: the last member's output (sequential) or the lead's final answer (manager); null if none. */
  output: string | null;
  usage: TokenUsage;
  costUsd: number;
  /** Exact decimal sum of the steps' costs. */
  cost: string;
  error: RunError | null;
  /** The memory (kind `result`) the output was saved as; null when not saved. */
  memoryId: string | null;
  /** The run's ceiling (`crew/run` `maxCostUsd`); null or absent (runs before protocol 1.9) when it had none. */
  maxCostUsd?: number | null;
  startedAt: string;
  finishedAt: string | null;
}

/** What shapes a run: `crew/run` takes it (with options of a run's own), and `crew/estimate` takes it alone. */
export interface RunShape {
  /** Id or name. */
  crew: string;
  task: string;
  /** Default `sequential`. */
  process?: RunProcess;
  /** Manager process: the lead agent's name; default the crew's first agent. */
  lead?: string;
  /** Manager process: most delegations before the lead must answer (default 6, at most 20). */
  maxSteps?: number;
  /** Tokens of memories packed into each agent's context (default 800; 0: none). */
  memoryTokens?: number;
  /**
   * The run's ceiling in USD: the run is a budget scope of its own (`run:<id>`). Every step reserves its worst
   * case on it as well as on every budget in scope, lowered to fit as a `fit` budget's call is (never below 16
   * completion tokens); a step that cannot fit ends the run as `budget_exceeded` before it is sent, keeping what
   * was done. A manager run's lead and its delegations draw on the one ceiling. To `crew/estimate`: the ceiling the
   * run would have, which caps its worst case.
   */
  maxCostUsd?: number;
}

export namespace CrewRun {
  export const method = 'crew/run';
  export interface Params extends RunShape {
    /** Stream each call (progress then carries text deltas). Default false. */
    stream?: boolean;
    /** Save the output as a memory of kind `result` (default true). */
    saveResult?: boolean;
    /**
     * Tell each agent, in its prompt, what it has left to spend: the least of the ceiling's and every enforcing
     * budget's room in scope of its call. Default false (it costs prompt tokens and changes the prompt each step).
     */
    tellRemaining?: boolean;
    progressToken?: string | number;
  }
  /** The run as stored when it ended (whatever its status: a refusal or a cancel is a result, not an error). */
  export type Result = Run;
  /** `$/progress` values (when a progressToken was given); the same figures go to every client as `crew/runProgress`. */
  export type Progress = RunProgress;
}

/**
 * What one agent of a run is expected to cost. Per call, `typical` and `high` are the median and the 90th
 * percentile of what this agent's calls on this model cost before (the ledger's `usage.cost`); with no such calls
 * they are null: there is nothing to go on, and only the worst case is known.
 */
export interface AgentEstimate {
  agent: string;
  model: string;
  role: 'lead' | 'member';
  /** Calls of this agent in the run: typically, at most the high figure, and at most possible. */
  steps: { typical: number; high: number; max: number };
  /** How many earlier calls (agent and model) the per-call figures come from (the latest 200 at most). */
  historyCalls: number;
  perCallTypicalUsd: number | null;
  perCallHighUsd: number | null;
  /** typical steps × typical per call; null without history. */
  typicalUsd: number | null;
  /** high steps × high per call; null without history. */
  highUsd: number | null;
  /** The most its `max` steps can cost: every prompt token the bytes allow, every completion token allowed. */
  worstCaseUsd: number;
}

export namespace CrewEstimate {
  export const method = 'crew/estimate';
  /** What `crew/run` would be given; nothing is sent upstream and nothing is recorded. */
  export type Params = RunShape;
  export interface Result {
    crew: string;
    process: RunProcess;
    agents: AgentEstimate[];
    /** Sums over the agents; null when an agent has no history (then only the worst case is known). */
    typicalUsd: number | null;
    highUsd: number | null;
    worstCaseUsd: number;
    /** The ceiling given, which no run can pass: the most the run can spend is min(worstCaseUsd, this). */
    maxCostUsd: number | null;
    /** Earlier runs of this crew with this process that the step counts come from. */
    historyRuns: number;
    /** What the figures rest on, in words (assumptions, missing history). */
    notes: string[];
  }
}

export namespace CrewRuns {
  export const method = 'crew/runs';
  export interface Params {
    /** One run, by id (then the other filters are ignored). */
    runId?: string;
    /** Id or name; a deleted crew's runs are found by the name they recorded. */
    crew?: string;
    status?: RunStatus;
    /** Default 20, at most 200. */
    limit?: number;
    /** Only runs that started before this time (paging back). */
    before?: string;
  }
  export interface Result {
    /** Newest first. */
    runs: Run[];
    /** Runs matching the filters. */
    total: number;
  }
}

export interface RunProgress {
  runId: string;
  crew: string;
  event: 'started' | 'step-started' | 'delta' | 'step-finished' | 'finished';
  status: RunStatus;
  /** The step concerned (null for `started`/`finished`). */
  step: number | null;
  /** `step-finished` only: how the step ended (a step a budget refused is not a finished one); null otherwise. */
  stepStatus: RunStep['status'] | null;
  agent: string | null;
  /** `delta` only: the text just generated. */
  text: string | null;
  /** Tokens (prompt + completion) of the run so far, the current step's streamed tokens included. */
  tokens: number;
  /** Settled cost of the run so far. */
  costUsd: number;
}

// ── protocol/types.ts ──

/** Entity shapes shared by several methods. USD amounts are numbers; exact figures are kept server-side. */

export type BudgetPeriod = 'daily' | 'weekly' | 'monthly' | 'total';

/**
 * What a budget does with a call whose worst case does not fit: `block` refuses it, `warn` lets it through (and
 * alerts), `downgrade` sends it to `downgradeTo`, `fit` lowers its `max_tokens` to the most that fits (never below
 * `minTokens`), and refuses it as `block` does below that.
 */
export type BudgetAction = 'block' | 'warn' | 'downgrade' | 'fit';

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

// ── protocol/verify.ts ──

/** A call whose cost in the ledger is not what OpenRouter billed. */
export interface DriftedCall {
  /** The ledger row. */
  id: number;
  generationId: string;
  model: string;
  crew: string | null;
  agent: string | null;
  /** When the call completed. */
  at: string;
  /** What the ledger holds for the call: its row plus any correction appended since. */
  ledgerUsd: number;
  /** GET /generation's `total_cost`. */
  upstreamUsd: number;
  /** upstreamUsd − ledgerUsd, computed exactly. */
  differenceUsd: number;
  /** The row is an estimate that reconciliation has not settled yet (no alert is raised for it). */
  estimated: boolean;
  /** With `fix`: the correction row appended (or, for an estimate, the row itself, settled); else null. */
  fixedBy: number | null;
}

/** A call OpenRouter does not know (404). Calls of the last minutes may simply not be available yet. */
export interface MissingCall {
  id: number;
  generationId: string;
  model: string;
  at: string;
  ledgerUsd: number;
}

/** A call with tokens but no cost in the ledger, which OpenRouter did not confirm as free. */
export interface ZeroCostCall {
  id: number;
  /** null: the call has no generation id, so it could not be checked. */
  generationId: string | null;
  model: string;
  at: string;
  promptTokens: number;
  completionTokens: number;
  /** What OpenRouter billed; null when it could not be asked or does not know the call. */
  upstreamUsd: number | null;
}

export type KeyUsagePeriod = 'day' | 'week' | 'month' | 'total';

/** One of GET /key's usage figures beside the ledger's total for the same UTC period. */
export interface KeyUsageFigure {
  period: KeyUsagePeriod;
  /** Start of the UTC period (weeks start on Monday, as OpenRouter's do); null for `total`. */
  from: string | null;
  ledgerUsd: number;
  upstreamUsd: number;
  /** upstreamUsd − ledgerUsd. Calls made with the key outside this product (or with another key here) show here. */
  differenceUsd: number;
}

export interface KeyUsageComparison {
  label: string | null;
  periods: KeyUsageFigure[];
}

export namespace CostVerify {
  export const method = 'cost/verify';
  export interface Params {
    /** ISO date or date-time, inclusive; default DEFAULT_VERIFY_DAYS days ago. */
    from?: string;
    /** ISO date or date-time, exclusive; default now. */
    to?: string;
    /**
     * Append a correction row for each drifted call (the original row stays; the correction carries the difference,
     * is dated now and counts on the budgets' current periods); an unsettled estimate is settled instead.
     */
    fix?: boolean;
    /** Absolute difference in USD per call above which a call has drifted; default DEFAULT_DRIFT_THRESHOLD_USD. */
    threshold?: number;
  }
  export interface Result {
    from: string;
    to: string;
    thresholdUsd: number;
    /** Calls in the range with a generation id, each looked up with GET /generation. */
    checked: number;
    matched: number;
    drifted: DriftedCall[];
    missing: MissingCall[];
    /** May overlap `drifted` and `missing`: a list of calls worth a look, not a verdict. */
    zeroCost: ZeroCostCall[];
    /** Calls in the range without a generation id (nothing to check them against). */
    unchecked: number;
    fixed: number;
    /** Whether a `ledger_drift` alert went out (once per distinct finding). */
    alerted: boolean;
    /** Absent when GET /key could not be read with this key; `keyUsageUnavailable` says why. */
    keyUsage?: KeyUsageComparison;
    keyUsageUnavailable?: string;
    verifiedAt: string;
  }
}

// ── protocol/webhooks.ts ──

/**
 * `budget.alert`: every BudgetAlert (kind threshold, blocked, over_limit, downgraded, forecast, anomaly, ledger_drift — filter on
 * `data.kind`); `run.finished`: a crew run ended (any status: completed, failed, cancelled, budget_exceeded).
 */
export type WebhookEvent = 'budget.alert' | 'run.finished';

export const WEBHOOK_EVENTS: readonly WebhookEvent[] = ['budget.alert', 'run.finished'];

export interface WebhookSubscription {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** Only alerts of this budget (budget.alert); null: every budget. */
  budgetId: string | null;
  /** Only this crew's runs and alerts of its scopes (crew name); null: every crew. */
  crew: string | null;
  /** Free text shown in lists, e.g. "n8n: Budget Alert workflow". */
  description: string;
  /** Whether deliveries are signed (the secret itself is never returned). */
  signed: boolean;
  createdAt: string;
  /** Deliveries given up (each after its retries) in a row since the last one that got through; 0 when all is well. */
  failures: number;
  /** When the first of those was given up; null when `failures` is 0. */
  failingSince: string | null;
  /** What the last given-up attempt got, e.g. "answered 404"; null when `failures` is 0. */
  lastFailure: string | null;
  /** When the server stopped delivering to it because its deliveries kept failing; null while it is live. */
  expiredAt: string | null;
}

export type WebhookDelivery =
  | { id: string; event: 'budget.alert'; at: string; data: BudgetAlert }
  | { id: string; event: 'run.finished'; at: string; data: Run };

export namespace WebhookRegister {
  export const method = 'webhook/register';
  export interface Params {
    /** http(s) URL the server POSTs to. */
    url: string;
    /** At least one. */
    events: WebhookEvent[];
    budgetId?: string;
    crew?: string;
    description?: string;
    /** When given, every delivery carries X-Crew-Signature (HMAC-SHA256 of the body). */
    secret?: string;
  }
  export type Result = WebhookSubscription;
}

export namespace WebhookUnregister {
  export const method = 'webhook/unregister';
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
    id: string;
  }
}

export namespace WebhookList {
  export const method = 'webhook/list';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    /** The live subscriptions, in registration order. */
    webhooks: WebhookSubscription[];
    /** Subscriptions the server expired (deliveries kept failing), newest first; the 20 most recent are kept. */
    expired: WebhookSubscription[];
  }
}
