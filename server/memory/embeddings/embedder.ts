/**
 * What every embedder promises. A vector is only meaningful next to vectors of the same embedder `id`, so the id is
 * stored with every vector and nothing compares vectors across ids; an id changes whenever the vectors it produces
 * would (model, dimensions, algorithm version, fitted IDF).
 */
import { errors } from '../../errors';
import { normalize } from './vector-codec';

/**
 * Whom an embedding is for: a paid embedder (OpenRouter) charges it to that crew's budgets and ledger rows; the
 * local ones ignore it.
 */
export interface EmbeddingUse {
  /** The crew whose memory (or query) is embedded; null for a query across crews. */
  crew: string | null;
}

export interface Embedder {
  /** Stable across runs and machines, e.g. `local-use-lite@512`, `hash-tfidf@v1-384`, `openrouter:<model>`. */
  readonly id: string;
  /** Length of every vector; undefined for a remote model until its first answer tells us. */
  readonly dimensions: number | undefined;
  /** Texts per model call; `embed` accepts any number and splits them, checking for cancellation in between. */
  readonly batchSize: number;
  /**
   * One vector per text, in order, each of unit L2 norm — except a blank text, whose vector is all zeros (there is
   * nothing to place, and `cosine` scores zero against anything). Rejects with RequestCancelled once `signal` has
   * aborted, checked before each batch. `use` says whom a paid call is for.
   */
  embed(texts: readonly string[], signal?: AbortSignal, use?: EmbeddingUse): Promise<Float32Array[]>;
}

/** The embedder cannot work here (model files missing, no API key); `reason` is written for the user. */
export class EmbedderUnavailableError extends Error {
  constructor(
    readonly embedderId: string,
    readonly reason: string,
  ) {
    super(`embedder ${embedderId} is unavailable: ${reason}`);
    this.name = 'EmbedderUnavailableError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw errors.cancelled();
}

export function isBlank(text: string): boolean {
  return text.trim().length === 0;
}

export interface BatchOptions {
  batchSize: number;
  signal?: AbortSignal | undefined;
  /** The size every vector must have, if known; also the size of a blank text's zero vector. */
  dimensions: () => number | undefined;
  embedderId: string;
}

/**
 * The shared loop of every embedder: blank texts never reach a model (some reject empty input), the rest go in
 * slices of `batchSize`, and between slices we check the signal and yield to the event loop so a long re-embed
 * never starves the server's I/O.
 */
export async function embedInBatches(
  texts: readonly string[],
  opts: BatchOptions,
  embedBatch: (batch: string[], signal: AbortSignal | undefined) => Promise<ArrayLike<number>[]>,
): Promise<Float32Array[]> {
  throwIfAborted(opts.signal);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError('batchSize must be ≥ 1');
  const out = new Array<Float32Array | undefined>(texts.length);
  const todo: number[] = [];
  texts.forEach((t, i) => {
    if (!isBlank(t)) todo.push(i);
  });
  let dims: number | undefined;
  for (let start = 0; start < todo.length; start += opts.batchSize) {
    if (start > 0) await yieldToEventLoop();
    throwIfAborted(opts.signal);
    const indices = todo.slice(start, start + opts.batchSize);
    const raw = await embedBatch(
      indices.map((i) => texts[i]!),
      opts.signal,
    );
    if (raw.length !== indices.length)
      throw new Error(`${opts.embedderId} returned ${raw.length} vectors for ${indices.length} texts`);
    raw.forEach((v, k) => {
      dims ??= opts.dimensions() ?? v.length;
      if (v.length !== dims || dims === 0)
        throw new Error(`${opts.embedderId} returned a vector of ${v.length} dimensions where ${dims} were expected`);
      out[indices[k]!] = normalize(v);
    });
  }
  if (todo.length === texts.length) return out as Float32Array[];
  const zeroDims = opts.dimensions() ?? dims;
  if (zeroDims === undefined)
    throw new RangeError(`${opts.embedderId} has not answered yet, so the size of a blank text's vector is unknown`);
  // Array.from, not map: map skips the holes where the blanks are.
  return Array.from(out, (v) => v ?? new Float32Array(zeroDims));
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
