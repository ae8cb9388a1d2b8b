/**
 * Memory search: a hand-built set ranks exactly as server/memory/search/README.md documents (relevance first, then
 * recency, importance, frequency, then id), weights and half-life move the order as documented, filters by crew /
 * agent / kind / tags hold on both the vector and the lexical side (also in the pre-filtered scan and after slot
 * reuse), removals and updates never leave stale results, BM25 finds the exact term the vector misses, a search
 * records accesses, and the context pack never exceeds its budget. Small synthetic vectors; no embedder.
 */
import assert from 'node:assert/strict';
import {
  DAY_MS,
  DEFAULT_RANKING,
  MemorySearchIndex,
  TextIndex,
  VectorIndex,
  buildContext,
  estimateTokens,
  packContext,
  type MemoryRecord,
  type SearchHit,
  type SearchResult,
} from '../../server/memory/search';

const NOW = Date.parse('2026-03-01T00:00:00.000Z');
const E = 'test/embedder-4';

function mem(id: string, over: Partial<MemoryRecord> = {}): MemoryRecord {
  return {
    id,
    text: `memory ${id}`,
    crew: null,
    agent: null,
    kind: 'fact',
    tags: [],
    importance: 0.5,
    createdAt: NOW - 30 * DAY_MS,
    lastAccessedAt: null,
    accessCount: 0,
    ...over,
  };
}

/** A unit vector at cosine c to the query direction [1, 0, 0, 0]. */
function at(c: number): number[] {
  return [c, Math.sqrt(1 - c * c), 0, 0];
}

const Q = { embedderId: E, vector: [1, 0, 0, 0] };

/** The documented formula, written out independently of the implementation. */
function expected(
  r: { cos: number; lexical?: number; recencyAgeDays: number; importance: number; count: number },
  maxCount: number,
  w = DEFAULT_RANKING.weights,
  halfLifeDays = 14,
): number {
  const relevance = Math.max(0, r.cos);
  const recency = 0.5 ** (r.recencyAgeDays / halfLifeDays);
  const frequency = maxCount > 0 ? Math.log1p(r.count) / Math.log1p(maxCount) : 0;
  return w.relevance * relevance + w.recency * recency + w.importance * r.importance + w.frequency * frequency;
}

function ids(result: SearchResult): string[] {
  return result.hits.map((h) => h.id);
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomUnit(r: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let j = 0; j < dim; j++) s += (v[j] = r() * 2 - 1) ** 2;
  for (let j = 0; j < dim; j++) v[j]! /= Math.sqrt(s);
  return v;
}

