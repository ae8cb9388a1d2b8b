/**
 * chat/complete through the real server, over stdio, socket and HTTP, against the fake OpenRouter: the ledger
 * records OpenRouter's exact `usage.cost` (streamed or not), progress reaches the client, upstream failures map
 * to their codes, retries honour Retry-After, and a cancel aborts upstream and releases the reservation.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ErrorCodes } from '../../protocol';
import type {
  BudgetStatus,
  CostReport,
  ChatComplete,
  LedgerEntry,
  LedgerList,
  ModelsList,
  ProgressNotification,
} from '../../protocol';
import { CHAT_MODELS, exactCost, promptTokensOf } from '../fixtures/fake-openrouter';
import {
  ClientAborted,
  eventually,
  makeTempDir,
  forEachTransport,
  pico,
  rpcError,
  RpcFailure,
  USER,
  useFake,
  useServer,
  type RpcClient,
} from '../helpers';

const MODEL = 'openai/gpt-4o-mini';

forEachTransport((transport) => {
  describe(`chat/complete (${transport})`, function () {
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url }));
    let n = 0;
    /** A crew name per test, so ledger/list can find exactly that test's rows on the shared server. */
    const crew = () => `c${++n}-${transport}`;

    before(async () => {
      // A budget in scope of every call, so reservations are visible in budget/status.
      await s.client.request('budget/set', { scope: 'global', period: 'total', limitUsd: 1000 });
    });

    const reserved = async (c: RpcClient = s.client) =>
      (await c.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: 'global' })).budgets[0]!.reservedUsd;
    const rowsOf = async (crewId: string) =>
      (await s.client.request<LedgerList.Result>('ledger/list', { crew: crewId })).entries;
    const chatRequests = () => up.fake.requests.filter((r) => r.path.endsWith('/chat/completions')).length;

    it('non-streamed: the ledger row has the model, tokens and exactly the cost OpenRouter reported', async () => {
      const messages = USER('What does the budget gate do before a call?');
      const c = crew();
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MODEL,
        messages,
        maxTokens: 64,
        crew: c,
      });
      const gen = up.fake.generations.get(r.generationId!);
      assert.ok(gen, `the fake has no generation ${r.generationId}`);
      const expected = exactCost(MODEL, gen.promptTokens, gen.completionTokens);
      assert.equal(gen.promptTokens, promptTokensOf(messages).tokens);
      assert.equal(r.cost, expected);
      assert.equal(r.costEstimated, false);
      assert.equal(r.content.split(' ').length, gen.completionTokens);

      const rows = await rowsOf(c);
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.id, r.ledgerId);
      assert.equal(row.model, MODEL);
      assert.equal(row.generationId, gen.id);
      assert.equal(row.status, 'ok');
      assert.equal(row.stream, false);
      assert.equal(row.costEstimated, false);
      assert.deepEqual([row.usage.promptTokens, row.usage.completionTokens], [gen.promptTokens, gen.completionTokens]);
      assert.equal(row.cost, expected, 'ledger cost must be OpenRouter usage.cost, exactly');
      assert.equal(pico(row.costUsd), pico(expected));
      assert.equal(await reserved(), 0);
      // Every connected client hears about the call.
      const recorded = await s.client.notifications.waitFor<LedgerEntry>('usage/recorded', (e) => e.id === r.ledgerId);
      assert.deepEqual(recorded, row);
    });

    it('streamed: cost from the final usage chunk, and $/progress deltas for the progressToken', async () => {
      up.fake.behave({ completionTokens: 9 });
      const token = `progress-${transport}`;
      const c = crew();
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: 'mistralai/mistral-nemo',
        messages: USER('stream me the words of this sentence please'),
        stream: true,
        progressToken: token,
        crew: c,
      });
      const gen = up.fake.generations.get(r.generationId!)!;
      assert.ok(gen.streamed);
      const expected = exactCost('mistralai/mistral-nemo', gen.promptTokens, 9);
      assert.equal(r.cost, expected);
      const progress = await s.client.notifications.waitForCount<ProgressNotification.Params<ChatComplete.Progress>>(
        '$/progress',
        9,
        (p) => p.token === token,
      );
      assert.equal(progress.length, 9);
      assert.deepEqual(
        progress.map((p) => p.value.completionTokens),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.ok(progress.every((p) => p.value.kind === 'delta'));
      assert.equal(progress.map((p) => p.value.text).join(''), r.content);

      const [row] = await rowsOf(c);
      assert.equal(row!.stream, true);
      assert.equal(row!.status, 'ok');
      assert.equal(row!.cost, expected);
      assert.equal(row!.costEstimated, false);
      assert.equal(row!.generationId, gen.id);
      assert.equal(row!.usage.completionTokens, 9);
    });

    it('a mid-stream error answers UpstreamStreamError, records an error row and releases the reservation', async () => {
      up.fake.behave({ midStreamErrorAfterChunks: 3, completionTokens: 10 });
      const c = crew();
      const e = await rpcError(
        s.client.request('chat/complete', { model: MODEL, messages: USER('fail midway'), stream: true, crew: c }),
        ErrorCodes.UpstreamStreamError,
      );
      assert.match(e.message, /stream/i);
      const rows = await rowsOf(c);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.status, 'error');
      assert.equal(rows[0]!.usage.completionTokens, 3, 'the 3 chunks that were generated are accounted for');
      assert.equal(await reserved(), 0);
    });

    it('402 → UpstreamPaymentRequired with a message that says what to do', async () => {
      up.fake.behave({ fail: { status: 402 } });
      const e = await rpcError(
        s.client.request('chat/complete', { model: MODEL, messages: USER('hi') }),
        ErrorCodes.UpstreamPaymentRequired,
      );
      assert.match(e.message, /credits/i);
      assert.match(e.message, /add credits/i);
      assert.equal((e.data as { status: number }).status, 402);
      assert.equal(await reserved(), 0);
    });

    it('403 → UpstreamForbidden', async () => {
      up.fake.behave({ fail: { status: 403 } });
      const e = await rpcError(
        s.client.request('chat/complete', { model: MODEL, messages: USER('hi') }),
        ErrorCodes.UpstreamForbidden,
      );
      assert.match(e.message, /403/);
      assert.equal((e.data as { status: number }).status, 403);
    });

    it('429 with Retry-After: 1 once → retried after the wait, and the call succeeds', async () => {
      up.fake.behave({ fail: { status: 429, times: 1, retryAfterSeconds: 1 } });
      const before = chatRequests();
      const started = performance.now();
      const r = await s.client.request<ChatComplete.Result>('chat/complete', { model: MODEL, messages: USER('hi') });
      const elapsed = performance.now() - started;
      assert.equal(r.costEstimated, false);
      assert.equal(chatRequests() - before, 2, 'one refused attempt, one retry');
      assert.ok(elapsed >= 950, `the retry came after ${Math.round(elapsed)} ms, before Retry-After (1 s)`);
    });

    it('429 always with a long Retry-After → UpstreamRateLimited with data.retryAfterMs, without waiting', async () => {
      up.fake.behave({ fail: { status: 429, times: Infinity, retryAfterSeconds: 120 } });
      const before = chatRequests();
      const e = await rpcError(
        s.client.request('chat/complete', { model: MODEL, messages: USER('hi') }),
        ErrorCodes.UpstreamRateLimited,
      );
      assert.equal((e.data as { retryAfterMs: number }).retryAfterMs, 120_000);
      assert.match(e.message, /120 s/);
      assert.equal(chatRequests() - before, 1, 'a wait longer than the limit is not attempted');
      assert.equal(await reserved(), 0);
    });

    it('cancel mid-stream → RequestCancelled, upstream aborted, reservation released, ledger row cancelled', async function () {
      this.timeout(20_000);
      up.fake.behave({ chunkDelayMs: 150, completionTokens: 60 });
      const token = `cancel-${transport}`;
      const c = crew();
      const abortedBefore = up.fake.aborted;
      const ac = new AbortController();
      const call = s.client.request(
        'chat/complete',
        {
          model: MODEL,
          messages: USER('a long slow answer please'),
          stream: true,
          maxTokens: 200,
          progressToken: token,
          crew: c,
        },
        { signal: ac.signal },
      );
      const outcome = call.then(
        () => new Error('the call was not cancelled'),
        (e: unknown) => e,
      );
      await s.client.notifications.waitFor<ProgressNotification.Params>('$/progress', (p) => p.token === token);
      assert.ok((await reserved()) > 0, 'while the stream runs, its worst case is reserved');
      ac.abort();
      const err = await outcome;
      if (transport === 'http') {
        // Closing the HTTP request is the cancel; the answer cannot be seen, the server's effects can.
        assert.ok(err instanceof ClientAborted, String(err));
      } else {
        assert.ok(err instanceof RpcFailure, String(err));
        assert.equal(err.code, ErrorCodes.RequestCancelled);
      }
      await eventually(() => up.fake.aborted > abortedBefore, 'the fake to see the upstream request aborted');
      const row = await eventually(async () => (await rowsOf(c))[0], 'the cancelled call in the ledger');
      assert.equal(row.status, 'cancelled');
      assert.ok(row.usage.completionTokens < 60);
      await eventually(async () => (await reserved()) === 0, 'the reservation to be released');
      assert.equal(up.fake.openStreams(), 0);
    });

    it('the ledger lists the calls newest first with their status', async () => {
      const all = await s.client.request<LedgerList.Result>('ledger/list', { limit: 100 });
      assert.ok(all.total >= 6);
      const ids = all.entries.map((e: LedgerEntry) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => b - a),
      );
      const errors = await s.client.request<LedgerList.Result>('ledger/list', { status: 'error' });
      assert.ok(errors.entries.every((e) => e.status === 'error'));
      const page = await s.client.request<LedgerList.Result>('ledger/list', { limit: 2, before: ids[1] });
      assert.deepEqual(
        page.entries.map((e) => e.id),
        ids.slice(2, 4),
        'paging backwards by id',
      );
    });

    it('cost/report adds up to the ledger, exactly, and exports CSV', async () => {
      const all = (await s.client.request<LedgerList.Result>('ledger/list', { limit: 1000 })).entries;
      const report = await s.client.request<CostReport.Result>('cost/report', { by: 'model', format: 'csv' });
      assert.equal(report.total.calls, all.length);
      const exact = all.reduce((a, e) => a + pico(e.cost), 0n);
      assert.equal(pico(report.total.costUsd), exact);
      assert.equal(
        report.rows.reduce((a, r) => a + pico(r.costUsd), 0n),
        exact,
      );
      const nemo = report.rows.find((r) => r.key === 'mistralai/mistral-nemo')!;
      assert.equal(nemo.calls, all.filter((e) => e.model === 'mistralai/mistral-nemo').length);
      assert.match(report.csv ?? '', /^model,calls,prompt_tokens,completion_tokens,cost_usd,/);
      assert.match(report.csv ?? '', /\nTOTAL,/);
    });
  });
});

