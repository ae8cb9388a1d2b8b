/**
 * Embedding calls through OpenRouter (`openrouter:<model>` embedder) are money like chat calls, through the real
 * server against the fake: each is reserved against the budgets in scope (global, the crew whose memory or query is
 * embedded, the model), settled to OpenRouter's `usage.cost` and recorded in the ledger (tag `embedding`, the
 * crew), so reports and budgets see it. A budget that refuses never loses a memory: it is stored without a vector
 * and found by text; nothing is sent. A background re-embed (embedder switch) is charged crew by crew.
 */
import assert from 'node:assert/strict';
import type {
  BudgetAlerts,
  BudgetSet,
  BudgetStatus,
  CostReport,
  LedgerList,
  MemoryAdd,
  MemoryEmbedder,
  MemorySearch,
} from '../../protocol';
import { countTokens, exactCost } from '../fixtures/fake-openrouter';
import { eventually, pico, useFake, useServer } from '../helpers';

const SMALL = 'openai/text-embedding-3-small';
const LARGE = 'openai/text-embedding-3-large';

describe('embedding spend (real server, openrouter embedder, socket)', function () {
  this.timeout(30_000);
  const up = useFake();
  const s = useServer(() => ({
    transport: 'socket',
    upstreamUrl: up.fake.url,
    env: { CREW_EMBEDDER: `openrouter:${SMALL}` },
  }));
  const embeddingCalls = () => up.fake.requests.filter((r) => r.path.endsWith('/embeddings')).length;
  const ledger = async (crew: string) =>
    (await s.client.request<LedgerList.Result>('ledger/list', { crew, limit: 100 })).entries.reverse();

  it('memory/add and memory/search are paid calls: in the ledger for the crew at usage.cost, in reports and budgets', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'global',
      period: 'total',
      limitUsd: 1,
    });
    const content = 'The nightly export moved to the reporting replica';
    const added = await s.client.request<MemoryAdd.Result>('memory/add', { crew: 'docs', content });
    assert.equal(added.memory.embedding?.embedderId, `openrouter:${SMALL}`);
    const query = 'where does the export run?';
    const found = await s.client.request<MemorySearch.Result>('memory/search', { crew: 'docs', query });
    assert.equal(found.hits[0]?.memory.id, added.memory.id);

    const rows = await ledger('docs');
    const gens = [...up.fake.generations.values()].filter((g) => g.apiType === 'embeddings');
    assert.deepEqual(
      rows.map((r) => [
        r.model,
        r.crew,
        r.agent,
        r.tags,
        r.usage.promptTokens,
        r.cost,
        r.costEstimated,
        r.generationId,
      ]),
      [
        [
          SMALL,
          'docs',
          null,
          ['embedding'],
          countTokens(content),
          exactCost(SMALL, countTokens(content), 0),
          false,
          gens[0]!.id,
        ],
        [
          SMALL,
          'docs',
          null,
          ['embedding'],
          countTokens(query),
          exactCost(SMALL, countTokens(query), 0),
          false,
          gens[1]!.id,
        ],
      ],
    );
    const spent = rows.reduce((a, r) => a + pico(r.cost), 0n);
    const byModel = await s.client.request<CostReport.Result>('cost/report', { by: 'model' });
    assert.deepEqual(
      byModel.rows.filter((r) => r.key === SMALL).map((r) => [r.calls, pico(r.costUsd)]),
      [[2, spent]],
    );
    const byCrew = await s.client.request<CostReport.Result>('cost/report', { by: 'crew' });
    assert.equal(pico(byCrew.rows.find((r) => r.key === 'docs')!.costUsd), spent);
    const st = (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id: budget.id })).budgets[0]!;
    assert.equal(pico(st.spentUsd), spent);
    assert.equal(st.reservedUsd, 0);
  });

  it('a crew budget without room: the memory is kept (no vector, found by text), nothing is sent, the alert says why', async () => {
    const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:tight',
      period: 'daily',
      limitUsd: 0,
    });
    const before = embeddingCalls();
    const added = await s.client.request<MemoryAdd.Result>('memory/add', {
      crew: 'tight',
      content: 'Rotate the staging certificates before Friday',
    });
    assert.equal(added.created, true);
    assert.equal(added.memory.embedding, null);
    const found = await s.client.request<MemorySearch.Result>('memory/search', {
      crew: 'tight',
      query: 'staging certificates',
    });
    assert.deepEqual(
      found.hits.map((h) => h.memory.id),
      [added.memory.id],
    );
    assert.equal(embeddingCalls(), before, 'a refused embedding is never sent');
    assert.deepEqual(await ledger('tight'), []);
    const { alerts } = await s.client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
    assert.ok(
      alerts.some((a) => a.kind === 'blocked'),
      JSON.stringify(alerts),
    );
  });

  it('switching the embedder re-embeds in the background through the gate, charged crew by crew', async () => {
    await s.client.request('budget/set', { scope: 'crew:tight', period: 'daily', limitUsd: 1 });
    const before = (await s.client.request<LedgerList.Result>('ledger/list', { limit: 1 })).entries[0]?.id ?? 0;
    await s.client.request<MemoryEmbedder.Result>('memory/embedder', { set: `openrouter:${LARGE}` });
    await eventually(async () => {
      const e = await s.client.request<MemoryEmbedder.Result>('memory/embedder', {});
      return e.embedded === e.total && e.reembedding === null;
    }, 'the re-embed to finish');
    const rows = (await s.client.request<LedgerList.Result>('ledger/list', { limit: 100 })).entries.filter(
      (r) => r.id > before && r.model === LARGE,
    );
    assert.deepEqual(rows.map((r) => r.crew).sort(), ['docs', 'tight']);
    assert.ok(rows.every((r) => r.tags.includes('embedding') && pico(r.cost) > 0n));
  });
});
