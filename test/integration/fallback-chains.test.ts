/**
 * Fallback chains (OpenRouter's `models`) against the real server and the fake OpenRouter, on the local store and
 * on PostgreSQL: a call whose first model is down is answered by the next one; it reserved the largest worst case
 * over the chain on the model budgets of every model in it while in flight, and settled to the model that answered
 * (the ledger row names it, its cost is the fake's `usage.cost`, only that model's budget counts it). A fallback's
 * budget without room refuses the call before anything is sent; retries stay inside the one reservation; the
 * gateway takes `models` the same way, streamed or not.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { BudgetSet, BudgetStatus, ChatComplete, LedgerList } from '../../protocol';
import { estimatePromptTokens } from '../../server/costs/estimate';
import { parseUsd } from '../../server/costs/money';
import { CHAT_MODELS } from '../fixtures/fake-openrouter';
import { eventually, pico, rpcError, USER, useFake, useServer, usd } from '../helpers';
import { readSse } from '../helpers/rpc';
import { createTestDatabase } from '../helpers/postgres';

// The first is the cheap one: the chain's worst case is the fallback's, which a reservation on `model` alone misses.
const MINI = CHAT_MODELS.find((m) => m.id === 'openai/gpt-4o-mini')!;
const HAIKU = CHAT_MODELS.find((m) => m.id === 'anthropic/claude-3.5-haiku')!;
const NEMO = CHAT_MODELS.find((m) => m.id === 'mistralai/mistral-nemo')!;
const GPT4O = CHAT_MODELS.find((m) => m.id === 'openai/gpt-4o')!;

/** The worst case of a call to `model` with these messages and `n` completion tokens, as the server prices it. */
const worst = (model: (typeof CHAT_MODELS)[number], messages: ReturnType<typeof USER>, n: number) =>
  parseUsd(model.pricing.prompt) * BigInt(estimatePromptTokens(messages)) +
  parseUsd(model.pricing.completion) * BigInt(n) +
  parseUsd(model.pricing.request ?? '0');