describe('chat/complete takes the cost from usage.cost, not from prices × tokens (socket)', function () {
  const up = useFake();
  // The server's cached catalog says gpt-4o-mini costs 10× what the fake charges (as when OpenRouter's price for
  // a call differs from the list price): only usage.cost gives the fake's figure.
  const dataDir = makeTempDir();
  before(async () => {
    const models = CHAT_MODELS.map((m) =>
      m.id === MODEL ? { ...m, pricing: { ...m.pricing, prompt: '0.0000015', completion: '0.000006' } } : m,
    );
    await fsp.mkdir(path.join(dataDir, 'store'), { recursive: true });
    await fsp.writeFile(
      path.join(dataDir, 'store', 'models-cache.json'),
      JSON.stringify({ fetchedAt: new Date().toISOString(), models }),
    );
  });
  const s = useServer(() => ({ transport: 'socket', dataDir, upstreamUrl: up.fake.url }));

  for (const stream of [false, true])
    it(`${stream ? 'streamed' : 'non-streamed'}: the ledger cost is exactly the fake's usage.cost`, async () => {
      const listed = await s.client.request<ModelsList.Result>('models/list', { search: MODEL });
      assert.deepEqual(
        [listed.source, listed.models[0]!.pricing.prompt],
        ['cache', '0.0000015'],
        'the seeded catalog is used',
      );
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MODEL,
        messages: USER('price check'),
        stream,
      });
      const gen = up.fake.generations.get(r.generationId!)!;
      const charged = exactCost(MODEL, gen.promptTokens, gen.completionTokens);
      const listPrice = pico('0.0000015') * BigInt(gen.promptTokens) + pico('0.000006') * BigInt(gen.completionTokens);
      assert.notEqual(pico(charged), listPrice, 'the set-up must make the two figures differ');
      assert.equal(r.cost, charged);
      assert.equal(pico(r.costUsd), pico(charged));
      const row = (await s.client.request<LedgerList.Result>('ledger/list', { limit: 1 })).entries[0]!;
      assert.equal(row.id, r.ledgerId);
      assert.equal(row.cost, charged);
      assert.equal(pico(row.costUsd), pico(charged), 'the figure budgets and reports add up is the charged one too');
      assert.equal(row.costEstimated, false);
    });
});

