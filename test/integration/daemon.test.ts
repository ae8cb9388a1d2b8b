/**
 * The daemon's process-level contract: one server per data directory (a second is refused, a dead one's lock
 * is taken over), the HTTP transport requires its bearer token, and SIGTERM is a clean exit that removes the
 * discovery file and the lock.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import { ErrorCodes, PROTOCOL_VERSION } from '../../protocol';
import type { ServerInfo } from '../../protocol';
import { launchServer, makeTempDir, removeTempDir, startServer, useServer, withTimeout } from '../helpers';

describe('daemon: one server per data directory', function () {
  this.timeout(30_000);
  const s = useServer(() => ({ transport: 'http', upstreamUrl: 'http://127.0.0.1:9/api/v1' }));

  it('a second server on the same data dir is refused, saying the dir is already served', async () => {
    for (const transport of ['socket', 'stdio'] as const) {
      const second = await launchServer({ transport, dataDir: s.server.dataDir });
      const exit = await second.exited;
      assert.notEqual(exit.code, 0, `second ${transport} server exit code`);
      assert.match(second.stderr, /already serving/);
      assert.match(second.stderr, new RegExp(`pid ${s.server.pid}`));
    }
    // The first one is unaffected, and its discovery file still names it.
    assert.equal((await s.server.discovery()).pid, s.server.pid);
    const info = await s.client.request<ServerInfo.Result>('server/info');
    assert.equal(info.pid, s.server.pid);
  });

  it('server.json tells clients where to connect', async () => {
    const d = await s.server.discovery();
    assert.equal(d.protocolVersion, PROTOCOL_VERSION);
    assert.equal(d.dataDir, s.server.dataDir);
    assert.ok(d.httpPort && d.httpPort > 0);
    assert.ok(d.socket && existsSync(d.socket));
    if (process.platform !== 'win32') {
      assert.equal((await fsp.stat(d.socket)).mode & 0o777, 0o600, 'the socket is 0600');
      assert.equal((await fsp.stat(s.server.paths.token)).mode & 0o777, 0o600, 'the token file is 0600');
    }
  });

  describe('HTTP requires the bearer token', () => {
    const rpc = (headers: Record<string, string>) =>
      fetch(`${baseUrl}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/info' }),
      });
    let baseUrl: string;
    let token: string;
    before(async () => {
      baseUrl = await s.server.httpBase();
      token = await s.server.token();
    });

    it('POST /rpc without a token → 401 with a JSON-RPC error saying what to use', async () => {
      const res = await rpc({});
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
      const body = (await res.json()) as { error: { code: number; message: string } };
      assert.equal(body.error.code, ErrorCodes.Unauthorized);
      assert.match(body.error.message, /token/);
    });

    it('POST /rpc with a wrong token → 401', async () => {
      assert.equal((await rpc({ authorization: `Bearer ${token.slice(0, -1)}x` })).status, 401);
      assert.equal((await rpc({ authorization: 'Bearer ' })).status, 401);
      assert.equal((await rpc({ authorization: token })).status, 401, 'the scheme is required');
    });

    it('POST /rpc with the token → 200', async () => {
      const res = await rpc({ authorization: `Bearer ${token}` });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { result: ServerInfo.Result };
      assert.equal(body.result.pid, s.server.pid);
    });

    it('GET /events without a token → 401; with ?token= (EventSource cannot set headers) → 200', async () => {
      assert.equal((await fetch(`${baseUrl}/events`)).status, 401);
      assert.equal((await fetch(`${baseUrl}/events?token=wrong`)).status, 401);
      const ac = new AbortController();
      const ok = await fetch(`${baseUrl}/events?token=${encodeURIComponent(token)}`, { signal: ac.signal });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /text\/event-stream/);
      ac.abort();
    });
  });
});

describe('daemon: shutdown and crash recovery', function () {
  this.timeout(30_000);

  for (const transport of ['http', 'socket', 'stdio'] as const)
    it(`SIGTERM (${transport}, a client still connected): exit code 0, server.json and server.lock removed`, async () => {
      const { server, client } = await startServer({ transport, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
      await client.request('server/health');
      assert.ok(existsSync(server.paths.lock));
      if (transport !== 'stdio') assert.ok(existsSync(server.paths.discovery));
      // The client stays connected: it must not keep the server from stopping.
      server.child.kill('SIGTERM');
      const exit = await withTimeout(server.exited, 10_000, 'crew-server did not exit on SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, server.stderr);
      assert.match(server.stderr, /shutting down/);
      assert.equal(existsSync(server.paths.discovery), false, 'server.json left behind');
      assert.equal(existsSync(server.paths.lock), false, 'server.lock left behind');
      assert.ok(existsSync(server.paths.token) || transport === 'stdio', 'the token is kept for the next start');
      await client.close();
      await removeTempDir(server.dataDir);
    });

  it('server/shutdown stops the server cleanly too', async () => {
    const { server, client } = await startServer({ transport: 'socket', upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    assert.deepEqual(await client.request('server/shutdown'), { stopping: true });
    const exit = await server.exited;
    assert.equal(exit.code, 0);
    assert.equal(existsSync(server.paths.lock), false);
    await removeTempDir(server.dataDir);
  });

  it('a server killed with SIGKILL leaves its lock; the next one takes it over', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    await first.client.request('budget/set', { scope: 'global', period: 'total', limitUsd: 3 });
    await first.server.stop('SIGKILL');
    assert.ok(existsSync(first.server.paths.lock), 'a crash leaves the lock');
    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    const st = await second.client.request<{ budgets: { limitUsd: number }[] }>('budget/status');
    assert.equal(st.budgets[0]!.limitUsd, 3, 'the acknowledged budget survived the crash');
    assert.equal((await second.server.stop()).code, 0);
    await removeTempDir(dataDir);
  });
});
