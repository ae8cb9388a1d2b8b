/**
 * The dependency-free embedder: hashed TF-IDF over word unigrams + bigrams and character 3–5-grams, with sign hashing
 * (Weinberger et al.) so collisions cancel instead of piling up. Used by unit tests and whenever the local model
 * cannot load. Pure integer hashing plus one fixed formula, so the same text gives the same bits on every machine.
 *
 * IDF, kept deterministic: document frequencies are integer counts in a fixed table of 2^16 hashed word buckets, so
 * they depend only on the corpus as a multiset — not on the order texts were added or removed. A fitted table is
 * frozen into an IdfSnapshot whose fingerprint becomes part of the embedder id (`hash-tfidf@v1-384~idf-1a2b3c4d`).
 * Refitting therefore yields a new id: vectors weighted by different IDFs are never compared, and the memory
 * service re-embeds in the background (refit when the corpus has changed enough, not on every write). Without a
 * snapshot every IDF is 1 and the id has no suffix; stop-words then do the coarse work IDF would.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { embedInBatches, type Embedder } from './embedder';
import { bucketOf, extractFeatures, fingerprint, signOf } from './features';
import { normalize } from './vector-codec';

/** Bump on any change that alters vectors: features.ts, the weights below, the IDF formula. */
export const HASH_TFIDF_VERSION = 'v1';
export const DEFAULT_HASH_DIMENSIONS = 384;
export const IDF_BUCKETS = 1 << 16;

// Words say what a text is about; character grams catch inflections and typos ("index"/"indexes"), but there are
// ~20 of them per word, so each family is normalised on its own and then mixed by these weights.
const WORD_BLOCK_WEIGHT = 1;
const CHAR_BLOCK_WEIGHT = 0.6;
const BIGRAM_WEIGHT = 0.5;

export interface IdfSnapshot {
  readonly documents: number;
  /** IDF_BUCKETS document counts, indexed by idfBucket(wordHash(word)). */
  readonly df: Uint32Array;
}

function idfBucket(hash: number): number {
  return hash >>> 16;
}

/** Counts, per hashed word, how many documents contain it. Add and remove texts as the corpus changes. */
export class DocumentFrequencies {
  private readonly df: Uint32Array;
  private docs: number;

  constructor(from?: IdfSnapshot) {
    this.df = from ? Uint32Array.from(from.df) : new Uint32Array(IDF_BUCKETS);
    this.docs = from?.documents ?? 0;
  }

  get documents(): number {
    return this.docs;
  }

  add(text: string): void {
    for (const b of this.bucketsOf(text)) this.df[b]!++;
    this.docs++;
  }

  /** The inverse of `add` for a text added before; counts never go below zero. */
  remove(text: string): void {
    for (const b of this.bucketsOf(text)) if (this.df[b]! > 0) this.df[b]!--;
    if (this.docs > 0) this.docs--;
  }

  snapshot(): IdfSnapshot {
    return { documents: this.docs, df: Uint32Array.from(this.df) };
  }

  private bucketsOf(text: string): Set<number> {
    return new Set([...extractFeatures(text).unigrams.keys()].map(idfBucket));
  }
}

export function fitIdf(corpus: Iterable<string>): IdfSnapshot {
  const f = new DocumentFrequencies();
  for (const text of corpus) f.add(text);
  return f.snapshot();
}

function idfBytes(s: IdfSnapshot): Buffer {
  if (s.df.length !== IDF_BUCKETS) throw new RangeError(`an IDF table has ${IDF_BUCKETS} buckets, got ${s.df.length}`);
  const out = Buffer.alloc(4 + IDF_BUCKETS * 4);
  out.writeUInt32LE(s.documents, 0);
  for (let i = 0; i < IDF_BUCKETS; i++) out.writeUInt32LE(s.df[i]!, 4 + i * 4);
  return out;
}

export function idfFingerprint(s: IdfSnapshot): string {
  return fingerprint(idfBytes(s));
}

