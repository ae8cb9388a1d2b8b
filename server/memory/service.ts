/**
 * Memories: add / get / update / delete / list / search / history / context. The service keeps the search index
 * in step with the repositories, embeds content with the configured embedder (vectors of other embedders are
 * kept but never compared), records accesses, and refuses exact duplicates within a crew.
 *
 * A paid embedder charges each embedding to the crew whose memory (or query) it is. When a budget refuses one
 * (BudgetExceeded), nothing the user wrote is lost: the memory is stored and text-indexed without a vector (its
 * `embedding` is null) and embedded later — `embedDeferred()`, which the app runs every minute, and every start;
 * a search whose query cannot be embedded ranks on text alone.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type {
  Memory,
  MemoryAdd,
  MemoryHistoryEntry,
  MemoryKind,
  MemoryList,
  MemoryMerge,
  MemoryUpdate,
} from '../../protocol';
import { planMerge } from './merge';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import { errors, DomainError } from '../errors';
import { ErrorCodes } from '../../protocol';
import type { AccessRepository, MemoryRecord, MemoryRepository, VectorRepository } from '../store/repositories';
import { retentionScore } from './archive/retention';
import type { Embedder, EmbeddingUse } from './embeddings/embedder';
import { contentHash } from './normalize';
import { buildContext, MemorySearchIndex, type RankingOverride, type ScoreComponents } from './search';

export const MAX_CONTENT_BYTES = 256 * 1024;

// The service takes the protocol's params as they are; only search differs (half-life in ms, not days).
type AddMemory = MemoryAdd.Params;
type UpdateMemory = MemoryUpdate.Params;
type ListMemories = MemoryList.Params;

export interface SearchMemories extends RankingOverride {
  query: string;
  crew?: string;
  agent?: string;
  kinds?: MemoryKind[];
  tags?: string[];
  limit?: number;
}

export interface MemoryHit {
  memory: Memory;
  score: number;
  components: ScoreComponents;
}

/** Resolves the configured embedder (loading a model can take a moment, so it happens on first use). */
export type EmbedderSource = () => Promise<{ embedder: Embedder; fallbackReason?: string }>;

export class MemoryService {
  private index = new MemorySearchIndex();
  private embedTail: Promise<unknown> = Promise.resolve();
  private embedder: Embedder | undefined;
  private resolving: Promise<Embedder> | undefined;
  /** The embedder id the index holds vectors of; the configured one until the embedder is resolved. */
  private indexedId: string;

  constructor(
    private readonly memories: MemoryRepository,
    private readonly vectors: VectorRepository,
    private readonly access: AccessRepository,
    private source: EmbedderSource,
    expectedEmbedderId: string,
    private readonly events: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.indexedId = expectedEmbedderId;
  }

  get embedderId(): string {
    return this.embedder?.id ?? this.indexedId;
  }

  /**
   * Builds the index from the store without loading any model: vectors of the expected embedder go in as they
   * are; memories without one are embedded in the background once the embedder is up.
   */
  init(): void {
    this.index = new MemorySearchIndex();
    for (const r of this.memories.all()) this.indexRecord(r);
    this.indexVectors();
  }

  /** Bumped whenever the index switches embedder, so a re-embed of the previous one stops. */
  private generation = 0;
  private progress: { embedderId: string; done: number; total: number } | null = null;

  /** How far the background embedding of the current embedder has come (null when nothing is pending). */
  reembedProgress(): { embedderId: string; done: number; total: number } | null {
    return this.progress && { ...this.progress };
  }

  /** How many live memories have a vector of the current embedder. */
  coverage(): { embedderId: string; embedded: number; total: number } {
    let embedded = 0;
    for (const r of this.memories.all()) if (this.vectors.get(r.id, this.indexedId)) embedded++;
    return { embedderId: this.indexedId, embedded, total: this.memories.count() };
  }

  /**
   * Switches to another embedder: its vectors (if any are stored) go into the index, the rest are embedded in the
   * background with progress. Vectors of the previous embedder stay on disk (switching back is instant) but are
   * never compared with the new ones.
   */
  async switchEmbedder(source: EmbedderSource): Promise<string> {
    this.source = source;
    this.embedder = undefined;
    this.resolving = undefined;
    return (await this.current()).id;
  }

