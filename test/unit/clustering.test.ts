/**
 * Clustering and duplicates (issue 3): k-means recovers clearly different topics (adjusted Rand index printed),
 * the fast silhouette equals the textbook one, labels name the topics, runs are deterministic, report progress and
 * stop when cancelled; duplicate search is exact (every strategy agrees with comparing all pairs) and merges are
 * suggested by the documented rule.
 */
import assert from 'node:assert/strict';
import { computeClusters, type ClusterItem } from '../../server/memory/clustering/cluster';
import {
  compareForKeeping,
  findDuplicates,
  similarPairs,
  suggestMerge,
  type DuplicateRecord,
  type PairStrategy,
} from '../../server/memory/clustering/duplicates';
import { kmeans } from '../../server/memory/clustering/kmeans';
import { classTfIdf, tokenize } from '../../server/memory/clustering/labels';
import { adjustedRandIndex } from '../../server/memory/clustering/metrics';
import { naiveSilhouette, silhouetteScore } from '../../server/memory/clustering/silhouette';
import { createRng, packVectors } from '../../server/memory/clustering/vectors';
import { LocalNeuralEmbedder } from '../../server/memory/embeddings/local-neural';

const TOPICS: Record<string, string[]> = {
  databases: [
    'Postgres query planner picked a sequential scan of the table because its statistics were stale; ANALYZE fixed the query.',
    'Added a composite index on (crew_id, created_at) so the memory query stops scanning the whole table.',
    'SQLite in WAL mode lets readers query the database while a single writer commits a transaction.',
    'The schema migration adds a NOT NULL column with a default, which rewrites the table on older Postgres.',
    'Deadlock between two database transactions updating table rows in opposite order; lock rows by primary key.',
    'Use EXPLAIN ANALYZE on the query to compare the index scan and the bitmap heap scan of the table.',
    'Database connection pool exhausted under load: Postgres had max_connections 100 and each worker held 10.',
    'Vacuum could not reclaim dead rows in the table because a long transaction kept an old snapshot open.',
    'Replication lag on the read replica made the dashboard query return stale rows from the database.',
    'Partition the ledger table by month so old partitions can be dropped instead of deleting rows by query.',
    'A unique index on the email column failed to build because the table already held duplicate rows.',
    'Serializable isolation made the transaction retry twice; the query is safe to retry against the database.',
    'A foreign key without an index on the referencing column made deletes of parent table rows slow.',
    'The ORM issued one query per row; a join in a single SQL query cut database time tenfold.',
    'Backups: pg_dump of the Postgres database takes 40 minutes; restore of every table tested on a scratch server.',
    'Schema change: split the users table and move settings into a JSONB column with a GIN index.',
    'MySQL chose the wrong index for the query until we added an optimizer hint on the orders table.',
    'The write-ahead log filled the database disk when a replication slot of a dead replica was never dropped.',
    'Sharding the database by tenant id keeps every transaction and query on a single shard.',
    'Query cache hit ratio dropped after the schema migration changed the table layout and the index.',
  ],
  cooking: [
    'Sear the steak in a very hot pan, then rest the meat for five minutes before slicing; salt it early.',
    'For the risotto, toast the rice in butter in the pan and add warm stock one ladle at a time over low heat.',
    'Bread dough needs a longer proof in a cold kitchen; bake the loaf in a hot oven with steam.',
    'Roast the vegetables in the oven at 220 degrees with olive oil, garlic and a pinch of salt until caramelised.',
    'The tomato sauce tastes better cooked slowly over low heat for an hour, with garlic and basil added at the end.',
    'Whisk eggs and sugar until pale before folding in flour and melted butter; bake the sponge in a moderate oven.',
    'Marinate the chicken overnight in yoghurt, garlic, salt and spices, then cook it under a hot grill.',
    'Salt the pasta water generously and save a cup of it to loosen the sauce in the pan.',
    'Cook the onions slowly in butter over low heat for forty minutes for the French onion soup recipe.',
    'Blind bake the pie dough in the oven with baking beans so the pastry does not go soggy under the filling.',
    'A pinch of salt and a squeeze of lemon brighten a bland soup or sauce; taste before serving the recipe.',
    'Knead the pizza dough until smooth, let it ferment in the fridge for two days, bake in the hottest oven.',
    'Deglaze the pan with wine after searing the meat to lift the browned bits into the sauce; finish with butter.',
    'Cook the rice with a lid on the pan and let it rest off the heat so the grains stay fluffy; salt the water.',
    'Toast whole spices in a dry pan over medium heat before grinding them for the curry recipe.',
    'Brown butter in a pan gives the cookie dough a nutty flavour; chill the dough before it goes in the oven.',
    'Poach the eggs in barely simmering water with a splash of vinegar and a pinch of salt; cook three minutes.',
    'The beef stew needs three hours in the oven with garlic and wine; add the carrots to the pan for the last hour.',
    'Chop the herbs at the last minute and whisk them into the salad dressing with olive oil, garlic and salt.',
    'Season the roast chicken under the skin with butter, garlic and thyme before it goes in the oven.',
  ],
  football: [
    'The striker scored twice in the second half and the team climbed to third in the league table after the match.',
    'The coach switched to a back three so the wing backs could push up and the team could attack the goal.',
    'The goalkeeper saved a penalty in stoppage time to keep the clean sheet and win the match for the club.',
    'Midfield pressing forced turnovers high up the pitch and led to the opening goal of the match.',
    'The referee checked VAR and disallowed the goal for offside; the team lost the match by one goal.',
    'Transfer window: the club signed a young striker and sold its veteran defender before the season.',
    'The captain picked up a hamstring injury and will miss the cup final; the coach must change the team.',
    'Set pieces decided the match; the centre back headed in a corner for the winning goal in the last minute.',
    'The league title race went down to the final match of the season with three teams level on points.',
    'The team had 65 percent possession but created few goal chances against a deep defensive block.',
    'The club sacked the coach after five straight league defeats and a home loss to the bottom team.',
    'Penalty shootout in the cup semi-final; the keeper dived the right way twice and the team went through.',
    'The full back overlapped on the left wing and crossed for the striker to score the goal of the season.',
    'A youth academy player made his league debut for the club and assisted the winning goal in the match.',
    'A red card in the first half left the team with ten players for an hour of the match; the coach was furious.',
    'The defence kept a high line and the other team beat the offside trap with through balls for a goal.',
    'The derby match ended in a draw after a late goal from a free kick; both teams stay level in the league.',
    'The club will play in the Champions League next season after the team finished fourth in the league.',
    'Counter attack after a corner: the winger sprinted the length of the pitch and scored the goal.',
    'The striker missed a penalty and the team was knocked out of the cup; the club needs a new striker.',
  ],
  astronomy: [
    'Jupiter and Saturn were visible low in the south-west sky after sunset through the telescope; each planet was bright.',
    'The Andromeda galaxy is about 2.5 million light years away; in a dark sky it is visible without a telescope.',
    'A total solar eclipse happens when the Moon covers the Sun and the corona of the star becomes visible in the sky.',
    'The James Webb space telescope observes infrared light to see the earliest galaxy and star formation.',
    'Meteor shower peak tonight: the Perseids radiate from a point in the sky in the star constellation Perseus.',
    'Polaris, the north star, sits almost exactly above the axis Earth rotates around; the sky turns around it.',
    'A light year is the distance light travels in one year, about ten trillion kilometres between star systems.',
    'The Orion nebula is a stellar nursery where a new star forms from gas and dust; a small telescope shows it.',
    'Saturn rings are made of ice and rock; the planet has more than 140 known moons in orbit.',
    'Exoplanets are found by the transit method: a planet in orbit dims the light of its star slightly.',
    'A neutron star is the collapsed core of a massive star after a supernova explosion in the galaxy.',
    'The Moon is tidally locked in its orbit, so the same side always faces the Earth in the night sky.',
    'Mars appears red in the sky because of iron oxide dust on the surface of the planet; a telescope shows the ice caps.',
    'Black holes bend light so strongly that nothing escapes past the event horizon; one sits at the galaxy centre.',
    'The Milky Way galaxy contains between 100 and 400 billion stars in a barred spiral around its centre.',
    'Use a dark sky site away from city lights to observe a faint nebula or star cluster through the telescope.',
    'A comet tail always points away from the Sun because of the solar wind as it orbits through the solar system.',
    'Venus is the brightest planet in the night sky, seen near the horizon at dusk before the first star.',
    'Astronomers measure the distance to a nearby star by parallax as the Earth orbits the Sun.',
    'The telescope mirror needs to cool to the outside temperature before observing a planet or the Moon.',
  ],
};

