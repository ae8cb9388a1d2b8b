/**
 * `memory/duplicates`: memories whose vectors have cosine ≥ a threshold (0.92 by default), grouped into duplicate
 * sets, each with a suggested merge.
 *
 * Finding the pairs is exact — the same answer as comparing every pair — but avoids paying n²/2 full dot products
 * (10,000 × 384 would be ~16 s in this JS loop). Two exact filters, chosen by the data:
 *
 * - sparse vectors (bag-of-words style, most coordinates zero): an inverted index, so only pairs that share a
 *   non-zero coordinate are ever touched;
 * - dense vectors (hashing with character n-grams, neural models): a lower bound on distance. For unit vectors,
 *   cos(x, y) ≥ t  ⇔  ‖x − y‖² ≤ 2(1 − t), and for any orthonormal projection P, ‖P(x − y)‖ ≤ ‖x − y‖. We project
 *   onto the top principal directions of the data (where differences are largest), sort by the first, and only
 *   look at pairs inside a window of width √(2(1 − t)) on it, abandoning a pair as soon as its partial projected
 *   distance exceeds the bound. Survivors get the full dot product.
 *
 * Either way the decision for a pair is the same `dotAt(x, y) ≥ threshold` on the packed unit vectors, so the
 * strategies agree with each other and with the naive scan.
 */
import { Pacer, throwIfAborted } from './pacing';
import { createRng, dotAt, packVectors, sampleIndices, type PackedVectors } from './vectors';

export const DEFAULT_DUPLICATE_THRESHOLD = 0.92;

export type PairStrategy = 'sparse' | 'projected' | 'naive';