  /** Puts the current embedder's stored vectors into the index; embeds the memories that have none. */
  private indexVectors(): void {
    this.generation++;
    const missing: MemoryRecord[] = [];
    const first = this.memories.all()[Symbol.iterator]().next();
    const sample = first.done ? undefined : this.vectors.get(first.value.id, this.indexedId);
    // One allocation for the whole load instead of the index growing (and copying) its array many times.
    if (sample) this.index.reserveVectors(this.indexedId, sample.length, this.memories.count());
    for (const r of this.memories.all()) {
      const v = this.vectors.get(r.id, this.indexedId);
      if (v) this.index.setVector(r.id, { embedderId: this.indexedId, vector: v });
      else missing.push(r);
    }
    if (missing.length) void this.embedInBackground(missing);
  }

  private current(): Promise<Embedder> {
    this.resolving ??= this.source().then(({ embedder, fallbackReason }) => {
      if (fallbackReason) this.log.warn(`memory embeddings: ${fallbackReason}`);
      this.embedder = embedder;
      if (embedder.id !== this.indexedId) {
        // A different embedder than expected (a fallback): its vectors are never compared with the old ones.
        this.index.dropEmbedder(this.indexedId);
        this.indexedId = embedder.id;
        this.indexVectors();
      }
      return embedder;
    });
    // A failed resolve (e.g. a bad embedder setting) is tried again by the next call rather than cached.
    this.resolving.catch(() => (this.resolving = undefined));
    return this.resolving;
  }

  /**
   * Another instance on the shared store changed these memories (or their vectors or access counts): bring the
   * search index in line with what the repositories now hold.
   */
  refreshExternal(ids: readonly string[]): void {
    for (const id of ids) {
      const r = this.memories.get(id);
      if (!r) {
        this.index.remove(id);
        continue;
      }
      this.indexRecord(r);
      const v = this.vectors.get(id, this.indexedId);
      if (v) this.index.setVector(id, { embedderId: this.indexedId, vector: v });
      else this.index.removeVector(id, this.indexedId);
    }
  }

  private indexRecord(r: MemoryRecord): void {
    const a = this.access.counters(r.id);
    this.index.upsert({
      id: r.id,
      text: r.content,
      importance: r.importance,
      createdAt: r.createdAt,
      lastAccessedAt: a.last,
      accessCount: a.count,
      crew: r.crew,
      agent: r.agent,
      kind: r.kind,
      tags: r.tags,
    });
  }

  /**
   * Embeds in order, one job at a time, so a bulk re-embed never races a fresh add for the same memory. `use`: the
   * crew a paid embedder charges.
   */
  private embed(texts: string[], use: EmbeddingUse, signal?: AbortSignal): Promise<Float32Array[]> {
    const job = this.embedTail.then(async () => (await this.current()).embed(texts, signal, use));
    this.embedTail = job.catch(() => undefined);
    return job;
  }

  /** Memories wait for their vector because a budget refused to pay for it; `embedDeferred` tries again. */
  private deferred = false;

  /**
   * True (and the embedding is left for later) when `e` is a budget's refusal to pay for an embedding; the caller
   * goes on without the vector. Anything else is the caller's to throw.
   */
  private deferredBy(e: unknown, what: string): boolean {
    if (!(e instanceof DomainError) || e.code !== ErrorCodes.BudgetExceeded) return false;
    this.deferred = true;
    this.log.warn(`memory embeddings: ${what} waits for its vector: ${e.message}`);
    return true;
  }

  /**
   * Embeds the memories that still have no vector of the current embedder because a budget refused to pay for it,
   * in the background, unless a re-embed is already under way. A budget that still refuses leaves them for the
   * next try.
   */
  embedDeferred(): void {
    if (!this.deferred || this.progress) return;
    this.deferred = false;
    const missing: MemoryRecord[] = [];
    for (const r of this.memories.all()) if (!this.vectors.get(r.id, this.embedderId)) missing.push(r);
    if (missing.length) void this.embedInBackground(missing);
  }

