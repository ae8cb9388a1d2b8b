/**
 * The OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`) on the real server's HTTP port, driven by
 * the real `openai` SDK: calls land in the ledger with OpenRouter's exact cost and the attribution headers,
 * streams pass OpenRouter's bytes through and end with its usage chunk, budget refusals are 402 naming the budget, other failures keep
 * the status an OpenAI client expects, and a client that aborts a stream releases its reservation.
 */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { AuditList, BudgetStatus, LedgerEntry, LedgerList, ModelsList } from '../../protocol';
import { exactCost } from '../fixtures/fake-openrouter';
import { eventually, USER, useFake, useServer } from '../helpers';
import { apiFailure } from '../helpers/openai';

const MODEL = 'openai/gpt-4o-mini';

describe('OpenAI-compatible gateway (HTTP /v1)', function () {
  const up = useFake();
  const s = useServer(() => ({ transport: 'http', upstreamUrl: up.fake.url }));
  let baseURL: string;
  let token: string;
  const sdk = (headers: Record<string, string> = {}, apiKey = token) =>
    new OpenAI({ baseURL, apiKey, maxRetries: 0, defaultHeaders: headers });

  before(async () => {
    baseURL = `${await s.server.httpBase()}/v1`;
    token = await s.server.token();
    // A budget in scope of every call, so reservations are visible in budget/status.
    await s.client.request('budget/set', { scope: 'global', period: 'total', limitUsd: 1000 });
  });

  const rowsOf = async (crew: string): Promise<LedgerEntry[]> =>
    (await s.client.request<LedgerList.Result>('ledger/list', { crew })).entries;
  const reserved = async () =>
    (await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: 'global' })).budgets[0]!.reservedUsd;
  it('non-streamed: content, usage.cost equal to the ledger row, crew/agent/run from headers', async () => {
    const client = sdk({ 'X-Crew-Id': 'gw-plain', 'X-Agent-Id': 'writer', 'X-Run-Id': 'run-7' });
    const { data: r, response } = await client.chat.completions
      .create({ model: MODEL, messages: USER('What does the gateway add?'), max_tokens: 32, user: 'ignored' })
      .withResponse();
    assert.equal(r.object, 'chat.completion');
    assert.match(r.choices[0]!.message.content ?? '', /^Sandbox reply:/);
    const gen = up.fake.generations.get(r.id);
    assert.ok(gen, `the id ${r.id} is not an OpenRouter generation id`);
    const usage = r.usage as OpenAI.CompletionUsage & { cost: number };
    assert.equal(usage.prompt_tokens, gen.promptTokens);
    assert.equal(usage.completion_tokens, gen.completionTokens);
    assert.equal(usage.total_tokens, gen.promptTokens + gen.completionTokens);

    const rows = await rowsOf('gw-plain');
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(
      row.agent,
      'gw-plain/writer',
      'X-Crew-Id gw-plain + X-Agent-Id writer is the crew agent gw-plain/writer',
    );
    assert.deepEqual(row.tags, ['run:run-7']);
    assert.equal(row.generationId, r.id);
    assert.equal(row.cost, exactCost(MODEL, gen.promptTokens, gen.completionTokens));
    assert.equal(usage.cost, row.costUsd);
    assert.equal(response.headers.get('x-crew-ledger-id'), String(row.id));

    // Like every mutating call, it is in the audit log, as the gateway's.
    const audit = await s.client.request<AuditList.Result>('audit/list', { method: 'chat/complete' });
    const entry = audit.entries.find((e) => e.clientId === 'gateway:gw-plain/writer');
    assert.ok(entry, JSON.stringify(audit.entries));
    assert.equal(entry.clientKind, 'gateway');
    assert.equal(entry.outcome, 'ok');
  });

  it('streamed: deltas as they arrive, then a usage chunk with the cost, all under the generation id', async () => {
    const client = sdk({ 'X-Crew-Id': 'gw-stream' });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: USER('Stream me a short answer'),
      max_completion_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let deltas = 0;
    const ids = new Set<string>();
    let last: OpenAI.ChatCompletionChunk | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      last = chunk;
      const c = chunk.choices[0];
      if (c?.delta.content) {
        text += c.delta.content;
        deltas++;
      }
      if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.ok(deltas > 1, `only ${deltas} delta(s)`);
    assert.equal(finish, 'stop');
    assert.ok(last && last.choices.length === 0 && last.usage, 'the last chunk carries the usage');
    const [row] = await rowsOf('gw-stream');
    assert.ok(row);
    assert.equal(row.stream, true);
    assert.deepEqual([...ids], [row.generationId]);
    const gen = up.fake.generations.get(row.generationId!)!;
    assert.equal(text.split(' ').length, gen.completionTokens);
    assert.equal((last.usage as { cost?: number }).cost, row.costUsd);
    assert.equal(last.usage.completion_tokens, row.usage.completionTokens);
  });

  it("streamed: OpenRouter's bytes pass through unchanged, the ledger id in a trailer", async () => {
    const body = JSON.stringify({ model: MODEL, messages: USER('Pass me through'), max_tokens: 24, stream: true });
    const raw = async (url: string, key: string, crew?: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          ...(crew ? { 'x-crew-id': crew } : {}),
        },
        body,
      });
      assert.equal(res.status, 200);
      return res.text();
    };
    const direct = await raw(`${up.fake.url}/chat/completions`, 'test-key');
    const ours = await raw(`${baseURL}/chat/completions`, token, 'gw-raw');
    const [row] = await rowsOf('gw-raw');
    assert.ok(row?.generationId);
    // Each call has its own id and time; apart from those the two streams are the same bytes, comments included.
    const generic = (text: string, id: string) =>
      text
        .split(id)
        .join('<id>')
        .replace(/"created":\d+/g, '"created":0');
    const directId = /"id":"([^"]+)"/.exec(direct)![1]!;
    assert.match(direct, /^: OPENROUTER PROCESSING/);
    assert.equal(generic(ours, row.generationId), generic(direct, directId));
  });

  it('over budget: 402 with an OpenAI error body naming the budget, and nothing sent upstream', async () => {
    await s.client.request('budget/set', { scope: 'crew:gw-poor', period: 'daily', limitUsd: 0 });
    const before = up.fake.requests.length;
    for (const stream of [false, true]) {
      const e = await apiFailure(
        sdk({ 'X-Crew-Id': 'gw-poor' }).chat.completions.create({ model: MODEL, messages: USER('hi'), stream }),
      );
      assert.equal(e.status, 402);
      assert.equal(e.code, 'budget_exceeded');
      assert.match(e.message, /crew:gw-poor \(daily\).*limit \$0.*spent \$0.*reserved \$0/);
      assert.equal((e.error as { budget?: { scope: string } }).budget?.scope, 'crew:gw-poor');
    }
    assert.equal(up.fake.requests.length, before);
  });

  it('a wrong or missing token is 401 (the SDK raises AuthenticationError)', async () => {
    const e = await apiFailure(
      sdk({}, 'not-the-token').chat.completions.create({ model: MODEL, messages: USER('hi') }),
    );
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    assert.ok(e instanceof OpenAI.AuthenticationError);
    const models = await fetch(`${baseURL}/models`);
    assert.equal(models.status, 401);
  });

  it('GET /v1/models lists the catalog in the OpenAI list shape', async () => {
    const catalog = await s.client.request<ModelsList.Result>('models/list', {});
    const ids: string[] = [];
    for await (const m of sdk().models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(m.owned_by, m.id.split('/')[0]);
      ids.push(m.id);
    }
    assert.deepEqual(
      ids,
      catalog.models.map((m) => m.id),
    );
    assert.equal((await sdk().models.retrieve(MODEL)).id, MODEL);
  });

  it('bad input is 400 naming the field; an unknown model is 404 model_not_found', async () => {
    // Text parts are text (frameworks send them); an image part is refused naming the field.
    const textParts = await sdk().chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hello ' },
            { type: 'text', text: 'parts' },
          ],
        },
      ],
      max_tokens: 8,
    });
    assert.match(textParts.choices[0]!.message.content ?? '', /hello parts/);
    const parts = await apiFailure(
      sdk().chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }],
      }),
    );
    assert.equal(parts.status, 400);
    assert.equal(parts.param, 'messages.0.content');
    const temp = await apiFailure(
      sdk().chat.completions.create({ model: MODEL, messages: USER('hi'), temperature: 9 }),
    );
    assert.equal(temp.status, 400);
    assert.equal(temp.param, 'temperature');
    const unknown = await apiFailure(
      sdk().chat.completions.create({ model: 'openai/gpt-4o-mimi', messages: USER('hi') }),
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, 'model_not_found');
    assert.match(unknown.message, /did you mean "openai\/gpt-4o-mini"/);
  });

  it('an upstream refusal keeps its status: 402 from OpenRouter is not a budget refusal', async () => {
    up.fake.behave({ fail: { status: 402, times: 1 } });
    const e = await apiFailure(sdk().chat.completions.create({ model: MODEL, messages: USER('hi') }));
    assert.equal(e.status, 402);
    assert.equal(e.code, 'upstream_payment_required');
  });

  it('a stream aborted by the client cancels upstream, records the call as cancelled, releases the reservation', async function () {
    this.timeout(20_000);
    up.fake.behave({ chunkDelayMs: 150, completionTokens: 60 });
    const abortedBefore = up.fake.aborted;
    const ac = new AbortController();
    const stream = await sdk({ 'X-Crew-Id': 'gw-abort' }).chat.completions.create(
      { model: MODEL, messages: USER('a long slow answer please'), max_tokens: 200, stream: true },
      { signal: ac.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    let first = await it.next();
    while (!first.done && !first.value.choices[0]?.delta.content) first = await it.next();
    assert.ok(!first.done, 'no delta before the end');
    assert.ok((await reserved()) > 0, 'while the stream runs, its worst case is reserved');
    ac.abort();
    await it.next().then(
      () => undefined,
      () => undefined,
    );
    await eventually(() => up.fake.aborted > abortedBefore, 'the fake to see the upstream request aborted');
    const row = await eventually(async () => (await rowsOf('gw-abort'))[0], 'the cancelled call in the ledger');
    assert.equal(row.status, 'cancelled');
    await eventually(async () => (await reserved()) === 0, 'the reservation to be released');
  });

  it('JSON-RPC on the same port still works', async () => {
    const r = await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: 'global' });
    assert.equal(r.budgets.length, 1);
  });
});
