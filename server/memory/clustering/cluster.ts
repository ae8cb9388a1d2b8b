/**
 * `clusters/compute` as a pure pipeline: memories (id, text, unit vector) in, topics out.
 *
 *   1. choose k by mean silhouette over [kMin, kMax] — k-means on a deterministic sample (see chooseK) — or take
 *      the k given;
 *   2. refine on every point, warm-started from the sample's centroids (a few Lloyd iterations instead of a
 *      fresh k-means++);
 *   3. describe each cluster: c-TF-IDF terms and label, cohesion, representative; and the exact silhouette of the
 *      final clustering over all points.
 *
 * Blank texts (all-zero vectors) have no direction to cluster by; they are returned in `unclusteredIds`.
 * Everything is deterministic for the same items (in the same order) and seed.
 */
import { kmeans, type KMeansResult } from './kmeans';
import { classTfIdf, labelFromTerms, type LabelTerm } from './labels';
import { Pacer, throwIfAborted } from './pacing';
import { chooseK, DEFAULT_SELECTION_SAMPLE, silhouetteScore, type KCandidate } from './silhouette';
import { dotAt, mixSeed, packVectors } from './vectors';

export interface ClusterItem {
  id: string;
  text: string;
  /** Unit-length embedding; every item's from the same embedder. */
  vector: ArrayLike<number>;
}

export interface ClusterOptions {
  /** Use exactly this many clusters (capped at the number of items) instead of choosing by silhouette. */
  k?: number;
  kMin?: number;
  kMax?: number;
  seed: number;
  /** Points the k-selection runs on; see ChooseKOptions.sampleSize. */
  sampleSize?: number;
  /** Terms kept per cluster; the label is made of the first `labelTerms`. */
  topTerms?: number;
  labelTerms?: number;
  signal?: AbortSignal;
  /** fraction in [0, 1], non-decreasing, ending at 1. */
  onProgress?: (fraction: number, message: string) => void;
}

export interface ClusterSummary {
  /** 0 for the largest cluster, then by size (ties: the cluster whose first member comes first in the input). */
  id: number;
  label: string;
  terms: LabelTerm[];
  size: number;
  /** Mean cosine of the members to their centroid, in [-1, 1]; higher is tighter. */
  cohesion: number;
  /** The member closest to the centroid. */
  representativeId: string;
  /** In input order. */
  memberIds: string[];
}

export interface ClusteringResult {
  /** Number of clusters returned. */
  k: number;
  /** Mean silhouette (cosine distance) of the returned clustering over all clustered items; 0 when k < 2. */
  silhouette: number;
  clusters: ClusterSummary[];
  /** Silhouette of each k tried on the sample, ascending k; empty when k was given. */
  candidates: KCandidate[];
  /** How many items the k-selection ran on; 0 when k was given (or there were fewer than 3 items). */
  sampleSize: number;
  /** Items with an all-zero vector (blank text). */
  unclusteredIds: string[];
}

const SELECTION_SHARE = 0.75;
const REFINE_SHARE = 0.15;

