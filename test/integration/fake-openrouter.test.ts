// The fake OpenRouter (sandbox) must stay faithful: its answers are parsed here by @openrouter/sdk's strict
// schemas and by the openai SDK the product uses, and every behaviour knob is exercised.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  CHAT_MODELS,
  countTokens,
  EMBEDDING_MODELS,
  exactCost,
  findModel,
  reasoningTokensOf,
  startFakeOpenRouter,
  sumDecimals,
} from '../fixtures/fake-openrouter';
import type { FakeOpenRouter, SandboxState } from '../fixtures/fake-openrouter';

// @openrouter/sdk is ESM-only; this package is CommonJS, so it is loaded with a dynamic import.
const loadSdk = () => import('@openrouter/sdk');
const loadSdkErrors = () => import('@openrouter/sdk/models/errors');

/** Wire shapes (snake_case, as OpenRouter sends them) that the raw-HTTP assertions read. */
interface WireModel {
  id: string;
  canonical_slug: string;
  pricing: Record<string, string>;
  architecture: { modality: string; input_modalities: string[] };
  expiration_date: string | null;
}
interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost?: number;
  is_byok: boolean;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}
interface WireChunk {
  object: string;
  created: number;
  choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: WireUsage;
}

const KEY = 'sk-or-v1-sandbox-test';

function openai(fake: FakeOpenRouter, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: fake.url, apiKey: KEY, maxRetries: 0, ...extra });
}

async function get(fake: FakeOpenRouter, path: string, key: string | null = KEY): Promise<Response> {
  return fetch(`${fake.url}${path}`, { headers: key === null ? {} : { Authorization: `Bearer ${key}` } });
}

