/**
 * Savings recommendations through the real server against the fake OpenRouter: a crew agent's calls (a long system
 * prompt, a generous max_tokens, an expensive model) recorded by chat/complete, kept across a restart, found,
 * applied one by one (the crew agent changes, the audit log has it), not applied twice; an agent the caller named
 * is reported but not applicable; and `cacheSystemPrompt` puts OpenRouter's cache_control on the wire.
 */
import assert from 'node:assert/strict';
import type { ChatComplete, Crew, LedgerList } from '../../protocol';
import { ErrorCodes } from '../../protocol';
import type { CostApplyRecommendation, CostRecommendation, CostRecommendations } from '../../protocol/recommendations';
import { countTokens } from '../fixtures/fake-openrouter';
import { decimal, makeTempDir, pico, removeTempDir, rpcError, startServer, useFake } from '../helpers';
import type { RpcClient, ServerProcess } from '../helpers';

const SONNET = 'anthropic/claude-sonnet-4';
const SYSTEM = 'You review pull requests for the payments team; flag risky changes and explain why. '.repeat(80);
const CALLS = 25;

describe('savings recommendations (real server)', function () {
  this.timeout(60_000);
  const up = useFake();
  let dataDir: string;
  let server: ServerProcess | undefined;
  let c: RpcClient;

  before(() => {
    dataDir = makeTempDir();
  });
  after(async () => {
    await server?.stop();
    await removeTempDir(dataDir);
  });

  const start = async () => {
    ({ server, client: c } = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url }));
  };
  const list = (p: CostRecommendations.Params = {}) => c.request<CostRecommendations.Result>('cost/recommendations', p);
  const find = (recs: CostRecommendation[], kind: CostRecommendation['kind'], agent: string | null) =>
    recs.filter((r) => r.kind === kind && r.agent === agent);

  it('finds what the calls show, keeps it across a restart, applies it and refuses to apply twice', async () => {
    await start();
    await c.request<Crew>('crew/create', {
      name: 'ops',
      agents: [{ name: 'reviewer', model: SONNET, systemPrompt: SYSTEM, maxTokens: 4000 }],
    });
    for (let i = 0; i < CALLS; i++)
      await c.request<ChatComplete.Result>('chat/complete', {
        model: SONNET,
        crew: 'ops',
        agent: 'ops/reviewer',
        maxTokens: 4000,
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: `Review change ${String(i).padStart(2, '0')} please.` },
        ],
      });
    for (let i = 0; i < 3; i++)
      await c.request('chat/complete', {
        model: 'openai/gpt-4o',
        agent: 'bot',
        maxTokens: 100,
        messages: [{ role: 'user', content: 'status?' }],
      });

    // The call shapes are aggregates in memory and a debounced file: a graceful stop writes them.
    await server!.stop();
    await start();
    const res = await list();
    const ledger = (await c.request<LedgerList.Result>('ledger/list', { agent: 'ops/reviewer', limit: 100 })).entries;
    assert.equal(ledger.length, CALLS);

    // prompt-caching. The fake counts ceil(bytes / 4) + 3 tokens per message; the prefix's share of each call's
    // prompt tokens is its share of the bytes. All 25 calls came within 5 minutes: one cache write, 24 reads.
    const sysBytes = Buffer.byteLength(SYSTEM);
    const userBytes = Buffer.byteLength('Review change 00 please.');
    const promptTokens = countTokens(SYSTEM) + 3 + countTokens('Review change 00 please.') + 3;
    assert.equal(ledger[0]!.usage.promptTokens, promptTokens);
    const prefix = BigInt(Math.round((promptTokens * sysBytes) / (sysBytes + userBytes)));
    // 24 × T × (0.000003 − 0.0000003) − 1 × T × (0.00000375 − 0.000003)
    const cachingSavings = 24n * prefix * pico('0.0000027') - prefix * pico('0.00000075');
    const [caching] = find(res.recommendations, 'prompt-caching', 'ops/reviewer');
    assert.ok(caching, JSON.stringify(res.recommendations.map((r) => r.title)));
    assert.equal(caching.savings, decimal(cachingSavings));
    assert.equal(caching.evidence.cacheWrites, 1);
    assert.equal(caching.evidence.prefixTokens, Number(prefix));

    // max-tokens: 4000 asked, 16 used each time (the fake's reply) → 64.
    const [cap] = find(res.recommendations, 'max-tokens', 'ops/reviewer');
    assert.ok(cap);
    assert.equal(cap.savingsUsd, 0);
    assert.equal(cap.evidence.suggestedMaxTokens, 64);
    // (25 × 4000 − 25 × 16) × 0.000015
    assert.equal(cap.evidence.headroom, decimal(BigInt(CALLS * (4000 - 16)) * pico('0.000015')));

    // cheaper-model: the same tokens on the sandbox's cheapest text model that fits (mistral-nemo).
    const [cheaper] = find(res.recommendations, 'cheaper-model', 'ops/reviewer');
    assert.ok(cheaper);
    assert.equal(cheaper.title, `ops/reviewer: switch ${SONNET} to mistralai/mistral-nemo`);
    const spent = ledger.reduce((s, e) => s + pico(e.cost), 0n);
    const prompt = BigInt(ledger.reduce((s, e) => s + e.usage.promptTokens, 0));
    const completion = BigInt(ledger.reduce((s, e) => s + e.usage.completionTokens, 0));
    const repriced = prompt * pico('0.0000000375') + completion * pico('0.00000015');
    assert.equal(cheaper.savings, decimal(spent - repriced));
    assert.equal(cheaper.spentUsd, Number(decimal(spent)));

    // The caller's own agent: reported, not applicable.
    const [bot] = find(res.recommendations, 'cheaper-model', 'bot');
    assert.ok(bot);
    assert.deepEqual(bot.changes, []);
    assert.match(bot.notApplicable!, /not an agent of a crew/);
    const refused = await rpcError(c.request('cost/applyRecommendation', { id: bot.id }), ErrorCodes.Conflict);
    assert.match(refused.message, /cannot be applied here/);

    // Apply all three; each changes the crew agent.
    for (const rec of [caching, cap, cheaper]) {
      const out = await c.request<CostApplyRecommendation.Result>('cost/applyRecommendation', { id: rec.id });
      assert.equal(out.applied, true);
      assert.equal(out.changes.length, 1);
    }
    const crew = await c.request<Crew>('crew/get', { crew: 'ops' });
    assert.equal(crew.agents[0]!.promptCache, true);
    assert.equal(crew.agents[0]!.maxTokens, 64);
    assert.equal(crew.agents[0]!.model, 'mistralai/mistral-nemo');

    const after = await list();
    assert.deepEqual(
      after.recommendations.filter((r) => r.agent === 'ops/reviewer'),
      [],
      'applied recommendations are gone',
    );
    assert.deepEqual(
      after.applied.map((a) => a.id),
      [cheaper.id, cap.id, caching.id],
    );
    const again = await rpcError(c.request('cost/applyRecommendation', { id: cheaper.id }), ErrorCodes.Conflict);
    assert.match(again.message, /already applied/);
    assert.equal((await c.request<Crew>('crew/get', { crew: 'ops' })).agents[0]!.model, 'mistralai/mistral-nemo');

    const audit = await c.request<{ entries: { method: string; outcome: string }[] }>('audit/list', {
      method: 'cost/applyRecommendation',
    });
    assert.deepEqual(audit.entries.map((e) => e.outcome).sort(), ['error', 'error', 'ok', 'ok', 'ok']);
  });

  it('cacheSystemPrompt sends the system prompt with cache_control, as OpenRouter documents it', async () => {
    if (!server) await start();
    const before = up.fake.requests.length;
    const out = await c.request<ChatComplete.Result>('chat/complete', {
      model: SONNET,
      agent: 'probe',
      cacheSystemPrompt: true,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello there' },
      ],
    });
    const sent = up.fake.requests.slice(before).find((r) => r.path.endsWith('/chat/completions'));
    assert.ok(sent);
    const body = sent.body as { messages: unknown[] };
    assert.deepEqual(body.messages, [
      { role: 'system', content: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: 'Hello there' },
    ]);
    // The fake reads content parts like OpenRouter: the same tokens as the plain string.
    assert.equal(out.usage.promptTokens, countTokens('Be brief.') + 3 + countTokens('Hello there') + 3);
    await rpcError(
      c.request('chat/complete', {
        model: SONNET,
        cacheSystemPrompt: 'yes',
        messages: [{ role: 'user', content: 'x' }],
      }),
      ErrorCodes.InvalidParams,
    );
  });
});
