/**
 * `clusters/compute`, `clusters/list` and `memory/duplicates` over a crew's memories.
 *
 * Only vectors of the current embedder are used (vectors of different origin are never compared); memories
 * without one yet are left out. Clustering is seeded by the crew's name, so the same memories give the same
 * topics on every run and machine. The last result per crew is kept in memory and in `clusters.json` in the folder
 * given — a derived cache: recomputable, so a corrupt file is logged and ignored rather than stopping the server —
 * written durably before `compute` resolves, so `clusters/list` answers the same after a restart.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ClusteringInfo, ClustersList, MemoryDuplicates } from '../../protocol/analytics';
import type { Clock } from '../clock';
import { errors } from '../errors';
import { readTextIfExists, writeDurably } from '../store/durable-file';
import type { AccessCounters, MemoryRecord } from '../store/repositories';
import { computeClusters } from './clustering/cluster';
import { DEFAULT_DUPLICATE_THRESHOLD, findDuplicates, type DuplicateRecord } from './clustering/duplicates';
import { normalizeTags } from './merge';
import { estimateTokens } from './search/context-pack';

/** What clustering reads; a subset of AnalyticsSource (analytics.ts), which the app implements once. */
export interface ClusterSource {
  /** Memories of one crew (or of all crews), in a stable order (insertion order). Expired ones may be included. */
  records(crew?: string): Iterable<MemoryRecord>;
  counters(id: string): AccessCounters;
  /** The current embedder's id and the vectors it has for the crew's memories (memories without one left out). */
  vectorsOf(crew: string): { embedderId: string; items: { id: string; vector: Float32Array }[] };
}

export interface RunOptions {
  signal?: AbortSignal;
  /** fraction in [0, 1], non-decreasing. */
  onProgress?: (fraction: number, message: string) => void;
}

export interface ComputeParams {
  crew: string;
  k?: number;
  kMin?: number;
  kMax?: number;
}

const FILE = 'clusters.json';
/** Duplicate answers kept (one per crew and threshold asked). */
const DUPLICATE_CACHE_SIZE = 64;

interface ClustersFile {
  format: 'crew-clusters';
  version: 1;
  results: ClusteringInfo[];
}

export class ClusterService {
  private readonly results = new Map<string, ClusteringInfo>();
  private loading: Promise<void> | undefined;
  private writeTail: Promise<void> = Promise.resolve();
  private readonly duplicateCache = new Map<string, { fingerprint: string; sets: MemoryDuplicates.DuplicateSet[] }>();

  constructor(
    private readonly source: ClusterSource,
    private readonly clock: Clock,
    /** The folder `clusters.json` lives in (created on first write). */
    private readonly dir: string,
    private readonly log: { warn(message: string): void } = { warn: () => undefined },
  ) {}

  get file(): string {
    return path.join(this.dir, FILE);
  }

  /** Reads the kept results once; `list` and `compute` call it, so the app need not. */
  load(): Promise<void> {
    this.loading ??= this.readFile();
    return this.loading;
  }

  private async readFile(): Promise<void> {
    const text = await readTextIfExists(this.file);
    if (text === undefined) return;
    try {
      const data = JSON.parse(text) as ClustersFile;
      if (data?.format !== 'crew-clusters' || data.version !== 1 || !Array.isArray(data.results))
        throw new Error('not a clusters file of version 1');
      for (const r of data.results) this.keep(r);
    } catch (e) {
      this.log.warn(`${this.file} ignored (cluster results are recomputed on demand): ${(e as Error).message}`);
    }
  }

  /** Newer replaces older, so two computes of one crew that finish out of order leave the later one. */
  private keep(r: ClusteringInfo): void {
    const old = this.results.get(r.crew);
    if (!old || Date.parse(r.computedAt) >= Date.parse(old.computedAt)) this.results.set(r.crew, r);
  }

