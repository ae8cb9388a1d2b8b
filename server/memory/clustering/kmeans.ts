/**
 * Spherical k-means over unit vectors: points are assigned to the centroid of highest cosine (the dot product, as
 * both are unit length), and a centroid is the normalised mean of its points. For unit vectors this is ordinary
 * k-means up to a constant (‖x − c‖² = 2 − 2·x·c), but keeping centroids on the sphere means "closest" and
 * "most similar" are the same question everywhere else (cohesion, representatives, silhouette).
 *
 * Seeding is k-means++ (Arthur & Vassilvitskii, 2007) driven by a seeded PRNG, so the same input and seed give
 * the same clustering on every run and machine: every sum runs in a fixed order and ties go to the lower index.
 */
import { Pacer } from './pacing';
import { createRng, dotAt, type Rng } from './vectors';

export interface KMeansOptions {
  k: number;
  seed: number;
  /** Lloyd iterations at most; each costs up to n·k·dim multiply-adds, far less once few points move. */
  maxIterations?: number;
  /** Stop once no centroid moves by more than this in cosine distance (1 − cos(old, new)). */
  tolerance?: number;
  /** Start from these k×dim centroids instead of k-means++ (e.g. centroids found on a sample). */
  initialCentroids?: Float32Array;
  /** Checked between slices of work; ignored when `pacer` is given (the pacer carries the caller's signal). */
  signal?: AbortSignal;
  /** Shared with a caller that runs several k-means, so one time slice spans them all. */
  pacer?: Pacer;
  onIteration?: (iteration: number, changed: number) => void;
}

export interface KMeansResult {
  k: number;
  /** Cluster of each point, in [0, k). */
  assignments: Int32Array;
  /** k×dim unit centroids, row c for cluster c. */
  centroids: Float32Array;
  /** Σ (1 − cos(point, its centroid)): the spherical analogue of the within-cluster sum of squares. */
  inertia: number;
  iterations: number;
  converged: boolean;
}

/** Points per slice between pacer ticks: ~0.1–1 ms of work, so yields stay cheap and frequent enough. */
const CHUNK = 256;

