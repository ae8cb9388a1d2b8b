/**
 * Silhouette (Rousseeuw, 1987) with cosine distance 1 − cos, and the choice of k by its mean.
 *
 * The textbook silhouette needs every pairwise distance: O(n²·dim), about 25 s for 10,000 × 384 here. For unit
 * vectors it does not have to. The mean cosine distance from x to the members of cluster C is
 *     (1/|C|) Σ_{y∈C} (1 − x·y) = 1 − x·S_C / |C|,   where S_C = Σ_{y∈C} y,
 * so with the k cluster sums computed once, each point needs k dot products: the exact silhouette in O(n·k·dim),
 * the cost of one Lloyd iteration. No sampling of points is needed for the score itself; `naiveSilhouette` keeps
 * the textbook definition as the reference the tests compare against.
 */
import { kmeans, type KMeansResult } from './kmeans';
import { Pacer } from './pacing';
import { createRng, dotAt, dotAt64, gatherRows, mixSeed, sampleIndices } from './vectors';

/**
 * Mean silhouette over all points. A point alone in its cluster scores 0 (as in scikit-learn); with fewer than
 * two non-empty clusters the silhouette is undefined and 0 is returned.
 */
export function silhouetteScore(data: Float32Array, dim: number, assignments: Int32Array, k: number): number {
  const n = assignments.length;
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i]!;
    counts[c]!++;
    const xo = i * dim;
    const so = c * dim;
    for (let d = 0; d < dim; d++) sums[so + d]! += data[xo + d]!;
  }
  if (counts.filter((c) => c > 0).length < 2) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = assignments[i]!;
    if (counts[own]! <= 1) continue;
    const xo = i * dim;
    const self = dotAt(data, xo, data, xo, dim);
    const a = 1 - (dotAt64(data, xo, sums, own * dim, dim) - self) / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c === own || counts[c]! === 0) continue;
      const dc = 1 - dotAt64(data, xo, sums, c * dim, dim) / counts[c]!;
      if (dc < b) b = dc;
    }
    const m = Math.max(a, b);
    if (m > 0) total += (b - a) / m;
  }
  return total / n;
}

/** The textbook O(n²·dim) silhouette with the same conventions; a reference for tests and the benchmark. */
export function naiveSilhouette(data: Float32Array, dim: number, assignments: Int32Array, k: number): number {
  const n = assignments.length;
  const counts = new Int32Array(k);
  for (const c of assignments) counts[c]!++;
  if (counts.filter((c) => c > 0).length < 2) return 0;
  const perCluster = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < n; i++) {
    perCluster.fill(0);
    for (let j = 0; j < n; j++) {
      if (j !== i) perCluster[assignments[j]!]! += 1 - dotAt(data, i * dim, data, j * dim, dim);
    }
    const own = assignments[i]!;
    if (counts[own]! <= 1) continue;
    const a = perCluster[own]! / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c]! > 0) b = Math.min(b, perCluster[c]! / counts[c]!);
    const m = Math.max(a, b);
    if (m > 0) total += (b - a) / m;
  }
  return total / n;
}

export interface KCandidate {
  k: number;
  silhouette: number;
  inertia: number;
}

export interface ChooseKOptions {
  kMin: number;
  kMax: number;
  seed: number;
  /**
   * k-means for each candidate k runs on a deterministic sample of this many points (all of them when n is
   * smaller). Trying eleven k's on 10,000 points would cost eleven full clusterings; a 2,000-point sample finds the
   * same topic structure at a fifth of the price, and the caller refines the winner on every point.
   */
  sampleSize?: number;
  maxIterations?: number;
  signal?: AbortSignal;
  pacer?: Pacer;
  onProgress?: (fraction: number, message: string) => void;
}

export interface ChooseKResult {
  k: number;
  silhouette: number;
  /** Every k tried, ascending. */
  candidates: KCandidate[];
  /** Rows of the input the selection ran on, ascending. */
  sample: Int32Array;
  /** The winning k-means run on the sample (its assignments index `sample`). */
  best: KMeansResult;
}

export const DEFAULT_SELECTION_SAMPLE = 2000;

/** Tries every k in [kMin, kMax] and keeps the highest mean silhouette; ties go to the smaller k. */
export async function chooseK(data: Float32Array, dim: number, options: ChooseKOptions): Promise<ChooseKResult> {
  const n = data.length / dim;
  const pacer = options.pacer ?? new Pacer(options.signal, 'clustering');
  const sample = sampleIndices(n, options.sampleSize ?? DEFAULT_SELECTION_SAMPLE, createRng(mixSeed(options.seed, 0)));
  const rows = sample.length === n ? data : gatherRows(data, dim, sample);
  const kMax = Math.min(options.kMax, sample.length - 1);
  const kMin = Math.max(2, Math.min(options.kMin, kMax));
  if (kMax < 2) throw new RangeError(`choosing k needs at least 3 points, got ${sample.length}`);

  // Each k-means costs about k units of work; progress follows that rather than the count of k's.
  let totalWork = 0;
  for (let k = kMin; k <= kMax; k++) totalWork += k;
  let done = 0;
  const candidates: KCandidate[] = [];
  let best: KMeansResult | undefined;
  let bestScore = -Infinity;
  for (let k = kMin; k <= kMax; k++) {
    await pacer.tick();
    const run = await kmeans(rows, dim, {
      k,
      seed: mixSeed(options.seed, k),
      maxIterations: options.maxIterations ?? 50,
      pacer,
    });
    const score = silhouetteScore(rows, dim, run.assignments, k);
    candidates.push({ k, silhouette: score, inertia: run.inertia });
    if (score > bestScore) {
      bestScore = score;
      best = run;
    }
    done += k;
    options.onProgress?.(done / totalWork, `k=${k}: silhouette ${score.toFixed(3)}`);
  }
  return { k: best!.k, silhouette: bestScore, candidates, sample, best: best! };
}
