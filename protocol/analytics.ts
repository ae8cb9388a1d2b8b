/**
 * Memory analytics, topic clusters and duplicates (issue 3): one namespace per method, as in methods.ts. Times are
 * ISO 8601 strings, days are UTC `YYYY-MM-DD`, token figures use the server's estimate (UTF-8 bytes / 4, rounded
 * up, per memory — the same estimate `memory/context` packs by).
 *
 * `ANALYTICS_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';
import type { WithProgress } from './methods';
import type { Memory, MemoryKind } from './types';

// ── analytics ──────────────────────────────────────────────────────────

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
  export const type = new RequestType<Params, Result, void>(method);
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
  export const type = new RequestType<Params, Result, void>(method);
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
  export const type = new RequestType<Params, Result, void>(method);
}

// ── clusters and duplicates ────────────────────────────────────────────

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
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ClustersList {
  export const method = 'clusters/list';
  export interface Params {
    crew?: string;
  }
  export interface Result {
    /** The last result of each crew (kept across restarts), crews in name order. */
    results: (ClusteringInfo & {
      /** Memories were added, deleted or re-embedded since: compute again for an exact picture. */
      stale: boolean;
    })[];
  }
  export const type = new RequestType<Params, Result, void>(method);
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
  export const type = new RequestType<Params, Result, void>(method);
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
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). clusters/compute replaces the kept result, so it counts as mutating. */
export const ANALYTICS_METHODS = {
  [AnalyticsSummary.method]: { mutating: false },
  [AnalyticsInsights.method]: { mutating: false },
  [AnalyticsRecommendations.method]: { mutating: false },
  [ClustersCompute.method]: { mutating: true },
  [ClustersList.method]: { mutating: false },
  [MemoryDuplicates.method]: { mutating: false },
  [MemoryMerge.method]: { mutating: true },
} as const satisfies Record<string, { mutating: boolean }>;