  async compute(p: ComputeParams, opts: RunOptions = {}): Promise<ClusteringInfo> {
    if (p.kMin !== undefined && p.kMax !== undefined && p.kMin > p.kMax)
      throw errors.invalidParams(`kMax: ${p.kMax} is below kMin ${p.kMin}`, {
        field: 'kMax',
        issues: [{ field: 'kMax', message: 'must be ≥ kMin' }],
      });
    await this.load();
    const now = this.clock.now();
    const { embedderId, items } = this.source.vectorsOf(p.crew);
    const texts = new Map<string, string>();
    for (const r of this.source.records(p.crew)) if (live(r, now)) texts.set(r.id, r.content);
    const clusterItems = items
      .filter((it) => texts.has(it.id))
      .map((it) => ({ id: it.id, text: texts.get(it.id)!, vector: it.vector }));
    const r = await computeClusters(clusterItems, {
      seed: seedOf(p.crew),
      ...(p.k !== undefined ? { k: p.k } : {}),
      ...(p.kMin !== undefined ? { kMin: p.kMin } : {}),
      // A kMin above the default range's top widens the range instead of failing.
      ...(p.kMax !== undefined ? { kMax: p.kMax } : p.kMin !== undefined ? { kMax: Math.max(12, p.kMin) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const info: ClusteringInfo = {
      crew: p.crew,
      embedderId,
      computedAt: new Date(now).toISOString(),
      memories: clusterItems.length,
      k: r.k,
      silhouette: r.silhouette,
      candidates: r.candidates.map((c) => ({ k: c.k, silhouette: c.silhouette })),
      clusters: r.clusters.map((c) => ({
        id: c.id,
        label: c.label,
        terms: c.terms.map((t) => ({ term: t.term, weight: t.weight })),
        size: c.size,
        cohesion: c.cohesion,
        representativeId: c.representativeId,
        memberIds: c.memberIds,
      })),
      unclusteredIds: r.unclusteredIds,
    };
    this.keep(info);
    await this.persist();
    return info;
  }

  /** Writes every kept result; writes are queued so the file always ends with the latest state. */
  private persist(): Promise<void> {
    const job = this.writeTail.then(async () => {
      await fsp.mkdir(this.dir, { recursive: true });
      const data: ClustersFile = {
        format: 'crew-clusters',
        version: 1,
        results: [...this.results.values()].sort((a, b) => cmp(a.crew, b.crew)),
      };
      await writeDurably(this.file, JSON.stringify(data));
    });
    this.writeTail = job.catch(() => undefined);
    return job;
  }

  async list(crew?: string): Promise<ClustersList.Result> {
    await this.load();
    const results = [...this.results.values()]
      .filter((r) => crew === undefined || r.crew === crew)
      .sort((a, b) => cmp(a.crew, b.crew))
      .map((r) => ({ ...r, stale: this.isStale(r) }));
    return { results };
  }

  /**
   * Stale: the crew's memories with a vector are not the ones clustered (added, deleted, expired), one was
   * changed after the run, or the embedder changed.
   */
  private isStale(r: ClusteringInfo): boolean {
    const now = this.clock.now();
    const { embedderId, items } = this.source.vectorsOf(r.crew);
    if (embedderId !== r.embedderId) return true;
    const computedAt = Date.parse(r.computedAt);
    const current = new Set<string>();
    const liveIds = new Set<string>();
    for (const rec of this.source.records(r.crew)) {
      if (!live(rec, now)) continue;
      if (rec.updatedAt > computedAt) return true;
      liveIds.add(rec.id);
    }
    for (const it of items) if (liveIds.has(it.id)) current.add(it.id);
    if (current.size !== r.memories) return true;
    for (const c of r.clusters) for (const id of c.memberIds) if (!current.has(id)) return true;
    for (const id of r.unclusteredIds) if (!current.has(id)) return true;
    return false;
  }

  /**
   * Near-duplicates per crew (never across crews: a merge stays within one), each set with ready-made
   * `memory/merge` params and the tokens the merge would save.
   */
  async duplicates(p: { crew?: string; threshold?: number }, opts: RunOptions = {}): Promise<MemoryDuplicates.Result> {
    const threshold = p.threshold ?? DEFAULT_DUPLICATE_THRESHOLD;
    const crews = p.crew !== undefined ? [p.crew] : crewsOf(this.source.records());
    const sets: MemoryDuplicates.DuplicateSet[] = [];
    const embedderIds: Record<string, string> = {};
    for (let i = 0; i < crews.length; i++) {
      const crew = crews[i]!;
      const found = await this.crewDuplicates(crew, threshold, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (f, message) => opts.onProgress?.((i + f) / crews.length, `${crew}: ${message}`),
      });
      embedderIds[crew] = found.embedderId;
      sets.push(...found.sets);
    }
    opts.onProgress?.(1, `${sets.length} duplicate sets`);
    // Most similar first across crews, as findDuplicates orders within one.
    sets.sort(
      (a, b) =>
        (b.duplicates[0]?.similarity ?? 0) - (a.duplicates[0]?.similarity ?? 0) ||
        cmp(a.crew, b.crew) ||
        cmp(a.keepId, b.keepId),
    );
    return { threshold, embedderIds, sets };
  }

  /** One crew's duplicate sets; also what analytics' insights and recommendations build on. */
  async crewDuplicates(
    crew: string,
    threshold: number,
    opts: RunOptions = {},
  ): Promise<{ embedderId: string; sets: MemoryDuplicates.DuplicateSet[] }> {
    const now = this.clock.now();
    const { embedderId, items } = this.source.vectorsOf(crew);
    const byId = new Map<string, MemoryRecord>();
    for (const r of this.source.records(crew)) if (live(r, now)) byId.set(r.id, r);
    const records: DuplicateRecord[] = [];
    for (const it of items) {
      const r = byId.get(it.id);
      if (!r) continue;
      records.push({
        id: r.id,
        content: r.content,
        tags: r.tags,
        pinned: r.pinned,
        importance: r.importance,
        accessCount: this.source.counters(r.id).count,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        vector: it.vector,
      });
    }
    // Insights and recommendations ask again on every call; the scan is the costly part (seconds for thousands of
    // dense vectors), so its answer is reused while nothing it depends on has changed: which memories have a
    // vector, their content and fields (updatedAt moves on every change), their access counts (they pick the
    // keeper), the embedder and the threshold.
    const fp = createHash('sha256').update(`${embedderId}\u0000${threshold}\n`);
    for (const r of records) fp.update(`${r.id}\u0000${String(r.updatedAt)}\u0000${r.accessCount}\n`);
    const fingerprint = fp.digest('hex');
    const key = `${crew}\u0000${threshold}`;
    const cached = this.duplicateCache.get(key);
    if (cached?.fingerprint === fingerprint) {
      opts.onProgress?.(1, 'unchanged since the last search');
      return { embedderId, sets: cached.sets };
    }
    const found = await findDuplicates(records, {
      threshold,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const sets = found.sets.map((s): MemoryDuplicates.DuplicateSet => {
      const members = [s.keepId, ...s.duplicates.map((d) => d.id)];
      const before = members.reduce((sum, id) => sum + estimateTokens(byId.get(id)!.content), 0);
      const m = s.merge;
      return {
        crew,
        keepId: s.keepId,
        duplicates: s.duplicates,
        merge: {
          keepId: m.keepId,
          mergeIds: m.removeIds,
          // Only when it differs: memory/merge keeps the kept memory's content by default.
          ...(m.contentFromId !== m.keepId ? { content: m.content } : {}),
          tags: normalizeTags(m.tags),
          ...(m.importance !== null ? { importance: m.importance } : {}),
        },
        reason: m.reason,
        tokensSaved: before - estimateTokens(m.content),
      };
    });
    this.duplicateCache.delete(key);
    this.duplicateCache.set(key, { fingerprint, sets });
    // Oldest first in a Map: drop the least recently stored beyond the bound.
    if (this.duplicateCache.size > DUPLICATE_CACHE_SIZE)
      this.duplicateCache.delete(this.duplicateCache.keys().next().value!);
    return { embedderId, sets };
  }

  /** Forgets what is held in memory (after a store restore swapped the folder); the next call reads the file. */
  async reload(): Promise<void> {
    await this.writeTail;
    this.results.clear();
    this.duplicateCache.clear();
    this.loading = undefined;
  }

  /** Waits for queued writes (shutdown). */
  async flush(): Promise<void> {
    await this.writeTail;
  }
}

export function live(r: MemoryRecord, now: number): boolean {
  return r.expiresAt === null || r.expiresAt > now;
}

export function crewsOf(records: Iterable<MemoryRecord>): string[] {
  const crews = new Set<string>();
  for (const r of records) crews.add(r.crew);
  return [...crews].sort(cmp);
}

/** FNV-1a of the crew's name: a fixed seed per crew, so reruns over the same memories agree. */
export function seedOf(crew: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < crew.length; i++) {
    h ^= crew.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
