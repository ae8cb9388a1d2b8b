/**
 * server/setApiKey: a daemon started without an OpenRouter key (as the VS Code extension may find it) takes one in
 * memory, uses it for the next call, forgets it on null, and writes it nowhere: not the store, the audit log or
 * the server's log. A sandbox server refuses it.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { ErrorCodes } from '../../protocol';
import { rpcError, startServer, USER, useFake, useServer, filesUnder } from '../helpers';

const SECRET = 'sk-or-v1-from-secret-storage-98765';

describe('server/setApiKey', function () {
  this.timeout(30_000);
  const up = useFake();
  const s = useServer(() => ({ transport: 'socket', upstreamUrl: up.fake.url, apiKey: null }));
  const call = () => s.client.request('chat/complete', { model: 'openai/gpt-4o-mini', messages: USER('hi') });

  it('a key handed over in memory is used for the next call, forgotten on null, and written nowhere', async () => {
    await rpcError(call(), ErrorCodes.UpstreamUnauthorized);
    const set = await s.client.request<{ keyConfigured: boolean }>('server/setApiKey', { apiKey: SECRET });
    assert.deepEqual(set, { keyConfigured: true });
    await call();
    assert.equal(up.fake.requests.at(-1)!.headers.authorization, `Bearer ${SECRET}`);
    const cleared = await s.client.request<{ keyConfigured: boolean }>('server/setApiKey', { apiKey: null });
    assert.deepEqual(cleared, { keyConfigured: false });
    await rpcError(call(), ErrorCodes.UpstreamUnauthorized);

    // The audit log is written in batches a few ms apart.
    let audit = '';
    for (let i = 0; i < 100 && !/server\/setApiKey.*server\/setApiKey/s.test(audit); i++) {
      await new Promise((r) => setTimeout(r, 20));
      audit = await fsp.readFile(s.server.paths.audit, 'utf8').catch(() => '');
    }
    assert.match(audit, /server\/setApiKey/);
    assert.ok(!audit.includes(SECRET), 'the key leaked into audit.log');
    assert.ok(!s.server.stderr.includes(SECRET), 'the key leaked into the server log');
    for (const f of await filesUnder(s.server.dataDir))
      assert.ok(!(await fsp.readFile(f)).includes(SECRET), `the key leaked into ${f}`);
  });

  it('a sandbox server refuses a key', async () => {
    const sandbox = await startServer({ transport: 'stdio', args: ['--sandbox'] });
    try {
      const e = await rpcError(sandbox.client.request('server/setApiKey', { apiKey: SECRET }), ErrorCodes.Conflict);
      assert.match(e.message, /sandbox/);
    } finally {
      await sandbox.server.stop();
    }
  });
});