  private async embedInBackground(records: MemoryRecord[]): Promise<void> {
    const batch = 64;
    const generation = this.generation;
    const progress = { embedderId: this.indexedId, done: 0, total: records.length };
    this.progress = progress;
    const report = () => this.events.publish('memory.reembed', { ...progress });
    report();
    // Crew by crew, so each call is charged to the crew whose memories it embeds.
    const parts: MemoryRecord[][] = [];
    for (const crewRecords of groupByCrew(records).values())
      for (let i = 0; i < crewRecords.length; i += batch) parts.push(crewRecords.slice(i, i + batch));
    for (const slice of parts) {
      if (generation !== this.generation) return; // another switch took over
      const part = slice.filter((r) => this.memories.get(r.id) !== undefined);
      try {
        const vecs = await this.embed(
          part.map((r) => r.content),
          { crew: slice[0]!.crew },
        );
        if (generation !== this.generation) return;
        await this.storeVectors(part.map((r, j) => ({ id: r.id, vector: vecs[j]! })));
      } catch (e) {
        if (!this.deferredBy(e, `embedding ${part.length} memories of crew ${slice[0]!.crew}`))
          this.log.warn(`embedding ${part.length} memories with ${this.embedderId} failed: ${(e as Error).message}`);
        if (this.progress === progress) this.progress = null;
        return;
      }
      progress.done = Math.min(records.length, progress.done + slice.length);
      report();
    }
    if (this.progress === progress) this.progress = null;
  }

  private async storeVectors(entries: { id: string; vector: Float32Array }[]): Promise<void> {
    const embedderId = this.embedderId;
    await this.vectors.put(entries.map((e) => ({ id: e.id, embedderId, vector: e.vector })));
    for (const e of entries) {
      if (this.index.has(e.id)) this.index.setVector(e.id, { embedderId, vector: e.vector });
    }
  }

  private require(id: string): MemoryRecord {
    const r = this.memories.get(id);
    if (!r) throw errors.notFound('memory', id);
    return r;
  }

