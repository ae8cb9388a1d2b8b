/**
 * Memory search (issue 3). At 10,000 and 100,000 memories of random unit 512-dim vectors (seeded) with short
 * Zipf-distributed texts, prints top-10 latency p50/p99 for
 *   - our search (vector pre-filter + BM25 + ranking, as `memory/search` runs it)   goal ≤ 10 ms p50 at 100k
 *   - the same with a crew filter (a 10% crew), and the vector index alone
 *   - a brute-force baseline: cosine per memory object over `number[]` vectors, sort everything, take 10
 * plus the recall of the vector pre-filter against an exact scan, index build time and memory.
 *
 * Random vectors are the pre-filter's worst case (no structure for 1-bit codes to keep; the true top-10 are
 * barely above the noise), so recall is printed for random queries and for queries near a stored memory.
 * Run: node --import tsx bench/memory-search.ts [--quick]
 */
import { MemorySearchIndex, type MemoryRecord } from '../server/memory/search';
import { ms, percentile, printTable, type Row } from './stats';

const DIM = 512;
const K = 10;
const EMBEDDER = 'bench/random-512';
const quick = process.argv.includes('--quick');
const rows: Row[] = [];

/** mulberry32: small, seeded, good enough for benchmark data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

function unit(r: () => number, out = new Float32Array(DIM)): Float32Array {
  let s = 0;
  for (let j = 0; j < DIM; j++) s += (out[j] = gaussian(r)) ** 2;
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < DIM; j++) out[j]! *= inv;
  return out;
}

/** A query at cosine ≈ c from a stored vector (a memory that really is about the query). */
function near(r: () => number, v: Float32Array, c: number): Float32Array {
  const noise = unit(r);
  const q = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) q[j] = c * v[j]! + Math.sqrt(1 - c * c) * noise[j]!;
  return q;
}

/** Texts over a 30,000-word Zipf(1.07) vocabulary; its head plays the stop words real text has. */
function textMaker(r: () => number): { doc: () => string; query: () => string } {
  const V = 30_000;
  const stop = ['the', 'a', 'of', 'to', 'and', 'in', 'is', 'for', 'on', 'with', 'that', 'it', 'as', 'was', 'be'];
  const words = Array.from({ length: V }, (_, i) => (i < stop.length ? stop[i]! : `w${i.toString(36)}q`));
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let i = 0; i < V; i++) cdf[i] = acc += 1 / Math.pow(i + 1, 1.07);
  const pick = (): number => {
    const u = r() * acc;
    let lo = 0;
    let hi = V - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (cdf[m]! < u) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const phrase = (n: number, content: boolean): string => {
    const out: string[] = [];
    while (out.length < n) {
      const i = pick();
      if (!content || i >= 100) out.push(words[i]!);
    }
    return out.join(' ');
  };
  return { doc: () => phrase(10 + Math.floor(r() * 20), false), query: () => phrase(3 + Math.floor(r() * 4), true) };
}

function heapMB(): number {
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
}

