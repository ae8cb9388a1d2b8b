/**
 * Identity comes from what was authenticated: the audit log's principal is the token (or the connection), the
 * client's own claims are recorded as declared; each gateway credential has its own rate-limit bucket, so one
 * crew cannot starve another; a secret in a webhook URL's query string never reaches the audit log.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { ErrorCodes, type AuditList, type CrewToken } from '../../protocol';
import { RpcFailure, useFake, useServer } from '../helpers';

const MODEL = 'openai/gpt-4o-mini';

describe('identity: principals, per-credential gateway buckets, redacted webhook URLs (HTTP)', function () {
  const up = useFake();
  // 5 requests/s, burst 10: a few more calls than that exhaust a bucket.
  const s = useServer(() => ({ transport: 'http', upstreamUrl: up.fake.url, args: ['--rate-limit', '5'] }));
  let base: string;
  let serverToken: string;
  const crewToken: Record<string, string> = {};

  const chat = (token: string) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }),
    });

  /** A call over the harness's client that honours the server's own retry advice (the limit here is low). */
  async function rpc<T>(method: string, params: object): Promise<T> {
    for (;;) {
      try {
        return await s.client.request<T>(method, params);
      } catch (e) {
        if (!(e instanceof RpcFailure) || e.code !== ErrorCodes.RateLimited) throw e;
        await new Promise((done) => setTimeout(done, (e.data as { retryAfterMs: number }).retryAfterMs));
      }
    }
  }

  before(async () => {
    base = await s.server.httpBase();
    serverToken = await s.server.token();
    for (const name of ['alpha', 'beta']) {
      await rpc('crew/create', { name, agents: [{ name: 'w', model: MODEL }] });
      crewToken[name] = (await rpc<CrewToken.Result>('crew/token', { crew: name, action: 'create' })).token!;
    }
  });

  it("one crew's token exhausting its bucket leaves the other crew and the server token untouched", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await chat(crewToken.alpha!)).status);
    assert.ok(statuses.includes(429), `alpha was never limited: ${statuses.join(',')}`);
    assert.equal((await chat(crewToken.alpha!)).status, 429);
    assert.equal((await chat(crewToken.beta!)).status, 200, 'beta has a bucket of its own');
    assert.equal((await chat(serverToken)).status, 200, 'so has the server token');
  });

  it('the audit log names the authenticated principal; the declared client is recorded as declared', async () => {
    for (;;) {
      const r = await fetch(`${base}/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serverToken}`, 'x-crew-client': 'vscode/pretending' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'budget/set',
          params: { scope: 'global', period: 'daily', limitUsd: 5 },
        }),
      });
      const reply = (await r.json()) as { error?: { code: number; data: { retryAfterMs: number } } };
      if (reply.error?.code !== ErrorCodes.RateLimited) break;
      await new Promise((done) => setTimeout(done, reply.error!.data.retryAfterMs));
    }
    const { entries } = await rpc<AuditList.Result>('audit/list', { limit: 100 });
    const set = entries.find((e) => e.method === 'budget/set')!;
    assert.equal(set.principal, 'server-token');
    assert.equal(set.clientKind, 'vscode', 'the declared kind, kept as declared');
    assert.equal(set.declaredClient, 'vscode/pretending');
    const gateway = entries.filter((e) => e.clientKind === 'gateway');
    assert.ok(
      gateway.some((e) => /^crew-token:/.test(e.principal ?? '')),
      JSON.stringify(gateway.map((e) => e.principal)),
    );
    assert.ok(gateway.some((e) => e.principal === 'server-token'));
  });

  it('a secret in a webhook URL (query string, user info) is redacted in the audit log', async () => {
    await rpc('webhook/register', {
      url: 'https://hooks.example.com/notify?token=QUERY-SECRET-42&channel=ops',
      events: ['budget.alert'],
    });
    await rpc('webhook/register', {
      url: 'https://user:PASS-SECRET-7@hooks.example.com/x',
      events: ['budget.alert'],
    }).catch(() => undefined);
    const { entries } = await rpc<AuditList.Result>('audit/list', { limit: 100 });
    const hooks = entries.filter((e) => e.method === 'webhook/register');
    assert.ok(hooks.length >= 1);
    assert.ok(
      hooks.some((e) => e.summary.includes('token=redacted&channel=redacted')),
      hooks.map((e) => e.summary).join('\n'),
    );
    // Also on disk, after the batch is written.
    await rpc('audit/list', { limit: 1 });
    const text = await fsp.readFile(s.server.paths.audit, 'utf8');
    assert.doesNotMatch(text, /QUERY-SECRET-42|PASS-SECRET-7/);
  });
});
