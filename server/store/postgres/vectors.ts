/**
 * VectorRepository on PostgreSQL: `crew_memory_vectors` (memory id, embedder id, `bytea` of little-endian float32,
 * as the local vector files store them) and `crew_memory_embedders` (one dimension count per embedder, fixed by the
 * first vector stored by any instance). Floats travel as bytes, never through a Number, so a vector reads back bit
 * for bit (NaN payloads, -0 and denormals included).
 *
 * Every vector is held in memory for the synchronous reads: per embedder an id → Float32Array map whose arrays are
 * never written into once stored (a put stores a new array), so the views handed out stay valid and unchanged.
 * Writes change the copy at once and commit in order (./write-through.ts), with a notice on `crew_memory_vectors`
 * naming the memory ids; other instances reload those ids (all embedders).
 */
import os from 'node:os';
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import { silentLogger, type Logger } from '../../log';
import type { ExternalChange, VectorRepository } from '../repositories';
import type { PgDatabase } from './db';
import { listenForChanges, sendNotices } from './notices';
import type { PgRepositoryOptions } from './record-table';
import { listeners, PendingKeys, Refresher, WriteQueue, type ExternalChangeListeners } from './write-through';

const CHANNEL = 'crew_memory_vectors';
const LITTLE_ENDIAN = os.endianness() === 'LE';
const PAGE = 2_000;

/** Copies f32 bytes between native order and little-endian (a plain copy on little-endian hosts). */
function copyF32(src: Uint8Array, dst: Uint8Array): void {
  if (LITTLE_ENDIAN) {
    dst.set(src);
    return;
  }
  for (let i = 0; i < src.length; i += 4) {
    dst[i] = src[i + 3]!;
    dst[i + 1] = src[i + 2]!;
    dst[i + 2] = src[i + 1]!;
    dst[i + 3] = src[i]!;
  }
}

const bytesOf = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** The little-endian bytes of a vector. */
export function encodeVector(v: Float32Array): Buffer {
  const b = Buffer.allocUnsafe(v.byteLength);
  copyF32(bytesOf(v), b);
  return b;
}

/** A vector from its little-endian bytes (a fresh array: pg's buffers may be unaligned slices of a pool). */
export function decodeVector(b: Uint8Array): Float32Array {
  const v = new Float32Array(b.length / 4);
  copyF32(b, bytesOf(v));
  return v;
}

/** A copy made through bytes: a NaN's payload survives. */
function copyVector(v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  bytesOf(out).set(bytesOf(v));
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(bytesOf(a)).equals(bytesOf(b));
}

interface Shelf {
  dims: number;
  rows: Map<string, Float32Array>;
}

type Key = string;
const keyOf = (embedderId: string, id: string): Key => JSON.stringify([embedderId, id]);
const unkey = (key: Key) => JSON.parse(key) as [embedderId: string, id: string];

export class PgVectorRepository implements VectorRepository {
  private readonly shelves = new Map<string, Shelf>();
  private readonly queue: WriteQueue;
  private readonly keys: PendingKeys<Float32Array>;
  private readonly refresher: Refresher;
  private readonly changes: ExternalChangeListeners<ExternalChange>;
  private readonly log: Logger;
  private readonly instance: string;
  private unlisten: (() => void) | undefined;
  private closed = false;

  private constructor(
    private readonly db: PgDatabase,
    opts: PgRepositoryOptions,
  ) {
    this.instance = opts.instance;
    this.log = opts.log ?? silentLogger;
    this.queue = new WriteQueue(db);
    this.keys = new PendingKeys<Float32Array>(
      (key) => {
        const [e, id] = unkey(key);
        return this.shelves.get(e)?.rows.get(id);
      },
      (key, v) => {
        const [e, id] = unkey(key);
        if (v === undefined) this.shelves.get(e)?.rows.delete(id);
        else this.shelf(e, v.length).rows.set(id, v);
      },
    );
    this.changes = listeners(this.log, CHANNEL);
    this.refresher = new Refresher(
      this.queue,
      { ids: (ids) => this.reload(ids), all: () => this.reload(undefined) },
      this.log,
      CHANNEL,
    );
  }

  static async open(db: PgDatabase, opts: PgRepositoryOptions): Promise<PgVectorRepository> {
    const repo = new PgVectorRepository(db, opts);
    repo.unlisten = await listenForChanges(
      db,
      CHANNEL,
      repo.instance,
      { ids: (ids) => repo.refresher.request(ids), all: () => repo.refresher.request() },
      repo.log,
    );
    try {
      await repo.queue.exclusive(async () => {
        const dims = await repo.readDims();
        for (const [id, e, v] of await repo.readVectors(undefined, dims)) repo.shelf(e, v.length).rows.set(id, v);
        for (const [e, d] of dims) repo.shelf(e, d);
      });
    } catch (e) {
      repo.unlisten();
      throw e;
    }
    return repo;
  }

