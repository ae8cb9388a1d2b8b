/**
 * The memory ranking (documented in ./README.md, which is the reference; keep the two in step) and the in-memory
 * index that serves `memory/search`: candidates from the vector index (top N by cosine) ∪ the BM25 hits, each
 * scored exactly by
 *
 *   score = wRel·relevance + wRec·recency + wImp·importance + wFreq·frequency
 *
 * The index is independent of storage and of embedders: the memory service feeds it records and vectors (at
 * startup from the store, then on every change) and persists the accesses a search records.
 */
import { FacetIndex, type FacetFilter, type FacetMatch, type FacetValues } from './facets';
import { TextIndex, type TextIndexOptions } from './text-index';
import { TopK } from './top-k';
import { VectorIndex } from './vector-index';
import type { ScoreComponents } from '../../../protocol';

export const DAY_MS = 86_400_000;

export interface RankingWeights {
  relevance: number;
  recency: number;
  importance: number;
  frequency: number;
}

export interface RankingParams {
  weights: RankingWeights;
  /** Cosine's share of relevance: relevance = vectorShare·semantic + (1 − vectorShare)·lexical. */
  vectorShare: number;
  /** Recency halves every halfLifeMs since the last access (or creation). */
  halfLifeMs: number;
}

/** A per-query override of the index's parameters (any subset). */
export interface RankingOverride {
  weights?: Partial<RankingWeights>;
  vectorShare?: number;
  halfLifeMs?: number;
}

export const DEFAULT_RANKING: Readonly<RankingParams> = Object.freeze({
  weights: Object.freeze({ relevance: 0.6, recency: 0.2, importance: 0.15, frequency: 0.05 }),
  vectorShare: 0.7,
  halfLifeMs: 14 * DAY_MS,
});

/** Merge an override into base parameters, refusing values the formula cannot use. */
export function resolveRanking(base: RankingParams, override: RankingOverride = {}): RankingParams {
  const weights = { ...base.weights, ...override.weights };
  for (const [name, w] of Object.entries(weights)) {
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`weights.${name} must be a finite number ≥ 0`);
  }
  const vectorShare = override.vectorShare ?? base.vectorShare;
  if (!(vectorShare >= 0 && vectorShare <= 1)) throw new RangeError('vectorShare must be within 0..1');
  const halfLifeMs = override.halfLifeMs ?? base.halfLifeMs;
  if (!(halfLifeMs > 0) || !Number.isFinite(halfLifeMs)) throw new RangeError('halfLifeMs must be > 0');
  return { weights, vectorShare, halfLifeMs };
}

/** Cosine mapped to 0..1 by clamping: an unrelated memory (cosine ≤ 0) earns no relevance, rather than the half
 *  that (cos + 1) / 2 would hand it. No vector of the query's embedder → 0. */
export function semanticScore(cosine: number | null): number {
  return cosine === null ? 0 : Math.min(1, Math.max(0, cosine));
}

/** 0.5^(age / halfLife), age = now − (last access, or creation when never accessed), never negative. */
export function recencyScore(
  lastAccessedAt: number | null,
  createdAt: number,
  now: number,
  halfLifeMs: number,
): number {
  const age = Math.max(0, now - (lastAccessedAt ?? createdAt));
  return Math.pow(0.5, age / halfLifeMs);
}

/** log1p(count) / log1p(max count among the candidates): 0..1, the most used candidate is 1, none used → 0. */
export function frequencyScore(accessCount: number, maxAccessCount: number): number {
  return maxAccessCount > 0 ? Math.log1p(accessCount) / Math.log1p(maxAccessCount) : 0;
}

// The score's parts are part of the contract (memory/search results), so their type lives in protocol/.
export type { ScoreComponents };

export interface SearchHit {
  id: string;
  score: number;
  components: ScoreComponents;
}

/** A memory as the index needs it. Times are epoch milliseconds. */
export interface MemoryRecord extends FacetValues {
  id: string;
  text: string;
  /** 0..1 */
  importance: number;
  createdAt: number;
  lastAccessedAt: number | null;
  accessCount: number;
}

export interface MemoryVector {
  embedderId: string;
  vector: ArrayLike<number>;
}

export interface SearchQuery {
  text?: string;
  /** The query embedded by some embedder; only that embedder's vectors are compared with it. */
  vector?: MemoryVector;
}

export interface SearchOptions extends RankingOverride {
  k: number;
  /** The clock's now (epoch ms): recency is measured to it and recorded accesses carry it. */
  now: number;
  /** Shorthand for filter.crew; when both are given a memory must match both. */
  crew?: FacetMatch;
  filter?: FacetFilter;
  /** Record an access on every returned hit (default true). `memory/context` passes false and records the packed. */
  record?: boolean;
  /** Exact vector scan instead of the 1-bit pre-filter (tests, recall checks). */
  exact?: boolean;
}

export interface SearchResult {
  hits: SearchHit[];
  /** The parameters this search ranked with (defaults merged with the overrides). */
  params: RankingParams;
  /** How many memories were scored exactly. */
  candidates: number;
  /** Whether cosine and BM25 took part in relevance for this query (see README: one-sided queries). */
  semantic: boolean;
  lexical: boolean;
}

