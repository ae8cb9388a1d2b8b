/**
 * Savings recommendations (issue 4): computed from the ledger, the model catalog, the calls' recorded shapes and
 * the crews' runs, each with the dollars it would have saved over the chosen window, and each applicable with one
 * call. One namespace per method, as in methods.ts. USD amounts are numbers at the edge with the exact decimal
 * beside them; times ISO 8601.
 *
 * `RECOMMENDATION_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';

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

// ── cost/recommendations ───────────────────────────────────────────────

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
  export const type = new RequestType<Params, Result, void>(method);
}

export interface AppliedRecommendation {
  id: string;
  kind: CostRecommendationKind;
  title: string;
  savingsUsd: number;
  changes: RecommendationChange[];
  appliedAt: string;
}

// ── cost/applyRecommendation ───────────────────────────────────────────

export namespace CostApplyRecommendation {
  export const method = 'cost/applyRecommendation';
  export interface Params {
    id: string;
    /** The window the recommendation was computed over (default 30). */
    windowDays?: number;
    /** Say what would change without changing it. */
    dryRun?: boolean;
  }
  export interface Result {
    applied: boolean;
    recommendation: CostRecommendation;
    changes: RecommendationChange[];
    /** null on a dry run. */
    appliedAt: string | null;
    /** `unused-memories`: the archive the memories went to (`crew archive restore <id>` brings them back). */
    archiveId?: string | null;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). */
export const RECOMMENDATION_METHODS = {
  [CostRecommendations.method]: { mutating: false },
  [CostApplyRecommendation.method]: { mutating: true },
} as const satisfies Record<string, { mutating: boolean }>;
