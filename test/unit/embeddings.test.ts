/** Embedders (hashing, local USE lite, OpenRouter through a stub), the vector codec and the registry's fallbacks. */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import { EmbedderUnavailableError, type Embedder } from '../../server/memory/embeddings/embedder';
import { contentWords, fingerprint, foldPlural, normalizeText } from '../../server/memory/embeddings/features';
import {
  decodeIdf,
  DocumentFrequencies,
  encodeIdf,
  fitIdf,
  HashingEmbedder,
  hashEmbedderId,
} from '../../server/memory/embeddings/hashing';
import { LOCAL_NEURAL_ID, LocalNeuralEmbedder, type SentenceModel } from '../../server/memory/embeddings/local-neural';
import {
  OpenRouterEmbedder,
  type EmbeddingsUpstream,
  type EmbeddingsUsage,
} from '../../server/memory/embeddings/openrouter';
import { createEmbedder, embedderForId, parseEmbedderId } from '../../server/memory/embeddings/registry';
import {
  cosine,
  decodeSidecar,
  dot,
  encodeSidecar,
  normalize,
  vectorFromBase64,
  vectorToBase64,
} from '../../server/memory/embeddings/vector-codec';

const norm = (v: Float32Array) => Math.sqrt(dot(v, v));
const bits = (v: Float32Array) => Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length));
const isCancelled = (e: unknown) => (e as { code?: number }).code === ErrorCodes.RequestCancelled;

/** [query, related, unrelated] */
const TRIPLES: [string, string, string][] = [
  ['tuning Postgres indexes', 'database index performance', 'team lunch on Friday'],
  [
    'the deploy failed because the Docker image was too large',
    'docker image size broke the deployment',
    'hire a designer',
  ],
  ['user prefers concise answers in French', 'answer briefly, in French, for this user', 'API rate limit is 60/min'],
  ['budget alert at 80% of the monthly limit', 'monthly spending limit alerts', 'refactor the tokenizer'],
];

function assertRanks(e: HashingEmbedder | ((t: string) => Float32Array), [q, rel, unrel]: [string, string, string]) {
  const f = typeof e === 'function' ? e : (t: string) => e.embedOne(t);
  const [vq, vr, vu] = [f(q), f(rel), f(unrel)];
  const near = cosine(vq, vr);
  const far = cosine(vq, vu);
  assert.ok(near > far + 0.1, `"${q}": related ${near.toFixed(3)} should beat unrelated ${far.toFixed(3)}`);
}

/** A model that answers instantly and records the batches it saw. */
function fakeModel(onBatch?: (n: number) => void): SentenceModel & { batches: string[][] } {
  const batches: string[][] = [];
  return {
    batches,
    embed: async (texts) => {
      batches.push(texts);
      onBatch?.(batches.length);
      return texts.map((t) => Array.from({ length: 512 }, (_, i) => ((t.length + i) % 7) - 3));
    },
  };
}

function stubUpstream(dims = 8, onCall?: (n: number) => void) {
  const calls: { model: string; input: string[]; signal: AbortSignal | undefined }[] = [];
  const upstream: EmbeddingsUpstream = {
    embeddings: async (model, input, signal) => {
      calls.push({ model, input, signal });
      onCall?.(calls.length);
      // Deliberately not unit length: the embedder must normalise.
      return {
        model,
        costUsd: 0.000001 * input.length,
        vectors: input.map((t) => Array.from({ length: dims }, (_, i) => (i === t.length % dims ? 3 : 1))),
      };
    },
  };
  return { upstream, calls };
}