/** Compact text form for the store: the table is mostly zeros, so deflate shrinks 256 KB to a few KB. */
export function encodeIdf(s: IdfSnapshot): string {
  return deflateRawSync(idfBytes(s)).toString('base64');
}

export function decodeIdf(text: string): IdfSnapshot {
  const raw = inflateRawSync(Buffer.from(text, 'base64'));
  if (raw.length !== 4 + IDF_BUCKETS * 4) throw new Error('not an encoded IDF table');
  const df = new Uint32Array(IDF_BUCKETS);
  for (let i = 0; i < IDF_BUCKETS; i++) df[i] = raw.readUInt32LE(4 + i * 4);
  return { documents: raw.readUInt32LE(0), df };
}

export function hashEmbedderId(dimensions: number = DEFAULT_HASH_DIMENSIONS, idf?: IdfSnapshot): string {
  const base = `hash-tfidf@${HASH_TFIDF_VERSION}-${dimensions}`;
  return idf ? `${base}~idf-${idfFingerprint(idf)}` : base;
}

export interface HashingOptions {
  dimensions?: number;
  idf?: IdfSnapshot;
  batchSize?: number;
}

export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  readonly batchSize: number;
  private readonly idf: Float64Array | undefined;

  constructor(opts: HashingOptions = {}) {
    this.dimensions = opts.dimensions ?? DEFAULT_HASH_DIMENSIONS;
    if (!Number.isInteger(this.dimensions) || this.dimensions < 8 || this.dimensions > 65_536)
      throw new RangeError(`hashing dimensions must be an integer in 8..65536, got ${this.dimensions}`);
    this.batchSize = opts.batchSize ?? 256;
    this.id = hashEmbedderId(this.dimensions, opts.idf);
    this.idf = opts.idf && idfWeights(opts.idf);
  }

  /** One text, synchronously: cheap enough (tens of µs) for a query on the request path. */
  embedOne(text: string): Float32Array {
    const f = extractFeatures(text);
    const words = new Float64Array(this.dimensions);
    for (const [h, n] of f.unigrams) this.add(words, h, n, this.weightOf(h));
    for (const [h, [n, a, b]] of f.bigrams)
      this.add(words, h, n, BIGRAM_WEIGHT * Math.max(this.weightOf(a), this.weightOf(b)));
    const chars = new Float64Array(this.dimensions);
    for (const [h, [n, w]] of f.chars) this.add(chars, h, n, this.weightOf(w));
    const w = normalize(words);
    const c = normalize(chars);
    const mixed = new Float64Array(this.dimensions);
    for (let i = 0; i < this.dimensions; i++) mixed[i] = WORD_BLOCK_WEIGHT * w[i]! + CHAR_BLOCK_WEIGHT * c[i]!;
    return normalize(mixed);
  }

  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return embedInBatches(
      texts,
      { batchSize: this.batchSize, signal, dimensions: () => this.dimensions, embedderId: this.id },
      async (batch) => batch.map((t) => this.embedOne(t)),
    );
  }

  private weightOf(wordHashValue: number): number {
    return this.idf ? this.idf[idfBucket(wordHashValue)]! : 1;
  }

  /** Sublinear tf: the tenth mention of a word says less than the first. */
  private add(v: Float64Array, hash: number, count: number, weight: number): void {
    v[bucketOf(hash, this.dimensions)]! += signOf(hash) * (1 + Math.log(count)) * weight;
  }
}

/** Smoothed IDF, as scikit-learn's: ln((1 + N) / (1 + df)) + 1 — never zero, and 1 everywhere for an empty corpus. */
function idfWeights(s: IdfSnapshot): Float64Array {
  if (s.df.length !== IDF_BUCKETS) throw new RangeError(`an IDF table has ${IDF_BUCKETS} buckets, got ${s.df.length}`);
  const out = new Float64Array(IDF_BUCKETS);
  for (let i = 0; i < IDF_BUCKETS; i++) out[i] = Math.log((1 + s.documents) / (1 + s.df[i]!)) + 1;
  return out;
}