export interface MemorySearchIndexOptions {
  ranking?: RankingOverride;
  text?: TextIndexOptions;
  /** Pre-filter pool and exact threshold for each embedder's VectorIndex. */
  vector?: { rerank?: number; exactUpTo?: number };
}

export const MAX_K = 1000;

interface Entry {
  slot: number;
  facets: FacetValues;
  importance: number;
  createdAt: number;
  lastAccessedAt: number | null;
  accessCount: number;
}

interface Candidate {
  id: string;
  entry: Entry;
  cosine: number | null;
  bm25: number;
  lexical: number;
}

export class MemorySearchIndex {
  readonly params: RankingParams;
  private readonly entries = new Map<string, Entry>();
  private readonly text: TextIndex;
  private readonly vectors = new Map<string, VectorIndex>();
  private readonly facets = new FacetIndex();
  /** Slots are dense, stable per memory and reused after removal, so filter bitsets stay as small as the index. */
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(private readonly options: MemorySearchIndexOptions = {}) {
    this.params = resolveRanking(DEFAULT_RANKING, options.ranking);
    this.text = new TextIndex(options.text);
  }

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The embedders with at least one vector here, and how many each holds. */
  embedders(): { embedderId: string; dim: number; size: number }[] {
    return [...this.vectors.values()].map((v) => ({ embedderId: v.embedderId, dim: v.dim, size: v.size }));
  }

  /**
   * Add or replace a memory (text re-indexed, facets and ranking fields replaced). Vectors are kept unless given:
   * a text change makes them stale, and the service replaces them through `setVector` once re-embedded.
   */
  upsert(record: MemoryRecord, vectors: readonly MemoryVector[] = []): void {
    validateRecord(record);
    const facets: FacetValues = { crew: record.crew, agent: record.agent, kind: record.kind, tags: [...record.tags] };
    const old = this.entries.get(record.id);
    if (old) {
      this.facets.remove(old.slot, old.facets);
      old.facets = facets;
      old.importance = record.importance;
      old.createdAt = record.createdAt;
      old.lastAccessedAt = record.lastAccessedAt;
      old.accessCount = record.accessCount;
      this.facets.add(old.slot, facets);
      this.text.update(record.id, record.text);
    } else {
      const slot = this.freeSlots.pop() ?? this.nextSlot++;
      const entry: Entry = {
        slot,
        facets,
        importance: record.importance,
        createdAt: record.createdAt,
        lastAccessedAt: record.lastAccessedAt,
        accessCount: record.accessCount,
      };
      this.entries.set(record.id, entry);
      this.facets.add(slot, facets);
      this.text.add(record.id, record.text);
    }
    for (const v of vectors) this.setVector(record.id, v);
  }

  remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    for (const v of this.vectors.values()) v.remove(id);
    this.text.remove(id);
    this.facets.remove(entry.slot, entry.facets);
    this.entries.delete(id);
    this.freeSlots.push(entry.slot);
    return true;
  }

  /** Add or replace the memory's vector from one embedder (the first vector of an embedder fixes its dimension). */
  setVector(id: string, { embedderId, vector }: MemoryVector): void {
    const entry = this.entries.get(id);
    if (!entry) throw new Error(`memory index: ${id} is not indexed`);
    let index = this.vectors.get(embedderId);
    if (!index) {
      index = new VectorIndex({ embedderId, dim: vector.length, ...this.options.vector });
      this.vectors.set(embedderId, index);
    }
    if (index.has(id)) index.update(id, vector, entry.slot);
    else index.add(id, vector, entry.slot);
  }

  removeVector(id: string, embedderId: string): boolean {
    return this.vectors.get(embedderId)?.remove(id) ?? false;
  }

  /** Forget every vector of one embedder (after switching embedders: they are never compared with the new ones). */
  dropEmbedder(embedderId: string): boolean {
    return this.vectors.delete(embedderId);
  }

  /** One embedder's vector index (read-only use: clustering, diagnostics, benchmarks). */
  vectorIndex(embedderId: string): VectorIndex | undefined {
    return this.vectors.get(embedderId);
  }

  /** Make room for a bulk load of `rows` vectors of one embedder. */
  reserveVectors(embedderId: string, dim: number, rows: number): void {
    let index = this.vectors.get(embedderId);
    if (!index) this.vectors.set(embedderId, (index = new VectorIndex({ embedderId, dim, ...this.options.vector })));
    if (index.dim !== dim) throw new RangeError(`embedder ${embedderId} has ${index.dim} dimensions here, not ${dim}`);
    index.reserve(rows);
  }

  /** Count one access of each memory at `now` (a search does this for its hits unless told not to). */
  recordAccess(ids: Iterable<string>, now: number): void {
    if (!Number.isFinite(now)) throw new RangeError('now must be a finite epoch-ms time');
    for (const id of new Set(ids)) {
      const e = this.entries.get(id);
      if (!e) continue;
      e.accessCount += 1;
      e.lastAccessedAt = Math.max(now, e.lastAccessedAt ?? -Infinity);
    }
  }

  /** The access fields as the index holds them (what the service persists after a search). */
  accessOf(id: string): { lastAccessedAt: number | null; accessCount: number } | undefined {
    const e = this.entries.get(id);
    return e && { lastAccessedAt: e.lastAccessedAt, accessCount: e.accessCount };
  }

  search(query: SearchQuery, options: SearchOptions): SearchResult {
    const { k, now } = options;
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new RangeError(`k must be an integer within 1..${MAX_K}`);
    if (!Number.isFinite(now)) throw new RangeError('now must be a finite epoch-ms time');
    const params = resolveRanking(this.params, options);
    const empty: SearchResult = { hits: [], params, candidates: 0, semantic: false, lexical: false };

    const filter: FacetFilter = { ...options.filter };
    const byFilter = this.facets.allowed(filter, this.nextSlot);
    const byCrew = options.crew === undefined ? undefined : this.facets.allowed({ crew: options.crew }, this.nextSlot);
    const allow = byFilter && byCrew ? byFilter.and(byCrew) : (byFilter ?? byCrew);
    if (allow && allow.count() === 0) return empty;

    // Candidate generation: the vector side's top N and the lexical side's top N, merged by id.
    const n = Math.max(50, 5 * k);
    const candidates = new Map<string, Candidate>();
    const vindex = query.vector ? this.vectors.get(query.vector.embedderId) : undefined;
    const qv = query.vector?.vector;
    if (vindex && qv) {
      for (const hit of vindex.topK(qv, n, { ...(allow && { allow }), ...(options.exact && { exact: true }) })) {
        candidates.set(hit.id, {
          id: hit.id,
          entry: this.entries.get(hit.id)!,
          cosine: hit.score,
          bm25: 0,
          lexical: 0,
        });
      }
    }
    let lexical = false;
    if (query.text && this.text.terms(query.text).length > 0) {
      const accept = allow && ((id: string) => allow.has(this.entries.get(id)!.slot));
      const hits = this.text.search(query.text, { limit: n, ...(accept && { accept }) });
      lexical = hits.length > 0;
      const fresh = hits.filter((h) => !candidates.has(h.id)).map((h) => h.id);
      const cosines = vindex && qv ? vindex.cosines(fresh, qv) : [];
      fresh.forEach((id, i) => {
        candidates.set(id, { id, entry: this.entries.get(id)!, cosine: cosines[i] ?? null, bm25: 0, lexical: 0 });
      });
      for (const h of hits) {
        const c = candidates.get(h.id)!;
        c.bm25 = h.bm25;
        c.lexical = h.score;
      }
    }
    if (candidates.size === 0) return { ...empty, lexical };
    let semantic = false;
    let maxAccess = 0;
    for (const c of candidates.values()) {
      if (c.cosine !== null) semantic = true;
      if (c.entry.accessCount > maxAccess) maxAccess = c.entry.accessCount;
    }

    const top = new TopK<SearchHit>(k);
    const w = params.weights;
    for (const c of candidates.values()) {
      const e = c.entry;
      const sem = semanticScore(c.cosine);
      const relevance =
        semantic && lexical
          ? params.vectorShare * sem + (1 - params.vectorShare) * c.lexical
          : semantic
            ? sem
            : c.lexical;
      const recency = recencyScore(e.lastAccessedAt, e.createdAt, now, params.halfLifeMs);
      const frequency = frequencyScore(e.accessCount, maxAccess);
      const score =
        w.relevance * relevance + w.recency * recency + w.importance * e.importance + w.frequency * frequency;
      if (!top.accepts(score, c.id)) continue;
      top.offer({
        id: c.id,
        score,
        components: {
          relevance,
          semantic: sem,
          lexical: c.lexical,
          recency,
          importance: e.importance,
          frequency,
          cosine: c.cosine,
          bm25: c.bm25,
        },
      });
    }
    const hits = top.drain();
    if (options.record !== false) {
      this.recordAccess(
        hits.map((h) => h.id),
        now,
      );
    }
    return { hits, params, candidates: candidates.size, semantic, lexical };
  }
}

function validateRecord(r: MemoryRecord): void {
  if (typeof r.id !== 'string' || r.id === '') throw new TypeError('memory id must be a non-empty string');
  if (!(r.importance >= 0 && r.importance <= 1)) throw new RangeError(`${r.id}: importance must be within 0..1`);
  if (!Number.isFinite(r.createdAt)) throw new RangeError(`${r.id}: createdAt must be epoch ms`);
  if (r.lastAccessedAt !== null && !Number.isFinite(r.lastAccessedAt)) {
    throw new RangeError(`${r.id}: lastAccessedAt must be epoch ms or null`);
  }
  if (!Number.isInteger(r.accessCount) || r.accessCount < 0) {
    throw new RangeError(`${r.id}: accessCount must be an integer ≥ 0`);
  }
}