  private checkContent(content: string, field = 'content'): void {
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > MAX_CONTENT_BYTES)
      throw errors.invalidParams(`${field}: ${bytes} bytes is over the limit of ${MAX_CONTENT_BYTES} bytes`, {
        field,
        issues: [{ field, message: `at most ${MAX_CONTENT_BYTES} bytes` }],
      });
    if (content.trim() === '')
      throw errors.invalidParams(`${field}: a memory needs some content`, {
        field,
        issues: [{ field, message: 'empty' }],
      });
  }

  private duplicateOf(crew: string, hash: string, except?: string): MemoryRecord | undefined {
    for (const r of this.memories.byCrew(crew)) if (r.contentHash === hash && r.id !== except) return r;
    return undefined;
  }

  async add(p: AddMemory): Promise<{ memory: Memory; created: boolean; duplicateOf: string | null }> {
    this.checkContent(p.content);
    const hash = contentHash(p.content);
    const dup = this.duplicateOf(p.crew, hash);
    if (dup) return { memory: this.toMemory(dup), created: false, duplicateOf: dup.id };
    const now = this.clock.now();
    const record: MemoryRecord = {
      id: randomUUID(),
      crew: p.crew,
      agent: p.agent ?? null,
      content: p.content,
      kind: p.kind ?? 'note',
      tags: normalizeTags(p.tags),
      importance: p.importance ?? 0.5,
      pinned: p.pinned ?? false,
      expiresAt: p.expiresAt ? parseTime('expiresAt', p.expiresAt) : null,
      createdAt: now,
      updatedAt: now,
      contentHash: hash,
      history: [{ version: 1, at: new Date(now).toISOString(), change: 'created', previous: {}, note: null }],
    };
    let vector: Float32Array | undefined;
    try {
      [vector] = await this.embed([record.content], { crew: record.crew });
    } catch (e) {
      // A budget that refuses to pay for the vector does not refuse the memory: it is kept and embedded later.
      if (!this.deferredBy(e, `memory ${record.id} (crew ${record.crew})`)) throw e;
    }
    await this.memories.put([record]);
    this.indexRecord(record);
    if (vector) await this.storeVectors([{ id: record.id, vector }]);
    this.events.publish('memory.changed', { ids: [record.id], change: 'added', crew: record.crew });
    return { memory: this.toMemory(record), created: true, duplicateOf: null };
  }

  get(id: string): Memory {
    return this.toMemory(this.require(id));
  }

  history(id: string): MemoryHistoryEntry[] {
    return this.require(id).history;
  }

  async update(p: UpdateMemory): Promise<Memory> {
    const old = this.require(p.id);
    const previous: MemoryHistoryEntry['previous'] = {};
    const next: MemoryRecord = { ...old, history: [...old.history] };
    if (p.content !== undefined && p.content !== old.content) {
      this.checkContent(p.content);
      const hash = contentHash(p.content);
      const dup = this.duplicateOf(old.crew, hash, old.id);
      if (dup)
        throw new DomainError(ErrorCodes.Conflict, `memory ${dup.id} in crew ${old.crew} already has this content`, {
          duplicateOf: dup.id,
        });
      previous.content = old.content;
      next.content = p.content;
      next.contentHash = hash;
    }
    // Fields stored as they are shown: a change keeps the old value in the history entry.
    const plain = <K extends 'kind' | 'importance' | 'pinned' | 'agent'>(
      key: K,
      value: MemoryRecord[K] | undefined,
    ) => {
      if (value === undefined || value === old[key]) return;
      (previous as Record<K, MemoryRecord[K]>)[key] = old[key];
      next[key] = value;
    };
    plain('kind', p.kind);
    plain('importance', p.importance);
    plain('pinned', p.pinned);
    plain('agent', p.agent);
    if (p.tags !== undefined) {
      const tags = normalizeTags(p.tags);
      if (tags.join('\u0000') !== old.tags.join('\u0000')) {
        previous.tags = old.tags;
        next.tags = tags;
      }
    }
    if (p.expiresAt !== undefined) {
      const exp = p.expiresAt === null ? null : parseTime('expiresAt', p.expiresAt);
      if (exp !== old.expiresAt) {
        previous.expiresAt = old.expiresAt === null ? null : new Date(old.expiresAt).toISOString();
        next.expiresAt = exp;
      }
    }
    if (Object.keys(previous).length === 0) return this.toMemory(old);
    const now = this.clock.now();
    next.updatedAt = now;
    next.history.push({
      version: old.history.length + 1,
      at: new Date(now).toISOString(),
      change: 'updated',
      previous,
      note: null,
    });
    let vector: Float32Array | undefined;
    let stale = false;
    if (previous.content !== undefined)
      try {
        [vector] = await this.embed([next.content], { crew: next.crew });
      } catch (e) {
        if (!this.deferredBy(e, `memory ${next.id} (crew ${next.crew})`)) throw e;
        stale = true;
      }
    // Embedding waited: if the memory was archived, merged or changed meanwhile, writing `next` would resurrect
    // or overwrite it.
    if (this.memories.get(p.id) !== old)
      throw new DomainError(
        ErrorCodes.Conflict,
        `memory ${p.id} changed while it was being updated; read it again and retry`,
      );
    await this.memories.put([next]);
    this.indexRecord(next);
    if (vector) await this.storeVectors([{ id: next.id, vector }]);
    if (stale) await this.dropVectors(next.id);
    this.events.publish('memory.changed', { ids: [next.id], change: 'updated', crew: next.crew });
    return this.toMemory(next);
  }

  /** Deletes memories whose expiry has passed; returns how many. Run on a timer by the app. */
  async sweepExpired(): Promise<number> {
    const now = this.clock.now();
    const expired: string[] = [];
    for (const r of this.memories.all()) if (r.expiresAt !== null && r.expiresAt <= now) expired.push(r.id);
    return expired.length ? this.delete(expired) : 0;
  }

  async delete(ids: string[]): Promise<number> {
    for (const id of ids) this.require(id);
    const crews = new Set(ids.map((id) => this.memories.get(id)!.crew));
    const n = await this.memories.delete(ids);
    await this.vectors.delete(ids);
    this.access.forget(ids);
    for (const id of ids) this.index.remove(id);
    for (const crew of crews) this.events.publish('memory.changed', { ids, change: 'deleted', crew });
    return n;
  }

  // ── archive hooks (server/memory/archive/service.ts decides when these run) ─────────────────────────────────

  /** The stored records and access counters of `ids`, in that order: what an archive holds. NotFound names an id. */
  archivable(ids: readonly string[]): { records: MemoryRecord[]; counters: ArchivedCounters[] } {
    const records = ids.map((id) => this.require(id));
    return { records, counters: records.map((r) => ({ id: r.id, ...this.access.counters(r.id) })) };
  }

  /**
   * How much a memory is worth keeping at hand, 0..1, without a query: the ranking's recency, importance and
   * frequency terms (see ./archive/retention.ts). `restoredAt`: when it last came back from an archive, if known.
   */
  retentionScore(record: MemoryRecord, now: number, restoredAt?: number | null): number {
    return retentionScore(record, this.access.counters(record.id), now, restoredAt);
  }

  /**
   * Removes archived memories — record, vectors, access counters, index entry — but only those still exactly as
   * archived: one changed since (`changed`) stays live, so an edit made while the archive was written is never
   * lost. Ids no longer live (`missing`) still get their vectors and counters cleared, which finishes a removal a
   * crash interrupted. Call only once the archive holding `archived` is durable and verified.
   */
  async detach(
    archived: readonly MemoryRecord[],
  ): Promise<{ detached: string[]; changed: string[]; missing: string[] }> {
    const gone: MemoryRecord[] = [];
    const changed: string[] = [];
    const missing: string[] = [];
    for (const want of archived) {
      const live = this.memories.get(want.id);
      if (!live) missing.push(want.id);
      else if (live === want || isDeepStrictEqual(live, want)) gone.push(live);
      else changed.push(want.id);
    }
    const ids = gone.map((r) => r.id);
    // No await between the comparison above and this call: the store applies a delete before it returns its
    // promise, so no update can slip in between the check and the removal.
    const removed = this.memories.delete(ids);
    for (const id of ids) this.index.remove(id);
    await removed;
    const cleared = [...ids, ...missing];
    if (cleared.length) {
      await this.vectors.delete(cleared);
      this.access.forget(cleared);
      await this.access.flush();
    }
    for (const [crew, crewIds] of byCrew(gone))
      this.events.publish('memory.changed', { ids: crewIds, change: 'archived', crew });
    return { detached: ids, changed, missing };
  }

  /**
   * Puts archived memories back exactly as they were (same record, history untouched, no new entry), with their
   * access counters; indexes them at once and embeds them in the background. Ids that are live already are left
   * alone (`skipped`). `duplicates`: restored memories whose content a live memory of the crew also has.
   */
  async attach(
    records: readonly MemoryRecord[],
    counters: readonly ArchivedCounters[],
  ): Promise<{ attached: string[]; skipped: string[]; duplicates: { id: string; duplicateOf: string }[] }> {
    const fresh = new Map<string, MemoryRecord>();
    const skipped: string[] = [];
    for (const r of records) {
      if (this.memories.get(r.id) || fresh.has(r.id)) skipped.push(r.id);
      else fresh.set(r.id, r);
    }
    const hashes = new Map<string, Map<string, string>>();
    const duplicates: { id: string; duplicateOf: string }[] = [];
    for (const r of fresh.values()) {
      let crew = hashes.get(r.crew);
      if (!crew) {
        hashes.set(r.crew, (crew = new Map<string, string>()));
        for (const live of this.memories.byCrew(r.crew)) crew.set(live.contentHash, live.id);
      }
      const dup = crew.get(r.contentHash);
      if (dup !== undefined) duplicates.push({ id: r.id, duplicateOf: dup });
    }
    const list = [...fresh.values()];
    if (!list.length) return { attached: [], skipped, duplicates };
    // Counters go first and are flushed: a crash before the records are back leaves counters of ids that are not
    // live (harmless, overwritten by the next restore) rather than live memories that lost their counters.
    const byId = new Map(counters.map((c) => [c.id, c]));
    this.access.restore(
      list.map((r) => {
        const c = byId.get(r.id);
        return { id: r.id, count: c?.count ?? 0, last: c?.last ?? null };
      }),
    );
    await this.access.flush();
    await this.memories.put(list);
    for (const r of list) this.indexRecord(this.memories.get(r.id) ?? r);
    // Vectors are not archived (an embedder may have changed since): they are recomputed, as for a fresh load.
    void this.embedInBackground(list);
    for (const [crew, crewIds] of byCrew(list))
      this.events.publish('memory.changed', { ids: crewIds, change: 'restored', crew });
    return { attached: list.map((r) => r.id), skipped, duplicates };
  }

  list(p: ListMemories): { memories: Memory[]; total: number } {
    const source = p.crew ? this.memories.byCrew(p.crew) : this.memories.all();
    const matched: MemoryRecord[] = [];
    for (const r of source) {
      if (p.agent && r.agent !== p.agent) continue;
      if (p.kind && r.kind !== p.kind) continue;
      if (p.tag && !r.tags.includes(p.tag)) continue;
      matched.push(r);
    }
    matched.sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1));
    const offset = p.offset ?? 0;
    return {
      memories: matched.slice(offset, offset + (p.limit ?? 50)).map((r) => this.toMemory(r)),
      total: matched.length,
    };
  }

  private filterOf(p: { agent?: string; kinds?: MemoryKind[]; tags?: string[] }) {
    return {
      ...(p.agent ? { agent: p.agent } : {}),
      ...(p.kinds?.length ? { kind: p.kinds } : {}),
      ...(p.tags?.length ? { tags: p.tags } : {}),
    };
  }

  /** The old content's vectors, gone once the content changed and the new vector has to wait. */
  private async dropVectors(id: string): Promise<void> {
    await this.vectors.delete([id]);
    this.index.removeVector(id, this.embedderId);
  }

  /** The query's vector, or none (text ranking alone) when a budget refuses to pay for it. */
  private async queryVector(
    query: string,
    crew: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ text: string; vector?: { embedderId: string; vector: Float32Array } }> {
    try {
      const [qv] = await this.embed([query], { crew: crew ?? null }, signal);
      return { text: query, vector: { embedderId: this.embedderId, vector: qv! } };
    } catch (e) {
      if (!(e instanceof DomainError) || e.code !== ErrorCodes.BudgetExceeded) throw e;
      this.log.warn(`memory search ranks on text alone: ${e.message}`);
      return { text: query };
    }
  }

  async search(p: SearchMemories, signal?: AbortSignal): Promise<{ hits: MemoryHit[]; embedderId: string }> {
    const query = await this.queryVector(p.query, p.crew, signal);
    const now = this.clock.now();
    const result = this.index.search(query, {
      k: p.limit ?? 10,
      now,
      ...(p.crew ? { crew: p.crew } : {}),
      filter: this.filterOf(p),
      ...rankingOverride(p),
      // Accesses are recorded below, for the hits actually returned (expired ones are dropped first).
      record: false,
    });
    const hits = result.hits.filter((h) => !this.expired(h.id, now));
    this.index.recordAccess(
      hits.map((h) => h.id),
      now,
    );
    this.access.record(hits.map((h) => ({ id: h.id, crew: this.memories.get(h.id)!.crew, at: now })));
    return {
      hits: hits.map((h) => ({
        memory: this.toMemory(this.memories.get(h.id)!),
        score: h.score,
        components: h.components,
      })),
      embedderId: this.embedderId,
    };
  }

  async context(
    p: SearchMemories & { maxTokens: number },
    signal?: AbortSignal,
  ): Promise<{
    memories: { memory: Memory; score: number; tokens: number }[];
    usedTokens: number;
    budgetTokens: number;
  }> {
    const query = await this.queryVector(p.query, p.crew, signal);
    const now = this.clock.now();
    const out = buildContext(this.index, query, {
      k: Math.min(1000, Math.max(20, p.limit ?? 50)),
      now,
      ...(p.crew ? { crew: p.crew } : {}),
      filter: this.filterOf(p),
      ...rankingOverride(p),
      budgetTokens: p.maxTokens,
      textOf: (id) => (this.expired(id, now) ? undefined : this.memories.get(id)?.content),
    });
    this.access.record(out.packed.map((m) => ({ id: m.id, crew: this.memories.get(m.id)!.crew, at: now })));
    return {
      memories: out.packed.map((m) => ({
        memory: this.toMemory(this.memories.get(m.id)!),
        score: m.score,
        tokens: m.tokens,
      })),
      usedTokens: out.usedTokens,
      budgetTokens: out.budgetTokens,
    };
  }

  private expired(id: string, now: number): boolean {
    const r = this.memories.get(id);
    return !r || (r.expiresAt !== null && r.expiresAt <= now);
  }

  /**
   * Merges memories into one (planMerge holds the rules). The kept memory is written before the others are
   * deleted, so a crash in between leaves both copies rather than losing anything.
   */
  async merge(p: MemoryMerge.Params): Promise<MemoryMerge.Result> {
    const keep = this.require(p.keepId);
    const others = p.mergeIds.map((id) => this.require(id));
    if (p.content !== undefined) this.checkContent(p.content);
    const plan = planMerge(keep, others, p, this.clock.now(), (id) => this.access.counters(id));
    let vector: Float32Array | undefined;
    if (plan.contentChanged) {
      const clash = this.duplicateOf(keep.crew, plan.record.contentHash, keep.id);
      if (clash && !plan.removeIds.includes(clash.id))
        throw new DomainError(ErrorCodes.Conflict, `memory ${clash.id} in crew ${keep.crew} already has this content`, {
          duplicateOf: clash.id,
        });
      try {
        [vector] = await this.embed([plan.record.content], { crew: keep.crew });
      } catch (e) {
        if (!this.deferredBy(e, `memory ${keep.id} (crew ${keep.crew})`)) throw e;
      }
    }
    await this.memories.put([plan.record]);
    await this.memories.delete(plan.removeIds);
    await this.vectors.delete(plan.removeIds);
    this.access.forget(plan.removeIds);
    this.access.restore([plan.counters]);
    for (const id of plan.removeIds) this.index.remove(id);
    this.indexRecord(plan.record);
    if (vector) await this.storeVectors([{ id: plan.record.id, vector }]);
    else if (plan.contentChanged) await this.dropVectors(plan.record.id);
    this.events.publish('memory.changed', { ids: [plan.record.id], change: 'updated', crew: keep.crew });
    this.events.publish('memory.changed', { ids: plan.removeIds, change: 'deleted', crew: keep.crew });
    return { memory: this.toMemory(plan.record), merged: plan.removeIds, tokensSaved: plan.tokensSaved };
  }

  toMemory(r: MemoryRecord): Memory {
    const a = this.access.counters(r.id);
    const vector = this.vectors.get(r.id, this.embedderId);
    return {
      id: r.id,
      crew: r.crew,
      agent: r.agent,
      content: r.content,
      kind: r.kind,
      tags: r.tags,
      importance: r.importance,
      pinned: r.pinned,
      expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
      createdAt: new Date(r.createdAt).toISOString(),
      updatedAt: new Date(r.updatedAt).toISOString(),
      lastAccessedAt: a.last === null ? null : new Date(a.last).toISOString(),
      accessCount: a.count,
      embedding: vector ? { embedderId: this.embedderId, dimensions: vector.length } : null,
    };
  }
}

