/**
 * Paid embeddings go through the gate and into the ledger like chat (MeteredEmbeddings with a real BudgetService and
 * FileLedger, a stubbed upstream), and a budget's refusal never loses a memory (MemoryService over an OpenRouter
 * embedder over that gate): the memory is kept without a vector and embedded once a budget has room.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, type ModelInfo } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { AlertService } from '../../server/costs/alerts';
import { LocalGate } from '../../server/costs/local-gate';
import { BudgetService } from '../../server/costs/budgets';
import { EMBEDDING_TAG, MeteredEmbeddings } from '../../server/costs/embeddings';
import { DomainError, errors } from '../../server/errors';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { parseModel } from '../../server/models/catalog';
import type { EmbeddingsUpstream } from '../../server/memory/embeddings/openrouter';
import { OpenRouterEmbedder } from '../../server/memory/embeddings/openrouter';
import { MemoryService } from '../../server/memory/service';
import { FileLedger } from '../../server/store/ledger/file-ledger';
import { FileAccessRepository } from '../../server/store/memory/access-store';
import { FileMemoryRepository } from '../../server/store/memory/memory-log';
import { FileVectorRepository } from '../../server/store/memory/vector-file';
import { EMBEDDING_MODELS } from '../fixtures/fake-openrouter';
import { eventually, usd } from '../helpers/harness';
import { MemoryAlerts, MemoryBudgets } from '../helpers/memory-repos';

const MODEL = 'openai/text-embedding-3-small';
const LARGE = 'openai/text-embedding-3-large';
const priced = (id: string): ModelInfo => parseModel(EMBEDDING_MODELS.find((m) => m.id === id))!;
/** $0.00000002 per token = 20,000 picodollars. */
const PRICE = 20_000n;

const isBudgetExceeded = (e: unknown) => e instanceof DomainError && e.code === ErrorCodes.BudgetExceeded;

