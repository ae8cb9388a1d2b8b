/**
 * models/list: prices are OpenRouter's strings, untouched; when upstream is gone, a refresh answers from the
 * cached copy and says so.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { ModelsList } from '../../protocol';
import { CHAT_MODELS, startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import { rpcError, useServer } from '../helpers';

describe('models/list (http)', function () {
  let fake: FakeOpenRouter;
  before(async () => {
    fake = await startFakeOpenRouter({ port: 0 });
  });
  after(async () => fake.close());
  const s = useServer(() => ({ transport: 'http', upstreamUrl: fake.url }));

  it('lists every upstream model with its pricing strings exactly as OpenRouter sent them', async () => {
    const r = await s.client.request<ModelsList.Result>('models/list', {});
    assert.equal(r.source, 'network');
    assert.equal(r.warning, null);
    assert.ok(r.fetchedAt);
    assert.deepEqual(r.models.map((m) => m.id).sort(), CHAT_MODELS.map((m) => m.id).sort());
    for (const upstream of CHAT_MODELS) {
      const m = r.models.find((x) => x.id === upstream.id)!;
      assert.equal(m.pricing.prompt, upstream.pricing.prompt, `${m.id} prompt price`);
      assert.equal(m.pricing.completion, upstream.pricing.completion, `${m.id} completion price`);
      assert.equal(m.pricing.request, upstream.pricing.request, `${m.id} request price`);
      assert.equal(m.pricing.inputCacheRead, upstream.pricing.input_cache_read, `${m.id} cache-read price`);
      assert.equal(m.contextLength, upstream.context_length);
      assert.equal(m.maxCompletionTokens, upstream.top_provider.max_completion_tokens);
    }
    const nemo = r.models.find((m) => m.id === 'mistralai/mistral-nemo')!;
    assert.equal(nemo.pricing.prompt, '0.0000000375', 'a 10-decimal price survives as a string');
    assert.equal(nemo.promptUsdPerMillion, 0.0375);
    assert.equal(r.models.find((m) => m.id === 'openai/gpt-4o')!.completionUsdPerMillion, 10);
    const search = await s.client.request<ModelsList.Result>('models/list', { search: 'claude' });
    assert.ok(search.models.length >= 2 && search.models.every((m) => /claude/i.test(m.id + m.name)));
    const cached = await s.client.request<ModelsList.Result>('models/list', {});
    assert.equal(cached.source, 'cache');
  });

  it('with upstream gone, refresh: true answers from the stale cache with a warning', async () => {
    const before = await s.client.request<ModelsList.Result>('models/list', {});
    await fake.close();
    const r = await s.client.request<ModelsList.Result>('models/list', { refresh: true });
    assert.equal(r.source, 'stale-cache');
    assert.ok(r.warning, 'a warning says the list may be stale');
    assert.match(r.warning, /could not refresh/);
    assert.equal(r.fetchedAt, before.fetchedAt);
    assert.deepEqual(r.models, before.models);
  });

  it('an unknown model id is refused with suggestions (from the cached catalog)', async () => {
    const e = await rpcError(
      s.client.request('chat/complete', { model: 'openai/gpt-4o-mino', messages: [{ role: 'user', content: 'hi' }] }),
      ErrorCodes.UnknownModel,
    );
    assert.ok((e.data as { suggestions: string[] }).suggestions.includes('openai/gpt-4o-mini'), e.message);
  });
});