for (const store of ['local', 'postgres'] as const)
  describe(`fallback chains (${store} store)`, function () {
    this.timeout(60_000);
    const up = useFake();
    let db: { url: string; drop(): Promise<void> } | undefined;
    before(async function () {
      this.timeout(60_000);
      if (store === 'postgres') db = await createTestDatabase('crew_fallbacks');
    });
    after(async () => db?.drop());
    const s = useServer(() => ({
      transport: 'http',
      upstreamUrl: up.fake.url,
      args: ['--rate-limit', '0', ...(db ? ['--store', db.url] : [])],
    }));

    const budget = async (scope: string, limitUsd: number) =>
      (await s.client.request<BudgetSet.Result>('budget/set', { scope, period: 'total', limitUsd })).budget.id;
    const figures = async (ids: Record<string, string>) => {
      const out: Record<string, { spent: bigint; reserved: bigint }> = {};
      for (const [name, id] of Object.entries(ids)) {
        const [b] = (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id })).budgets;
        out[name] = { spent: pico(b!.spentUsd), reserved: pico(b!.reservedUsd) };
      }
      return out;
    };
    const chatBodies = () =>
      up.fake.requests
        .filter((r) => r.path.endsWith('/chat/completions'))
        .map((r) => r.body as { model?: string; models?: string[]; max_tokens?: number });
    const lastRow = async (crew: string) =>
      (await s.client.request<LedgerList.Result>('ledger/list', { crew, limit: 1 })).entries[0]!;

    it('the second model answers: the chain was reserved on both model budgets, the cost counts on the one that answered', async () => {
      const ids = {
        crew: await budget('crew:fb', 1),
        mini: await budget(`model:${MINI.id}`, 1),
        haiku: await budget(`model:${HAIKU.id}`, 1),
      };
      const messages = USER('Summarise the incident report');
      const w = worst(HAIKU, messages, 100);
      assert.ok(w > worst(MINI, messages, 100), 'the fallback is the dearer model');
      up.fake.behave({ unavailableModels: [MINI.id], latencyMs: 600 });
      const call = s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [HAIKU.id],
        messages,
        maxTokens: 100,
        crew: 'fb',
      });
      const during = await eventually(async () => {
        const f = await figures(ids);
        return f.crew!.reserved > 0n ? f : undefined;
      }, 'the reservation while the call is in flight');
      // The largest worst case over the chain, held once on every budget in scope of any model of it.
      assert.deepEqual(
        Object.values(during).map((f) => f.reserved),
        [w, w, w],
      );

      const r = await call;
      assert.equal(r.model, HAIKU.id, 'the model that answered');
      assert.equal(r.requestedModel, MINI.id);
      assert.equal(r.downgradedBy, null);
      const sent = chatBodies().at(-1)!;
      assert.equal(sent.model, MINI.id);
      assert.deepEqual(sent.models, [MINI.id, HAIKU.id], 'OpenRouter was sent the chain');
      const gen = up.fake.generations.get(r.generationId!)!;
      assert.equal(gen.model, HAIKU.id);
      assert.equal(pico(r.cost), pico(gen.cost), "the cost is OpenRouter's usage.cost for the model that answered");

      const row = await lastRow('fb');
      assert.equal(row.id, r.ledgerId);
      assert.equal(row.model, HAIKU.id, 'the ledger row names the model that answered');
      assert.equal(pico(row.cost), pico(gen.cost));
      assert.equal(row.costEstimated, false);

      const after = await figures(ids);
      assert.deepEqual(
        Object.values(after).map((f) => f.reserved),
        [0n, 0n, 0n],
        'the reservation came off everything it was held on',
      );
      assert.equal(after.crew!.spent, pico(gen.cost));
      assert.equal(after.haiku!.spent, pico(gen.cost), 'the answering model counts the cost');
      assert.equal(after.mini!.spent, 0n, 'the model that did not answer counts nothing');
    });

    it('streamed: the chunks name the model that answered, and so does the ledger', async () => {
      up.fake.behave({ unavailableModels: [MINI.id] });
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [MINI.id, HAIKU.id],
        messages: USER('Stream it'),
        maxTokens: 50,
        stream: true,
        crew: 'fbstream',
      });
      assert.equal(r.model, HAIKU.id);
      assert.deepEqual(chatBodies().at(-1)!.models, [MINI.id, HAIKU.id], 'model repeated in models is sent once');
      const gen = up.fake.generations.get(r.generationId!)!;
      assert.equal(gen.streamed, true);
      const row = await lastRow('fbstream');
      assert.equal(row.model, HAIKU.id);
      assert.equal(pico(row.cost), pico(gen.cost));
    });

    it('without maxTokens, the chain asks for the least completion limit over it and reserves the dearest', async () => {
      const crew = await budget('crew:fbdefault', 5);
      const messages = USER('How long may you answer?');
      up.fake.behave({ latencyMs: 400 });
      const call = s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [HAIKU.id],
        messages,
        crew: 'fbdefault',
      });
      const during = await eventually(async () => {
        const f = await figures({ crew });
        return f.crew!.reserved > 0n ? f : undefined;
      }, 'the reservation');
      // gpt-4o-mini takes 16,384 completion tokens, haiku 8,192: one max_tokens goes for both.
      assert.equal(during.crew!.reserved, worst(HAIKU, messages, 8192));
      const r = await call;
      assert.equal(r.model, MINI.id, 'the first model answered (nothing was down)');
      assert.equal(chatBodies().at(-1)!.max_tokens, 8192);
      assert.equal((await lastRow('fbdefault')).model, MINI.id);
    });

    it('a fallback whose model budget has no room refuses the call before anything is sent, naming that budget', async () => {
      const messages = USER('Refuse me');
      // Room for the first model's worst case, not for the chain's (the dearer fallback's).
      await budget(`model:${GPT4O.id}`, usd(worst(MINI, messages, 100)));
      const before = up.fake.requests.length;
      const e = await rpcError(
        s.client.request('chat/complete', { model: MINI.id, models: [GPT4O.id], messages, maxTokens: 100 }),
        ErrorCodes.BudgetExceeded,
      );
      assert.equal((e.data as { scope: string }).scope, `model:${GPT4O.id}`);
      assert.equal(pico((e.data as { requestedUsd: number }).requestedUsd), worst(GPT4O, messages, 100));
      assert.equal(up.fake.requests.length, before, 'nothing went upstream');
      const [held] = (
        await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: `model:${GPT4O.id}` })
      ).budgets;
      assert.equal(held!.reservedUsd, 0);
      // Without that fallback the call goes.
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        messages,
        maxTokens: 100,
      });
      assert.equal(r.model, MINI.id);
    });

    it("a fallback's fit budget lowers max_tokens for the whole chain; a downgrade sends the call to its target alone", async () => {
      const messages = USER('Fit the chain');
      // Room for 60 completion tokens of the dearer model, the fallback.
      await s.client.request('budget/set', {
        scope: 'crew:fbfit',
        period: 'total',
        limitUsd: usd(worst(HAIKU, messages, 60)),
        action: 'fit',
      });
      up.fake.behave({ unavailableModels: [MINI.id] });
      const fitted = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [HAIKU.id],
        messages,
        maxTokens: 500,
        crew: 'fbfit',
      });
      assert.equal(fitted.fittedMaxTokens, 60, "fitted to the chain's dearest worst case");
      assert.equal(fitted.model, HAIKU.id);
      assert.deepEqual(chatBodies().at(-1)!.models, [MINI.id, HAIKU.id]);
      assert.equal(chatBodies().at(-1)!.max_tokens, 60);

      // Room for the first model's worst case, not the chain's: the budget downgrades the call to mistral-nemo.
      await s.client.request('budget/set', {
        scope: 'crew:fbdown',
        period: 'total',
        limitUsd: usd(worst(MINI, messages, 100)),
        action: 'downgrade',
        downgradeTo: NEMO.id,
      });
      up.fake.behave({});
      const down = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [HAIKU.id],
        messages,
        maxTokens: 100,
        crew: 'fbdown',
      });
      assert.equal(down.model, NEMO.id);
      assert.equal(down.requestedModel, MINI.id);
      assert.ok(down.downgradedBy);
      const sent = chatBodies().at(-1)!;
      assert.equal(sent.model, NEMO.id);
      assert.equal(sent.models, undefined, 'a downgraded call goes to its target alone');
      assert.equal((await lastRow('fbdown')).model, NEMO.id);
    });

    it('retries of the call (a 503, then the fallback answers) stay inside its one reservation', async () => {
      const crew = await budget('crew:fbretry', 1);
      const messages = USER('Try again');
      const w = worst(HAIKU, messages, 64);
      const requestsBefore = chatBodies().length;
      up.fake.behave({
        unavailableModels: [MINI.id],
        fail: { status: 503, times: 1, retryAfterSeconds: 0.2 },
        latencyMs: 300,
      });
      const call = s.client.request<ChatComplete.Result>('chat/complete', {
        model: MINI.id,
        models: [HAIKU.id],
        messages,
        maxTokens: 64,
        crew: 'fbretry',
      });
      let done = false;
      void call.finally(() => (done = true)).catch(() => undefined);
      const seen = new Set<bigint>();
      while (!done) {
        seen.add((await figures({ crew })).crew!.reserved);
        await new Promise((r) => setTimeout(r, 25));
      }
      const r = await call;
      assert.equal(chatBodies().length - requestsBefore, 2, 'the call was sent twice (one retry)');
      assert.ok(seen.has(w), 'the reservation was held');
      for (const x of seen) assert.ok(x === 0n || x === w, `reserved ${x}: only ever the one reservation (${w})`);
      assert.equal(r.model, HAIKU.id);
      const { entries } = await s.client.request<LedgerList.Result>('ledger/list', { crew: 'fbretry' });
      assert.equal(entries.length, 1, 'one ledger row for the call and its retry');
      const f = await figures({ crew });
      assert.equal(f.crew!.reserved, 0n);
      assert.equal(f.crew!.spent, pico(r.cost));
    });

    it('a chain of more than three models, or an unknown fallback, is refused naming it', async () => {
      const e = await rpcError(
        s.client.request('chat/complete', {
          model: MINI.id,
          models: [HAIKU.id, NEMO.id, GPT4O.id],
          messages: USER('x'),
        }),
        ErrorCodes.InvalidParams,
      );
      assert.match(e.message, /models: a fallback chain holds at most 3 models/);
      await rpcError(
        s.client.request('chat/complete', { model: MINI.id, models: ['acme/imaginary-1'], messages: USER('x') }),
        ErrorCodes.UnknownModel,
      );
    });

    it('the gateway: a body with models (and no model) reserves the chain and answers with the model that answered', async () => {
      const base = await s.server.httpBase();
      const token = await s.server.token();
      const haiku = await budget(`model:${HAIKU.id}`, 1);
      up.fake.behave({ unavailableModels: [MINI.id] });
      for (const stream of [false, true]) {
        const spentBefore = (await figures({ haiku })).haiku!.spent;
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-crew-id': 'fbgw' },
          body: JSON.stringify({
            models: [MINI.id, HAIKU.id],
            messages: USER('Through the gateway'),
            max_tokens: 40,
            stream,
          }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        const models: string[] = [];
        let cost: number | undefined;
        if (stream) {
          await readSse(res.body!, {
            onEvent: (_event, data) => {
              if (data === '[DONE]') return;
              const chunk = JSON.parse(data) as { model: string; usage?: { cost: number } };
              models.push(chunk.model);
              if (chunk.usage) cost = chunk.usage.cost;
            },
          });
        } else {
          const body = (await res.json()) as {
            model: string;
            usage: { cost: number };
            crew: { requested_model: string };
          };
          models.push(body.model);
          cost = body.usage.cost;
          assert.equal(body.crew.requested_model, MINI.id);
        }
        assert.ok(models.length > 0 && models.every((m) => m === HAIKU.id), `chunks named ${models.join(', ')}`);
        assert.deepEqual(chatBodies().at(-1)!.models, [MINI.id, HAIKU.id]);
        const row = await lastRow('fbgw');
        assert.equal(row.model, HAIKU.id);
        assert.equal(pico(row.cost), pico(cost!));
        const f = await figures({ haiku });
        assert.equal(f.haiku!.spent - spentBefore, pico(cost!));
        assert.equal(f.haiku!.reserved, 0n);
      }
    });
  });