async function postJson(url: string, body: unknown, key: string | null = KEY): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key === null ? {} : { Authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const USER = [{ role: 'user' as const, content: 'How many tokens does this prompt have?' }];
// ceil(utf-8 bytes / 4) + 3 per message
const USER_PROMPT_TOKENS = Math.ceil(Buffer.byteLength(USER[0]!.content) / 4) + 3;

describe('fake OpenRouter (sandbox)', function () {
  let fake: FakeOpenRouter;

  beforeEach(async () => {
    fake = await startFakeOpenRouter({ label: 'test sandbox' });
  });
  afterEach(async () => {
    await fake.close();
  });

  describe('catalog and /models', () => {
    it('lists ~12 realistic chat models with string prices, a free, a deprecated and a multimodal one', async () => {
      const res = await get(fake, '/models', null); // public: no key needed
      assert.equal(res.status, 200);
      const body = (await res.json()) as { data: WireModel[]; total_count: number; links: { next: null } };
      assert.ok(body.data.length >= 12, `only ${body.data.length} models`);
      assert.equal(body.total_count, body.data.length);
      assert.equal(body.links.next, null);
      for (const m of body.data) {
        for (const [k, v] of Object.entries(m.pricing as Record<string, unknown>)) {
          assert.equal(typeof v, 'string', `${m.id} pricing.${k}`);
          assert.match(v as string, /^\d+(\.\d+)?$/);
        }
        assert.equal(typeof m.canonical_slug, 'string');
        assert.equal(typeof m.architecture.modality, 'string');
      }
      const ids = body.data.map((m) => m.id);
      for (const id of ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4', 'deepseek/deepseek-chat'])
        assert.ok(ids.includes(id), id);
      const free = body.data.find((m) => m.id.endsWith(':free'));
      assert.equal(free?.pricing.prompt, '0');
      assert.equal(free?.pricing.completion, '0');
      const deprecated = body.data.find((m) => m.expiration_date !== null);
      assert.ok(deprecated?.expiration_date && Date.parse(deprecated.expiration_date) < Date.now());
      assert.ok(body.data.some((m) => m.architecture.input_modalities.includes('image')));
      assert.ok(body.data.some((m) => m.pricing.prompt === '0.0000000375'));
      assert.ok(!ids.some((id) => EMBEDDING_MODELS.some((e) => e.id === id)), 'embedding models are listed apart');
    });

    it('pages with offset/limit and links.next', async () => {
      const res = await get(fake, '/models?offset=2&limit=3');
      const body = (await res.json()) as { data: { id: string }[]; total_count: number; links: { next: string } };
      assert.deepEqual(
        body.data.map((m) => m.id),
        CHAT_MODELS.slice(2, 5).map((m) => m.id),
      );
      assert.equal(body.total_count, CHAT_MODELS.length);
      assert.equal(body.links.next, `${fake.url}/models?offset=5&limit=3`);
      const last = (await (await get(fake, `/models?offset=${CHAT_MODELS.length - 1}&limit=3`)).json()) as {
        links: { next: null };
      };
      assert.equal(last.links.next, null);
      assert.equal((await get(fake, '/models?limit=-1')).status, 400);
    });
  });

  describe('auth and routing', () => {
    it('requires a bearer key everywhere but GET /models', async () => {
      for (const path of ['/key', '/credits', '/generation?id=x', '/embeddings/models']) {
        const res = await get(fake, path, null);
        assert.equal(res.status, 401, path);
        assert.deepEqual(await res.json(), { error: { code: 401, message: 'No auth credentials found' } });
      }
      const chat = await postJson(
        `${fake.url}/chat/completions`,
        { model: 'openai/gpt-4o-mini', messages: USER },
        null,
      );
      assert.equal(chat.status, 401);
    });

    it('accepts only the configured keys when apiKeys is given', async () => {
      const strict = await startFakeOpenRouter({ apiKeys: ['good'] });
      try {
        assert.equal((await get(strict, '/key', 'bad')).status, 401);
        assert.equal((await get(strict, '/key', 'good')).status, 200);
      } finally {
        await strict.close();
      }
    });

    it('answers unknown paths and wrong methods with JSON errors', async () => {
      const res = await get(fake, '/nope');
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: { code: number } };
      assert.equal(body.error.code, 404);
      assert.equal((await fetch(`${fake.url.replace('/api/v1', '')}/elsewhere`)).status, 404);
      const wrong = await get(fake, '/chat/completions');
      assert.equal(wrong.status, 405);
    });

    it('records requests with their attribution headers', async () => {
      const client = openai(fake, {
        defaultHeaders: { 'HTTP-Referer': 'https://crew.example', 'X-OpenRouter-Title': 'Crew tests' },
      });
      await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
      const r = fake.requests.find((q) => q.path === '/api/v1/chat/completions');
      assert.ok(r);
      assert.equal(r.method, 'POST');
      assert.equal(r.headers['http-referer'], 'https://crew.example');
      assert.equal(r.headers['x-openrouter-title'], 'Crew tests');
      assert.equal((r.body as { model: string }).model, 'openai/gpt-4o-mini');
      assert.ok(r.at <= Date.now());
    });
  });

  describe('@openrouter/sdk parses every answer (strict schemas)', () => {
    it('models, chat (plain and streamed), generation, embeddings, key, credits', async () => {
      const { OpenRouter } = await loadSdk();
      const sdk = new OpenRouter({
        apiKey: KEY,
        serverURL: fake.url,
        appTitle: 'Crew SDK test',
        httpReferer: 'https://crew.example',
        retryConfig: { strategy: 'none' },
      });

      const models = await sdk.models.list();
      assert.ok(models.result.data.length >= 12);
      assert.equal(models.result.totalCount, models.result.data.length);
      const mini = models.result.data.find((m) => m.id === 'openai/gpt-4o-mini');
      assert.equal(mini?.pricing.prompt, '0.00000015');
      assert.equal(mini?.canonicalSlug, 'openai/gpt-4o-mini');

      const plain = await sdk.chat.send({
        chatRequest: { model: 'anthropic/claude-sonnet-4', messages: USER, maxTokens: 100 },
      });
      assert.ok(!(plain instanceof ReadableStream), 'expected a ChatResult');
      assert.equal(plain.object, 'chat.completion');
      assert.equal(plain.systemFingerprint, 'fp_sandbox');
      assert.equal(plain.choices[0]?.finishReason, 'stop');
      assert.equal(plain.usage?.promptTokens, USER_PROMPT_TOKENS);
      assert.equal(plain.usage?.completionTokens, 16);
      assert.equal(plain.usage?.cost, Number(exactCost('anthropic/claude-sonnet-4', USER_PROMPT_TOKENS, 16)));
      assert.equal(
        plain.usage?.costDetails?.upstreamInferenceCompletionsCost,
        Number(exactCost('anthropic/claude-sonnet-4', 0, 16)),
      );
      const rec = fake.requests.at(-1);
      assert.equal(rec?.headers['x-openrouter-title'], 'Crew SDK test');
      assert.equal(rec?.headers['http-referer'], 'https://crew.example');

      const streamed = await sdk.chat.send({
        chatRequest: { model: 'anthropic/claude-sonnet-4', messages: USER, stream: true },
      });
      assert.ok(streamed instanceof ReadableStream, 'expected an EventStream');
      let text = '';
      let cost: number | null | undefined;
      let finish: string | null | undefined;
      let chunks = 0;
      for await (const chunk of streamed) {
        chunks++;
        assert.equal(typeof chunk.created, 'number');
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finishReason ?? finish;
        if (chunk.usage) cost = chunk.usage.cost;
      }
      assert.equal(chunks, 16 + 2);
      assert.equal(text, plain.choices[0]?.message.content);
      assert.equal(finish, 'stop');
      assert.equal(cost, plain.usage?.cost);

      const gen = await sdk.generations.getGeneration({ id: plain.id });
      assert.equal(gen.data.id, plain.id);
      assert.equal(gen.data.totalCost, plain.usage?.cost);
      assert.equal(gen.data.tokensPrompt, USER_PROMPT_TOKENS);
      assert.equal(gen.data.streamed, false);
      assert.equal(gen.data.cancelled, false);
      assert.equal(gen.data.providerName, 'Anthropic');

      const emb = await sdk.embeddings.generate({
        requestBody: { model: 'openai/text-embedding-3-small', input: ['hello world', 'goodbye'] },
      });
      assert.ok(typeof emb !== 'string');
      assert.equal(emb.data.length, 2);
      assert.ok(Array.isArray(emb.data[0]?.embedding));
      assert.equal(emb.usage?.cost, Number(exactCost('openai/text-embedding-3-small', 3 + 2, 0)));

      const embModels = await sdk.embeddings.listModels();
      assert.deepEqual(
        embModels.result.data.map((m) => m.id),
        EMBEDDING_MODELS.map((m) => m.id),
      );

      const key = await sdk.apiKeys.getCurrentKeyMetadata();
      const expectedUsage = Number(
        sumDecimals([...fake.generations.values()].filter((g) => g.apiKey === KEY).map((g) => g.cost)),
      );
      assert.equal(key.data.usage, expectedUsage);
      assert.equal(key.data.usageDaily, expectedUsage);
      assert.equal(key.data.label, 'test sandbox');
      assert.equal(key.data.limit, null);

      const credits = await sdk.credits.getCredits();
      assert.equal(credits.data.totalCredits, 100);
      assert.equal(credits.data.totalUsage, expectedUsage);
    });

    it('prompt-cache writes and reads, and reasoning tokens, in plain and streamed usage and /generation', async () => {
      const { OpenRouter } = await loadSdk();
      const sdk = new OpenRouter({ apiKey: KEY, serverURL: fake.url, retryConfig: { strategy: 'none' } });
      const HAIKU = 'anthropic/claude-3.5-haiku';
      const system = 'You are the release checklist. Follow every step in order and say which one failed.';
      const prefix = countTokens(system) + 3;
      const send = async (model: string, cached = true) => {
        const out = await sdk.chat.send({
          chatRequest: {
            model,
            messages: [
              {
                role: 'system',
                content: [{ type: 'text', text: system, ...(cached ? { cacheControl: { type: 'ephemeral' } } : {}) }],
              },
              ...USER,
            ],
          },
        });
        assert.ok(!(out instanceof ReadableStream), 'expected a ChatResult');
        return out;
      };
      const prompt = prefix + USER_PROMPT_TOKENS;
      // First call: the prefix is written to the cache (priced at input_cache_write), nothing read.
      const first = await send(HAIKU);
      assert.equal(first.usage?.promptTokens, prompt);
      assert.equal(first.usage?.promptTokensDetails?.cachedTokens, 0);
      assert.equal(first.usage?.cost, Number(exactCost(HAIKU, prompt, 16, 0, { write: prefix })));
      // Again: read from the cache (input_cache_read), cheaper than without it.
      const second = await send(HAIKU);
      assert.equal(second.usage?.promptTokensDetails?.cachedTokens, prefix);
      assert.equal(second.usage?.cost, Number(exactCost(HAIKU, prompt, 16, 0, { read: prefix })));
      assert.ok(second.usage.cost < Number(exactCost(HAIKU, prompt, 16)));
      assert.equal(second.usage?.completionTokensDetails?.reasoningTokens, 0, 'haiku does not reason');
      // Streamed: the final usage chunk carries the same figures.
      const streamed = await sdk.chat.send({
        chatRequest: {
          model: HAIKU,
          stream: true,
          messages: [
            { role: 'system', content: [{ type: 'text', text: system, cacheControl: { type: 'ephemeral' } }] },
            ...USER,
          ],
        },
      });
      assert.ok(streamed instanceof ReadableStream, 'expected an EventStream');
      let usage: { cost?: number | null; promptTokensDetails?: { cachedTokens?: number | null } | null } | undefined;
      for await (const chunk of streamed) if (chunk.usage) usage = chunk.usage;
      assert.equal(usage?.promptTokensDetails?.cachedTokens, prefix);
      assert.equal(usage?.cost, second.usage?.cost);
      // Without a breakpoint nothing is cached; a model that ignores breakpoints (no cache-write price) neither.
      assert.equal((await send(HAIKU, false)).usage?.promptTokensDetails?.cachedTokens, 0);
      await send('openai/gpt-4o-mini');
      assert.equal((await send('openai/gpt-4o-mini')).usage?.promptTokensDetails?.cachedTokens, 0);

      // A reasoning model: a quarter of the completion tokens are reasoning, billed as completion tokens.
      const SONNET = 'anthropic/claude-sonnet-4';
      const r = await sdk.chat.send({ chatRequest: { model: SONNET, messages: USER, maxTokens: 100 } });
      assert.ok(!(r instanceof ReadableStream), 'expected a ChatResult');
      assert.equal(r.usage?.completionTokens, 16);
      assert.equal(r.usage?.completionTokensDetails?.reasoningTokens, 4);
      assert.equal(reasoningTokensOf(SONNET, 16), 4);
      assert.equal(r.usage?.cost, Number(exactCost(SONNET, USER_PROMPT_TOKENS, 16)));
      fake.behave({ completionTokens: 10 });
      const rs = await sdk.chat.send({
        chatRequest: { model: 'google/gemini-2.5-flash', messages: USER, stream: true },
      });
      assert.ok(rs instanceof ReadableStream, 'expected an EventStream');
      let reasoning: number | null | undefined;
      for await (const chunk of rs) if (chunk.usage) reasoning = chunk.usage.completionTokensDetails?.reasoningTokens;
      assert.equal(reasoning, 2);

      const gen = await sdk.generations.getGeneration({ id: second.id });
      assert.equal(gen.data.nativeTokensCached, prefix);
      assert.equal(gen.data.totalCost, second.usage?.cost);
      assert.equal((await sdk.generations.getGeneration({ id: r.id })).data.nativeTokensReasoning, 4);
    });

    it('SDK maps HTTP errors and parses the mid-stream error chunk', async () => {
      const { OpenRouter } = await loadSdk();
      const errors = await loadSdkErrors();
      const sdk = new OpenRouter({ apiKey: KEY, serverURL: fake.url, retryConfig: { strategy: 'none' } });

      fake.behave({ fail: { status: 402 } });
      await assert.rejects(
        sdk.chat.send({ chatRequest: { model: 'openai/gpt-4o-mini', messages: USER } }),
        (e: unknown) => e instanceof errors.PaymentRequiredResponseError && e.error.code === 402,
      );
      fake.behave({ fail: { status: 429, retryAfterSeconds: 3 } });
      await assert.rejects(
        sdk.chat.send({ chatRequest: { model: 'openai/gpt-4o-mini', messages: USER } }),
        (e: unknown) =>
          e instanceof errors.TooManyRequestsResponseError && e.error.metadata?.error_type === 'rate_limit_exceeded',
      );

      fake.behave({ midStreamErrorAfterChunks: 3 });
      const stream = await sdk.chat.send({
        chatRequest: { model: 'openai/gpt-4o-mini', messages: USER, stream: true },
      });
      assert.ok(stream instanceof ReadableStream);
      let errorCode: number | undefined;
      let finish: string | null | undefined;
      let contentChunks = 0;
      for await (const chunk of stream) {
        if (chunk.error) {
          errorCode = chunk.error.code;
          finish = chunk.choices[0]?.finishReason;
        } else if (chunk.choices[0]?.delta.content) contentChunks++;
      }
      assert.equal(contentChunks, 3);
      assert.equal(errorCode, 502);
      assert.equal(finish, 'error');

      await assert.rejects(
        sdk.generations.getGeneration({ id: 'gen-does-not-exist' }),
        (e: unknown) => e instanceof errors.NotFoundResponseError,
      );
    });
  });

  describe('chat completions via the openai SDK', () => {
    it('non-stream: deterministic reply, usage with exact cost, X-Generation-Id', async () => {
      const { data, response } = await openai(fake)
        .chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER })
        .withResponse();
      assert.equal(response.headers.get('x-generation-id'), data.id);
      assert.match(data.id, /^gen-1-/);
      assert.equal(data.choices[0]?.message.content?.split(' ').length, 16);
      assert.ok(data.choices[0]?.message.content?.startsWith('Sandbox reply: how many tokens'));
      assert.equal(data.choices[0]?.finish_reason, 'stop');
      const usage = data.usage as unknown as WireUsage;
      assert.equal(usage.prompt_tokens, USER_PROMPT_TOKENS);
      assert.equal(usage.completion_tokens, 16);
      assert.equal(usage.total_tokens, USER_PROMPT_TOKENS + 16);
      assert.equal(usage.is_byok, false);
      assert.equal(usage.prompt_tokens_details.cached_tokens, 0);
      assert.equal(usage.completion_tokens_details.reasoning_tokens, 0);
      assert.equal(usage.cost, Number(exactCost('openai/gpt-4o-mini', USER_PROMPT_TOKENS, 16)));
      // Same question, same answer.
      const again = await openai(fake).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
      assert.equal(again.choices[0]?.message.content, data.choices[0]?.message.content);
      assert.notEqual(again.id, data.id);
    });

    it('cost is exact decimal arithmetic, emitted as the shortest round-trip number', async () => {
      // 10 decimals: 0.0000000375 × prompt + 0.00000015 × completion, no float drift.
      const nemo = findModel('mistralai/mistral-nemo')!;
      assert.equal(exactCost(nemo, 3, 0), '0.0000001125');
      assert.equal(exactCost('openai/gpt-4o', 3, 0), '0.0000075');
      assert.notEqual(0.0000025 * 3, 0.0000075, 'float multiplication drifts; the fake must not');
      assert.equal(exactCost('perplexity/sonar', 1000, 1000), '0.007'); // includes the per-request fee
      assert.equal(exactCost('meta-llama/llama-3.3-70b-instruct:free', 1e6, 1e6), '0');
      assert.throws(() => exactCost('no/such-model', 1, 1));

      const res = await postJson(`${fake.url}/chat/completions`, {
        model: 'mistralai/mistral-nemo',
        messages: USER,
        max_tokens: 7,
      });
      const raw = await res.text();
      const cost = exactCost(nemo, USER_PROMPT_TOKENS, 7);
      assert.ok(raw.includes(`"cost":${JSON.stringify(Number(cost))}`), raw);
      const body = JSON.parse(raw) as { usage: { cost: number; completion_tokens: number } };
      assert.equal(body.usage.cost, Number(cost));
      assert.equal(body.usage.completion_tokens, 7);
    });

    it('stream: comment lines, one chunk per token, finish chunk, final usage chunk with cost, [DONE]', async () => {
      fake.behave({ completionTokens: 20 });
      const raw = await (
        await postJson(`${fake.url}/chat/completions`, { model: 'openai/gpt-4o', messages: USER, stream: true })
      ).text();
      assert.ok(raw.startsWith(': OPENROUTER PROCESSING\n\n'));
      assert.ok(raw.endsWith('data: [DONE]\n\n'));
      const comments = raw.split('\n\n').filter((e) => e.startsWith(':'));
      assert.ok(comments.length >= 2, 'comment lines also appear between chunks');
      const events = raw
        .split('\n\n')
        .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
        .map((e) => JSON.parse(e.slice(6)) as WireChunk);
      assert.equal(events.length, 20 + 2);
      for (const e of events) {
        assert.equal(e.object, 'chat.completion.chunk');
        assert.equal(typeof e.created, 'number');
      }
      assert.equal(events[0]!.choices[0]!.delta.role, 'assistant');
      assert.equal(events[20]!.choices[0]!.finish_reason, 'stop');
      const last = events[21]!;
      assert.deepEqual(last.choices, []);
      assert.equal(last.usage?.completion_tokens, 20);
      assert.equal(last.usage?.cost, Number(exactCost('openai/gpt-4o', USER_PROMPT_TOKENS, 20)));

      const stream = await openai(fake).chat.completions.create({
        model: 'openai/gpt-4o',
        messages: USER,
        stream: true,
      });
      let text = '';
      let usage: WireUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage as unknown as WireUsage;
      }
      assert.equal(text.split(' ').length, 20);
      assert.equal(usage?.cost, Number(exactCost('openai/gpt-4o', USER_PROMPT_TOKENS, 20)));
      assert.equal(fake.openStreams(), 0);
      assert.equal(fake.aborted, 0);
    });

    it('max_tokens caps the reply with finish_reason "length"', async () => {
      fake.behave({ completionTokens: 50 });
      const r = await openai(fake).chat.completions.create({
        model: 'deepseek/deepseek-chat',
        messages: USER,
        max_tokens: 5,
      });
      assert.equal(r.choices[0]?.finish_reason, 'length');
      assert.equal(r.usage?.completion_tokens, 5);
      assert.equal(r.choices[0]?.message.content, 'Sandbox reply: how many tokens');
    });

    it('validates the request: unknown model, empty messages, image input to a text-only model', async () => {
      const client = openai(fake);
      await assert.rejects(
        client.chat.completions.create({ model: 'acme/imaginary-1', messages: USER }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && /acme\/imaginary-1/.test(e.message),
      );
      await assert.rejects(
        client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [] }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 400,
      );
      const withImage = [
        {
          role: 'user' as const,
          content: [
            { type: 'text' as const, text: 'what is this' },
            { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ];
      await assert.rejects(
        client.chat.completions.create({ model: 'deepseek/deepseek-chat', messages: withImage }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 404,
      );
      const ok = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: withImage });
      const prompt = Math.ceil(Buffer.byteLength('what is this') / 4) + 3;
      assert.equal(ok.usage?.prompt_tokens, prompt);
      assert.equal(
        (ok.usage as unknown as { cost: number }).cost,
        Number(exactCost('openai/gpt-4o-mini', prompt, 16, 1)),
      );
    });

    it('models fallback: a model that is down (unavailableModels) passes the call to the next, which prices it', async () => {
      const client = openai(fake);
      fake.behave({ unavailableModels: ['openai/gpt-4o-mini'] });
      try {
        await assert.rejects(
          client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER }),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 503,
        );
        const r = await client.chat.completions.create({
          model: 'openai/gpt-4o-mini',
          messages: USER,
          models: ['openai/gpt-4o-mini', 'anthropic/claude-3.5-haiku'],
        } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        assert.equal(r.model, 'anthropic/claude-3.5-haiku');
        assert.equal(
          (r.usage as unknown as { cost: number }).cost,
          Number(exactCost('anthropic/claude-3.5-haiku', USER_PROMPT_TOKENS, 16)),
        );
        assert.equal(fake.generations.get(r.id)!.model, 'anthropic/claude-3.5-haiku');
        // A stream names it in every chunk.
        const stream = await client.chat.completions.create({
          messages: USER,
          models: ['openai/gpt-4o-mini', 'anthropic/claude-3.5-haiku'],
          stream: true,
        } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
        const named = new Set<string>();
        for await (const chunk of stream) named.add(chunk.model);
        assert.deepEqual([...named], ['anthropic/claude-3.5-haiku']);
        // Every model down: the last one's error.
        fake.behave({ unavailableModels: ['openai/gpt-4o-mini', 'anthropic/claude-3.5-haiku'] });
        await assert.rejects(
          client.chat.completions.create({
            messages: USER,
            models: ['openai/gpt-4o-mini', 'anthropic/claude-3.5-haiku'],
          } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 503 && /claude-3\.5-haiku/.test(e.message),
        );
        // OpenRouter takes at most three.
        await assert.rejects(
          client.chat.completions.create({
            messages: USER,
            models: ['openai/gpt-4o-mini', 'openai/gpt-4o', 'anthropic/claude-3.5-haiku', 'mistralai/mistral-nemo'],
          } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && /3 items or fewer/.test(e.message),
        );
      } finally {
        fake.behave({});
      }
    });

    it('models fallback list and provider max_price filter', async () => {
      const client = openai(fake);
      const r = await client.chat.completions.create({
        model: 'acme/imaginary-1',
        messages: USER,
        models: ['openai/gpt-4o-mini'],
      } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      assert.equal(r.model, 'openai/gpt-4o-mini');
      await assert.rejects(
        client.chat.completions.create({
          model: 'anthropic/claude-opus-4',
          messages: USER,
          provider: { max_price: { prompt: 1, completion: 2 } },
        } as OpenAI.ChatCompletionCreateParamsNonStreaming),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 404,
      );
    });
  });

  describe('behaviours', () => {
    it('mid-stream error: HTTP 200, N chunks, then the openai SDK throws', async () => {
      fake.behave({ midStreamErrorAfterChunks: 4 });
      const stream = await openai(fake).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: USER,
        stream: true,
      });
      let received = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of stream) if (chunk.choices[0]?.delta.content) received++;
        })(),
        (e: unknown) => e instanceof OpenAI.APIError && /mid-stream/.test(e.message),
      );
      assert.equal(received, 4);
      const g = [...fake.generations.values()][0]!;
      assert.equal(g.finishReason, 'error');
      assert.equal(g.completionTokens, 4);
      assert.equal(g.cost, exactCost('openai/gpt-4o-mini', USER_PROMPT_TOKENS, 4));
      await until(() => fake.openStreams() === 0);
      assert.equal(fake.aborted, 0);
    });

    it('429 with Retry-After and rate_limit_exceeded; fail.times counts down', async () => {
      fake.behave({ fail: { status: 429, retryAfterSeconds: 7, times: 2 } });
      const client = openai(fake);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER }),
          (e: unknown) => {
            assert.ok(e instanceof OpenAI.APIError);
            assert.equal(e.status, 429);
            assert.equal((e.headers as Headers | undefined)?.get('retry-after'), '7');
            assert.equal((e.error as { metadata: { error_type: string } }).metadata.error_type, 'rate_limit_exceeded');
            return true;
          },
        );
      }
      const ok = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
      assert.equal(ok.object, 'chat.completion');
      assert.equal(fake.generations.size, 1, 'failed calls are not billed');
    });

    it('402, 403 and 5xx carry OpenRouter-style messages; the openai SDK retries 5xx into success', async () => {
      fake.behave({ fail: { status: 402 } });
      await assert.rejects(
        openai(fake).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 402 && /Insufficient credits/.test(e.message),
      );
      fake.behave({ fail: { status: 403 } });
      await assert.rejects(
        openai(fake).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 403 && /Key limit exceeded/.test(e.message),
      );
      fake.behave({ fail: { status: 502, times: 1, retryAfterSeconds: 0 } });
      const retried = await openai(fake, { maxRetries: 1 }).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: USER,
      });
      assert.equal(retried.object, 'chat.completion');
      assert.equal(fake.requests.filter((r) => r.path === '/api/v1/chat/completions').length, 4);
    });

    it('client abort of a stream is counted and recorded as a cancelled generation', async () => {
      fake.behave({ completionTokens: 200, chunkDelayMs: 20 });
      const controller = new AbortController();
      const stream = await openai(fake).chat.completions.create(
        { model: 'openai/gpt-4o-mini', messages: USER, stream: true },
        { signal: controller.signal },
      );
      let received = 0;
      // openai's Stream ends quietly (or throws an abort error, depending on timing) once aborted.
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content) received++;
          if (received === 3) controller.abort();
        }
      } catch (e) {
        assert.ok(e instanceof Error && /abort/i.test(`${e.name} ${e.message}`), String(e));
      }
      assert.equal(received, 3);
      await until(() => fake.aborted === 1);
      await until(() => fake.openStreams() === 0);
      const g = [...fake.generations.values()][0]!;
      assert.equal(g.cancelled, true);
      assert.equal(g.streamed, true);
      assert.ok(g.completionTokens >= 3 && g.completionTokens < 200, String(g.completionTokens));
      const res = await get(fake, `/generation?id=${g.id}`);
      const body = (await res.json()) as { data: { cancelled: boolean; total_cost: number } };
      assert.equal(body.data.cancelled, true);
      assert.equal(
        body.data.total_cost,
        Number(exactCost('openai/gpt-4o-mini', USER_PROMPT_TOKENS, g.completionTokens)),
      );
    });

    it('a non-streamed call the client abandons during latency is recorded as cancelled, unbilled output', async () => {
      fake.behave({ latencyMs: 300 });
      await assert.rejects(
        openai(fake, { timeout: 50 }).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER }),
        (e: unknown) => e instanceof OpenAI.APIConnectionTimeoutError,
      );
      await until(() => fake.generations.size === 1);
      const g = [...fake.generations.values()][0]!;
      assert.equal(g.cancelled, true);
      assert.equal(g.streamed, false);
      assert.equal(g.completionTokens, 0);
      assert.equal(g.cost, exactCost('openai/gpt-4o-mini', USER_PROMPT_TOKENS, 0));
      assert.equal(fake.aborted, 0, 'aborted counts streams only');
    });

    it('openStreams counts streams in flight', async () => {
      fake.behave({ completionTokens: 5, chunkDelayMs: 40 });
      const stream = await openai(fake).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: USER,
        stream: true,
      });
      assert.equal(fake.openStreams(), 1);
      for await (const _ of stream) {
        /* drain */
      }
      await until(() => fake.openStreams() === 0);
    });

    it('server disconnect after N chunks breaks the stream and is not a client abort', async () => {
      fake.behave({ disconnectAfterChunks: 2, chunkDelayMs: 5 });
      const stream = await openai(fake).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: USER,
        stream: true,
      });
      let received = 0;
      let sawUsage = false;
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content) received++;
          if (chunk.usage) sawUsage = true;
        }
      } catch {
        /* a cut connection may surface as an error or as an early end */
      }
      assert.equal(received, 2);
      assert.equal(sawUsage, false);
      await until(() => fake.openStreams() === 0);
      assert.equal(fake.aborted, 0);
    });

    it('latencyMs delays the answer', async () => {
      fake.behave({ latencyMs: 150 });
      const t0 = Date.now();
      await openai(fake).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
      assert.ok(Date.now() - t0 >= 140);
      const t1 = Date.now();
      const stream = await openai(fake).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: USER,
        stream: true,
      });
      assert.ok(Date.now() - t1 >= 140, 'streams wait before the first byte');
      for await (const _ of stream) {
        /* drain */
      }
    });

    it('omitCost + generationDelayMs: estimate first, reconcile via /generation later', async () => {
      fake.behave({ omitCost: true, generationDelayMs: 200 });
      const r = await openai(fake).chat.completions.create({ model: 'anthropic/claude-3.5-haiku', messages: USER });
      const usage = r.usage as unknown as Record<string, unknown>;
      assert.equal(usage.cost, undefined);
      assert.equal(usage.prompt_tokens, USER_PROMPT_TOKENS);
      assert.equal((await get(fake, `/generation?id=${r.id}`)).status, 404);
      await new Promise((res) => setTimeout(res, 220));
      const res = await get(fake, `/generation?id=${r.id}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { data: { total_cost: number; tokens_completion: number } };
      assert.equal(body.data.total_cost, Number(exactCost('anthropic/claude-3.5-haiku', USER_PROMPT_TOKENS, 16)));
      assert.equal(body.data.tokens_completion, 16);
    });

    it('behave({}) resets, and invalid behaviours are refused', async () => {
      fake.behave({ fail: { status: 500, times: Infinity } });
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await postJson(`${fake.url}/chat/completions`, { model: 'openai/gpt-4o', messages: USER })).status,
          500,
        );
      fake.behave({});
      assert.equal(
        (await postJson(`${fake.url}/chat/completions`, { model: 'openai/gpt-4o', messages: USER })).status,
        200,
      );
      assert.throws(() => fake.behave({ fail: { status: 418 as 400 } }));
      assert.throws(() => fake.behave({ latencyMs: -1 }));
      assert.throws(() => fake.behave({ latencyMS: 5 } as unknown as { latencyMs: number }));
    });
  });

  describe('sandbox control over HTTP', () => {
    it('POST /__sandbox/behave (Infinity as -1) and GET /__sandbox/state', async () => {
      const root = fake.url.replace(/\/api\/v1$/, '');
      const set = await postJson(`${root}/__sandbox/behave`, { fail: { status: 503, times: -1 } }, null);
      assert.equal(set.status, 200);
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await postJson(`${fake.url}/chat/completions`, { model: 'openai/gpt-4o', messages: USER })).status,
          503,
        );
      const state = (await (await fetch(`${root}/__sandbox/state`)).json()) as SandboxState;
      assert.equal(state.requests, 2);
      assert.equal(state.generations, 0);
      assert.equal(state.aborted, 0);
      assert.equal(state.label, 'test sandbox');
      assert.equal(state.behaviour.fail?.times, -1);
      assert.equal((await postJson(`${root}/__sandbox/behave`, { fail: { status: 200 } }, null)).status, 400);
      assert.equal((await postJson(`${root}/__sandbox/behave`, {}, null)).status, 200);
      assert.equal(
        (await postJson(`${fake.url}/chat/completions`, { model: 'openai/gpt-4o', messages: USER })).status,
        200,
      );
      const after = (await (await fetch(`${root}/__sandbox/state`)).json()) as SandboxState;
      assert.equal(after.generations, 1);
    });
  });

  describe('key, credits and embeddings', () => {
    it('/key usage sums exact generation costs per key; keyLimit blocks with 403', async () => {
      const limited = await startFakeOpenRouter({ keyLimit: 0.0001 });
      try {
        const a = new OpenAI({ baseURL: limited.url, apiKey: 'key-a', maxRetries: 0 });
        const b = new OpenAI({ baseURL: limited.url, apiKey: 'key-b', maxRetries: 0 });
        await a.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
        await a.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: USER });
        const one = exactCost('openai/gpt-4o-mini', USER_PROMPT_TOKENS, 16);
        const keyA = (await (await get(limited, '/key', 'key-a')).json()) as { data: Record<string, number | null> };
        assert.equal(keyA.data.usage, Number(sumDecimals([one, one])));
        assert.equal(keyA.data.usage_monthly, keyA.data.usage);
        assert.equal(keyA.data.limit, 0.0001);
        assert.equal(keyA.data.limit_remaining, 0.0001 - Number(sumDecimals([one, one])));
        const keyB = (await (await get(limited, '/key', 'key-b')).json()) as { data: Record<string, number | null> };
        assert.equal(keyB.data.usage, 0);
        // gpt-4o costs ~0.00018 per call: the first goes through, then the key is over its limit.
        await b.chat.completions.create({ model: 'openai/gpt-4o', messages: USER });
        await assert.rejects(
          b.chat.completions.create({ model: 'openai/gpt-4o', messages: USER }),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 403,
        );
      } finally {
        await limited.close();
      }
    });

    it('credits exhausted → 402 even for free models', async () => {
      const poor = await startFakeOpenRouter({ credits: 0 });
      try {
        await assert.rejects(
          new OpenAI({ baseURL: poor.url, apiKey: KEY, maxRetries: 0 }).chat.completions.create({
            model: 'meta-llama/llama-3.3-70b-instruct:free',
            messages: USER,
          }),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 402,
        );
      } finally {
        await poor.close();
      }
    });

    it('embeddings: deterministic L2-normalised vectors, float and base64 (openai SDK default), cost', async () => {
      const client = openai(fake);
      const viaSdk = await client.embeddings.create({
        model: 'openai/text-embedding-3-small',
        input: ['the cat sat', 'the cat sat', 'stock market news'],
      });
      const [v1, v2, v3] = viaSdk.data.map((d) => d.embedding);
      assert.equal(v1!.length, 256);
      assert.deepEqual(v1, v2);
      assert.notDeepEqual(v1, v3);
      const norm = Math.sqrt(v1!.reduce((s, x) => s + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-6);
      const asFloat = (await (
        await postJson(`${fake.url}/embeddings`, {
          model: 'openai/text-embedding-3-small',
          input: 'the cat sat',
          encoding_format: 'float',
          dimensions: 64,
        })
      ).json()) as { data: { embedding: number[] }[]; usage: { prompt_tokens: number; cost: number } };
      assert.equal(asFloat.data[0]!.embedding.length, 64);
      assert.equal(asFloat.usage.prompt_tokens, 3);
      assert.equal(asFloat.usage.cost, Number(exactCost('openai/text-embedding-3-small', 3, 0)));
      const prompt = viaSdk.usage.prompt_tokens;
      assert.equal(prompt, 3 + 3 + 5);
      const models = (await (await get(fake, '/embeddings/models')).json()) as { data: { id: string }[] };
      assert.ok(models.data.length >= 1);
      await assert.rejects(
        client.embeddings.create({ model: 'openai/gpt-4o-mini', input: 'x' }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 400,
      );
      fake.behave({ fail: { status: 500 } });
      await assert.rejects(
        client.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'x' }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 500,
      );
    });
  });
});