describe('embeddings', () => {
  describe('vector codec', () => {
    it('normalises to unit length, keeps the zero vector zero, and refuses non-finite input', () => {
      const v = normalize([3, 4]);
      assert.deepEqual(Array.from(v), [Math.fround(0.6), Math.fround(0.8)]);
      assert.ok(Math.abs(norm(normalize([1e-30, 2e-30, 1e30])) - 1) < 1e-6);
      assert.deepEqual(Array.from(normalize([0, 0, 0])), [0, 0, 0]);
      assert.throws(() => normalize([1, Number.NaN]), RangeError);
      assert.throws(() => normalize([1, Number.POSITIVE_INFINITY]), RangeError);
    });

    it('cosine: 1 for the same direction, 0 for orthogonal or zero vectors, refuses mixed lengths', () => {
      const a = Float32Array.of(1, 2, 3);
      assert.ok(Math.abs(cosine(a, Float32Array.of(2, 4, 6)) - 1) < 1e-6);
      assert.equal(cosine(Float32Array.of(1, 0), Float32Array.of(0, 1)), 0);
      assert.equal(cosine(a, new Float32Array(3)), 0);
      assert.throws(() => cosine(a, new Float32Array(4)), RangeError);
    });

    // Every bit pattern survives, including -0, subnormals, infinities and NaN payloads.
    const awkward = () => {
      const v = new Float32Array(64);
      const u = new Uint32Array(v.buffer);
      u.set([0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x7fc00001, 0x7fa00000, 0x3f800000, 0xbf7fffff]);
      for (let i = 8; i < u.length; i++) u[i] = Math.imul(i, 0x9e3779b9) >>> 0;
      return v;
    };

    it('round-trips a vector through base64 bit-exactly, at 4 bytes a dimension', () => {
      const v = awkward();
      const text = vectorToBase64(v);
      assert.equal(text.length, Math.ceil((64 * 4) / 3) * 4);
      assert.deepEqual(bits(vectorFromBase64(text)), bits(v));
      assert.deepEqual(bits(vectorFromBase64(text, 64)), bits(v));
      assert.throws(() => vectorFromBase64(text, 32), /64 dimensions/);
      assert.throws(() => vectorFromBase64('AAA='), RangeError);
    });

    it('round-trips many vectors through a sidecar bit-exactly, header and all', () => {
      const id = 'openrouter:qwen/qwen3-embedding-8b·ü';
      const vectors = [awkward(), normalize(Array.from({ length: 64 }, (_, i) => i)), new Float32Array(64)];
      const buf = encodeSidecar(id, vectors);
      assert.equal(buf.toString('latin1', 0, 4), 'CRVE');
      assert.equal(buf.length % 4, 0);
      // Decoding must not depend on where the bytes sit in memory.
      const shifted = new Uint8Array(buf.length + 1).subarray(1);
      shifted.set(buf);
      for (const input of [buf, shifted]) {
        const back = decodeSidecar(input);
        assert.equal(back.embedderId, id);
        assert.equal(back.dims, 64);
        assert.deepEqual(back.vectors.map(bits), vectors.map(bits));
      }
      const empty = decodeSidecar(encodeSidecar('hash-tfidf@v1-384', [], 384));
      assert.deepEqual([empty.dims, empty.vectors.length], [384, 0]);
    });

    it('refuses sidecars that are not ours, from a newer version, truncated, or inconsistent', () => {
      const buf = encodeSidecar('x', [new Float32Array(4), new Float32Array(4)]);
      assert.throws(() => decodeSidecar(Buffer.from('JUNKJUNKJUNKJUNKJUNK')), /not a vector sidecar/);
      const newer = Buffer.from(buf);
      newer.writeUInt16LE(2, 4);
      assert.throws(() => decodeSidecar(newer), /version 2/);
      assert.throws(() => decodeSidecar(buf.subarray(0, buf.length - 4)), /should be/);
      assert.throws(() => encodeSidecar('x', [new Float32Array(4), new Float32Array(5)]), /5 dimensions/);
      assert.throws(() => encodeSidecar('x', []), /dims/);
    });
  });

  describe('hashing TF-IDF embedder', () => {
    const e = new HashingEmbedder();

    it('has a stable id naming version and dimensions', () => {
      assert.equal(e.id, 'hash-tfidf@v1-384');
      assert.equal(new HashingEmbedder({ dimensions: 1024 }).id, 'hash-tfidf@v1-1024');
      assert.throws(() => new HashingEmbedder({ dimensions: 3 }), RangeError);
    });

    it('is deterministic, across instances and batches — and pinned, so a change must bump the version', async () => {
      const text = 'Tuning Postgres indexes, café-style!';
      const [a, b] = await e.embed([text, 'something else']);
      const [c] = await new HashingEmbedder().embed([text]);
      assert.deepEqual(bits(a!), bits(c!));
      assert.notDeepEqual(bits(a!), bits(b!));
      // If this fails, vectors changed: bump HASH_TFIDF_VERSION (then update the pin), or old vectors get compared.
      assert.equal(fingerprint(new Uint8Array(a!.buffer)), '1048fe5b');
    });

    it('returns unit vectors, and zero vectors for blank texts', async () => {
      const vs = await e.embed(['hello world', '', '  \n\t', 'x']);
      assert.equal(vs.length, 4);
      for (const i of [0, 3]) assert.ok(Math.abs(norm(vs[i]!) - 1) < 1e-6);
      for (const i of [1, 2]) assert.deepEqual(Array.from(vs[i]!), new Array(384).fill(0));
      assert.equal(vs[0]!.length, 384);
    });

    it('ranks related texts above unrelated ones', () => {
      for (const t of TRIPLES) assertRanks(e, t);
    });

    it('normalises Unicode and case, folds plurals, and ignores stop-words unless nothing else is left', () => {
      assert.equal(normalizeText('ＣＡＦÉ ﬁle'), 'cafe file');
      assert.deepEqual(bits(e.embedOne('Café Crème')), bits(e.embedOne('cafe creme')));
      assert.deepEqual(bits(e.embedOne('the report of the crew')), bits(e.embedOne('report crew')));
      assert.deepEqual(contentWords('to be or not to be'), ['to', 'be', 'or', 'not', 'to', 'be']);
      assert.ok(norm(e.embedOne('to be or not to be')) > 0.99);
      assert.deepEqual(['indexes', 'queries', 'agents', 'class', 'status', 'API'].map(foldPlural), [
        'index',
        'query',
        'agent',
        'class',
        'status',
        'API',
      ]);
    });

    it('a fitted IDF discounts words the whole corpus shares', () => {
      const corpus = [
        'crew agent wrote the weekly report',
        'crew agent planned the sprint',
        'crew agent reviewed the budget limits',
        'crew agent booked the team lunch',
        'crew agent fixed the flaky test',
        'crew agent summarised the meeting',
      ];
      const q = 'crew agent lunch plans';
      const sameWords = 'crew agent planned the sprint';
      const sameTopic = 'team lunch booked';
      const plain = new HashingEmbedder();
      const weighted = new HashingEmbedder({ idf: fitIdf(corpus) });
      const sim = (x: HashingEmbedder, a: string, b: string) => cosine(x.embedOne(a), x.embedOne(b));
      assert.ok(sim(plain, q, sameWords) > sim(plain, q, sameTopic), 'without IDF the shared boilerplate wins');
      assert.ok(sim(weighted, q, sameTopic) > sim(weighted, q, sameWords), 'with IDF the rare word wins');
    });

    it('keeps IDF deterministic: order-free, reversible, serialisable, and part of the id', () => {
      const corpus = ['alpha beta', 'beta gamma', 'gamma delta', 'delta alpha beta'];
      const a = fitIdf(corpus);
      const b = fitIdf([...corpus].reverse());
      assert.equal(hashEmbedderId(384, a), hashEmbedderId(384, b));
      assert.match(hashEmbedderId(384, a), /^hash-tfidf@v1-384~idf-[0-9a-f]{8}$/);

      const f = new DocumentFrequencies(a);
      f.add('epsilon zeta');
      const grown = f.snapshot();
      assert.notEqual(hashEmbedderId(384, grown), hashEmbedderId(384, a), 'a refit is a new embedder');
      f.remove('epsilon zeta');
      assert.equal(hashEmbedderId(384, f.snapshot()), hashEmbedderId(384, a));

      const text = encodeIdf(grown);
      assert.ok(text.length < 2000, `encoded IDF is ${text.length} chars`);
      const back = decodeIdf(text);
      assert.equal(back.documents, 5);
      assert.deepEqual(
        bits(new HashingEmbedder({ idf: back }).embedOne('alpha zeta')),
        bits(new HashingEmbedder({ idf: grown }).embedOne('alpha zeta')),
      );
    });

    it('stops between batches once cancelled', async () => {
      const ac = new AbortController();
      const small = new HashingEmbedder({ batchSize: 2 });
      const p = small.embed(['a b', 'c d', 'e f', 'g h'], ac.signal);
      ac.abort();
      await assert.rejects(p, isCancelled);
      ac.abort();
      await assert.rejects(small.embed(['a b'], ac.signal), isCancelled);
    });
  });

  describe('local neural embedder (USE lite)', () => {
    let local: LocalNeuralEmbedder;
    const embed1 = async (t: string) => (await local.embed([t]))[0]!;

    before(async () => {
      local = new LocalNeuralEmbedder();
      await local.ready();
    });

    it('is the 512-dimensional local-use-lite@512', () => {
      assert.equal(local.id, LOCAL_NEURAL_ID);
      assert.equal(local.id, 'local-use-lite@512');
      assert.equal(local.dimensions, 512);
    });

    it('puts "tuning Postgres indexes" nearer "database index performance" than "team lunch on Friday"', async () => {
      const [q, near, far] = await local.embed(TRIPLES[0]!);
      assert.ok(cosine(q!, near!) > cosine(q!, far!) + 0.2, `${cosine(q!, near!)} vs ${cosine(q!, far!)}`);
      for (const t of TRIPLES.slice(1)) {
        const [a, b, c] = await local.embed(t);
        assertRanks((s) => (s === t[0] ? a! : s === t[1] ? b! : c!), t);
      }
    });

    it('is deterministic whatever else shares the batch, and returns unit vectors (zero for blanks)', async () => {
      const alone = await embed1('tuning Postgres indexes');
      const many = await local.embed(['lunch', '', 'tuning Postgres indexes', 'x']);
      assert.deepEqual(bits(many[2]!), bits(alone));
      assert.ok(Math.abs(norm(alone) - 1) < 1e-6);
      assert.deepEqual(Array.from(many[1]!), new Array(512).fill(0));
    });

    it('splits work into batches of 32 and keeps the order', async () => {
      const texts = Array.from({ length: 40 }, (_, i) => `note ${i}: ${i % 2 ? 'database' : 'lunch'} item`);
      const all = await local.embed(texts);
      assert.equal(all.length, 40);
      assert.deepEqual(bits(all[37]!), bits(await embed1(texts[37]!)));
    });

    it('sends batches of 32 through the model one at a time, even for concurrent callers', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const model: SentenceModel = {
        embed: async (texts) => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          return texts.map(() => [1, ...new Array<number>(511).fill(0)]);
        },
      };
      const sizes: number[] = [];
      const e = new LocalNeuralEmbedder({
        load: async () => ({ embed: (t) => (sizes.push(t.length), model.embed(t)) }),
      });
      const texts = Array.from({ length: 40 }, (_, i) => `t${i}`);
      await Promise.all([e.embed(texts), e.embed(texts.slice(0, 5))]);
      assert.deepEqual(
        [...sizes].sort((a, b) => a - b),
        [5, 8, 32],
      );
      assert.equal(maxInFlight, 1);
    });

    it('honours cancellation between batches', async () => {
      const ac = new AbortController();
      const model = fakeModel((n) => n === 1 && ac.abort());
      const e = new LocalNeuralEmbedder({ batchSize: 2, load: async () => model });
      await assert.rejects(e.embed(['a', 'b', 'c', 'd', 'e'], ac.signal), isCancelled);
      assert.equal(model.batches.length, 1);
    });

    it('says clearly when the model cannot load, and the registry falls back to hashing with that reason', async () => {
      const load = async (): Promise<SentenceModel> => {
        throw new Error('Path /nowhere/model.json does not exist: loading failed');
      };
      const broken = new LocalNeuralEmbedder({ load });
      await assert.rejects(broken.embed(['hi']), (e: unknown) => {
        assert.ok(e instanceof EmbedderUnavailableError);
        assert.equal(e.embedderId, LOCAL_NEURAL_ID);
        assert.match(e.reason, /Universal Sentence Encoder lite could not load .*model\.json does not exist/);
        return true;
      });
      const r = await createEmbedder({ kind: 'local' }, { loadLocalModel: load });
      assert.equal(r.embedder.id, 'hash-tfidf@v1-384');
      assert.match(r.fallbackReason ?? '', /could not load.*using hash-tfidf@v1-384/);
      await assert.rejects(embedderForId(LOCAL_NEURAL_ID, { loadLocalModel: load }), EmbedderUnavailableError);
    });
  });

  describe('OpenRouter embedder (stubbed upstream)', () => {
    it('batches requests, keeps order, normalises, learns the size and reports cost', async () => {
      const { upstream, calls } = stubUpstream(8);
      const usage: EmbeddingsUsage[] = [];
      const e = new OpenRouterEmbedder('openai/text-embedding-3-small', upstream, {
        batchSize: 3,
        onUsage: (u) => usage.push(u),
      });
      assert.equal(e.id, 'openrouter:openai/text-embedding-3-small');
      assert.equal(e.dimensions, undefined);
      const texts = ['a', 'bb', '', 'ccc', 'dddd', 'eeeee', 'ffffff'];
      const vs = await e.embed(texts);
      assert.equal(e.dimensions, 8);
      assert.deepEqual(
        calls.map((c) => c.input),
        [
          ['a', 'bb', 'ccc'],
          ['dddd', 'eeeee', 'ffffff'],
        ],
        'blank texts never reach the upstream',
      );
      assert.equal(vs.length, texts.length);
      assert.deepEqual(Array.from(vs[2]!), new Array(8).fill(0));
      for (const [i, t] of texts.entries()) {
        if (!t) continue;
        assert.ok(Math.abs(norm(vs[i]!) - 1) < 1e-6);
        assert.equal(vs[i]!.indexOf(Math.max(...vs[i]!)), t.length % 8, `vector ${i} is text ${i}'s`);
      }
      assert.deepEqual(
        usage.map((u) => u.inputs),
        [3, 3],
      );
      assert.ok(Math.abs(usage[0]!.costUsd! - 0.000003) < 1e-12);
    });

    it('passes the signal upstream and stops between batches once cancelled', async () => {
      const ac = new AbortController();
      const { upstream, calls } = stubUpstream(8, (n) => n === 1 && ac.abort());
      const e = new OpenRouterEmbedder('m', upstream, { batchSize: 2 });
      await assert.rejects(e.embed(['a', 'b', 'c', 'd'], ac.signal), isCancelled);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.signal, ac.signal);
    });

    it('fails loudly on answers that could not share an id: wrong count, or another size', async () => {
      const short: EmbeddingsUpstream = { embeddings: async (model) => ({ model, vectors: [[1, 0]] }) };
      await assert.rejects(new OpenRouterEmbedder('m', short).embed(['a', 'b']), /1 embeddings for 2 inputs/);
      const { upstream } = stubUpstream(8);
      const known = new OpenRouterEmbedder('m', upstream, { dimensions: 1536 });
      await assert.rejects(known.embed(['a']), /8-dimensional embedding for m, not 1536/);
    });
  });

  describe('registry', () => {
    it('parses every id it can build and nothing else', () => {
      assert.deepEqual(parseEmbedderId('local-use-lite@512'), { kind: 'local' });
      assert.deepEqual(parseEmbedderId('hash-tfidf@v1-384'), { kind: 'hash', dimensions: 384 });
      assert.deepEqual(parseEmbedderId('hash-tfidf@v1-384~idf-0a1b2c3d'), {
        kind: 'hash',
        dimensions: 384,
        idfFingerprint: '0a1b2c3d',
      });
      assert.deepEqual(parseEmbedderId('openrouter:openai/text-embedding-3-small'), {
        kind: 'openrouter',
        model: 'openai/text-embedding-3-small',
      });
      for (const bad of ['hash-tfidf@v0-384', 'openrouter:', 'local-use@512', ''])
        assert.equal(parseEmbedderId(bad), undefined, bad);
    });

    it('builds by config, falling back from OpenRouter without a key', async () => {
      const fastLocal = { loadLocalModel: async () => fakeModel() };
      assert.equal((await createEmbedder({ kind: 'hash', dimensions: 256 })).embedder.id, 'hash-tfidf@v1-256');
      const { upstream } = stubUpstream();
      const remote = await createEmbedder({ kind: 'openrouter', model: 'm/e' }, { upstream });
      assert.equal(remote.embedder.id, 'openrouter:m/e');
      assert.equal(remote.fallbackReason, undefined);
      const noKey = await createEmbedder({ kind: 'openrouter', model: 'm/e' }, fastLocal);
      assert.equal(noKey.embedder.id, LOCAL_NEURAL_ID);
      assert.match(noKey.fallbackReason ?? '', /no OpenRouter API key/);
      await assert.rejects(createEmbedder({ kind: 'openrouter' }, { upstream }), /needs a model/);
    });

    it('builds by id exactly, or says why it cannot', async () => {
      const idf = fitIdf(['one two', 'two three']);
      const check = async (id: string, deps = {}) => {
        const e: Embedder = await embedderForId(id, deps);
        assert.equal(e.id, id);
      };
      await check('hash-tfidf@v1-384');
      await check(hashEmbedderId(384, idf), { idf });
      await check('openrouter:m/e', { upstream: stubUpstream().upstream });
      const unavailable = async (id: string, re: RegExp, deps = {}) =>
        assert.rejects(
          embedderForId(id, deps),
          (e: unknown) => e instanceof EmbedderUnavailableError && re.test(e.reason),
        );
      await unavailable(hashEmbedderId(384, idf), /IDF table/, { idf: fitIdf(['other']) });
      await unavailable(hashEmbedderId(384, idf), /IDF table/);
      await unavailable('openrouter:m/e', /no OpenRouter API key/);
      await unavailable('hash-tfidf@v2-384', /does not know/);
      await unavailable('hash-tfidf@v1-0384', /canonical/);
      await unavailable('hash-tfidf@v1-4', /dimensions/);
    });
  });
});