describe('embeddings through the gate', () => {
  let dir: string;
  let clock: ManualClock;
  let ledger: FileLedger;
  let budgets: BudgetService;
  let events: EventBus;
  let calls: { model: string; input: string[] }[];
  /** What the stub upstream answers with besides vectors (cost in USD, tokens). */
  let answer: { costUsd?: number; promptTokens?: number; fail?: Error };
  let metered: MeteredEmbeddings;

  const upstream: EmbeddingsUpstream = {
    embeddings: async (model, input) => {
      calls.push({ model, input });
      if (answer.fail) throw answer.fail;
      return {
        model,
        vectors: input.map((t) => Array.from({ length: 4 }, (_, i) => (i === t.length % 4 ? 2 : 1))),
        generationId: `gen-${calls.length}`,
        ...(answer.costUsd !== undefined ? { costUsd: answer.costUsd } : {}),
        ...(answer.promptTokens !== undefined ? { promptTokens: answer.promptTokens } : {}),
      };
    },
  };

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-embedding-spend-'));
    clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
    ledger = await FileLedger.open(path.join(dir, 'ledger'));
    events = new EventBus();
    budgets = new BudgetService(
      new MemoryBudgets(),
      new LocalGate(ledger, clock),
      new AlertService(new MemoryAlerts(), events, clock, silentLogger),
      clock,
    );
    await budgets.init();
    calls = [];
    answer = { costUsd: 0.0000002, promptTokens: 10 };
    metered = new MeteredEmbeddings({
      upstream,
      prices: {
        requireEmbedding: async (id) => {
          if (id !== MODEL && id !== LARGE) throw errors.unknownModel(id, []);
          return priced(id);
        },
      },
      budgets,
      events,
      clock,
    });
  });
  afterEach(async () => {
    await ledger.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const status = async (scope: string) => (await budgets.status({ scope }))[0]!;

  it('settles to usage.cost: a ledger row tagged embedding with the crew, and every budget in scope charged', async () => {
    for (const scope of ['global', 'crew:ops', `model:${MODEL}`, 'crew:dev'])
      await budgets.set({ scope, period: 'daily', limitUsd: 1 });
    const recorded: unknown[] = [];
    events.subscribe('usage.recorded', (e) => recorded.push(e));
    await metered.embeddings(MODEL, ['alpha', 'beta gamma'], undefined, { crew: 'ops' });
    const [row] = ledger.list({ limit: 10 }).rows;
    assert.ok(row);
    assert.deepEqual(
      [row.model, row.crew, row.agent, row.tags, row.promptTokens, row.completionTokens, row.cost, row.estimated],
      [MODEL, 'ops', null, [EMBEDDING_TAG], 10, 0, '0.0000002', false],
    );
    assert.equal(row.generationId, 'gen-1');
    assert.equal(recorded.length, 1);
    for (const scope of ['global', 'crew:ops', `model:${MODEL}`]) {
      const s = await status(scope);
      assert.deepEqual([s.spentUsd, s.reservedUsd], [0.0000002, 0], scope);
    }
    assert.equal((await status('crew:dev')).spentUsd, 0, 'another crew pays nothing');
  });

  it("reserves the worst case: every input byte a token at the model's prompt price", async () => {
    const input = ['naïve', 'x'];
    const bytes = BigInt(Buffer.byteLength('naïve') + 1);
    // Room for exactly that worst case: admitted; one picodollar less: refused, nothing sent.
    const { budget } = await budgets.set({ scope: 'crew:ops', period: 'daily', limitUsd: usd(bytes * PRICE) });
    await metered.embeddings(MODEL, input, undefined, { crew: 'ops' });
    // Spent 0.0000002 now; room for the same call again but one picodollar.
    await budgets.set({
      id: budget.id,
      scope: 'crew:ops',
      period: 'daily',
      limitUsd: usd(bytes * PRICE + 200_000n - 1n),
    });
    await assert.rejects(metered.embeddings(MODEL, input, undefined, { crew: 'ops' }), (e: unknown) => {
      assert.ok(isBudgetExceeded(e));
      assert.equal((e as DomainError).data && (e as { data: { requestedUsd: number } }).data.requestedUsd, 0.00000014);
      return true;
    });
    assert.equal(calls.length, 1, 'the refused call was never sent');
  });

  it("a budget without room refuses (BudgetExceeded names it); a downgrade budget refuses too: no other model's vectors", async () => {
    await budgets.set({ scope: 'crew:ops', period: 'daily', limitUsd: 0 });
    await assert.rejects(metered.embeddings(MODEL, ['a'], undefined, { crew: 'ops' }), (e: unknown) => {
      assert.ok(isBudgetExceeded(e));
      assert.equal((e as { data: { scope: string } }).data.scope, 'crew:ops');
      return true;
    });
    await budgets.set({
      scope: `model:${MODEL}`,
      period: 'daily',
      limitUsd: 0,
      action: 'downgrade',
      downgradeTo: 'openai/gpt-4o-mini',
    });
    await assert.rejects(metered.embeddings(MODEL, ['a'], undefined, { crew: 'dev' }), isBudgetExceeded);
    assert.equal(calls.length, 0);
    assert.equal(ledger.count(), 0);
  });

  it('without usage.cost the row is an estimate by the prices; a failed call releases its reservation', async () => {
    await budgets.set({ scope: 'global', period: 'daily', limitUsd: 1 });
    answer = { promptTokens: 7 };
    await metered.embeddings(MODEL, ['abcdefgh'], undefined, { crew: null });
    const [row] = ledger.list({ limit: 1 }).rows;
    assert.deepEqual([row!.estimated, row!.costPico, row!.crew], [true, Number(7n * PRICE), null]);
    answer = { fail: new Error('upstream down') };
    await assert.rejects(metered.embeddings(MODEL, ['x'], undefined, { crew: 'ops' }), /upstream down/);
    assert.equal((await status('global')).reservedUsd, 0);
    assert.equal(ledger.count(), 1, 'nothing was billed, nothing recorded');
  });

  describe('memories when a budget refuses to pay for their vectors', () => {
    let memory: MemoryService;
    let close: () => Promise<void>;

    beforeEach(async () => {
      const memories = await FileMemoryRepository.open(path.join(dir, 'memory'));
      const vectors = await FileVectorRepository.open(path.join(dir, 'vectors'));
      const access = await FileAccessRepository.open(path.join(dir, 'access'));
      const embedder = new OpenRouterEmbedder(MODEL, metered);
      memory = new MemoryService(
        memories,
        vectors,
        access,
        async () => ({ embedder }),
        embedder.id,
        events,
        clock,
        silentLogger,
      );
      memory.init();
      close = async () => {
        await access.close();
        await memories.close();
        await vectors.close();
      };
    });
    afterEach(() => close());

    it('memory/add keeps the memory (no vector, found by text); it is embedded, and charged, once there is room', async () => {
      const { budget } = await budgets.set({ scope: 'crew:ops', period: 'daily', limitUsd: 0 });
      const added = await memory.add({ crew: 'ops', content: 'Postgres vacuum runs nightly at two' });
      assert.equal(added.created, true);
      assert.equal(added.memory.embedding, null);
      assert.equal(calls.length, 0);
      const found = await memory.search({ crew: 'ops', query: 'postgres vacuum' });
      assert.deepEqual(
        found.hits.map((h) => h.memory.id),
        [added.memory.id],
        'text ranking alone finds it',
      );
      // Still no room: the retry (a background job) ends with the memory still waiting, nothing sent.
      memory.embedDeferred();
      assert.ok(memory.reembedProgress(), 'the retry started');
      await eventually(() => memory.reembedProgress() === null, 'the retry to end');
      assert.equal(memory.get(added.memory.id).embedding, null);
      assert.equal(calls.length, 0);

      await budgets.set({ id: budget.id, scope: 'crew:ops', period: 'daily', limitUsd: 1 });
      memory.embedDeferred();
      await eventually(() => memory.get(added.memory.id).embedding, 'the deferred vector');
      assert.equal(memory.get(added.memory.id).embedding?.embedderId, `openrouter:${MODEL}`);
      const rows = ledger.list({ limit: 10 }).rows;
      assert.deepEqual(
        rows.map((r) => [r.crew, r.tags]),
        [['ops', [EMBEDDING_TAG]]],
        'only the call that was sent is in the ledger, charged to ops',
      );
      assert.equal((await status('crew:ops')).spentUsd, 0.0000002);
    });

    it('an update whose new vector is refused drops the stale one; a re-embed charges each crew its own memories', async () => {
      const a = await memory.add({ crew: 'a', content: 'first memory of crew a' });
      await memory.add({ crew: 'b', content: 'first memory of crew b' });
      assert.ok(a.memory.embedding);
      await budgets.set({ scope: 'crew:a', period: 'daily', limitUsd: 0 });
      const updated = await memory.update({ id: a.memory.id, content: 'crew a changed its mind' });
      assert.equal(updated.content, 'crew a changed its mind');
      assert.equal(updated.embedding, null, 'the old content’s vector is not kept for the new content');
      await budgets.set({ scope: 'crew:a', period: 'daily', limitUsd: 1 });
      const before = ledger.count();
      const sent = calls.length;
      // Switching embedders re-embeds every memory in the background, through the gate: one call per crew.
      const large = new OpenRouterEmbedder(LARGE, metered, { batchSize: 8 });
      await memory.switchEmbedder(async () => ({ embedder: large }));
      const ids = memory.list({}).memories.map((m) => m.id);
      await eventually(() => ids.every((id) => memory.get(id).embedding), 'the re-embed');
      assert.ok(ids.every((id) => memory.get(id).embedding?.embedderId === `openrouter:${LARGE}`));
      const rows = ledger.list({ limit: 10 }).rows.filter((r) => r.id > before);
      assert.deepEqual(rows.map((r) => [r.crew, r.model, r.tags]).sort(), [
        ['a', LARGE, [EMBEDDING_TAG]],
        ['b', LARGE, [EMBEDDING_TAG]],
      ]);
      assert.ok(
        calls.slice(sent).every((c) => c.input.length === 1),
        'no call mixes the memories of two crews',
      );
    });

    it('a search whose query embedding is refused ranks on text; other errors still fail it', async () => {
      await memory.add({ crew: 'ops', content: 'the release train leaves on Tuesdays' });
      await budgets.set({ scope: 'global', period: 'daily', limitUsd: 0 });
      const r = await memory.search({ crew: 'ops', query: 'release train' });
      assert.equal(r.hits.length, 1);
      const ctx = await memory.context({ crew: 'ops', query: 'release train', maxTokens: 100 });
      assert.equal(ctx.memories.length, 1);
      await budgets.set({ scope: 'global', period: 'daily', limitUsd: 1 });
      answer = { fail: new Error('upstream down') };
      await assert.rejects(memory.search({ crew: 'ops', query: 'release' }), /upstream down/);
    });
  });
});
