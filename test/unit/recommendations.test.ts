/**
 * Savings recommendations at unit level: RecommendationService over a real JsonStore in a temp folder (its ledger,
 * call-profiles file, crews, memories, archive index and applied list), a real CrewService, MemoryService and
 * ArchiveService, a hand-made catalog, an in-memory run repository and a ManualClock. Every savings figure is
 * worked out by hand in the test, from the prices and token counts it seeds.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, type ModelInfo } from '../../protocol';
import type { Run, RunStep } from '../../protocol/runs';
import type { CostRecommendation } from '../../protocol/recommendations';
import { ManualClock } from '../../server/clock';
import { RecommendationService } from '../../server/costs/recommendations';
import { recommendationSchemas } from '../../server/costs/recommendation-schemas';
import { toPico } from '../../server/costs/money';
import { CrewService } from '../../server/crews/service';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { ArchiveService } from '../../server/memory/archive/service';
import { HashingEmbedder } from '../../server/memory/embeddings/hashing';
import { MemoryService } from '../../server/memory/service';
import { errors, DomainError } from '../../server/errors';
import { JsonStore } from '../../server/store/json-store';
import type { CallShape, RunFilter, RunRecord, RunRepository } from '../../server/store/repositories';

const T = (iso: string) => Date.parse(iso);
const NOW = T('2026-03-10T18:00:00.000Z');
const MIN = 60_000;
const DAY = 86_400_000;

function model(
  id: string,
  p: {
    prompt: string;
    completion: string;
    ctx: number;
    cacheRead?: string;
    cacheWrite?: string;
    input?: string[];
    output?: string[];
    maxOut?: number;
    expires?: string;
  },
): ModelInfo {
  return {
    id,
    name: id,
    contextLength: p.ctx,
    maxCompletionTokens: p.maxOut ?? null,
    pricing: {
      prompt: p.prompt,
      completion: p.completion,
      request: '0',
      ...(p.cacheRead ? { inputCacheRead: p.cacheRead } : {}),
      ...(p.cacheWrite ? { inputCacheWrite: p.cacheWrite } : {}),
    },
    promptUsdPerMillion: 0,
    completionUsdPerMillion: 0,
    inputModalities: p.input ?? ['text'],
    outputModalities: p.output ?? ['text'],
    expirationDate: p.expires ?? null,
    created: null,
  };
}

const MODELS: ModelInfo[] = [
  model('big/model', { prompt: '0.0000025', completion: '0.00001', ctx: 128_000, cacheRead: '0.00000125' }),
  model('claude/sonnet', {
    prompt: '0.000003',
    completion: '0.000015',
    ctx: 200_000,
    cacheRead: '0.0000003',
    cacheWrite: '0.00000375',
  }),
  model('cheap/a', { prompt: '0.0000001', completion: '0.0000004', ctx: 131_072, input: ['text', 'image'] }),
  model('cheap/b', { prompt: '0.00000015', completion: '0.0000006', ctx: 128_000 }),
  model('cheap/c', { prompt: '0.0000002', completion: '0.0000008', ctx: 200_000 }),
  model('cheap/d', { prompt: '0.00000025', completion: '0.000001', ctx: 200_000 }),
  // Each cheaper than cheap/a, and each ruled out:
  model('tiny/context', { prompt: '0.0000000375', completion: '0.00000015', ctx: 32_768 }),
  model('short/replies', { prompt: '0.00000005', completion: '0.0000002', ctx: 128_000, maxOut: 256 }),
  model('free/model:free', { prompt: '0', completion: '0', ctx: 128_000 }),
  model('zero/priced', { prompt: '0', completion: '0', ctx: 128_000 }),
  model('embed/model', { prompt: '0.00000002', completion: '0', ctx: 128_000, output: ['embeddings'] }),
  model('image/only', { prompt: '0.00000001', completion: '0.00000001', ctx: 128_000, output: ['image'] }),
  model('audio/in', { prompt: '0.00000001', completion: '0.00000001', ctx: 128_000, input: ['audio'] }),
  model('old/model', { prompt: '0.00000001', completion: '0.00000001', ctx: 128_000, expires: '2026-01-31' }),
  model('router/auto', { prompt: '-1', completion: '-1', ctx: 2_000_000 }),
];

/** The run repository the runs engineer implements, held in memory (newest first, like the interface says). */
class MemoryRuns implements RunRepository {
  readonly runs = new Map<string, RunRecord>();
  get(id: string) {
    return this.runs.get(id);
  }
  list(f: RunFilter & { limit: number }) {
    const all = [...this.runs.values()]
      .filter((r) => f.from === undefined || Date.parse(r.startedAt) >= f.from)
      .filter((r) => f.crewId === undefined || r.crewId === f.crewId)
      .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
    return { runs: all.slice(0, f.limit).map((r) => structuredClone(r)), total: all.length };
  }
  async put(run: RunRecord) {
    this.runs.set(run.id, structuredClone(run));
  }
}