  get(id: string, embedderId: string): Float32Array | undefined {
    return this.shelves.get(embedderId)?.rows.get(id);
  }

  /** Views that stay valid and unchanged for as long as they are held; never write into them. */
  *entries(embedderId: string): Iterable<[string, Float32Array]> {
    const shelf = this.shelves.get(embedderId);
    if (shelf) yield* shelf.rows.entries();
  }

  embedderIds(): string[] {
    return [...this.shelves].filter(([, s]) => s.rows.size > 0).map(([e]) => e);
  }

  count(embedderId: string): number {
    return this.shelves.get(embedderId)?.rows.size ?? 0;
  }

  onExternalChange(listener: (change: ExternalChange) => void): () => void {
    return this.changes.add(listener);
  }

  /**
   * Copies the vectors in; resolves once committed. All vectors of one embedder have one length (the first vector
   * any instance stored fixes it); a call that breaks this is refused whole.
   */
  put(entries: { id: string; embedderId: string; vector: Float32Array }[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the vector store (${CHANNEL}) is closed`));
    const dimsOf = new Map<string, number>();
    for (const e of entries) {
      if (!(e.vector instanceof Float32Array) || e.vector.length === 0)
        return Promise.reject(new RangeError(`vector for ${e.id} is not a non-empty Float32Array`));
      if (typeof e.embedderId !== 'string' || e.embedderId === '' || Buffer.byteLength(e.embedderId) > 0xffff)
        return Promise.reject(new RangeError(`bad embedder id for ${e.id}`));
      if (typeof e.id !== 'string' || Buffer.byteLength(e.id) > 0xffff)
        return Promise.reject(new RangeError(`memory id too long: ${String(e.id).slice(0, 40)}…`));
      const dims = this.shelves.get(e.embedderId)?.dims ?? dimsOf.get(e.embedderId) ?? e.vector.length;
      if (e.vector.length !== dims)
        return Promise.reject(
          new RangeError(`${e.embedderId} vectors have ${dims} dimensions; ${e.id} has ${e.vector.length}`),
        );
      dimsOf.set(e.embedderId, dims);
    }
    if (!entries.length) return Promise.resolve();
    const latest = new Map<Key, { id: string; embedderId: string; vector: Float32Array }>();
    for (const e of entries)
      latest.set(keyOf(e.embedderId, e.id), { id: e.id, embedderId: e.embedderId, vector: copyVector(e.vector) });
    const created = [...dimsOf.keys()].filter((e) => !this.shelves.has(e));
    this.keys.begin(latest.keys());
    for (const e of latest.values()) this.shelf(e.embedderId, e.vector.length).rows.set(e.id, e.vector);
    const wrote = new Map([...latest].map(([k, e]) => [k, e.vector]));
    const rows = [...latest.values()];
    const embedders = [...dimsOf];
    return this.settle(
      this.queue.write(async (c) => {
        await c.query(
          `insert into crew_memory_embedders (embedder_id, dims)
           select * from unnest($1::text[], $2::integer[]) on conflict do nothing`,
          [embedders.map(([e]) => e), embedders.map(([, d]) => d)],
        );
        const stored = await c.query<{ embedder_id: string; dims: number }>(
          'select embedder_id, dims from crew_memory_embedders where embedder_id = any($1::text[])',
          [embedders.map(([e]) => e)],
        );
        for (const { embedder_id, dims } of stored.rows)
          if (dims !== dimsOf.get(embedder_id))
            throw new RangeError(
              `${embedder_id} vectors have ${dims} dimensions (stored by another instance); these have ${dimsOf.get(embedder_id)}`,
            );
        await c.query(
          `insert into crew_memory_vectors (memory_id, embedder_id, data)
           select u.id, u.e, u.data from unnest($1::text[], $2::text[], $3::bytea[]) with ordinality as u(id, e, data, n)
           order by u.n
           on conflict (memory_id, embedder_id) do update set data = excluded.data`,
          [rows.map((r) => r.id), rows.map((r) => r.embedderId), rows.map((r) => encodeVector(r.vector))],
        );
        await sendNotices(
          c,
          CHANNEL,
          this.instance,
          rows.map((r) => r.id),
        );
      }),
      wrote,
      created,
    );
  }

  /** Removes every vector (all embedders) of these memories; resolves once committed. */
  delete(ids: string[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the vector store (${CHANNEL}) is closed`));
    const unique = [...new Set(ids)];
    if (!unique.length) return Promise.resolve();
    const wrote = new Map<Key, Float32Array | undefined>();
    for (const [e, shelf] of this.shelves)
      for (const id of unique) if (shelf.rows.has(id)) wrote.set(keyOf(e, id), undefined);
    this.keys.begin(wrote.keys());
    for (const key of wrote.keys()) {
      const [e, id] = unkey(key);
      this.shelves.get(e)!.rows.delete(id);
    }
    // Also the vectors a peer stored that this copy has not heard of yet: the memory is going.
    return this.settle(
      this.queue.write(async (c) => {
        const gone = await c.query<{ memory_id: string }>(
          'delete from crew_memory_vectors where memory_id = any($1::text[]) returning memory_id',
          [unique],
        );
        await sendNotices(
          c,
          CHANNEL,
          this.instance,
          gone.rows.map((r) => r.memory_id),
        );
      }),
      wrote,
      [],
    );
  }

  private settle(write: Promise<void>, wrote: Map<Key, Float32Array | undefined>, created: string[]): Promise<void> {
    return write.then(
      () => {
        this.keys.end(wrote, true);
      },
      (e: unknown) => {
        const restored = this.keys.end(wrote, false);
        // A shelf this write made, left empty: its length was never agreed; the next vector fixes it anew.
        for (const emb of created) if (this.shelves.get(emb)?.rows.size === 0) this.shelves.delete(emb);
        if (restored.length) this.changes.emit({ ids: [...new Set(restored.map((k) => unkey(k)[1]))] });
        throw e;
      },
    );
  }

  private shelf(embedderId: string, dims: number): Shelf {
    let shelf = this.shelves.get(embedderId);
    if (!shelf) this.shelves.set(embedderId, (shelf = { dims, rows: new Map() }));
    return shelf;
  }

  private async readDims(): Promise<Map<string, number>> {
    const rows = await this.db.query<{ embedder_id: string; dims: number }>(
      'select embedder_id, dims from crew_memory_embedders',
    );
    return new Map(rows.map((r) => [r.embedder_id, r.dims]));
  }

  /** The vectors of `ids` (all when undefined), in the order they were first stored. */
  private async readVectors(
    ids: string[] | undefined,
    dims: Map<string, number>,
  ): Promise<[id: string, embedderId: string, vector: Float32Array][]> {
    const out: [string, string, Float32Array][] = [];
    let after = '0';
    for (;;) {
      const rows = await this.db.query<{ memory_id: string; embedder_id: string; seq: string; data: Buffer }>(
        `select memory_id, embedder_id, seq, data from crew_memory_vectors
         where seq > $1 ${ids ? 'and memory_id = any($2::text[])' : ''} order by seq limit ${PAGE}`,
        ids ? [after, ids] : [after],
      );
      for (const r of rows) {
        const d = dims.get(r.embedder_id);
        if (d === undefined || r.data.length !== d * 4)
          throw new DomainError(
            ErrorCodes.StoreCorrupt,
            `the ${r.embedder_id} vector of memory "${r.memory_id}" in ${CHANNEL} on ${this.db.location.display} ` +
              `has ${r.data.length} bytes, not ${d === undefined ? 'a known number' : d * 4}; it was left untouched`,
          );
        out.push([r.memory_id, r.embedder_id, decodeVector(r.data)]);
      }
      if (rows.length < PAGE) return out;
      after = rows[rows.length - 1]!.seq;
    }
  }

  /** Reloads the vectors of `ids` (everything when undefined) from the database, leaving pending keys alone. */
  private async reload(ids: string[] | undefined): Promise<void> {
    const dims = await this.readDims();
    const found = new Map<Key, Float32Array>();
    for (const [id, e, v] of await this.readVectors(ids, dims)) found.set(keyOf(e, id), v);
    // Shelves no vector made yet take the length the database has agreed on.
    for (const [e, d] of dims) {
      const s = this.shelves.get(e);
      if (!s) this.shelf(e, d);
      else if (s.rows.size === 0) s.dims = d;
    }
    const wanted = ids && new Set(ids);
    const candidates = new Set<Key>(found.keys());
    for (const [e, shelf] of this.shelves)
      for (const id of shelf.rows.keys()) if (!wanted || wanted.has(id)) candidates.add(keyOf(e, id));
    const changed = new Set<string>();
    for (const key of candidates) {
      const v = found.get(key);
      const [e, id] = unkey(key);
      const current = this.shelves.get(e)?.rows.get(id);
      if (this.keys.has(key)) {
        this.keys.committed(key, v && current && sameBits(v, current) ? current : v);
        continue;
      }
      if (v && current && sameBits(v, current)) continue;
      if (v) this.shelf(e, v.length).rows.set(id, v);
      else if (current) this.shelves.get(e)!.rows.delete(id);
      else continue;
      changed.add(id);
    }
    if (changed.size) this.changes.emit({ ids: [...changed] });
  }

  /** Waits for the writes in flight; later writes are refused and notices ignored. */
  async close(): Promise<void> {
    this.closed = true;
    this.unlisten?.();
    this.refresher.close();
    await this.queue.drain();
  }
}