const topicNames = Object.keys(TOPICS);
const corpus = topicNames.flatMap((topic) => TOPICS[topic]!.map((text) => ({ topic, text })));
const truth = corpus.map((c) => topicNames.indexOf(c.topic));
/*
 * Vectors from the product's offline default, the local sentence encoder: topics are a matter of meaning, and
 * same-topic texts here share few words (the hashing embedder gives same-topic pairs a mean cosine of ~0.07
 * against ~0.01 across topics — too little for any clustering; the local model gives ~0.6 against ~0.1).
 */
const embedder = new LocalNeuralEmbedder();
let items: ClusterItem[] = [];
const embed = async (text: string) => (await embedder.embed([text]))[0]!;

let loading: Promise<void> | undefined;
/** A `before` hook for the suites below (not a root hook: other files' tests should not wait for the model). */
function loadItems(this: Mocha.Context): Promise<void> {
  this.timeout(60_000);
  loading ??= embedder.embed(corpus.map((c) => c.text)).then((vectors) => {
    items = corpus.map((c, i) => ({ id: `m${i}`, text: c.text, vector: vectors[i]! }));
  });
  return loading;
}

function predicted(clusters: { memberIds: string[] }[]): number[] {
  const out = new Array<number>(items.length).fill(-1);
  clusters.forEach((c, ci) => c.memberIds.forEach((id) => (out[Number(id.slice(1))] = ci)));
  return out;
}