describe('cached and reasoning tokens reach the ledger and reports (socket)', function () {
  const up = useFake();
  const s = useServer(() => ({ transport: 'socket', upstreamUrl: up.fake.url }));

  it('a cached system prompt (read, after the write) and a reasoning model: exact tokens and cost, streamed or not', async () => {
    const HAIKU = 'anthropic/claude-3.5-haiku';
    const SONNET = 'anthropic/claude-sonnet-4';
    const system = 'You review pull requests for the payments team. Be strict about money arithmetic.';
    const messages = [
      { role: 'system' as const, content: system },
      { role: 'user' as const, content: 'Is integer cents arithmetic enough here?' },
    ];
    const prefix = promptTokensOf([messages[0]!]).tokens;
    const prompt = promptTokensOf(messages).tokens;
    const call = (model: string, stream: boolean, crew: string) =>
      s.client.request<ChatComplete.Result>('chat/complete', {
        model,
        messages,
        maxTokens: 100,
        stream,
        crew,
        cacheSystemPrompt: true,
      });
    const write = await call(HAIKU, false, 'cache');
    const read = await call(HAIKU, false, 'cache');
    const readStreamed = await call(HAIKU, true, 'cache');
    up.fake.behave({ completionTokens: 30 });
    const reasoned = await call(SONNET, false, 'think');
    const reasonedStreamed = await call(SONNET, true, 'think');
    up.fake.behave({});

    assert.deepEqual(
      [write, read, readStreamed, reasoned, reasonedStreamed].map((r) => [
        r.usage.cachedTokens,
        r.usage.reasoningTokens,
      ]),
      [
        [0, 0],
        [prefix, 0],
        [prefix, 0],
        // Sonnet's cache (a cache write) is its first use; 30 completion tokens, a quarter of them reasoning.
        [0, 7],
        [prefix, 7],
      ],
    );
    assert.equal(write.cost, exactCost(HAIKU, prompt, 16, 0, { write: prefix }));
    assert.equal(read.cost, exactCost(HAIKU, prompt, 16, 0, { read: prefix }));
    assert.equal(readStreamed.cost, read.cost);
    assert.equal(reasonedStreamed.cost, exactCost(SONNET, prompt, 30, 0, { read: prefix }));

    const rows = (await s.client.request<LedgerList.Result>('ledger/list', { limit: 5 })).entries.reverse();
    assert.deepEqual(
      rows.map((r) => [r.model, r.stream, r.usage.cachedTokens, r.usage.reasoningTokens, r.cost]),
      [write, read, readStreamed, reasoned, reasonedStreamed].map((r, i) => [
        r.model,
        i === 2 || i === 4,
        r.usage.cachedTokens,
        r.usage.reasoningTokens,
        r.cost,
      ]),
    );
    // The generation OpenRouter recorded agrees with the ledger.
    assert.equal(up.fake.generations.get(read.generationId!)!.cachedTokens, prefix);
    assert.equal(up.fake.generations.get(reasoned.generationId!)!.reasoningTokens, 7);

    const report = await s.client.request<CostReport.Result>('cost/report', { by: 'crew', format: 'csv' });
    const byCrew = Object.fromEntries(report.rows.map((r) => [r.key, [r.cachedTokens, r.reasoningTokens]]));
    assert.deepEqual(byCrew, { cache: [2 * prefix, 0], think: [prefix, 14] });
    assert.deepEqual([report.total.cachedTokens, report.total.reasoningTokens], [3 * prefix, 14]);
    assert.match(report.csv!, /,cached_tokens,reasoning_tokens\n/);
    assert.match(report.csv!, new RegExp(`\\nTOTAL,5,.*,${3 * prefix},14\\n`));
  });
});