function time(fn: () => unknown, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

function recall(exact: string[], got: string[]): number {
  const want = new Set(exact);
  return got.filter((id) => want.has(id)).length / exact.length;
}

interface BruteMemory {
  id: string;
  vector: number[];
  text: string;
}

/** The baseline: what one writes without an index — cosine per object, sort all, slice. */
function bruteForce(memories: BruteMemory[], q: number[], k: number): { id: string; score: number }[] {
  const scored = memories.map((m) => {
    let dot = 0;
    let nm = 0;
    let nq = 0;
    for (let j = 0; j < q.length; j++) {
      dot += m.vector[j]! * q[j]!;
      nm += m.vector[j]! * m.vector[j]!;
      nq += q[j]! * q[j]!;
    }
    return { id: m.id, score: dot / Math.sqrt(nm * nq) };
  });
  scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  return scored.slice(0, k);
}

function run(n: number, queries: number, bruteQueries: number): void {
  const r = rng(0xc0ffee + n);
  const text = textMaker(r);
  const now = Date.parse('2026-03-01T00:00:00Z');
  const crews = ['crew-big', 'crew-mid', ...Array.from({ length: 8 }, (_, i) => `crew-${i}`)];

  // Data first (not timed): vectors in one block, records, texts.
  const vectors = new Float32Array(n * DIM);
  const records: MemoryRecord[] = [];
  for (let i = 0; i < n; i++) {
    unit(r, vectors.subarray(i * DIM, i * DIM + DIM));
    const u = r();
    records.push({
      id: `m${i.toString().padStart(6, '0')}`,
      text: text.doc(),
      crew: u < 0.5 ? 'crew-big' : u < 0.6 ? 'crew-mid' : crews[2 + Math.floor(r() * 8)]!,
      agent: `agent-${Math.floor(r() * 20)}`,
      kind: r() < 0.7 ? 'fact' : 'episode',
      tags: r() < 0.3 ? ['todo'] : [],
      importance: r(),
      createdAt: now - Math.floor(r() * 90 * 86_400_000),
      lastAccessedAt: r() < 0.5 ? now - Math.floor(r() * 30 * 86_400_000) : null,
      accessCount: Math.floor(r() * r() * 20),
    });
  }

  global.gc?.();
  const before = heapMB();
  const t0 = performance.now();
  const index = new MemorySearchIndex();
  index.reserveVectors(EMBEDDER, DIM, n);
  for (let i = 0; i < n; i++) {
    index.upsert(records[i]!, [{ embedderId: EMBEDDER, vector: vectors.subarray(i * DIM, i * DIM + DIM) }]);
  }
  const buildMs = performance.now() - t0;
  global.gc?.();
  const indexMB = heapMB() - before;

  // Half the queries near a stored memory, half random; each with 3–6 content words.
  const qs = Array.from({ length: queries }, (_, i) => {
    const m = Math.floor(r() * n);
    const vector = i % 2 === 0 ? near(r, vectors.subarray(m * DIM, m * DIM + DIM), 0.6) : unit(r);
    return { text: text.query(), vector };
  });
  const vindex = index.vectorIndex(EMBEDDER)!;

  let qi = 0;
  const next = () => qs[qi++ % qs.length]!;
  // Warm up the JIT on every path before timing.
  for (let i = 0; i < 20; i++) {
    const q = next();
    index.search({ text: q.text, vector: { embedderId: EMBEDDER, vector: q.vector } }, { k: K, now, record: false });
    vindex.topK(q.vector, K);
  }
  qi = 0;
  const ours = time(() => {
    const q = next();
    index.search({ text: q.text, vector: { embedderId: EMBEDDER, vector: q.vector } }, { k: K, now });
  }, queries);
  qi = 0;
  const crewTimes = time(() => {
    const q = next();
    index.search(
      { text: q.text, vector: { embedderId: EMBEDDER, vector: q.vector } },
      { k: K, now, crew: 'crew-mid', record: false },
    );
  }, queries);
  qi = 0;
  const bigCrewTimes = time(() => {
    const q = next();
    index.search(
      { text: q.text, vector: { embedderId: EMBEDDER, vector: q.vector } },
      { k: K, now, crew: 'crew-big', record: false },
    );
  }, queries);
  qi = 0;
  const vecOnly = time(() => vindex.topK(next().vector, K), queries);
  qi = 0;
  const vecExact = time(() => vindex.topK(next().vector, K, { exact: true }), Math.min(queries, 30));

  // Recall of the pre-filter against the exact scan, split by query kind.
  const rec = { near: [] as number[], random: [] as number[] };
  for (let i = 0; i < Math.min(queries, 100); i++) {
    const q = qs[i]!;
    const exact = vindex.topK(q.vector, K, { exact: true }).map((h) => h.id);
    const got = vindex.topK(q.vector, K).map((h) => h.id);
    (i % 2 === 0 ? rec.near : rec.random).push(recall(exact, got));
  }
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

  // Baseline: objects with number[] vectors, built outside the timing.
  const brute: BruteMemory[] = records.map((m, i) => ({
    id: m.id,
    text: m.text,
    vector: Array.from(vectors.subarray(i * DIM, i * DIM + DIM)),
  }));
  const bruteQs = qs.slice(0, bruteQueries).map((q) => Array.from(q.vector));
  let bi = 0;
  bruteForce(brute, bruteQs[0]!, K);
  const bruteTimes = time(() => bruteForce(brute, bruteQs[bi++ % bruteQs.length]!, K), bruteQueries);

  const p50 = (a: number[]) => percentile(a, 0.5);
  const p99 = (a: number[]) => percentile(a, 0.99);
  const label = `${n / 1000}k`;
  const base = p50(bruteTimes);
  const add = (name: string, samples: number[], goal: string, pass: boolean) =>
    rows.push({
      name: `${name} @${label}`,
      figure: `p50 ${ms(p50(samples))}  p99 ${ms(p99(samples))}`,
      baseline: `brute p50 ${ms(base)}`,
      ratio: `${(base / p50(samples)).toFixed(1)}× faster`,
      goal,
      pass,
    });
  const goal100k = n >= 100_000;
  add('search top-10 (vector+BM25+rank)', ours, goal100k ? '≤ 10 ms p50' : '-', !goal100k || p50(ours) <= 10);
  add('search, crew filter (10% crew)', crewTimes, goal100k ? '≤ 10 ms p50' : '-', !goal100k || p50(crewTimes) <= 10);
  add(
    'search, crew filter (50% crew)',
    bigCrewTimes,
    goal100k ? '≤ 10 ms p50' : '-',
    !goal100k || p50(bigCrewTimes) <= 10,
  );
  add('vector index only, top-10', vecOnly, '-', true);
  add('vector index, exact scan', vecExact, '-', true);
  rows.push({
    name: `pre-filter recall@10 vs exact @${label}`,
    figure: `near ${mean(rec.near).toFixed(3)}  random ${mean(rec.random).toFixed(3)}`,
    baseline: 'exact scan',
    ratio: '-',
    goal: '-',
    pass: true,
  });
  rows.push({
    name: `index build @${label}`,
    figure: `${(buildMs / 1000).toFixed(2)} s, ${indexMB.toFixed(0)} MB (vectors ${(vindex.memoryBytes() / 1e6).toFixed(0)} MB)`,
    baseline: `${((n * DIM * 4) / 1e6).toFixed(0)} MB raw float32`,
    ratio: '-',
    goal: '-',
    pass: true,
  });
}

const started = performance.now();
run(10_000, quick ? 100 : 300, quick ? 10 : 30);
run(100_000, quick ? 60 : 200, quick ? 5 : 10);
printTable(rows);
console.log(`(bench took ${((performance.now() - started) / 1000).toFixed(1)} s; node ${process.version})`);