/** Gaussian blobs on the unit sphere: `k` random centres, points = centre + noise, normalised. */
function blobs(
  n: number,
  dim: number,
  k: number,
  noise: number,
  seed: number,
): { vectors: Float32Array[]; label: number[] } {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, gauss));
  const vectors: Float32Array[] = [];
  const label: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    vectors.push(Float32Array.from(centres[c]!, (x) => x + noise * gauss()));
    label.push(c);
  }
  return { vectors, label };
}

describe('clustering', () => {
  before(loadItems);

  describe('adjusted Rand index', () => {
    it('is 1 for the same partition under any naming, 0 against chance-level agreement', () => {
      assert.equal(adjustedRandIndex([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]), 1);
      // scikit-learn's documented example: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714…
      assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]) - 4 / 7) < 1e-12);
      assert.equal(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3]), 0);
      assert.ok(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]) < 0);
    });
  });

  it('recovers four clearly different topics (ARI ≥ 0.8), choosing k by silhouette, and labels them', async () => {
    const result = await computeClusters(items, { kMin: 2, kMax: 8, seed: 7 });
    const ari = adjustedRandIndex(truth, predicted(result.clusters));
    console.log(
      `      ${items.length} texts, ${topicNames.length} topics → k=${result.k}, silhouette ${result.silhouette.toFixed(3)}, ` +
        `ARI ${ari.toFixed(3)}\n` +
        result.clusters.map((c) => `        #${c.id} (${c.size}) ${c.label}`).join('\n'),
    );
    assert.ok(ari >= 0.8, `ARI ${ari} < 0.8`);
    assert.equal(result.k, 4);
    assert.deepEqual(
      result.candidates.map((c) => c.k),
      [2, 3, 4, 5, 6, 7, 8],
    );
    const best = Math.max(...result.candidates.map((c) => c.silhouette));
    assert.equal(result.candidates.find((c) => c.k === result.k)!.silhouette, best);

    // Each cluster's terms name its majority topic.
    const topicWords: Record<string, string[]> = {
      databases: ['query', 'table', 'index', 'transaction', 'database', 'postgres', 'rows', 'schema'],
      cooking: ['salt', 'garlic', 'sauce', 'oven', 'butter', 'heat', 'dough', 'olive', 'meat', 'rice'],
      football: ['goal', 'striker', 'team', 'penalty', 'match', 'league', 'cup', 'club', 'keeper'],
      astronomy: ['star', 'stars', 'galaxy', 'telescope', 'planet', 'sun', 'moon', 'earth', 'light'],
    };
    for (const c of result.clusters) {
      const votes = new Map<string, number>();
      for (const id of c.memberIds) {
        const topic = corpus[Number(id.slice(1))]!.topic;
        votes.set(topic, (votes.get(topic) ?? 0) + 1);
      }
      const major = [...votes].sort((a, b) => b[1] - a[1])[0]![0];
      const terms = c.terms.map((t) => t.term);
      assert.ok(
        terms.some((t) => topicWords[major]!.includes(t)),
        `cluster of ${major} labelled ${terms.join(', ')}`,
      );
      assert.ok(c.label.length > 0 && c.label === terms.slice(0, 3).join(', '));
    }
  });

  it('describes each cluster: sizes partition the input, representative is the member closest to the centroid', async () => {
    const result = await computeClusters(items, { k: 4, seed: 1 });
    assert.equal(result.k, 4);
    assert.deepEqual(result.candidates, []);
    const all = result.clusters.flatMap((c) => c.memberIds).sort();
    assert.deepEqual(all, items.map((i) => i.id).sort());
    const sizes = result.clusters.map((c) => c.size);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
    );
    for (const c of result.clusters) {
      assert.equal(c.size, c.memberIds.length);
      assert.ok(c.memberIds.includes(c.representativeId));
      assert.ok(c.cohesion > 0 && c.cohesion <= 1 + 1e-6, `cohesion ${c.cohesion}`);
      // The representative is the member of highest cosine to the normalised mean of the members.
      const vecs = c.memberIds.map((id) => items[Number(id.slice(1))]!.vector as Float32Array);
      const mean = new Float64Array(vecs[0]!.length);
      for (const v of vecs) v.forEach((x, d) => (mean[d]! += x));
      const norm = Math.hypot(...mean);
      const sims = vecs.map((v) => v.reduce((s, x, d) => s + x * mean[d]!, 0) / norm);
      const best = sims.indexOf(Math.max(...sims));
      assert.equal(c.representativeId, c.memberIds[best]);
      const cohesion = sims.reduce((a, b) => a + b, 0) / sims.length;
      assert.ok(Math.abs(cohesion - c.cohesion) < 1e-5);
    }
  });

  it('is deterministic for the same input and seed', async () => {
    const a = await computeClusters(items, { seed: 42, kMax: 6 });
    const b = await computeClusters(items, { seed: 42, kMax: 6 });
    assert.deepEqual(a, b);
    const { vectors } = blobs(600, 32, 5, 0.8, 3);
    const packed = packVectors(vectors);
    const r1 = await kmeans(packed.data, 32, { k: 5, seed: 9 });
    const r2 = await kmeans(packed.data, 32, { k: 5, seed: 9 });
    assert.deepEqual(r1.assignments, r2.assignments);
    assert.deepEqual(r1.centroids, r2.centroids);
    assert.equal(r1.inertia, r2.inertia);
  });

  it('k-means separates well-separated blobs exactly', async () => {
    const { vectors, label } = blobs(500, 24, 5, 0.2, 11);
    const packed = packVectors(vectors);
    const run = await kmeans(packed.data, 24, { k: 5, seed: 1 });
    assert.ok(run.converged);
    assert.equal(adjustedRandIndex(label, [...run.assignments]), 1);
  });

  it('computes the exact silhouette in O(n·k·dim): equal to the textbook O(n²) one', async () => {
    const { vectors } = blobs(240, 16, 4, 1.5, 5);
    const packed = packVectors(vectors);
    for (const k of [2, 3, 4, 7]) {
      const run = await kmeans(packed.data, 16, { k, seed: k });
      const fast = silhouetteScore(packed.data, 16, run.assignments, k);
      const slow = naiveSilhouette(packed.data, 16, run.assignments, k);
      assert.ok(Math.abs(fast - slow) < 1e-9, `k=${k}: ${fast} vs ${slow}`);
    }
  });

  it('reports progress: non-decreasing fractions in [0, 1] ending at 1, with a message for every k tried', async () => {
    const calls: [number, string][] = [];
    await computeClusters(items, { seed: 3, kMin: 2, kMax: 6, onProgress: (f, m) => calls.push([f, m]) });
    assert.ok(calls.length >= 5);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0], `progress went back at ${i}`);
    assert.ok(calls.every(([f, m]) => f >= 0 && f <= 1 && m.length > 0));
    assert.equal(calls.at(-1)![0], 1);
    for (const k of [2, 3, 4, 5, 6])
      assert.ok(
        calls.some(([, m]) => m.startsWith(`k=${k}:`)),
        `no progress for k=${k}`,
      );
  });

  describe('cancellation', () => {
    const big = blobs(4000, 64, 8, 1, 21).vectors.map((vector, i) => ({ id: `b${i}`, text: 'x', vector }));

    it('refuses to start with an aborted signal', async () => {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(computeClusters(items, { seed: 1, signal: controller.signal }), {
        name: 'AbortError',
        code: -32800,
      });
    });

    it('yields to the event loop and stops soon after an abort from outside', async () => {
      const controller = new AbortController();
      let progressAfterAbort = 0;
      const run = computeClusters(big, {
        seed: 1,
        signal: controller.signal,
        onProgress: () => {
          if (controller.signal.aborted) progressAfterAbort++;
        },
      });
      // Runs on the next turn of the event loop: only possible if the clustering yields.
      setImmediate(() => controller.abort());
      await assert.rejects(run, { name: 'AbortError' });
      assert.ok(progressAfterAbort <= 1, `${progressAfterAbort} progress calls after the abort`);
    });

    it('stops the duplicate search too', async () => {
      const controller = new AbortController();
      const records = big.map((b) => ({ ...b, content: b.text }));
      const run = findDuplicates(records, { signal: controller.signal, strategy: 'naive' });
      setImmediate(() => controller.abort());
      await assert.rejects(run, { name: 'AbortError' });
    });
  });

  it('handles tiny and degenerate inputs', async () => {
    const v = (...x: number[]) => Float32Array.from(x);
    assert.deepEqual(await computeClusters([], { seed: 1 }), {
      k: 0,
      silhouette: 0,
      clusters: [],
      candidates: [],
      sampleSize: 0,
      unclusteredIds: [],
    });
    const one = await computeClusters([{ id: 'a', text: 'solo note', vector: v(1, 0) }], { seed: 1 });
    assert.deepEqual(
      one.clusters.map((c) => [c.memberIds, c.representativeId, c.label]),
      [[['a'], 'a', 'note, solo']],
    );
    const three = [
      { id: 'a', text: 'x', vector: v(1, 0) },
      { id: 'b', text: 'y', vector: v(0, 1) },
      { id: 'c', text: 'z', vector: v(1, 0.1) },
    ];
    const auto = await computeClusters(three, { seed: 1, kMax: 12 });
    assert.deepEqual(
      auto.clusters.map((c) => c.memberIds),
      [['a', 'c'], ['b']],
    );
    assert.equal((await computeClusters(three, { seed: 1, k: 10 })).k, 3, 'k is capped at the number of items');
    const same = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, text: 'same', vector: v(1, 1, 0) }));
    assert.deepEqual(
      (await computeClusters(same, { seed: 1 })).clusters.map((c) => c.size),
      [10],
    );
    await assert.rejects(
      computeClusters(
        [
          { id: 'a', text: '', vector: v(1, 0) },
          { id: 'b', text: '', vector: v(1, 0, 0) },
        ],
        { seed: 1 },
      ),
      /vector 1 has 3 dimensions/,
    );
    await assert.rejects(computeClusters(three, { seed: 1, kMin: 5, kMax: 3 }), RangeError);
  });

  it('puts blank texts (zero vectors) aside instead of clustering them', async () => {
    const withBlank = [...items, { id: 'blank', text: '   ', vector: new Float32Array(items[0]!.vector.length) }];
    const result = await computeClusters(withBlank, { seed: 7, kMax: 6 });
    assert.deepEqual(result.unclusteredIds, ['blank']);
    assert.ok(result.clusters.every((c) => !c.memberIds.includes('blank')));
  });

  describe('labels (c-TF-IDF)', () => {
    it('tokenises without stop-words, numbers or one-letter words', () => {
      assert.deepEqual(tokenize("The team's 2 goals — in the K-means café!"), ['team', 'goals', 'k-means', 'café']);
    });

    it('ranks terms frequent in a cluster and rare elsewhere first', () => {
      const terms = classTfIdf([
        ['index index query plan', 'query index'],
        ['oven bread query', 'bread dough'],
      ]);
      assert.equal(terms[0]![0]!.term, 'index');
      assert.equal(terms[1]![0]!.term, 'bread');
      // "query" appears in both, so it ranks below each cluster's own words.
      const q0 = terms[0]!.findIndex((t) => t.term === 'query');
      assert.ok(q0 > 0);
    });
  });
});