async function rejectsWith(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof DomainError, `expected an DomainError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
}

describe('RecommendationService', () => {
  let dir: string;
  let clock: ManualClock;
  let store: JsonStore;
  let crews: CrewService;
  let memory: MemoryService;
  let archive: ArchiveService;
  let runs: MemoryRuns;
  let service: RecommendationService;
  let opsId: string;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-recs-'));
    clock = new ManualClock(NOW);
    store = await JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
    const catalog = {
      list: async () => ({ models: MODELS }),
      require: async (id: string) => {
        const m = MODELS.find((x) => x.id === id);
        if (!m) throw errors.unknownModel(id, []);
        return m;
      },
    };
    crews = new CrewService(store.crews, catalog, clock);
    const embedder = new HashingEmbedder();
    memory = new MemoryService(
      store.memories,
      store.vectors,
      store.access,
      async () => ({ embedder }),
      embedder.id,
      new EventBus(),
      clock,
      silentLogger,
    );
    memory.init();
    archive = new ArchiveService({
      memory,
      memories: store.memories,
      access: store.access,
      index: store.archives,
      dir: path.join(dir, 'store', 'archives'),
      clock,
      log: silentLogger,
      timers: false,
    });
    await archive.start();
    runs = new MemoryRuns();
    service = new RecommendationService({
      ledger: store.ledger,
      profiles: store.callProfiles,
      runs,
      catalog,
      crews,
      memories: store.memories,
      archive,
      applied: store.appliedRecommendations,
      clock,
    });
    const ops = await crews.create({
      name: 'ops',
      agents: [
        { name: 'writer', model: 'big/model', systemPrompt: 'Write.' },
        { name: 'critic', model: 'claude/sonnet', maxTokens: 4096 },
      ],
    });
    opsId = ops.id;
  });

  afterEach(async () => {
    await archive.close();
    await store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  /** One ledger row, costed at `pricePrompt`/`priceCompletion` per token (the model's prices), as ChatService would. */
  async function call(
    at: number,
    m: string,
    crew: string | null,
    agent: string | null,
    prompt: number,
    completion: number,
  ): Promise<void> {
    const info = MODELS.find((x) => x.id === m)!;
    const pico = toPico(info.pricing.prompt) * prompt + toPico(info.pricing.completion) * completion;
    await store.ledger.append({
      ts: at,
      model: m,
      crew,
      agent,
      tags: [],
      promptTokens: prompt,
      completionTokens: completion,
      cachedTokens: 0,
      reasoningTokens: 0,
      costPico: pico,
      cost: String(pico / 1e12),
      estimated: false,
      generationId: null,
      latencyMs: 1,
      status: 'ok',
      stream: false,
    });
  }

  const shape = (at: number, extra: Partial<CallShape>): CallShape => ({
    at,
    crew: 'ops',
    agent: 'ops/critic',
    model: 'claude/sonnet',
    maxTokens: 4096,
    completionTokens: 100,
    cachedTokens: 0,
    prefix: null,
    ...extra,
  });

  const kind = (recs: CostRecommendation[], k: CostRecommendation['kind'], agent?: string | null) =>
    recs.filter((r) => r.kind === k && (agent === undefined || r.agent === agent));

  const one = (recs: CostRecommendation[], k: CostRecommendation['kind'], agent?: string | null) => {
    const found = kind(recs, k, agent);
    assert.equal(found.length, 1, `one ${k} for ${agent}: ${JSON.stringify(recs.map((r) => r.title))}`);
    return found[0]!;
  };

  // ── cheaper-model ────────────────────────────────────────────────────

  /** 999 calls of 2000 + 500 tokens and one of 39,500 + 500 (40,000 tokens of context) by ops/writer. */
  async function seedWriter(): Promise<void> {
    const start = NOW - 5 * DAY;
    for (let i = 0; i < 999; i++) await call(start + i * MIN, 'big/model', 'ops', 'ops/writer', 2000, 500);
    await call(start + 999 * MIN, 'big/model', 'ops', 'ops/writer', 39_500, 500);
  }

  it('cheaper-model: re-prices the agent’s tokens on the cheapest model that fits, exactly', async () => {
    await seedWriter();
    const res0 = await service.recommendations({ windowDays: 7 });
    const r = one(res0.recommendations, 'cheaper-model', 'ops/writer');
    // Actual: 999 × (2000 × 0.0000025 + 500 × 0.00001) = 999 × 0.01 = 9.99
    //       + 39,500 × 0.0000025 + 500 × 0.00001 = 0.09875 + 0.005 = 0.10375           → 10.09375
    // On cheap/a (0.0000001 / 0.0000004): 2,037,500 × 0.0000001 = 0.20375
    //                                   +   500,000 × 0.0000004 = 0.2                 → 0.40375
    // Savings: 10.09375 − 0.40375 = 9.69
    assert.equal(r.spentUsd, 10.09375);
    assert.equal(r.savings, '9.69');
    assert.equal(r.savingsUsd, 9.69);
    assert.equal(r.model, 'big/model');
    assert.equal(r.crew, 'ops');
    assert.equal(r.title, 'ops/writer: switch big/model to cheap/a');
    assert.equal(r.evidence.maxContextTokens, 40_000);
    assert.equal(r.evidence.calls, 1000);
    // Next cheapest that fit: cheap/b 2,037,500 × 0.00000015 + 500,000 × 0.0000006 = 0.305625 + 0.3 = 0.605625;
    // cheap/c 0.4075 + 0.4 = 0.8075. tiny/context (32,768 < 40,000), short/replies (max 256 out < 500), :free,
    // zero-priced, embeddings, image-out, audio-in, expired and "-1"-priced models are all left out.
    assert.equal(r.evidence.alternatives, 'cheap/a $0.40375; cheap/b $0.605625; cheap/c $0.8075');
    assert.equal(r.evidence.repricedCost, '0.40375');
    assert.match(r.detail, /cost \$10\.09375\. The same tokens on cheap\/a .* \$0\.40375: \$9\.69 less/);
    assert.match(r.id, /^rec_[0-9a-f]{12}$/);
    assert.equal(r.notApplicable, null);
    assert.deepEqual(r.changes, [
      { target: 'crew:ops/agent:writer', field: 'model', before: 'big/model', after: 'cheap/a' },
    ]);
    assert.equal(res0.totalSavingsUsd, 9.69);
    assert.equal(res0.windowDays, 7);
    assert.equal(res0.from, '2026-03-04T00:00:00.000Z');
    assert.equal(res0.to, new Date(NOW).toISOString());

    // The same calls 8+ days ago fall outside a 7-day window.
    clock.advance(12 * DAY);
    assert.deepEqual(kind((await service.recommendations({ windowDays: 7 })).recommendations, 'cheaper-model'), []);
  });

  it('cheaper-model: applying switches the crew agent (in place), records it, and cannot apply twice', async () => {
    await seedWriter();
    const before = one((await service.recommendations({})).recommendations, 'cheaper-model', 'ops/writer');

    const dry = await service.apply({ id: before.id, dryRun: true });
    assert.equal(dry.applied, false);
    assert.equal(dry.appliedAt, null);
    assert.deepEqual(dry.changes, before.changes);
    assert.equal((await crews.get('ops')).agents[0]!.model, 'big/model', 'a dry run changes nothing');
    assert.deepEqual(await store.appliedRecommendations.list(10), []);

    clock.advance(MIN);
    const res = await service.apply({ id: before.id });
    assert.equal(res.applied, true);
    assert.equal(res.appliedAt, new Date(NOW + MIN).toISOString());
    assert.deepEqual(res.changes, before.changes);
    const crew = await crews.get('ops');
    assert.deepEqual(
      crew.agents.map((a) => [a.name, a.model]),
      [
        ['writer', 'cheap/a'],
        ['critic', 'claude/sonnet'],
      ],
      'the agent keeps its place in the crew',
    );
    assert.equal(crew.agents[0]!.systemPrompt, 'Write.');

    const after = await service.recommendations({});
    assert.deepEqual(kind(after.recommendations, 'cheaper-model', 'ops/writer'), [], 'applied: gone on recompute');
    assert.deepEqual(after.applied, [
      {
        id: before.id,
        kind: 'cheaper-model',
        title: 'ops/writer: switch big/model to cheap/a',
        savingsUsd: 9.69,
        changes: before.changes,
        appliedAt: new Date(NOW + MIN).toISOString(),
      },
    ]);
    await rejectsWith(service.apply({ id: before.id }), ErrorCodes.Conflict, /already applied at 2026-03-10T18:01/);
    await rejectsWith(service.apply({ id: 'rec_000000000000' }), ErrorCodes.NotFound, /no recommendation rec_0+ over/);
    assert.equal((await store.appliedRecommendations.list(10)).length, 1);
  });

  it('an agent the caller named, or calls without an agent: no changes, and why in words', async () => {
    for (let i = 0; i < 10; i++) {
      // Named by the caller without a crew (with one, it would be that crew's agent `<crew>/bot`).
      await call(NOW - DAY + i, 'big/model', null, 'bot', 1000, 100);
      await call(NOW - DAY + i, 'big/model', null, null, 1000, 100);
      // Attributed like a crew run, but no crew is called that.
      await call(NOW - DAY + i, 'big/model', 'gone', 'gone/writer', 1000, 100);
    }
    const recs = (await service.recommendations({})).recommendations;
    const bot = one(recs, 'cheaper-model', 'bot');
    assert.deepEqual(bot.changes, []);
    assert.match(bot.notApplicable!, /"bot" is not an agent of a crew .*X-Agent-Id.*switch it to tiny\/context/);
    const none = one(recs, 'cheaper-model', null);
    assert.equal(none.title, 'calls without an agent: switch big/model to tiny/context');
    assert.match(none.notApplicable!, /carry no agent/);
    assert.match(one(recs, 'cheaper-model', 'gone/writer').notApplicable!, /crew "gone" no longer exists/);
    // Small calls (1100 tokens) fit tiny/context's 32,768: 10 × (1000 × 0.0000025 + 100 × 0.00001) = 0.035 spent,
    // 10 × (1000 × 0.0000000375 + 100 × 0.00000015) = 10 × 0.0000525 = 0.000525 there: 0.034475 less.
    assert.equal(bot.savings, '0.034475');
    await rejectsWith(service.apply({ id: bot.id }), ErrorCodes.Conflict, /cannot be applied here: "bot" is not/);
  });

  it('embedding calls (prompt tokens only, on a model GET /models does not list) get no cheaper chat model', async () => {
    // openai/text-embedding-3-large at $0.00000013 per token: tiny/context's prompt price would look cheaper.
    for (let i = 0; i < 10; i++)
      await store.ledger.append({
        ts: NOW - DAY + i,
        model: 'openai/text-embedding-3-large',
        crew: 'docs',
        agent: null,
        tags: ['embedding'],
        promptTokens: 50_000,
        completionTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico: 6_500_000_000,
        cost: '0.0065',
        estimated: false,
        generationId: null,
        latencyMs: 1,
        status: 'ok',
        stream: false,
      });
    const recs = (await service.recommendations({})).recommendations;
    assert.deepEqual(
      recs.filter((r) => r.kind === 'cheaper-model'),
      [],
    );
  });

  it('filters by crew (id or name, or a label calls carry) and by minimum savings', async () => {
    await seedWriter();
    for (let i = 0; i < 10; i++) await call(NOW - DAY + i, 'big/model', 'ext', 'bot', 1000, 100);
    const ids = async (p: Parameters<RecommendationService['recommendations']>[0]) =>
      (await service.recommendations(p)).recommendations.map((r) => r.agent);
    assert.deepEqual(await ids({ crew: 'OPS' }), ['ops/writer']);
    assert.deepEqual(await ids({ crew: opsId }), ['ops/writer']);
    // A crew label with an agent is that crew's agent, one id: ext/bot.
    assert.deepEqual(await ids({ crew: 'ext' }), ['ext/bot']);
    assert.deepEqual(await ids({ crew: 'nobody' }), []);
    assert.deepEqual(await ids({ minSavingsUsd: 1 }), ['ops/writer']);
    assert.deepEqual(await ids({}), ['ops/writer', 'ext/bot'], 'largest savings first');
  });

  // ── prompt-caching ───────────────────────────────────────────────────

  /** 1000 calls by ops/critic repeating a 2000-token system prefix: 40 bursts of 25 calls a minute apart. */
  function seedPrefixBursts(agent = 'ops/critic', sha = 'p'.repeat(32), cached = 0): void {
    const start = NOW - 3 * DAY;
    for (let burst = 0; burst < 40; burst++)
      for (let j = 0; j < 25; j++)
        store.callProfiles.record(
          shape(start + burst * 40 * MIN + j * MIN, {
            agent,
            prefix: { sha256: sha, tokens: 2000 },
            cachedTokens: cached,
          }),
        );
  }

  it('prompt-caching: savings from cache reads minus the extra cost of cache writes, by hand', async () => {
    seedPrefixBursts();
    await call(NOW - DAY, 'claude/sonnet', 'ops', 'ops/critic', 3000, 100);
    const r = one((await service.recommendations({})).recommendations, 'prompt-caching', 'ops/critic');
    // Each burst's first call comes 16 minutes after the last: 40 cache writes; the other 960 calls read it.
    // reads:  960 × 2000 × (0.000003 − 0.0000003)    = 960 × 2000 × 0.0000027 = 5.184
    // writes:  40 × 2000 × (0.00000375 − 0.000003)  =  40 × 2000 × 0.00000075 = 0.06
    // savings: 5.184 − 0.06 = 5.124
    assert.equal(r.savings, '5.124');
    assert.equal(r.evidence.cacheWrites, 40);
    assert.equal(r.evidence.uncachedCalls, 1000);
    assert.equal(r.evidence.prefixTokens, 2000);
    // spent: the agent's ledger rows on the model: 3000 × 0.000003 + 100 × 0.000015 = 0.009 + 0.0015
    assert.equal(r.spentUsd, 0.0105);
    assert.match(r.detail, /same 2000-token system prompt/);
    assert.deepEqual(r.changes, [
      { target: 'crew:ops/agent:critic', field: 'promptCache', before: false, after: true },
    ]);

    await service.apply({ id: r.id });
    assert.equal((await crews.get('ops')).agents[1]!.promptCache, true);
    assert.deepEqual(kind((await service.recommendations({})).recommendations, 'prompt-caching'), []);
    await rejectsWith(service.apply({ id: r.id }), ErrorCodes.Conflict, /already applied/);
  });

  it('prompt-caching: not for calls already cached, short prefixes, or models without a cache-read price', async () => {
    seedPrefixBursts('ops/critic', 'c'.repeat(32), 1800);
    for (let i = 0; i < 50; i++)
      store.callProfiles.record(
        shape(NOW - DAY + i * MIN, { agent: 'ops/short', prefix: { sha256: 's'.repeat(32), tokens: 900 } }),
      );
    for (let i = 0; i < 50; i++)
      store.callProfiles.record(
        shape(NOW - DAY + i * MIN, {
          agent: 'ops/plain',
          model: 'cheap/b',
          prefix: { sha256: 'n'.repeat(32), tokens: 5000 },
        }),
      );
    assert.deepEqual(kind((await service.recommendations({})).recommendations, 'prompt-caching'), []);
  });

  // ── max-tokens ───────────────────────────────────────────────────────

  it('max-tokens: $0 saved, the headroom it holds in the evidence, applied as a rounded-up 1.5 × p95', async () => {
    // 100 calls asking 4096 tokens: 95 replies of 200 tokens, 5 of 256.
    for (let i = 0; i < 100; i++)
      store.callProfiles.record(
        shape(NOW - 2 * DAY + i * MIN, {
          agent: 'ops/writer',
          model: 'big/model',
          completionTokens: i < 95 ? 200 : 256,
        }),
      );
    const r = one((await service.recommendations({})).recommendations, 'max-tokens', 'ops/writer');
    assert.equal(r.savingsUsd, 0);
    assert.equal(r.savings, '0');
    // p95: the 95th reply (200 tokens) is in the bucket [2^7.5, 2^7.75) = [181.02, 215.27): at most 215.
    assert.equal(r.evidence.p95CompletionTokens, 215);
    // 215 × 4 = 860 < 4096. Suggested: max(ceil(1.5 × 215) = 323, longest 256) → up to a multiple of 64 = 384.
    assert.equal(r.evidence.suggestedMaxTokens, 384);
    // Headroom: (100 × 4096 − (95 × 200 + 5 × 256)) × 0.00001 = (409,600 − 20,280) × 0.00001 = 389,320 × 0.00001
    assert.equal(r.evidence.unusedTokens, 389_320);
    assert.equal(r.evidence.headroom, '3.8932');
    assert.equal(r.evidence.headroomUsd, 3.8932);
    assert.match(r.detail, /saves no spend/);
    assert.match(r.detail, /held \$3\.8932 of budget headroom/);
    assert.equal(r.title, 'ops/writer: lower max_tokens from 4096 to 384');
    assert.deepEqual(r.changes, [{ target: 'crew:ops/agent:writer', field: 'maxTokens', before: null, after: 384 }]);

    const res = await service.apply({ id: r.id });
    assert.equal(res.applied, true);
    assert.equal((await crews.get('ops')).agents[0]!.maxTokens, 384);
    assert.deepEqual(kind((await service.recommendations({})).recommendations, 'max-tokens'), []);
  });

  it('max-tokens: not with fewer than 20 calls, nor when replies use much of max_tokens', async () => {
    for (let i = 0; i < 19; i++)
      store.callProfiles.record(shape(NOW - DAY + i * MIN, { agent: 'ops/writer', completionTokens: 10 }));
    for (let i = 0; i < 50; i++)
      store.callProfiles.record(shape(NOW - DAY + i * MIN, { agent: 'ops/critic', completionTokens: 1500 }));
    assert.deepEqual(kind((await service.recommendations({})).recommendations, 'max-tokens'), []);
  });

  // ── unused-memories ──────────────────────────────────────────────────

  function runWith(id: string, startedAt: number, steps: { model: string; memories: RunStep['memories'] }[]): Run {
    return {
      id,
      crewId: opsId,
      crew: 'ops',
      task: 'task',
      process: 'sequential',
      status: 'completed',
      steps: steps.map((s, index) => ({
        index,
        agent: 'writer',
        role: 'member',
        model: s.model,
        instruction: 'task',
        output: 'out',
        status: 'ok',
        error: null,
        usage: { promptTokens: 1000, completionTokens: 100, cachedTokens: 0, reasoningTokens: 0 },
        costUsd: 0.01,
        cost: '0.01',
        costEstimated: false,
        ledgerId: null,
        memories: s.memories,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(startedAt + 1000).toISOString(),
      })),
      output: 'out',
      usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
      costUsd: 0,
      cost: '0',
      error: null,
      memoryId: null,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(startedAt + 5000).toISOString(),
    };
  }

  it('unused-memories: memories packed ≥ 3 times that never influenced an output, priced by hand, archived', async () => {
    const add = async (content: string, pinned = false) =>
      (await memory.add({ crew: 'ops', content, pinned })).memory.id;
    const m1 = await add('The staging database is called pg-stage-3.');
    const m2 = await add('Deploys happen on Tuesdays after the standup.');
    const m3 = await add('The office plant needs water on Fridays.');
    const m4 = await add('Never deploy without a rollback plan.', true);
    const m5 = await add('Our CDN provider is Fastly.');
    const used = (id: string, tokens: number, influenced = false) => ({ id, tokens, influenced });
    const t0 = NOW - 4 * DAY;
    await runs.put(
      runWith('run_1', t0, [
        { model: 'big/model', memories: [used(m1, 120), used(m2, 80), used(m3, 50), used(m4, 60), used(m5, 200)] },
        { model: 'big/model', memories: [used(m1, 120), used(m2, 80, true), used(m4, 60), used(m5, 200)] },
      ]),
    );
    await runs.put(
      runWith('run_2', t0 + DAY, [
        { model: 'big/model', memories: [used(m1, 120), used(m2, 80), used(m3, 50), used(m4, 60)] },
        { model: 'cheap/a', memories: [used(m1, 120), used(m2, 80), used(m4, 60), used(m5, 200)] },
      ]),
    );
    // Before the window: not counted.
    await runs.put(runWith('run_old', NOW - 60 * DAY, [{ model: 'big/model', memories: [used(m3, 50)] }]));

    const r = one((await service.recommendations({})).recommendations, 'unused-memories');
    // m1: 3 × 120 × 0.0000025 + 120 × 0.0000001 = 0.0009 + 0.000012 = 0.000912
    // m5: 2 × 200 × 0.0000025 + 200 × 0.0000001 = 0.001 + 0.00002 = 0.00102
    // m2 influenced once, m3 packed twice in the window, m4 pinned: left out.   Total 0.000912 + 0.00102 = 0.001932
    assert.equal(r.savings, '0.001932');
    assert.equal(r.crew, 'ops');
    assert.equal(r.agent, null);
    assert.equal(r.title, 'ops: archive 2 memories that never influenced an output');
    // tokens: m1 4 × 120 + m5 3 × 200 = 1080
    assert.deepEqual(r.evidence, { memories: 2, packings: 7, tokens: 1080, steps: 4, runs: 2 });
    // Every step packed m1 or m5: 4 steps × $0.01.
    assert.equal(r.spentUsd, 0.04);
    assert.deepEqual(
      r.changes,
      [m1, m5].sort().map((id) => ({ target: `memory:${id}`, field: 'archived', before: false, after: true })),
    );

    const res = await service.apply({ id: r.id });
    assert.equal(res.applied, true);
    assert.ok(res.archiveId);
    assert.equal(store.memories.get(m1), undefined);
    assert.equal(store.memories.get(m5), undefined);
    assert.ok(store.memories.get(m2) && store.memories.get(m3) && store.memories.get(m4));
    const [entry] = await store.archives.list();
    assert.deepEqual(entry!.memoryIds.sort(), [m1, m5].sort());
    assert.deepEqual(kind((await service.recommendations({})).recommendations, 'unused-memories'), []);
    await rejectsWith(service.apply({ id: r.id }), ErrorCodes.Conflict, /already applied/);
    // Lossless: the archive brings them back.
    await archive.restore({ archiveId: res.archiveId });
    assert.equal(store.memories.get(m1)?.content, 'The staging database is called pg-stage-3.');
  });

  // ── shared ───────────────────────────────────────────────────────────

  it('ids are stable across recomputations and windows for the same kind and target', async () => {
    await seedWriter();
    const a = one((await service.recommendations({})).recommendations, 'cheaper-model', 'ops/writer').id;
    const b = one((await service.recommendations({ windowDays: 90 })).recommendations, 'cheaper-model', 'ops/writer');
    assert.equal(b.id, a);
  });

  it('the ledger groups usage by crew, agent and model with the largest call', async () => {
    await call(NOW - 3000, 'big/model', 'ops', 'ops/writer', 100, 10);
    await call(NOW - 2000, 'big/model', 'ops', 'ops/writer', 300, 20);
    await call(NOW - 1000, 'cheap/a', 'ops', 'ops/writer', 50, 5);
    const usage = (await store.ledger.usage({ from: NOW - 2500 })).sort((x, y) => x.model.localeCompare(y.model));
    assert.deepEqual(usage, [
      {
        crew: 'ops',
        agent: 'ops/writer',
        model: 'big/model',
        calls: 1,
        promptTokens: 300,
        completionTokens: 20,
        cachedTokens: 0,
        // 300 × 0.0000025 + 20 × 0.00001 = 0.00095
        costPico: 950_000_000n,
        maxContextTokens: 320,
        maxCompletionTokens: 20,
      },
      {
        crew: 'ops',
        agent: 'ops/writer',
        model: 'cheap/a',
        calls: 1,
        promptTokens: 50,
        completionTokens: 5,
        cachedTokens: 0,
        costPico: 7_000_000n,
        maxContextTokens: 55,
        maxCompletionTokens: 5,
      },
    ]);
  });

  it('params are checked: window 1–365 days, strict fields', () => {
    const list = recommendationSchemas['cost/recommendations'];
    assert.equal(list.safeParse({ windowDays: 30, crew: 'ops', minSavingsUsd: 0.5 }).success, true);
    assert.equal(list.safeParse({ windowDays: 0 }).success, false);
    assert.equal(list.safeParse({ windowDays: 366 }).success, false);
    assert.equal(list.safeParse({ window: 30 }).success, false);
    const apply = recommendationSchemas['cost/applyRecommendation'];
    assert.equal(apply.safeParse({ id: 'rec_x', dryRun: true }).success, true);
    assert.equal(apply.safeParse({}).success, false);
  });
});
