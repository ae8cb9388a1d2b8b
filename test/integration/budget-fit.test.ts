/**
 * The budget action `fit` against the real server and the fake OpenRouter: a call whose worst case does not fit is
 * sent with the largest max_tokens that does (the fake receives it, the result, the gateway's header and the ledger
 * row say so), a call that would need fewer tokens than the floor is refused as `block` refuses, and 200 calls at
 * once never push the spend past the limit.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { BudgetSet, BudgetStatus, ChatComplete, LedgerList } from '../../protocol';
import { estimatePromptTokens } from '../../server/costs/estimate';
import { parseUsd } from '../../server/costs/money';
import { CHAT_MODELS } from '../fixtures/fake-openrouter';
import { pico, rpcError, RpcFailure, USER, useFake, useServer, usd } from '../helpers';
import { createTestDatabase } from '../helpers/postgres';

const HAIKU = CHAT_MODELS.find((m) => m.id === 'anthropic/claude-3.5-haiku')!;
const prompt = BigInt(parseUsd(HAIKU.pricing.prompt));
const completion = BigInt(parseUsd(HAIKU.pricing.completion));
/** The worst case of a haiku call with these messages and `n` completion tokens, as the server prices it. */
const worst = (messages: ReturnType<typeof USER>, n: number) =>
  prompt * BigInt(estimatePromptTokens(messages)) + completion * BigInt(n);

