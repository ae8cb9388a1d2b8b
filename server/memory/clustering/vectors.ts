/**
 * The numeric core shared by k-means, silhouette and duplicates: vectors packed row after row into one
 * Float32Array (one allocation, cache-friendly sequential reads), a dot product over rows of such arrays, and a
 * seeded PRNG so every "random" choice is the same for the same input and seed.
 */

export interface PackedVectors {
  /** n × dim values, row i at [i·dim, (i+1)·dim). */
  data: Float32Array;
  n: number;
  dim: number;
  /** 1 where the input vector was all zeros (a blank text): it has no direction and resembles nothing. */
  zero: Uint8Array;
}

/**
 * Copies vectors into one contiguous array, re-normalising each to unit length. Embedders already return unit
 * vectors; normalising again is cheap and makes "dot product = cosine" hold even for a caller that forgot.
 */
export function packVectors(vectors: readonly ArrayLike<number>[]): PackedVectors {
  const n = vectors.length;
  const dim = n > 0 ? vectors[0]!.length : 0;
  const data = new Float32Array(n * dim);
  const zero = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = vectors[i]!;
    if (v.length !== dim) throw new RangeError(`vector ${i} has ${v.length} dimensions, vector 0 has ${dim}`);
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      const x = v[d]!;
      if (!Number.isFinite(x)) throw new RangeError(`vector ${i} holds a non-finite value`);
      sq += x * x;
    }
    if (sq === 0) {
      zero[i] = 1;
      continue;
    }
    const inv = 1 / Math.sqrt(sq);
    const o = i * dim;
    for (let d = 0; d < dim; d++) data[o + d] = v[d]! * inv;
  }
  return { data, n, dim, zero };
}

/**
 * Dot product of row `ao` of `a` and row `bo` of `b` (offsets in values, not rows). Four accumulators let V8 keep
 * several multiply-adds in flight; this loop is where k-means, silhouette and duplicates spend their time.
 */
export function dotAt(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  const end4 = dim - (dim % 4);
  for (; d < end4; d += 4) {
    s0 += a[ao + d]! * b[bo + d]!;
    s1 += a[ao + d + 1]! * b[bo + d + 1]!;
    s2 += a[ao + d + 2]! * b[bo + d + 2]!;
    s3 += a[ao + d + 3]! * b[bo + d + 3]!;
  }
  for (; d < dim; d++) s0 += a[ao + d]! * b[bo + d]!;
  return s0 + s1 + s2 + s3;
}

/** Rows of `data` (offset `o`) dotted with a Float64Array row; used against running sums kept in doubles. */
export function dotAt64(a: Float32Array, ao: number, b: Float64Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let d = 0;
  const end2 = dim - (dim % 2);
  for (; d < end2; d += 2) {
    s0 += a[ao + d]! * b[bo + d]!;
    s1 += a[ao + d + 1]! * b[bo + d + 1]!;
  }
  if (d < dim) s0 += a[ao + d]! * b[bo + d]!;
  return s0 + s1;
}

/** A seeded PRNG returning floats in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: 32 bits of state, fast, and good enough for seeding and sampling (not for cryptography). Seeds are
 * first mixed so that neighbouring seeds (k and k + 1) give unrelated streams.
 */
export function createRng(seed: number): Rng {
  let s = mixSeed(seed >>> 0, 0x9e3779b9);
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Combines a seed with a salt (e.g. the k being tried) into a new 32-bit seed. */
export function mixSeed(seed: number, salt: number): number {
  let h = Math.imul((seed ^ 0x85ebca6b) >>> 0, 0xcc9e2d51) ^ Math.imul(salt >>> 0, 0x1b873593);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `size` distinct indices of [0, n) in ascending order, drawn with a partial Fisher–Yates shuffle; all of them
 * when n ≤ size. Ascending order keeps reads of the sample sequential in memory.
 */
export function sampleIndices(n: number, size: number, rng: Rng): Int32Array {
  if (n <= size) return Int32Array.from({ length: n }, (_, i) => i);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, size).sort();
}

/** Rows `indices` of `data` copied into a new contiguous array. */
export function gatherRows(data: Float32Array, dim: number, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r]! * dim;
    out.set(data.subarray(src, src + dim), r * dim);
  }
  return out;
}