export interface SimilarPairsOptions {
  threshold: number;
  /**
   * 'auto' (default): naive up to 1,000 vectors (the filters' fixed costs outweigh what they save), then sparse
   * when at most 10% of coordinates are non-zero, else projected.
   */
  strategy?: PairStrategy | 'auto';
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

export interface PairScanStats {
  strategy: PairStrategy;
  /** Full dot products computed (the naive scan computes n(n − 1)/2). */
  verified: number;
  pairs: number;
}

const NAIVE_UP_TO = 1000;
/** Below this density of non-zero coordinates the inverted index wins. */
const SPARSE_DENSITY = 0.1;
/**
 * Principal directions used by the projected filter; more prune better but cost more per pair. On 10,000 hashing
 * vectors, 16 left 1.4M pairs for full comparison, 24 left 0.24M, 32 saved little more and cost more.
 */
const PROJECTED_DIMS = 24;
/** Rows and power iterations used to find them: the basis only steers pruning, so a rough one is enough. */
const BASIS_SAMPLE = 1000;
const BASIS_ITERATIONS = 2;
/** Slack for float32 rounding in the filters; the final decision is always the exact dot product. */
const EPS = 1e-5;

/**
 * Calls `onPair(i, j, similarity)` (i < j, row indices of `packed`) for every pair of non-zero rows whose dot
 * product is ≥ threshold. Rows must be unit length (packVectors makes them so).
 */
export async function similarPairs(
  packed: PackedVectors,
  options: SimilarPairsOptions,
  onPair: (i: number, j: number, similarity: number) => void,
): Promise<PairScanStats> {
  const t = options.threshold;
  if (!(t > 0 && t <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${t}`);
  throwIfAborted(options.signal, 'duplicate search');
  const pacer = new Pacer(options.signal, 'duplicate search');
  const rows: number[] = [];
  for (let i = 0; i < packed.n; i++) if (!packed.zero[i]) rows.push(i);
  let strategy = options.strategy ?? 'auto';
  if (strategy === 'auto' && rows.length <= NAIVE_UP_TO) strategy = 'naive';
  if (strategy === 'auto') {
    let nnz = 0;
    for (const v of packed.data) if (v !== 0) nnz++;
    strategy = rows.length > 0 && nnz / (rows.length * packed.dim) <= SPARSE_DENSITY ? 'sparse' : 'projected';
  }
  const progress = options.onProgress ?? (() => undefined);
  const stats: PairScanStats = { strategy, verified: 0, pairs: 0 };
  const emit = (i: number, j: number, s: number) => {
    stats.pairs++;
    if (i < j) onPair(i, j, s);
    else onPair(j, i, s);
  };
  if (strategy === 'naive') await naiveScan(packed, rows, t, pacer, progress, stats, emit);
  else if (strategy === 'sparse') await sparseScan(packed, rows, t, pacer, progress, stats, emit);
  else await projectedScan(packed, rows, t, pacer, progress, stats, emit);
  progress(1, `${stats.pairs} similar pairs`);
  return stats;
}

type Emit = (i: number, j: number, s: number) => void;
type Progress = (fraction: number, message: string) => void;

async function naiveScan(
  { data, dim }: PackedVectors,
  rows: number[],
  t: number,
  pacer: Pacer,
  progress: Progress,
  stats: PairScanStats,
  emit: Emit,
): Promise<void> {
  for (let a = 0; a < rows.length; a++) {
    const i = rows[a]!;
    for (let b = a + 1; b < rows.length; b++) {
      const j = rows[b]!;
      const s = dotAt(data, i * dim, data, j * dim, dim);
      if (s >= t) emit(i, j, s);
    }
    stats.verified += rows.length - a - 1;
    if ((a & 31) === 31) {
      progress(1 - ((rows.length - a) / rows.length) ** 2, 'comparing all pairs');
      await pacer.tick();
    }
  }
}

async function sparseScan(
  { data, dim }: PackedVectors,
  rows: number[],
  t: number,
  pacer: Pacer,
  progress: Progress,
  stats: PairScanStats,
  emit: Emit,
): Promise<void> {
  const m = rows.length;
  // Rows as compressed sparse rows, then columns as posting lists (row numbers ascending, as rows are added in order).
  const rowPtr = new Int32Array(m + 1);
  const colCount = new Int32Array(dim);
  for (let a = 0; a < m; a++) {
    const o = rows[a]! * dim;
    let c = 0;
    for (let d = 0; d < dim; d++) {
      if (data[o + d] !== 0) {
        c++;
        colCount[d]!++;
      }
    }
    rowPtr[a + 1] = rowPtr[a]! + c;
  }
  const nnz = rowPtr[m]!;
  const colIdx = new Int32Array(nnz);
  const rowVal = new Float32Array(nnz);
  const colPtr = new Int32Array(dim + 1);
  for (let d = 0; d < dim; d++) colPtr[d + 1] = colPtr[d]! + colCount[d]!;
  const fill = Int32Array.from(colPtr.subarray(0, dim));
  const postRow = new Int32Array(nnz);
  const postVal = new Float32Array(nnz);
  for (let a = 0, p = 0; a < m; a++) {
    const o = rows[a]! * dim;
    for (let d = 0; d < dim; d++) {
      const v = data[o + d]!;
      if (v === 0) continue;
      colIdx[p] = d;
      rowVal[p++] = v;
      const q = fill[d]!++;
      postRow[q] = a;
      postVal[q] = v;
    }
  }
  // cursor[d]: the posting of the last row processed in column d; later postings are rows still ahead of us.
  const cursor = Int32Array.from(colPtr.subarray(0, dim), (x) => x - 1);
  const acc = new Float64Array(m);
  const stamp = new Int32Array(m).fill(-1);
  const touched = new Int32Array(m);
  for (let a = 0; a < m; a++) {
    let nTouched = 0;
    for (let p = rowPtr[a]!; p < rowPtr[a + 1]!; p++) {
      const d = colIdx[p]!;
      const v = rowVal[p]!;
      const start = ++cursor[d]! + 1; // cursor now at row a's own posting
      const end = colPtr[d + 1]!;
      for (let q = start; q < end; q++) {
        const b = postRow[q]!;
        if (stamp[b] !== a) {
          stamp[b] = a;
          acc[b] = 0;
          touched[nTouched++] = b;
        }
        acc[b]! += v * postVal[q]!;
      }
    }
    const i = rows[a]!;
    for (let x = 0; x < nTouched; x++) {
      const b = touched[x]!;
      if (acc[b]! < t - EPS) continue;
      const j = rows[b]!;
      stats.verified++;
      const s = dotAt(data, i * dim, data, j * dim, dim);
      if (s >= t) emit(i, j, s);
    }
    if ((a & 63) === 63) {
      progress(a / m, 'comparing shared terms');
      await pacer.tick();
    }
  }
}

async function projectedScan(
  packed: PackedVectors,
  rows: number[],
  t: number,
  pacer: Pacer,
  progress: Progress,
  stats: PairScanStats,
  emit: Emit,
): Promise<void> {
  const { data, dim } = packed;
  const m = rows.length;
  if (m < 2) return;
  const p = Math.min(dim, PROJECTED_DIMS);
  const basis = await principalBasis(data, dim, rows, p, pacer);
  await pacer.tick();
  // Project every row; keep them sorted by the first coordinate so a window scan reads memory in order.
  const proj = new Float64Array(m * p);
  for (let a = 0; a < m; a++) {
    const o = rows[a]! * dim;
    for (let l = 0; l < p; l++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += data[o + d]! * basis[l * dim + d]!;
      proj[a * p + l] = s;
    }
    if ((a & 255) === 255) await pacer.tick();
  }
  const order = Int32Array.from({ length: m }, (_, a) => a).sort((a, b) => proj[a * p]! - proj[b * p]! || a - b);
  const z = new Float64Array(m * p);
  const rowOf = new Int32Array(m);
  order.forEach((a, r) => {
    z.set(proj.subarray(a * p, (a + 1) * p), r * p);
    rowOf[r] = rows[a]!;
  });
  const r2 = 2 * (1 - t) + EPS;
  const r = Math.sqrt(r2);
  for (let a = 0; a < m; a++) {
    const za = a * p;
    const head = z[za]!;
    for (let b = a + 1; b < m; b++) {
      const zb = b * p;
      const d0 = z[zb]! - head;
      if (d0 > r) break; // sorted: every later row is further away on this axis alone
      let dist = d0 * d0;
      for (let l = 1; l < p && dist <= r2; l++) {
        const diff = z[zb + l]! - z[za + l]!;
        dist += diff * diff;
      }
      if (dist > r2) continue;
      const i = rowOf[a]!;
      const j = rowOf[b]!;
      stats.verified++;
      const s = dotAt(data, i * dim, data, j * dim, dim);
      if (s >= t) emit(i, j, s);
    }
    if ((a & 63) === 63) {
      progress(a / m, 'comparing nearby vectors');
      await pacer.tick();
    }
  }
}

/**
 * `p` orthonormal directions of largest variance (rows of a p×dim array), by subspace iteration on the centred
 * covariance of a sample, then Rayleigh–Ritz so they come sorted by variance. Only orthonormality matters for
 * correctness; how well they capture the data only decides how much the filter prunes.
 */
async function principalBasis(
  data: Float32Array,
  dim: number,
  rows: number[],
  p: number,
  pacer: Pacer,
): Promise<Float64Array> {
  const rng = createRng(0x5eed);
  const pick = sampleIndices(rows.length, BASIS_SAMPLE, rng);
  const s = pick.length;
  const mean = new Float64Array(dim);
  for (const a of pick) {
    const o = rows[a]! * dim;
    for (let d = 0; d < dim; d++) mean[d]! += data[o + d]!;
  }
  for (let d = 0; d < dim; d++) mean[d]! /= s;
  const x = new Float64Array(s * dim);
  for (let a = 0; a < s; a++) {
    const o = rows[pick[a]!]! * dim;
    for (let d = 0; d < dim; d++) x[a * dim + d] = data[o + d]! - mean[d]!;
  }

  let q = new Float64Array(p * dim);
  for (let i = 0; i < q.length; i++) q[i] = rng() - 0.5;
  orthonormalizeRows(q, p, dim, rng);
  const zs = new Float64Array(s * p);
  const scores = () => {
    for (let a = 0; a < s; a++) {
      for (let l = 0; l < p; l++) {
        let acc = 0;
        for (let d = 0; d < dim; d++) acc += x[a * dim + d]! * q[l * dim + d]!;
        zs[a * p + l] = acc;
      }
    }
  };
  for (let iter = 0; iter < BASIS_ITERATIONS; iter++) {
    scores();
    const w = new Float64Array(p * dim);
    for (let a = 0; a < s; a++) {
      for (let l = 0; l < p; l++) {
        const z = zs[a * p + l]!;
        for (let d = 0; d < dim; d++) w[l * dim + d]! += z * x[a * dim + d]!;
      }
    }
    orthonormalizeRows(w, p, dim, rng);
    q = w;
    await pacer.tick();
  }
  // Rayleigh–Ritz: eigenvectors of the p×p covariance of the scores rotate the basis onto principal axes.
  scores();
  const g = new Float64Array(p * p);
  for (let a = 0; a < s; a++)
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) g[i * p + j]! += zs[a * p + i]! * zs[a * p + j]!;
  const { values, vectors } = jacobiEigen(g, p);
  const rank = Array.from({ length: p }, (_, i) => i).sort((a, b) => values[b]! - values[a]!);
  const out = new Float64Array(p * dim);
  rank.forEach((e, r) => {
    for (let l = 0; l < p; l++) {
      const v = vectors[l * p + e]!;
      for (let d = 0; d < dim; d++) out[r * dim + d]! += v * q[l * dim + d]!;
    }
  });
  // Re-orthonormalise: rounding in the rotation must not let the projection stretch any difference.
  orthonormalizeRows(out, p, dim, rng);
  return out;
}

/** Modified Gram–Schmidt, twice ("twice is enough"); a row that collapses is replaced by a random one. */
function orthonormalizeRows(m: Float64Array, rows: number, dim: number, rng: () => number): void {
  for (let i = 0; i < rows; i++) {
    const io = i * dim;
    for (let attempt = 0; ; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          const jo = j * dim;
          let dp = 0;
          for (let d = 0; d < dim; d++) dp += m[io + d]! * m[jo + d]!;
          for (let d = 0; d < dim; d++) m[io + d]! -= dp * m[jo + d]!;
        }
      }
      let sq = 0;
      for (let d = 0; d < dim; d++) sq += m[io + d]! ** 2;
      if (sq > 1e-20 || attempt > 8) {
        const inv = 1 / Math.sqrt(sq);
        for (let d = 0; d < dim; d++) m[io + d]! *= inv;
        break;
      }
      for (let d = 0; d < dim; d++) m[io + d] = rng() - 0.5;
    }
  }
}

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations; vectors are columns. */
function jacobiEigen(input: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j]! ** 2;
    if (off < 1e-22) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j]!;
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (a[j * p + j]! - a[i * p + i]!) / (2 * aij);
        const tan = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tan * tan + 1);
        const sn = tan * c;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i]!;
          const akj = a[k * p + j]!;
          a[k * p + i] = c * aki - sn * akj;
          a[k * p + j] = sn * aki + c * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k]!;
          const ajk = a[j * p + k]!;
          a[i * p + k] = c * aik - sn * ajk;
          a[j * p + k] = sn * aik + c * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i]!;
          const vkj = v[k * p + j]!;
          v[k * p + i] = c * vki - sn * vkj;
          v[k * p + j] = sn * vki + c * vkj;
        }
      }
    }
  }
  const values = new Float64Array(p);
  for (let i = 0; i < p; i++) values[i] = a[i * p + i]!;
  return { values, vectors: v };
}

// ---------------------------------------------------------------------------------------------------------------
// Duplicate sets and merge suggestions

/** The fields a merge looks at; a memory record may carry more. Times are epoch ms or ISO 8601 strings. */
export interface MergeableMemory {
  id: string;
  content: string;
  tags?: readonly string[];
  /** A pinned memory was kept on purpose by a person: it outranks everything else. */
  pinned?: boolean;
  importance?: number;
  accessCount?: number;
  createdAt?: number | string;
  updatedAt?: number | string;
}

export interface MergeSuggestion {
  /** The memory that survives (see compareForKeeping). */
  keepId: string;
  /** The others, to delete (or archive) once the merge is applied. */
  removeIds: string[];
  /** The longest content in the set — the most complete wording; ties go to the kept memory's order. */
  content: string;
  contentFromId: string;
  /** Union of all tags, in keep order, first spelling kept when tags differ only in case or spacing. */
  tags: string[];
  /** Pinned if any of the set was. */
  pinned: boolean;
  /** Highest importance in the set; null when no record has one. */
  importance: number | null;
  /** Sum of access counts: every access to a duplicate was an access to this memory; null when none has one. */
  accessCount: number | null;
  /** Earliest creation time, as the record gave it; null when none has one. */
  createdAt: number | string | null;
  reason: string;
}

function timeOf(t: number | string | undefined): number {
  if (t === undefined) return -Infinity;
  const v = typeof t === 'number' ? t : Date.parse(t);
  return Number.isFinite(v) ? v : -Infinity;
}

/**
 * Keep order: pinned first, then the most important, then the most accessed, then the newest (updatedAt, else
 * createdAt), then the smaller id so the choice is total and deterministic. Negative when `a` should be kept.
 */
export function compareForKeeping(a: MergeableMemory, b: MergeableMemory): number {
  // Missing values count as -Infinity; two missing give NaN, which `||` treats as a tie like 0.
  return (
    Number(b.pinned === true) - Number(a.pinned === true) ||
    (b.importance ?? -Infinity) - (a.importance ?? -Infinity) ||
    (b.accessCount ?? 0) - (a.accessCount ?? 0) ||
    timeOf(b.updatedAt ?? b.createdAt) - timeOf(a.updatedAt ?? a.createdAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** Pure: how to merge a set of duplicate memories into one. */
export function suggestMerge(records: readonly MergeableMemory[]): MergeSuggestion {
  if (records.length === 0) throw new RangeError('suggestMerge needs at least one record');
  const ranked = [...records].sort(compareForKeeping);
  const keep = ranked[0]!;
  let content = keep;
  for (const r of ranked) if (r.content.length > content.content.length) content = r;
  const tags: string[] = [];
  const seen = new Set<string>();
  for (const r of ranked) {
    for (const tag of r.tags ?? []) {
      const key = tag.trim().toLowerCase();
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      tags.push(tag.trim());
    }
  }
  const importances = records.map((r) => r.importance).filter((x): x is number => typeof x === 'number');
  const accesses = records.map((r) => r.accessCount).filter((x): x is number => typeof x === 'number');
  let createdAt: number | string | null = null;
  for (const r of records) {
    if (r.createdAt !== undefined && (createdAt === null || timeOf(r.createdAt) < timeOf(createdAt)))
      createdAt = r.createdAt;
  }
  const why: string[] = [];
  const second = ranked[1];
  if (second) {
    if (keep.pinned === true && second.pinned !== true) why.push('pinned');
    else if ((keep.importance ?? -Infinity) > (second.importance ?? -Infinity)) why.push('most important');
    else if ((keep.accessCount ?? 0) > (second.accessCount ?? 0)) why.push('most accessed');
    else if (timeOf(keep.updatedAt ?? keep.createdAt) > timeOf(second.updatedAt ?? second.createdAt))
      why.push('newest');
    else why.push('first by id');
  }
  if (content !== keep) why.push(`content of ${content.id} (longest)`);
  return {
    keepId: keep.id,
    removeIds: ranked.slice(1).map((r) => r.id),
    content: content.content,
    contentFromId: content.id,
    tags,
    pinned: records.some((r) => r.pinned === true),
    importance: importances.length ? Math.max(...importances) : null,
    accessCount: accesses.length ? accesses.reduce((a, b) => a + b, 0) : null,
    createdAt,
    reason: `keep ${keep.id} (${why.join('; ') || 'only one'}), tags merged`,
  };
}

export interface DuplicateRecord extends MergeableMemory {
  vector: ArrayLike<number>;
}

export interface DuplicateSet {
  keepId: string;
  /** The others, each with its cosine to the kept memory (every one ≥ threshold), most similar first. */
  duplicates: { id: string; similarity: number }[];
  merge: MergeSuggestion;
}

export interface DuplicateOptions {
  threshold?: number;
  strategy?: PairStrategy | 'auto';
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

export interface DuplicateResult {
  /** Most similar sets first. */
  sets: DuplicateSet[];
  stats: PairScanStats;
}

/**
 * Similar pairs are joined into connected components; a component is then split so that every set is a kept
 * memory plus memories each ≥ threshold to it — chains (A≈B, B≈C, A≉C) never merge A and C on B's say-so.
 * Splitting is greedy in keep order: the best memory left keeps everything close enough to it, and so on.
 */
export async function findDuplicates(
  records: readonly DuplicateRecord[],
  options: DuplicateOptions = {},
): Promise<DuplicateResult> {
  const threshold = options.threshold ?? DEFAULT_DUPLICATE_THRESHOLD;
  const packed = packVectors(records.map((r) => r.vector));
  const parent = Int32Array.from({ length: packed.n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const stats = await similarPairs(
    packed,
    { threshold, strategy: options.strategy ?? 'auto', signal: options.signal, onProgress: options.onProgress },
    (i, j) => {
      const a = find(i);
      const b = find(j);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    },
  );
  const components = new Map<number, number[]>();
  for (let i = 0; i < packed.n; i++) {
    if (packed.zero[i]) continue;
    const root = find(i);
    const list = components.get(root);
    if (list) list.push(i);
    else components.set(root, [i]);
  }
  const { data, dim } = packed;
  const sets: (DuplicateSet & { top: number })[] = [];
  for (const members of components.values()) {
    if (members.length < 2) continue;
    let left = members.sort((a, b) => compareForKeeping(records[a]!, records[b]!) || a - b);
    while (left.length > 1) {
      const keeper = left[0]!;
      const close: { i: number; similarity: number }[] = [];
      const rest: number[] = [];
      for (const i of left.slice(1)) {
        const s = dotAt(data, keeper * dim, data, i * dim, dim);
        if (s >= threshold) close.push({ i, similarity: s });
        else rest.push(i);
      }
      if (close.length > 0) {
        close.sort((a, b) => b.similarity - a.similarity || a.i - b.i);
        const group = [keeper, ...close.map((c) => c.i)].map((i) => records[i]!);
        sets.push({
          keepId: records[keeper]!.id,
          duplicates: close.map((c) => ({ id: records[c.i]!.id, similarity: c.similarity })),
          merge: suggestMerge(group),
          top: close[0]!.similarity,
        });
      }
      left = rest;
    }
  }
  sets.sort((a, b) => b.top - a.top || (a.keepId < b.keepId ? -1 : a.keepId > b.keepId ? 1 : 0));
  return { sets: sets.map(({ top: _top, ...set }) => set), stats };
}