for (const store of ['local', 'postgres'] as const)
  describe(`budget action fit (${store} store)`, function () {
    this.timeout(60_000);
    const up = useFake();
    let db: { url: string; drop(): Promise<void> } | undefined;
    before(async function () {
      this.timeout(60_000);
      if (store === 'postgres') db = await createTestDatabase('crew_fit');
    });
    after(async () => db?.drop());
    const s = useServer(() => ({
      transport: 'http',
      upstreamUrl: up.fake.url,
      args: ['--rate-limit', '0', ...(db ? ['--store', db.url] : [])],
    }));

    const status = async (id: string) =>
      (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { id })).budgets[0]!;
    const lastChatBody = () =>
      up.fake.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!.body as { max_tokens?: number };

    it('sends a call too big for the budget with the largest max_tokens that fits, and says so', async () => {
      // The case: $0.01 a day; haiku's whole completion limit (8,192 tokens) is a worst case of $0.033.
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:fitting',
        period: 'daily',
        limitUsd: 0.01,
        action: 'fit',
      });
      assert.equal(budget.action, 'fit');
      assert.equal(budget.minTokens, null);
      const messages = USER('Write the launch post');
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: HAIKU.id,
        messages,
        crew: 'fitting',
      });
      const limit = pico(0.01);
      const n = r.fittedMaxTokens!;
      assert.ok(n > 16 && n < 8192, `fitted to ${n}`);
      assert.ok(worst(messages, n) <= limit, 'the fitted worst case fits');
      assert.ok(worst(messages, n + 1) > limit, 'and is the largest that does');
      assert.equal(lastChatBody().max_tokens, n, 'OpenRouter was asked for the fitted max_tokens');
      assert.match(
        r.warnings.join(' '),
        new RegExp(`crew:fitting \\(daily\\) fit the call: max_tokens lowered to ${n}`),
      );
      const { entries } = await s.client.request<LedgerList.Result>('ledger/list', { crew: 'fitting', limit: 1 });
      assert.deepEqual(entries[0]!.tags, [`fit:max_tokens=${n}`]);
      assert.equal(entries[0]!.fittedMaxTokens, n, 'the ledger row says what the call was lowered to');
      const st = await status(budget.id);
      assert.equal(pico(st.spentUsd), pico(r.cost));
      assert.equal(st.reservedUsd, 0);

      // A call that asks for less than fits is sent as asked.
      const small = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: HAIKU.id,
        messages,
        crew: 'fitting',
        maxTokens: 64,
      });
      assert.equal(small.fittedMaxTokens, null);
      assert.equal(lastChatBody().max_tokens, 64);
    });

    it("refuses a caller's tag that would pass for the server's own (a fit, a correction)", async () => {
      for (const tag of ['fit:max_tokens=5', 'correction-of:1']) {
        const e = await rpcError(
          s.client.request('chat/complete', { model: HAIKU.id, messages: USER('hi'), tags: ['mine', tag] }),
        );
        assert.equal(e.code, ErrorCodes.InvalidParams);
        assert.match(e.message, /tags/);
        assert.match(e.message, /are the server's own/);
      }
    });

    it('refuses as block does when even the floor does not fit; the floor is the budget’s', async () => {
      const messages = USER('Write the launch post');
      // Room for the prompt and 100 completion tokens, but the budget's floor is 200.
      const limit = worst(messages, 100);
      await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:floor',
        period: 'daily',
        limitUsd: usd(limit),
        action: 'fit',
        minTokens: 200,
      });
      const before = up.fake.requests.length;
      const e = await rpcError(
        s.client.request('chat/complete', { model: HAIKU.id, messages, crew: 'floor' }),
        ErrorCodes.BudgetExceeded,
      );
      assert.match(e.message, /crew:floor/);
      assert.equal(up.fake.requests.length, before, 'nothing went upstream');
      // With the default floor (16) the same room is enough.
      await s.client.request('budget/set', {
        scope: 'crew:floor',
        period: 'daily',
        limitUsd: usd(limit),
        action: 'fit',
        minTokens: 16,
      });
      const r = await s.client.request<ChatComplete.Result>('chat/complete', {
        model: HAIKU.id,
        messages,
        crew: 'floor',
      });
      assert.equal(r.fittedMaxTokens, 100);
    });

    it('minTokens is refused without action fit, naming it', async () => {
      const e = await rpcError(
        s.client.request('budget/set', { scope: 'crew:x', period: 'daily', limitUsd: 1, minTokens: 32 }),
        ErrorCodes.InvalidParams,
      );
      assert.match(e.message, /minTokens/);
    });

    it('the gateway says the fitted max_tokens in X-Crew-Max-Tokens, streamed or not', async () => {
      await s.client.request('budget/set', { scope: 'crew:gw', period: 'daily', limitUsd: 0.01, action: 'fit' });
      const base = await s.server.httpBase();
      const token = await s.server.token();
      for (const stream of [false, true]) {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-crew-id': 'gw' },
          body: JSON.stringify({ model: HAIKU.id, messages: [{ role: 'user', content: 'hello' }], stream }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        const header = Number(res.headers.get('x-crew-max-tokens'));
        assert.ok(header > 16 && header < 8192, `x-crew-max-tokens: ${res.headers.get('x-crew-max-tokens')}`);
        assert.equal(lastChatBody().max_tokens, header);
        await res.text();
      }
    });

    it('200 calls at once: each is fitted or refused, and the spend never passes the limit', async () => {
      const limit = pico(0.02);
      const { budget } = await s.client.request<BudgetSet.Result>('budget/set', {
        scope: 'crew:fitstorm',
        period: 'daily',
        limitUsd: usd(limit),
        action: 'fit',
      });
      up.fake.behave({ latencyMs: 500, completionTokens: 40 });
      try {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 200 }, (_, i) =>
            s.client.request<ChatComplete.Result>('chat/complete', {
              model: HAIKU.id,
              messages: USER(`Call ${i}: write the launch post`),
              crew: 'fitstorm',
            }),
          ),
        );
        const ok = outcomes.filter((o): o is PromiseFulfilledResult<ChatComplete.Result> => o.status === 'fulfilled');
        for (const o of outcomes)
          if (o.status === 'rejected') {
            assert.ok(o.reason instanceof RpcFailure, String(o.reason));
            assert.equal(o.reason.code, ErrorCodes.BudgetExceeded, o.reason.message);
          }
        // The first call fitted takes the whole room for its worst case; the others find too little for the floor.
        assert.ok(ok.length >= 1, `${ok.length} calls went through`);
        assert.ok(
          ok.every((o) => o.value.fittedMaxTokens !== null),
          'every call that went was fitted (none fitted whole)',
        );
        const st = await status(budget.id);
        assert.ok(pico(st.spentUsd) <= limit, `spent ${st.spentUsd} past the limit`);
        assert.equal(st.reservedUsd, 0);
        const spent = ok.map((o) => pico(o.value.cost)).reduce((a, b) => a + b, 0n);
        assert.equal(pico(st.spentUsd), spent);
      } finally {
        up.fake.behave({});
      }
    });
  });