describe('memory search', () => {
  describe('ranking of a hand-built set', () => {
    // Each memory differs from `b` in one component, so the expected order follows from the formula alone.
    const set = [
      { id: 'top', cos: 1, recencyAgeDays: 1, importance: 0.5, count: 2 }, // most relevant wins outright
      { id: 'a', cos: 0.8, recencyAgeDays: 0, importance: 0.5, count: 2 }, // = b but accessed just now
      { id: 'c', cos: 0.8, recencyAgeDays: 14, importance: 0.9, count: 2 }, // = b but more important
      { id: 'd', cos: 0.8, recencyAgeDays: 14, importance: 0.5, count: 8 }, // = b but used more often
      { id: 'b', cos: 0.8, recencyAgeDays: 14, importance: 0.5, count: 2 },
      { id: 'b2', cos: 0.8, recencyAgeDays: 14, importance: 0.5, count: 2 }, // exact tie with b: id decides
      { id: 'z', cos: 0.1, recencyAgeDays: 0, importance: 1, count: 8 }, // everything but relevance maxed
    ];
    function build(): MemorySearchIndex {
      const index = new MemorySearchIndex();
      for (const m of set) {
        index.upsert(
          mem(m.id, {
            importance: m.importance,
            accessCount: m.count,
            createdAt: NOW - 60 * DAY_MS,
            lastAccessedAt: NOW - m.recencyAgeDays * DAY_MS,
          }),
          [{ embedderId: E, vector: at(m.cos) }],
        );
      }
      return index;
    }

    it('orders by the documented score: relevance, then recency, importance, frequency, then id', () => {
      const result = build().search({ vector: Q }, { k: 10, now: NOW });
      assert.deepEqual(ids(result), ['top', 'a', 'c', 'd', 'b', 'b2', 'z']);
      for (const hit of result.hits) {
        const m = set.find((s) => s.id === hit.id)!;
        assert.ok(Math.abs(hit.score - expected(m, 8)) < 1e-6, `${hit.id}: ${hit.score} vs ${expected(m, 8)}`);
      }
      assert.equal(result.semantic, true);
      assert.equal(result.lexical, false);
    });

    it('shows every component and the weights, and the score is their weighted sum', () => {
      const result = build().search({ vector: Q }, { k: 10, now: NOW });
      const w = result.params.weights;
      assert.deepEqual(result.params, { ...DEFAULT_RANKING, weights: { ...DEFAULT_RANKING.weights } });
      for (const h of result.hits) {
        const c = h.components;
        for (const v of [c.relevance, c.semantic, c.lexical, c.recency, c.importance, c.frequency]) {
          assert.ok(v >= 0 && v <= 1, `${h.id}: component ${v} outside 0..1`);
        }
        const sum =
          w.relevance * c.relevance + w.recency * c.recency + w.importance * c.importance + w.frequency * c.frequency;
        assert.ok(Math.abs(h.score - sum) < 1e-12);
      }
      const byId = (id: string): SearchHit => result.hits.find((h) => h.id === id)!;
      assert.ok(Math.abs(byId('top').components.cosine! - 1) < 1e-6);
      assert.ok(Math.abs(byId('b').components.recency - 0.5) < 1e-12, 'one half-life old → 0.5');
      assert.equal(byId('a').components.recency, 1);
      assert.equal(byId('d').components.frequency, 1, 'the most used candidate has frequency 1');
      assert.ok(Math.abs(byId('b').components.frequency - Math.log1p(2) / Math.log1p(8)) < 1e-12);
      assert.equal(byId('b').components.bm25, 0);
    });

    it('per-query weights and half-life change the order as documented', () => {
      const index = build();
      const onlyImportance = index.search(
        { vector: Q },
        { k: 3, now: NOW, record: false, weights: { relevance: 0, recency: 0, importance: 1, frequency: 0 } },
      );
      assert.deepEqual(ids(onlyImportance), ['z', 'c', 'a']); // 1, 0.9, then the 0.5s by id
      const onlyRecency = index.search(
        { vector: Q },
        { k: 3, now: NOW, record: false, weights: { relevance: 0, recency: 1, importance: 0, frequency: 0 } },
      );
      assert.deepEqual(ids(onlyRecency), ['a', 'z', 'top']);
      // A recency-heavy blend lets the fresh but barely relevant `z` overtake the stale relevant ones.
      const recencyHeavy = index.search({ vector: Q }, { k: 10, now: NOW, record: false, weights: { recency: 2 } });
      assert.ok(ids(recencyHeavy).indexOf('z') < ids(recencyHeavy).indexOf('b'));
      // A one-day half-life makes two weeks of age worth nothing: b's recency is 0.5^14.
      const short = index.search({ vector: Q }, { k: 10, now: NOW, record: false, halfLifeMs: DAY_MS });
      const b = short.hits.find((h) => h.id === 'b')!;
      assert.ok(Math.abs(b.components.recency - 0.5 ** 14) < 1e-12);
      assert.equal(short.params.halfLifeMs, DAY_MS);
      assert.throws(() => index.search({ vector: Q }, { k: 1, now: NOW, weights: { relevance: -1 } }), /relevance/);
      assert.throws(() => index.search({ vector: Q }, { k: 1, now: NOW, vectorShare: 2 }), /vectorShare/);
    });

    it('blends cosine and BM25 by vectorShare, and a one-sided query uses its one side', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('vec', { text: 'nothing in common' }), [{ embedderId: E, vector: at(0.9) }]);
      index.upsert(mem('lex', { text: 'kubernetes ingress timeout' }), [{ embedderId: E, vector: at(0) }]);
      const both = index.search({ text: 'ingress timeout', vector: Q }, { k: 2, now: NOW, record: false });
      const lex = both.hits.find((h) => h.id === 'lex')!.components;
      const vec = both.hits.find((h) => h.id === 'vec')!.components;
      assert.equal(lex.lexical, 1);
      assert.ok(Math.abs(lex.relevance - 0.3 * 1) < 1e-9, 'relevance = 0.7·semantic + 0.3·lexical');
      assert.ok(Math.abs(vec.relevance - 0.7 * 0.9) < 1e-6);
      const lexicalOnly = index.search({ text: 'ingress timeout' }, { k: 2, now: NOW, record: false });
      assert.deepEqual(ids(lexicalOnly), ['lex']);
      assert.equal(lexicalOnly.hits[0]!.components.relevance, 1, 'no query vector: relevance is BM25 alone');
      const mostlyText = index.search(
        { text: 'ingress timeout', vector: Q },
        { k: 2, now: NOW, record: false, vectorShare: 0.1 },
      );
      assert.deepEqual(ids(mostlyText), ['lex', 'vec']);
      assert.deepEqual(ids(both), ['vec', 'lex']);
    });

    it('never compares vectors of different embedders', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('m1', { text: 'alpha' }), [{ embedderId: E, vector: at(1) }]);
      const other = index.search(
        { vector: { embedderId: 'other/embedder', vector: [1, 0, 0, 0] } },
        { k: 5, now: NOW },
      );
      assert.deepEqual(other.hits, []);
      index.upsert(mem('m2', { text: 'beta' }), [{ embedderId: 'other/embedder', vector: [1, 0, 0, 0, 0, 0] }]);
      const six = index.search(
        { vector: { embedderId: 'other/embedder', vector: [1, 0, 0, 0, 0, 0] } },
        { k: 5, now: NOW },
      );
      assert.deepEqual(ids(six), ['m2']);
      assert.throws(() => index.setVector('m1', { embedderId: E, vector: [1, 0] }), /dimensions/);
      assert.equal(index.dropEmbedder('other/embedder'), true);
      assert.deepEqual(
        index.embedders().map((e) => e.embedderId),
        [E],
      );
    });
  });

  describe('filters', () => {
    function crews(): MemorySearchIndex {
      const index = new MemorySearchIndex();
      const put = (id: string, c: number, over: Partial<MemoryRecord>) =>
        index.upsert(mem(id, { text: `shared deploy note ${id}`, ...over }), [{ embedderId: E, vector: at(c) }]);
      put('a1', 0.9, { crew: 'alpha', agent: 'planner', tags: ['infra', 'todo'] });
      put('a2', 0.5, { crew: 'alpha', agent: 'coder', kind: 'episode', tags: ['infra'] });
      put('b1', 0.99, { crew: 'beta', agent: 'planner', tags: ['infra', 'todo'] });
      put('g1', 0.7, { crew: null, tags: ['todo'] });
      return index;
    }

    it('keeps only the crew asked for, on the vector and the lexical side', () => {
      const index = crews();
      const vector = index.search({ vector: Q }, { k: 10, now: NOW, crew: 'alpha', record: false });
      assert.deepEqual(ids(vector), ['a1', 'a2']);
      const lexical = index.search({ text: 'deploy' }, { k: 10, now: NOW, crew: 'alpha', record: false });
      assert.deepEqual(ids(lexical).sort(), ['a1', 'a2']);
      const withShared = index.search({ vector: Q }, { k: 10, now: NOW, crew: ['alpha', null], record: false });
      assert.deepEqual(ids(withShared), ['a1', 'g1', 'a2']);
      assert.deepEqual(index.search({ vector: Q }, { k: 10, now: NOW, crew: 'nobody' }).hits, []);
    });

    it('combines agent, kind and tags (AND across fields, all tags required)', () => {
      const index = crews();
      const q = (filter: Parameters<MemorySearchIndex['search']>[1]['filter']) =>
        ids(index.search({ vector: Q, text: 'deploy' }, { k: 10, now: NOW, filter, record: false })).sort();
      assert.deepEqual(q({ agent: 'planner' }), ['a1', 'b1']);
      assert.deepEqual(q({ agent: 'planner', crew: 'alpha' }), ['a1']);
      assert.deepEqual(q({ kind: 'episode' }), ['a2']);
      assert.deepEqual(q({ tags: ['infra', 'todo'] }), ['a1', 'b1']);
      assert.deepEqual(q({ tags: ['todo'], crew: [null, 'beta'] }), ['b1', 'g1']);
      assert.deepEqual(q({ tags: ['missing'] }), []);
      const both = index.search(
        { vector: Q },
        { k: 10, now: NOW, crew: 'alpha', filter: { agent: 'planner' }, record: false },
      );
      assert.deepEqual(ids(both), ['a1'], 'crew and filter must both hold');
    });

    it('filters inside the pre-filtered scan: never a row of another crew, and the crew’s own best first', () => {
      const r = rng(7);
      const dim = 32;
      // exactUpTo 0 and a pool smaller than the crew: the 1-bit pre-filter really runs, with the crew bitset.
      const index = new MemorySearchIndex({ vector: { rerank: 64, exactUpTo: 0 } });
      const vectors = new Map<string, Float32Array>();
      for (let i = 0; i < 2000; i++) {
        const id = `m${i}`;
        const v = randomUnit(r, dim);
        vectors.set(id, v);
        index.upsert(mem(id, { crew: i % 4 === 0 ? 'small' : 'big' }), [{ embedderId: 'e32', vector: v }]);
      }
      const inSmall = (id: string) => Number(id.slice(1)) % 4 === 0;
      for (const target of ['m1', 'm8']) {
        // The query is a stored vector: m1 (crew big) is the global best and must not leak into crew small.
        const query = vectors.get(target)!;
        const vq = { embedderId: 'e32', vector: query };
        const brute = [...vectors]
          .filter(([id]) => inSmall(id))
          .map(([id, v]) => ({ id, cos: v.reduce((s, x, j) => s + x * query[j]!, 0) }))
          .sort((a, b) => b.cos - a.cos)
          .slice(0, 5)
          .map((x) => x.id);
        const exact = index.search({ vector: vq }, { k: 5, now: NOW, crew: 'small', exact: true, record: false });
        assert.deepEqual(ids(exact), brute, 'equal recency/importance/frequency: the order is the cosine order');
        const approx = index.search({ vector: vq }, { k: 5, now: NOW, crew: 'small', record: false });
        assert.ok(ids(approx).every(inSmall), `${ids(approx).join(',')} leaks another crew`);
        assert.equal(approx.hits[0]!.id, brute[0]);
        assert.ok(ids(approx).filter((id) => brute.includes(id)).length >= 4);
      }
    });
  });

  describe('updates', () => {
    it('removed memories never come back; the row moved into the hole keeps its vector', () => {
      const index = new MemorySearchIndex();
      const dirs: Record<string, number[]> = {
        m0: [1, 0, 0, 0],
        m1: [0, 1, 0, 0],
        m2: [0, 0, 1, 0],
        m3: [0, 0, 0, 1],
      };
      for (const [id, v] of Object.entries(dirs))
        index.upsert(mem(id, { text: `note ${id}` }), [{ embedderId: E, vector: v }]);
      assert.equal(index.remove('m1'), true);
      assert.equal(index.remove('m1'), false);
      // m3 (the last row) now sits in m1's row: searching its own direction must still find it at cosine 1.
      const m3 = index.search({ vector: { embedderId: E, vector: dirs.m3! } }, { k: 1, now: NOW, record: false });
      assert.equal(m3.hits[0]!.id, 'm3');
      assert.ok(Math.abs(m3.hits[0]!.components.cosine! - 1) < 1e-6);
      const all = index.search(
        { vector: { embedderId: E, vector: [1, 1, 1, 1] }, text: 'note m1' },
        { k: 10, now: NOW },
      );
      assert.ok(!ids(all).includes('m1'));
      assert.equal(index.size, 3);
    });

    it('a swap-delete carries the moved row’s slot, so filters still see it', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('a', { crew: 'alpha' }), [{ embedderId: E, vector: at(0.9) }]);
      index.upsert(mem('b', { crew: 'beta' }), [{ embedderId: E, vector: at(0.8) }]);
      index.upsert(mem('c', { crew: 'alpha' }), [{ embedderId: E, vector: at(0.7) }]);
      index.remove('a'); // c, the last row, moves into a's row
      assert.deepEqual(ids(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'alpha' })), ['c']);
      assert.deepEqual(ids(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'beta' })), ['b']);
    });

    it('an updated text or vector is found by its new content only', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('m', { text: 'postgres vacuum schedule' }), [{ embedderId: E, vector: [1, 0, 0, 0] }]);
      index.upsert(mem('other', { text: 'unrelated' }), [{ embedderId: E, vector: [0, 1, 0, 0] }]);
      index.upsert(mem('m', { text: 'redis eviction policy' }));
      assert.deepEqual(ids(index.search({ text: 'postgres vacuum' }, { k: 5, now: NOW })), []);
      assert.deepEqual(ids(index.search({ text: 'eviction' }, { k: 5, now: NOW })), ['m']);
      index.setVector('m', { embedderId: E, vector: [0, 0, 1, 0] });
      const byVec = index.search({ vector: { embedderId: E, vector: [0, 0, 1, 0] } }, { k: 1, now: NOW });
      assert.equal(byVec.hits[0]!.id, 'm');
      assert.equal(index.removeVector('m', E), true);
      const gone = index.search({ vector: { embedderId: E, vector: [0, 0, 1, 0] } }, { k: 5, now: NOW });
      assert.deepEqual(ids(gone), ['other']);
    });

    it('a reused slot does not inherit the old memory’s crew or tags', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('old', { crew: 'alpha', tags: ['x'] }), [{ embedderId: E, vector: at(1) }]);
      index.remove('old');
      index.upsert(mem('new', { crew: 'beta' }), [{ embedderId: E, vector: at(1) }]);
      assert.deepEqual(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'alpha' }).hits, []);
      assert.deepEqual(index.search({ vector: Q }, { k: 5, now: NOW, filter: { tags: ['x'] } }).hits, []);
      assert.deepEqual(ids(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'beta' })), ['new']);
      // Changing a memory's crew moves it between postings.
      index.upsert(mem('new', { crew: 'alpha' }));
      assert.deepEqual(ids(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'alpha' })), ['new']);
      assert.deepEqual(index.search({ vector: Q }, { k: 5, now: NOW, crew: 'beta' }).hits, []);
    });
  });

  describe('lexical side', () => {
    it('BM25 finds an exact term the vector misses', () => {
      const index = new MemorySearchIndex();
      // 80 memories closer to the query vector fill the vector side's 50 candidates; the needle is on topic
      // (cosine 0.6) but only its text carries the error code the query asks about.
      for (let i = 0; i < 80; i++) {
        index.upsert(mem(`near${i}`, { text: `alert for project ${i}` }), [
          { embedderId: E, vector: at(0.9 + i / 1000) },
        ]);
      }
      index.upsert(mem('needle', { text: 'deploy failed with ERR_QUOTA_7731 in eu-west' }), [
        { embedderId: E, vector: at(0.6) },
      ]);
      const vectorOnly = index.search({ vector: Q }, { k: 10, now: NOW, record: false });
      assert.ok(!ids(vectorOnly).includes('needle'), 'the vector alone misses it');
      const hybrid = index.search({ vector: Q, text: 'ERR_QUOTA_7731' }, { k: 10, now: NOW, record: false });
      const needle = hybrid.hits.find((h) => h.id === 'needle');
      assert.ok(needle, `needle missing from ${ids(hybrid).join(',')}`);
      assert.equal(needle.components.lexical, 1);
      assert.ok(Math.abs(needle.components.semantic - 0.6) < 1e-6);
      assert.ok(needle.components.bm25 > 0);
      assert.equal(hybrid.hits[0]!.id, 'needle', '0.7·0.6 + 0.3·1 beats 0.7·0.98 + 0');
    });

    it('normalises BM25 to the best hit, exact terms only, without stop words', () => {
      const text = new TextIndex();
      text.add('1', 'the deployment runbook for the billing service');
      text.add('2', 'billing service billing alerts');
      text.add('3', 'a note about nothing');
      const hits = text.search('billing');
      assert.equal(hits[0]!.id, '2');
      assert.equal(hits[0]!.score, 1);
      assert.ok(hits[1]!.score > 0 && hits[1]!.score < 1);
      assert.deepEqual(text.search('deploy'), [], 'no prefix matching by default');
      assert.deepEqual(text.search('biling'), [], 'no fuzzy matching by default');
      assert.deepEqual(text.search('the a about'), [], 'stop words are not searched');
      assert.deepEqual(text.terms('The Billing, service!'), ['billing', 'service']);
      // Plain BM25: a two-term query scores the sum of its terms (minisearch's match-count factor is undone).
      const one = (q: string) => text.search(q).find((h) => h.id === '1')!.bm25;
      assert.ok(Math.abs(one('billing runbook') - (one('billing') + one('runbook'))) < 1e-9);
      const prefixed = new TextIndex({ prefix: true });
      prefixed.add('1', 'deployment');
      assert.equal(prefixed.search('deploy').length, 1);
      text.update('2', 'nothing here');
      assert.deepEqual(
        text.search('billing').map((h) => h.id),
        ['1'],
      );
      assert.equal(text.search('billing')[0]!.score, 1);
    });
  });

  describe('access', () => {
    it('a search records an access on its hits (and can be told not to)', () => {
      const index = new MemorySearchIndex();
      index.upsert(mem('m1', { accessCount: 3 }), [{ embedderId: E, vector: at(1) }]);
      index.upsert(mem('m2'), [{ embedderId: E, vector: at(0.2) }]);
      index.search({ vector: Q }, { k: 1, now: NOW });
      assert.deepEqual(index.accessOf('m1'), { lastAccessedAt: NOW, accessCount: 4 });
      assert.deepEqual(index.accessOf('m2'), { lastAccessedAt: null, accessCount: 0 });
      index.search({ vector: Q }, { k: 2, now: NOW + 1, record: false });
      assert.deepEqual(index.accessOf('m2'), { lastAccessedAt: null, accessCount: 0 });
      // The recorded access feeds recency at once.
      const later = index.search({ vector: Q }, { k: 1, now: NOW + 14 * DAY_MS, record: false });
      assert.ok(Math.abs(later.hits[0]!.components.recency - 0.5) < 1e-12);
    });
  });

  describe('vector index', () => {
    it('the pre-filter keeps the exact top-k with a generous pool, and finds near neighbours with a small one', () => {
      const r = rng(42);
      const dim = 64;
      const vi = new VectorIndex({ embedderId: 'e', dim, rerank: 64, exactUpTo: 0 });
      const stored: Float32Array[] = [];
      for (let i = 0; i < 1000; i++) {
        stored.push(randomUnit(r, dim));
        vi.add(`v${i}`, stored[i]!, i);
      }
      let hitsAtOne = 0;
      for (let t = 0; t < 20; t++) {
        const target = stored[t * 37]!;
        const q = target.map((x, j) => 0.8 * x + 0.6 * randomUnit(r, dim)[j]!);
        const exact = vi.topK(q, 10, { exact: true });
        assert.deepEqual(vi.topK(q, 10, { rerank: 500 }), exact, 'a pool of half the rows holds the top-10');
        if (vi.topK(q, 1)[0]!.id === `v${t * 37}`) hitsAtOne++;
      }
      assert.equal(hitsAtOne, 20);
      assert.throws(() => vi.add('v0', stored[0]!), /already/);
      assert.throws(() => vi.topK(new Float32Array(3), 1), /dimensions/);
      assert.throws(() => vi.add('zero', new Float32Array(dim)), /non-zero/);
    });

    it('centres the codes on the mean, so vectors sharing a common direction stay distinguishable', () => {
      // Real embeddings share a strong common direction, by varying amounts; uncentred sign bits would be nearly
      // the same for every row, and the part along the shared direction is kept exactly per row.
      const r = rng(11);
      const dim = 32;
      const offset = randomUnit(r, dim);
      const vi = new VectorIndex({ embedderId: 'e', dim, rerank: 16, exactUpTo: 0 });
      const stored: Float32Array[] = [];
      for (let i = 0; i < 2000; i++) {
        const noise = randomUnit(r, dim);
        const along = 4 * r();
        stored.push(offset.map((x, j) => along * x + noise[j]!));
        vi.add(`v${i}`, stored[i]!);
      }
      let self = 0;
      let kept = 0;
      for (let t = 0; t < 40; t++) {
        const q = stored[t * 47]!;
        const got = vi.topK(q, 10).map((h) => h.id);
        const exact = new Set(vi.topK(q, 10, { exact: true }).map((h) => h.id));
        if (got[0] === `v${t * 47}`) self++;
        kept += got.filter((id) => exact.has(id)).length;
      }
      assert.equal(self, 40, 'every stored vector is its own nearest');
      // Measured 0.70 with a pool of 40 of 2000 rows; without centring or the exact term it drops below 0.2.
      assert.ok(kept / 400 >= 0.6, `recall@10 ${kept / 400}`);
    });

    it('stays consistent through growth, swap-deletes and retraining', () => {
      const r = rng(3);
      const dim = 64;
      const vi = new VectorIndex({ embedderId: 'e', dim, initialCapacity: 1, rerank: 8, exactUpTo: 0 });
      const live = new Map<string, Float32Array>();
      const offset = randomUnit(r, dim);
      for (let i = 0; i < 1200; i++) {
        // A shared direction by varying amounts, so every per-row field (code, scale, along) carries weight.
        const noise = randomUnit(r, dim);
        const along = 3 * r();
        const v = offset.map((x, j) => along * x + noise[j]!);
        vi.add(`v${i}`, v);
        live.set(`v${i}`, v);
        // Query while growing too: scratch buffers and codes must follow every resize and retraining.
        if (i % 97 === 0) assert.equal(vi.topK(v, 1)[0]!.id, `v${i}`);
        if (i % 3 === 0) {
          const victim = `v${Math.floor(r() * i)}`;
          assert.equal(vi.remove(victim), live.delete(victim));
        }
      }
      assert.equal(vi.size, live.size);
      for (const [id, v] of live) {
        const hit = vi.topK(v, 1)[0]!;
        assert.equal(hit.id, id);
        assert.ok(Math.abs(hit.score - 1) < 1e-5);
      }
    });
  });

  describe('context pack', () => {
    it('estimates tokens as UTF-8 bytes / 4 rounded up', () => {
      assert.equal(estimateTokens(''), 0);
      assert.equal(estimateTokens('abcd'), 1);
      assert.equal(estimateTokens('abcde'), 2);
      assert.equal(estimateTokens('ééé'), 2); // 6 bytes
    });

    it('packs in score order, skips what does not fit, never exceeds the budget', () => {
      const items = [
        { id: 'small-low', text: 'x'.repeat(8), score: 0.1 }, // 2 + 8 framing = 10
        { id: 'big', text: 'x'.repeat(400), score: 0.9 }, // 100 + 8 = 108
        { id: 'mid', text: 'x'.repeat(80), score: 0.8 }, // 20 + 8 = 28
        { id: 'tiny', text: 'x'.repeat(4), score: 0.5 }, // 1 + 8 = 9
      ];
      const packed = packContext(items, { budgetTokens: 50 });
      assert.deepEqual(
        packed.packed.map((p) => p.id),
        ['mid', 'tiny', 'small-low'],
      );
      assert.deepEqual(packed.skipped, ['big']);
      assert.equal(packed.usedTokens, 28 + 9 + 10);
      assert.ok(packed.usedTokens <= 50);
      assert.equal(packContext(items, { budgetTokens: 0 }).packed.length, 0);
      assert.equal(packContext(items, { budgetTokens: 37, framingTokens: 0 }).usedTokens, 20 + 1 + 2);
      for (let budget = 0; budget < 200; budget += 7) {
        assert.ok(packContext(items, { budgetTokens: budget }).usedTokens <= budget);
      }
    });

    it('builds a context from a search and records access only for what was packed', () => {
      const index = new MemorySearchIndex();
      const texts = new Map([
        ['long', 'y'.repeat(1000)],
        ['short', 'short memory'],
      ]);
      index.upsert(mem('long'), [{ embedderId: E, vector: at(1) }]);
      index.upsert(mem('short'), [{ embedderId: E, vector: at(0.5) }]);
      const ctx = buildContext(
        index,
        { vector: Q },
        { k: 10, now: NOW, budgetTokens: 40, textOf: (id) => texts.get(id) },
      );
      assert.deepEqual(
        ctx.packed.map((p) => p.id),
        ['short'],
      );
      assert.deepEqual(ctx.skipped, ['long']);
      assert.equal(ctx.search.hits.length, 2);
      assert.equal(index.accessOf('short')!.accessCount, 1);
      assert.equal(index.accessOf('long')!.accessCount, 0);
    });
  });
});