describe('duplicates', () => {
  before(loadItems);

  /** Random unit vectors plus planted near-copies; dense or sparse. */
  function planted(n: number, dim: number, sparse: boolean, seed: number): Float32Array[] {
    const rng = createRng(seed);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    const out: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 7 === 6) {
        // A near copy of an earlier vector: cosines around 0.9–0.99 straddle the threshold.
        const src = out[Math.floor(rng() * out.length)]!;
        out.push(Float32Array.from(src, (x) => (sparse && x === 0 ? 0 : x + 0.08 * gauss() * (rng() < 0.5 ? 1 : 2))));
      } else {
        out.push(Float32Array.from({ length: dim }, () => (sparse && rng() > 0.05 ? 0 : gauss())));
      }
    }
    // A shared component makes dense vectors correlated, as real embeddings are.
    if (!sparse) for (const v of out) v[0]! += 2;
    return out;
  }

  async function pairsOf(vectors: Float32Array[], strategy: PairStrategy, threshold: number): Promise<string[]> {
    const out: string[] = [];
    await similarPairs(packVectors(vectors), { threshold, strategy }, (i, j, s) =>
      out.push(`${i}-${j}:${s.toFixed(6)}`),
    );
    return out.sort();
  }

  for (const [kind, sparse] of [
    ['dense', false],
    ['sparse', true],
  ] as const) {
    it(`finds exactly the pairs a full comparison finds (${kind} vectors)`, async () => {
      const vectors = planted(1400, 96, sparse, sparse ? 2 : 1);
      const naive = await pairsOf(vectors, 'naive', 0.92);
      assert.ok(naive.length >= 40, `only ${naive.length} planted pairs above the threshold`);
      assert.deepEqual(await pairsOf(vectors, 'projected', 0.92), naive);
      assert.deepEqual(await pairsOf(vectors, 'sparse', 0.92), naive);
      const stats = await similarPairs(packVectors(vectors), { threshold: 0.92 }, () => undefined);
      assert.equal(stats.strategy, sparse ? 'sparse' : 'projected');
      assert.ok(stats.verified < (1400 * 1399) / 2 / 4, `${stats.verified} full comparisons: the filter pruned little`);
    });
  }

  it('finds near-duplicate memories among the topic texts, and only those', async () => {
    const base = items.map((it, i) => ({ id: it.id, content: it.text, vector: it.vector, accessCount: i % 3 }));
    const edits = [
      { id: 'copy-a', content: TOPICS.databases![0]!.replace('fixed the query.', 'fixed the query!'), accessCount: 9 },
      { id: 'copy-b', content: `${TOPICS.cooking![3]!} `, importance: 0.9 },
      { id: 'copy-c', content: TOPICS.astronomy![6]!.replace('about ten', 'nearly ten') },
    ];
    const copies: DuplicateRecord[] = [];
    for (const e of edits) copies.push({ ...e, vector: await embed(e.content) });
    assert.notEqual(copies[2]!.content, TOPICS.astronomy![6]);
    const { sets } = await findDuplicates([...base, ...copies]);
    const found = sets.map((s) => [s.keepId, ...s.duplicates.map((d) => d.id)].sort().join('+')).sort();
    assert.deepEqual(found, ['copy-a+m0', 'copy-b+m23', 'copy-c+m66']);
    const a = sets.find((s) => s.keepId === 'copy-a' || s.duplicates.some((d) => d.id === 'copy-a'))!;
    assert.equal(a.merge.keepId, 'copy-a', 'most accessed is kept');
    const b = sets.find((s) => s.merge.removeIds.includes('m23') || s.keepId === 'm23')!;
    assert.equal(b.merge.keepId, 'copy-b', 'most important is kept');
    for (const s of sets) assert.ok(s.duplicates.every((d) => d.similarity >= 0.92 && d.similarity <= 1 + 1e-6));
  });

  it('never merges a chain: each set is a kept memory and members each close to it', async () => {
    // Three unit vectors at 0°, 20°, 40° in a plane: neighbours have cosine 0.94, the ends 0.77.
    const at = (deg: number) =>
      Float32Array.from([Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180), 0]);
    const { sets } = await findDuplicates([
      { id: 'a', content: 'a', vector: at(0), importance: 1 },
      { id: 'b', content: 'b', vector: at(20), importance: 3 },
      { id: 'c', content: 'c', vector: at(40), importance: 2 },
    ]);
    // b is kept first and takes both a and c (each within 20° of b).
    assert.deepEqual(
      sets.map((s) => [s.keepId, s.duplicates.map((d) => d.id).sort()]),
      [['b', ['a', 'c']]],
    );
    const { sets: chain } = await findDuplicates([
      { id: 'a', content: 'a', vector: at(0), importance: 3 },
      { id: 'b', content: 'b', vector: at(20), importance: 1 },
      { id: 'c', content: 'c', vector: at(40), importance: 2 },
    ]);
    // a is kept first and takes b; c is not within the threshold of a, and alone it is no duplicate.
    assert.deepEqual(
      chain.map((s) => [s.keepId, s.duplicates.map((d) => d.id)]),
      [['a', ['b']]],
    );
  });

  it('suggests a merge: keep pinned, most important, most accessed, newest; longest content; tags merged', () => {
    const m = suggestMerge([
      {
        id: 'x',
        content: 'short',
        tags: ['db', 'Perf'],
        importance: 0.5,
        accessCount: 2,
        createdAt: '2026-01-03T00:00:00Z',
      },
      {
        id: 'y',
        content: 'the longest wording of all',
        tags: ['perf', 'postgres'],
        importance: 0.9,
        accessCount: 1,
        createdAt: '2026-01-05T00:00:00Z',
      },
      { id: 'z', content: 'medium text', tags: [' db '], accessCount: 4, createdAt: 1767225600000 /* 2026-01-01 */ },
    ]);
    assert.equal(m.keepId, 'y');
    assert.deepEqual(m.removeIds, ['x', 'z']);
    assert.equal(m.content, 'the longest wording of all');
    assert.equal(m.contentFromId, 'y');
    assert.deepEqual(m.tags, ['perf', 'postgres', 'db']);
    assert.equal(m.importance, 0.9);
    assert.equal(m.accessCount, 7);
    assert.equal(m.createdAt, 1767225600000);
    assert.match(m.reason, /most important/);

    const tie = suggestMerge([
      { id: 'old', content: 'same but longer text', accessCount: 3, updatedAt: 1000 },
      { id: 'new', content: 'same text', accessCount: 3, updatedAt: 2000 },
    ]);
    assert.equal(tie.keepId, 'new');
    assert.equal(tie.contentFromId, 'old');
    assert.equal(tie.importance, null);
    assert.ok(compareForKeeping({ id: 'a', content: '' }, { id: 'b', content: '' }) < 0, 'ids break the last tie');
    const pinned = suggestMerge([
      { id: 'loud', content: 'x', importance: 1, accessCount: 100 },
      { id: 'kept', content: 'y', pinned: true, importance: 0.1 },
    ]);
    assert.equal(pinned.keepId, 'kept');
    assert.equal(pinned.pinned, true);
    assert.match(pinned.reason, /pinned/);
  });
});
