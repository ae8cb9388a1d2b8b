/**
 * server/*: info names the protocol version, metrics count requests and errors per method with latency
 * percentiles, and a client of an incompatible protocol is refused with a message saying which side to update.
 */
import assert from 'node:assert/strict';
import { ErrorCodes, PROTOCOL_VERSION } from '../../protocol';
import type { ServerHealth, ServerInfo, ServerMetrics, ServerUpstream } from '../../protocol';
import { forEachTransport, rpcError, useFake, useServer } from '../helpers';

const bump = (v: string, part: 'major' | 'minor', by: number) => {
  const [major, minor] = v.split('.').map(Number) as [number, number];
  return part === 'major' ? `${major + by}.0.0` : `${major}.${minor + by}.0`;
};

forEachTransport((transport) => {
  describe(`server/* (${transport})`, function () {
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url }));

    it('server/info has the protocol version and where the server is', async () => {
      const info = await s.client.request<ServerInfo.Result>('server/info');
      assert.equal(info.name, 'crew-server');
      assert.equal(info.protocolVersion, PROTOCOL_VERSION);
      assert.equal(info.pid, s.server.pid);
      assert.equal(info.dataDir, s.server.dataDir);
      assert.equal(info.upstream.baseUrl, up.fake.url);
      assert.equal(info.upstream.keyConfigured, true);
      assert.equal(info.upstream.sandbox, false);
      if (transport === 'http') assert.equal(info.httpPort, (await s.server.discovery()).httpPort);
      if (transport === 'stdio') assert.deepEqual([info.socket, info.httpPort], [null, null]);
      const health = await s.client.request<ServerHealth.Result>('server/health');
      assert.deepEqual([health.ok, health.store], [true, 'ok']);
      const upstream = await s.client.request<ServerUpstream.Result>('server/upstream');
      assert.equal(upstream.error, null);
      assert.equal(upstream.key?.label, 'OpenRouter sandbox key');
    });

    it('server/metrics counts requests and errors per method, with p50 ≤ p99', async () => {
      const before = await s.client.request<ServerMetrics.Result>('server/metrics');
      const count = (m: ServerMetrics.Result, method: string) =>
        m.methods.find((x) => x.method === method) ?? { requests: 0, errors: 0 };
      for (let i = 0; i < 7; i++) await s.client.request('server/health');
      for (let i = 0; i < 3; i++)
        await rpcError(s.client.request('budget/delete', { id: `missing-${i}` }), ErrorCodes.NotFound);
      await rpcError(s.client.request('budget/delete', {}), ErrorCodes.InvalidParams);
      const m = await s.client.request<ServerMetrics.Result>('server/metrics');
      assert.equal(count(m, 'server/health').requests - count(before, 'server/health').requests, 7);
      assert.equal(count(m, 'server/health').errors - count(before, 'server/health').errors, 0);
      assert.equal(count(m, 'budget/delete').requests - count(before, 'budget/delete').requests, 4);
      assert.equal(count(m, 'budget/delete').errors - count(before, 'budget/delete').errors, 4);
      assert.equal(
        count(m, 'server/metrics').requests - count(before, 'server/metrics').requests,
        1,
        'the earlier metrics call counted',
      );
      for (const x of m.methods) {
        assert.ok(x.p50Ms >= 0 && x.p99Ms >= x.p50Ms, `${x.method}: p50 ${x.p50Ms}, p99 ${x.p99Ms}`);
        assert.ok(x.errors <= x.requests);
      }
      assert.equal(
        m.requests,
        m.methods.reduce((n, x) => n + x.requests, 0),
      );
      assert.equal(
        m.errors,
        m.methods.reduce((n, x) => n + x.errors, 0),
      );
      assert.ok(m.uptimeMs > 0);
    });

    it('server/hello from a newer major protocol is refused: update the server', async () => {
      const newer = bump(PROTOCOL_VERSION, 'major', 1);
      assert.equal(newer, '2.0.0');
      const e = await rpcError(
        s.client.request('server/hello', { clientKind: 'test', protocolVersion: newer }),
        ErrorCodes.InvalidRequest,
      );
      assert.match(e.message, new RegExp(`crew-server speaks protocol ${PROTOCOL_VERSION.replace(/\./g, '\\.')}`));
      assert.match(e.message, /2\.0\.0/);
      assert.match(e.message, /restart the server from the newer version/);
      assert.equal((e.data as { serverProtocolVersion: string }).serverProtocolVersion, PROTOCOL_VERSION);
    });

    it('server/hello needing a newer minor is refused too; an older client is told to update itself', async () => {
      const e1 = await rpcError(
        s.client.request('server/hello', { clientKind: 'test', protocolVersion: bump(PROTOCOL_VERSION, 'minor', 1) }),
        ErrorCodes.InvalidRequest,
      );
      assert.match(e1.message, /restart the server/);
      const e2 = await rpcError(
        s.client.request('server/hello', { clientKind: 'test', protocolVersion: '0.9.0' }),
        ErrorCodes.InvalidRequest,
      );
      assert.match(e2.message, /update this client/);
      const ok = await s.client.request<ServerInfo.Result>('server/hello', {
        clientKind: 'test',
        protocolVersion: PROTOCOL_VERSION,
      });
      assert.equal(ok.protocolVersion, PROTOCOL_VERSION);
    });
  });
});