export async function computeClusters(
  items: readonly ClusterItem[],
  options: ClusterOptions,
): Promise<ClusteringResult> {
  const progress = options.onProgress ?? (() => undefined);
  throwIfAborted(options.signal, 'clustering');
  const pacer = new Pacer(options.signal, 'clustering');

  const packed = packVectors(items.map((it) => it.vector));
  const unclusteredIds = items.filter((_, i) => packed.zero[i]).map((it) => it.id);
  const kept = items.filter((_, i) => !packed.zero[i]);
  const { dim } = packed;
  const data = unclusteredIds.length === 0 ? packed.data : packVectors(kept.map((it) => it.vector)).data;
  const n = kept.length;

  const kMin = options.kMin ?? 2;
  const kMax = options.kMax ?? 12;
  if (options.k !== undefined && (!Number.isInteger(options.k) || options.k < 1))
    throw new RangeError(`k must be a positive integer, got ${options.k}`);
  if (!Number.isInteger(kMin) || !Number.isInteger(kMax) || kMin < 2 || kMax < kMin)
    throw new RangeError(`need integers 2 ≤ kMin ≤ kMax, got kMin=${kMin}, kMax=${kMax}`);

  if (n === 0) {
    progress(1, 'nothing to cluster');
    return { k: 0, silhouette: 0, clusters: [], candidates: [], sampleSize: 0, unclusteredIds };
  }

  let run: KMeansResult;
  let candidates: KCandidate[] = [];
  let sampleSize = 0;
  const maxIterations = 100;
  // Without a selection phase, refining is most of the work and gets its share of the progress bar.
  const refineFrom = options.k !== undefined || n < 3 ? 0 : SELECTION_SHARE;
  const refineTo = SELECTION_SHARE + REFINE_SHARE;
  const refine = async (k: number, initialCentroids?: Float32Array): Promise<KMeansResult> => {
    const result = await kmeans(data, dim, {
      k,
      seed: mixSeed(options.seed, k),
      maxIterations,
      pacer,
      ...(initialCentroids ? { initialCentroids } : {}),
      onIteration: (it, changed) =>
        progress(
          refineFrom + (refineTo - refineFrom) * Math.min(1, it / 20),
          `refining k=${k}: iteration ${it}, ${changed} moved`,
        ),
    });
    progress(refineTo, `k=${k} done after ${result.iterations} iterations`);
    return result;
  };

  if (options.k !== undefined || n < 3) {
    run = await refine(Math.min(options.k ?? 1, n));
  } else {
    const selection = await chooseK(data, dim, {
      kMin,
      kMax,
      seed: options.seed,
      sampleSize: options.sampleSize ?? DEFAULT_SELECTION_SAMPLE,
      pacer,
      onProgress: (f, message) => progress(SELECTION_SHARE * f, message),
    });
    candidates = selection.candidates;
    sampleSize = selection.sample.length;
    // When the sample was every point, the selection's run already is the clustering.
    run = sampleSize === n ? selection.best : await refine(selection.k, selection.best.centroids);
  }

  const k = run.k;
  const { assignments } = run;
  // Describe clusters against the exact normalised mean of their final members.
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i]!;
    sizes[c]!++;
    for (let d = 0; d < dim; d++) sums[c * dim + d]! += data[i * dim + d]!;
  }
  const centroids = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) {
    let sq = 0;
    for (let d = 0; d < dim; d++) sq += sums[c * dim + d]! ** 2;
    const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d]! * inv;
  }
  const cohesionSum = new Float64Array(k);
  const bestSim = new Float64Array(k).fill(-Infinity);
  const representative = new Int32Array(k).fill(-1);
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    const c = assignments[i]!;
    const s = dotAt(data, i * dim, centroids, c * dim, dim);
    cohesionSum[c]! += s;
    if (s > bestSim[c]!) {
      bestSim[c] = s;
      representative[c] = i;
    }
    members[c]!.push(i);
  }
  await pacer.tick();
  const silhouette = silhouetteScore(data, dim, assignments, k);

  const order = members
    .map((m, c) => ({ c, size: m.length, first: m[0] ?? Infinity }))
    .filter((x) => x.size > 0)
    .sort((a, b) => b.size - a.size || a.first - b.first);
  await pacer.tick();
  progress(refineTo, 'labelling');
  const terms = classTfIdf(
    order.map(({ c }) => members[c]!.map((i) => kept[i]!.text)),
    { topN: options.topTerms ?? 8 },
  );
  const clusters: ClusterSummary[] = order.map(({ c, size }, rank) => ({
    id: rank,
    label: labelFromTerms(terms[rank]!, options.labelTerms ?? 3),
    terms: terms[rank]!,
    size,
    cohesion: cohesionSum[c]! / size,
    representativeId: kept[representative[c]!]!.id,
    memberIds: members[c]!.map((i) => kept[i]!.id),
  }));
  progress(1, `${clusters.length} clusters`);
  return { k: clusters.length, silhouette, clusters, candidates, sampleSize, unclusteredIds };
}