/** Access counters as an archive carries them. */
export interface ArchivedCounters {
  id: string;
  count: number;
  last: number | null;
}

function groupByCrew(records: readonly MemoryRecord[]): Map<string, MemoryRecord[]> {
  const out = new Map<string, MemoryRecord[]>();
  for (const r of records) {
    const list = out.get(r.crew);
    if (list) list.push(r);
    else out.set(r.crew, [r]);
  }
  return out;
}

function byCrew(records: readonly MemoryRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of records) {
    const ids = out.get(r.crew);
    if (ids) ids.push(r.id);
    else out.set(r.crew, [r.id]);
  }
  return out;
}

function normalizeTags(tags: string[] | undefined): string[] {
  return [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
}

function parseTime(field: string, value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw errors.invalidParams(`${field}: "${value}" is not an ISO date-time`, {
      field,
      issues: [{ field, message: 'expected an ISO 8601 date-time' }],
    });
  return t;
}

function rankingOverride(p: RankingOverride): RankingOverride {
  const o: RankingOverride = {};
  for (const k of Object.keys(p) as (keyof RankingOverride)[]) {
    if (k === 'weights' || k === 'halfLifeMs' || k === 'vectorShare') (o as Record<string, unknown>)[k] = p[k];
  }
  return o;
}