export async function kmeans(data: Float32Array, dim: number, options: KMeansOptions): Promise<KMeansResult> {
  const n = dim > 0 ? data.length / dim : 0;
  const k = options.k;
  if (!Number.isInteger(n) || dim <= 0) throw new RangeError(`data length ${data.length} is not a multiple of ${dim}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`k must be an integer in [1, ${n}], got ${k}`);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-6;
  const pacer = options.pacer ?? new Pacer(options.signal, 'clustering');

  let centroids: Float32Array;
  if (options.initialCentroids) {
    if (options.initialCentroids.length !== k * dim)
      throw new RangeError(`initialCentroids must hold ${k}×${dim} values, got ${options.initialCentroids.length}`);
    centroids = Float32Array.from(options.initialCentroids);
  } else {
    centroids = await seedPlusPlus(data, n, dim, k, createRng(options.seed), pacer);
  }

  const assignments = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  // Hamerly's bounds (Hamerly, 2010) make Lloyd's iterations cheap once few points move, with the same result:
  // upper[i] ≥ distance to its own centroid, lower[i] ≤ distance to any other. Euclidean distances, since the
  // triangle inequality needs a metric; for unit vectors ‖x − c‖² = ‖x‖² + ‖c‖² − 2·x·c.
  const upper = new Float64Array(n).fill(Infinity);
  const lower = new Float64Array(n);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) norms[i] = dotAt(data, i * dim, data, i * dim, dim);
  const cNorms = new Float64Array(k);
  const halfGap = new Float64Array(k); // half the distance from each centroid to its nearest other centroid
  const shifts = new Float64Array(k);
  const old = new Float32Array(k * dim);
  const distance = (i: number, c: number) =>
    Math.sqrt(Math.max(0, norms[i]! + cNorms[c]! - 2 * dotAt(data, i * dim, centroids, c * dim, dim)));

  const prepareCentroids = () => {
    for (let c = 0; c < k; c++) cNorms[c] = dotAt(centroids, c * dim, centroids, c * dim, dim);
    halfGap.fill(Infinity);
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        const d2 = cNorms[a]! + cNorms[b]! - 2 * dotAt(centroids, a * dim, centroids, b * dim, dim);
        const half = Math.sqrt(Math.max(0, d2)) / 2;
        if (half < halfGap[a]!) halfGap[a] = half;
        if (half < halfGap[b]!) halfGap[b] = half;
      }
    }
  };

  const assign = async (): Promise<number> => {
    prepareCentroids();
    let changed = 0;
    for (let start = 0; start < n; start += CHUNK) {
      const end = Math.min(n, start + CHUNK);
      for (let i = start; i < end; i++) {
        const own = assignments[i]!;
        if (own >= 0) {
          // Slack keeps float rounding in the bounds from ever skipping a point that should move.
          const bound = Math.max(halfGap[own]!, lower[i]!) - 1e-9;
          if (upper[i]! <= bound) continue;
          upper[i] = distance(i, own);
          if (upper[i]! <= bound) continue;
        }
        let best = Infinity;
        let second = Infinity;
        let bestC = 0;
        for (let c = 0; c < k; c++) {
          const d = distance(i, c);
          if (d < best) {
            second = best;
            best = d;
            bestC = c;
          } else if (d < second) second = d;
        }
        if (own !== bestC) changed++;
        assignments[i] = bestC;
        upper[i] = best;
        lower[i] = second;
      }
      await pacer.tick();
    }
    return changed;
  };

  /** Recomputes centroids from the assignments; returns the largest centroid movement (1 − cos). */
  const update = (): number => {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignments[i]!;
      counts[c]!++;
      const xo = i * dim;
      const so = c * dim;
      for (let d = 0; d < dim; d++) sums[so + d]! += data[xo + d]!;
    }
    old.set(centroids);
    if (counts.includes(0)) repairEmpty();
    let maxCos = 0;
    for (let c = 0; c < k; c++) {
      const so = c * dim;
      let sq = 0;
      for (let d = 0; d < dim; d++) sq += sums[so + d]! * sums[so + d]!;
      if (sq === 0) continue; // points cancel out exactly: keep the old direction
      const inv = 1 / Math.sqrt(sq);
      for (let d = 0; d < dim; d++) centroids[so + d] = sums[so + d]! * inv;
    }
    // Move the bounds by how far each centroid moved.
    let max1 = 0;
    let max2 = 0;
    let arg1 = -1;
    for (let c = 0; c < k; c++) {
      let d2 = 0;
      let cos = 0;
      for (let d = 0; d < dim; d++) {
        const a = centroids[c * dim + d]!;
        const b = old[c * dim + d]!;
        d2 += (a - b) * (a - b);
        cos += a * b;
      }
      shifts[c] = Math.sqrt(d2);
      maxCos = Math.max(maxCos, 1 - cos);
      if (shifts[c]! > max1) {
        max2 = max1;
        max1 = shifts[c]!;
        arg1 = c;
      } else if (shifts[c]! > max2) max2 = shifts[c]!;
    }
    for (let i = 0; i < n; i++) {
      const a = assignments[i]!;
      upper[i]! += shifts[a]!;
      lower[i]! -= a === arg1 ? max2 : max1;
    }
    return maxCos;
  };

  /** An empty cluster takes the point its centroid serves worst: the standard repair, and deterministic. */
  const repairEmpty = () => {
    const sims = new Float64Array(n);
    for (let i = 0; i < n; i++) sims[i] = dotAt(data, i * dim, centroids, assignments[i]! * dim, dim);
    const taken = new Uint8Array(n);
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) continue;
      let worst = -1;
      for (let i = 0; i < n; i++) if (!taken[i] && (worst < 0 || sims[i]! < sims[worst]!)) worst = i;
      if (worst < 0) continue;
      taken[worst] = 1;
      for (let d = 0; d < dim; d++) sums[c * dim + d] = data[worst * dim + d]!;
    }
    // Centroids jump: the bounds say nothing any more, so every point is measured afresh.
    upper.fill(Infinity);
    lower.fill(0);
  };

  await assign();
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    const shift = update();
    const changed = await assign();
    options.onIteration?.(iterations, changed);
    if (changed === 0 || shift <= tolerance) {
      converged = true;
      break;
    }
  }

  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += 1 - dotAt(data, i * dim, centroids, assignments[i]! * dim, dim);
  return { k, assignments, centroids, inertia: Math.max(0, inertia), iterations, converged };
}

/**
 * k-means++: the first centroid uniformly at random, each next one with probability proportional to the squared
 * Euclidean distance to the nearest centroid chosen so far — for unit vectors 2·(1 − cos), so 1 − cos will do.
 */
async function seedPlusPlus(
  data: Float32Array,
  n: number,
  dim: number,
  k: number,
  rng: Rng,
  pacer: Pacer,
): Promise<Float32Array> {
  const centroids = new Float32Array(k * dim);
  const chosen = new Uint8Array(n);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = Math.min(n - 1, Math.floor(rng() * n));
  for (let c = 0; c < k; c++) {
    chosen[pick] = 1;
    centroids.set(data.subarray(pick * dim, (pick + 1) * dim), c * dim);
    if (c === k - 1) break;
    let total = 0;
    for (let start = 0; start < n; start += CHUNK) {
      const end = Math.min(n, start + CHUNK);
      for (let i = start; i < end; i++) {
        const d = Math.max(0, 1 - dotAt(data, i * dim, centroids, c * dim, dim));
        if (d < dist[i]!) dist[i] = d;
        total += dist[i]!;
      }
      await pacer.tick();
    }
    pick = -1;
    if (total > 0) {
      let r = rng() * total;
      for (let i = 0; i < n; i++) {
        if (chosen[i] || dist[i]! === 0) continue;
        r -= dist[i]!;
        pick = i;
        if (r <= 0) break;
      }
    }
    // Every point coincides with a centroid already: any unchosen point will do (its cluster may end up empty).
    if (pick < 0) pick = chosen.indexOf(0);
  }
  return centroids;
}
