/**
 * The audit log records every mutating call (who, what, outcome), and the OpenRouter API key never shows up in
 * it, in the server's log, in error messages, or anywhere in the data directory.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AuditEntry, AuditList } from '../../protocol';
import {
  removeTempDir,
  rpcError,
  startServer,
  USER,
  useFake,
  type RpcClient,
  type ServerProcess,
  filesUnder,
} from '../helpers';

const SECRET = 'sk-or-v1-test-SECRET-123456';

describe('audit log and secrets (socket)', function () {
  this.timeout(30_000);
  const up = useFake();
  let server: ServerProcess;
  let client: RpcClient;
  const messages: string[] = [];

  before(async () => {
    ({ server, client } = await startServer({
      transport: 'socket',
      upstreamUrl: up.fake.url,
      apiKey: SECRET,
      args: ['--log-level', 'debug'],
      clientKind: 'test',
    }));
  });
  after(async () => {
    if (server.child.exitCode === null) await server.stop();
    await removeTempDir(server.dataDir);
  });

  it('audit/list shows mutating calls with clientKind, clientId, method and outcome', async () => {
    await client.request('budget/set', { scope: 'global', period: 'daily', limitUsd: 2 });
    await client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('audited call') });
    await client.request('ledger/list', {});
    const failed = await rpcError(client.request('budget/delete', { id: 'nope' }));
    messages.push(failed.message);
    const { entries } = await client.request<AuditList.Result>('audit/list', { limit: 50 });
    const byMethod = (m: string) => entries.filter((e) => e.method === m);
    assert.equal(byMethod('budget/set').length, 1);
    assert.equal(byMethod('chat/complete').length, 1);
    assert.equal(byMethod('ledger/list').length, 0, 'reads are not audited');
    const set = byMethod('budget/set')[0]!;
    assert.equal(set.clientKind, 'test', 'the kind the client declared in server/hello');
    assert.match(set.clientId, /^socket:/);
    assert.equal(set.outcome, 'ok');
    assert.equal(set.errorCode, null);
    assert.match(set.summary, /"limitUsd":2/);
    assert.ok(Date.parse(set.at) > 0 && set.durationMs >= 0);
    const chat = byMethod('chat/complete')[0]!;
    assert.equal(chat.outcome, 'ok');
    assert.doesNotMatch(chat.summary, /audited call/, 'message contents are not copied into the audit log');
    const del = byMethod('budget/delete')[0]!;
    assert.deepEqual([del.outcome, del.errorCode], ['error', 1002]);
    assert.equal(entries[0]!.method, 'budget/delete', 'newest first');
    assert.deepEqual(
      (await client.request<AuditList.Result>('audit/list', { method: 'budget/set' })).entries.map(
        (e: AuditEntry) => e.method,
      ),
      ['budget/set'],
    );
  });

  it('the API key appears in no error message, log line, audit line or store file', async () => {
    // Upstream echoes the key in its error message; a client puts it in a webhook URL.
    up.fake.behave({ fail: { status: 401, times: Infinity, message: `Invalid API key ${SECRET} for this account` } });
    const e = await rpcError(client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('hi') }));
    messages.push(e.message, JSON.stringify(e.data ?? null));
    assert.match(e.message, /Check OPENROUTER_API_KEY/);
    const stream = await rpcError(
      client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('hi'), stream: true }),
    );
    messages.push(stream.message, JSON.stringify(stream.data ?? null));
    up.fake.behave({});
    const conf = await client.request<{ webhooks: { id: string }[] }>('budget/configureAlerts', {
      webhookUrl: `http://127.0.0.1:9/hook?key=${SECRET}`,
    });
    // The URL is the client's own choice and is kept as given; remove it so the store scan below checks the rest.
    await client.request('budget/configureAlerts', { removeWebhook: conf.webhooks[0]!.id });
    const upstream = await client.request<{ error: string | null }>('server/upstream');
    messages.push(JSON.stringify(upstream));

    // The fake did receive the key: it is in use, just never written anywhere of ours.
    assert.ok(up.fake.requests.some((r) => r.headers.authorization === `Bearer ${SECRET}`));

    const exit = await server.stop();
    assert.equal(exit.code, 0);
    for (const m of messages) assert.ok(!m.includes(SECRET), `the key leaked into an error: ${m}`);
    assert.ok(!server.stderr.includes(SECRET), 'the key leaked into the server log (stderr)');
    assert.match(server.stderr, /debug|info/, 'the log was captured');
    const audit = await fsp.readFile(server.paths.audit, 'utf8');
    assert.match(audit, /budget\/configureAlerts/);
    assert.ok(!audit.includes(SECRET), 'the key leaked into audit.log');
    for (const f of await filesUnder(server.dataDir)) {
      const bytes = await fsp.readFile(f);
      assert.ok(!bytes.includes(SECRET), `the key leaked into ${path.relative(server.dataDir, f)}`);
    }
  });
});
