/**
 * Per-client rate limits answer with RateLimited (1004) and when to retry; nothing is dropped: every request of
 * a burst gets an answer.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { RateLimitedData } from '../../protocol';
import { RpcFailure, useServer, withTimeout, type RpcClient } from '../helpers';

async function burst(client: RpcClient, n: number): Promise<{ ok: number; limited: RpcFailure[] }> {
  const outcomes = await withTimeout(
    Promise.allSettled(Array.from({ length: n }, () => client.request('server/health'))),
    15_000,
    'some requests of the burst were never answered',
  );
  let ok = 0;
  const limited: RpcFailure[] = [];
  for (const o of outcomes) {
    if (o.status === 'fulfilled') ok++;
    else if (o.reason instanceof RpcFailure && o.reason.code === ErrorCodes.RateLimited) limited.push(o.reason);
    else throw new Error(`a request of the burst failed otherwise: ${String(o.reason)}`);
  }
  return { ok, limited };
}

for (const transport of ['socket', 'http'] as const) {
  describe(`rate limit (${transport}, --rate-limit 5)`, function () {
    const s = useServer(() => ({ transport, upstreamUrl: 'http://127.0.0.1:9/api/v1', args: ['--rate-limit', '5'] }));

    it('a burst yields RateLimited with retryAfterMs, and every request is answered', async () => {
      const { ok, limited } = await burst(s.client, 40);
      assert.equal(ok + limited.length, 40);
      assert.ok(ok >= 5 && ok <= 12, `${ok} requests passed; the bucket holds 10 (burst 2×5/s)`);
      assert.ok(limited.length >= 28, `${limited.length} limited`);
      for (const e of limited) {
        const d = e.data as RateLimitedData;
        assert.equal(d.limitPerSecond, 5);
        assert.ok(d.retryAfterMs > 0 && d.retryAfterMs <= 1_000, `retryAfterMs ${d.retryAfterMs}`);
        assert.match(e.message, /retry in \d+ ms/);
      }
      // The advice is honest: after waiting retryAfterMs, the request goes through.
      const wait = (limited.at(-1)!.data as RateLimitedData).retryAfterMs;
      await new Promise((r) => setTimeout(r, wait + 20));
      assert.deepEqual(await s.client.request('server/health').then((h: { ok: boolean }) => h.ok), true);
    });

    if (transport === 'socket')
      it('the limit is per connection: another connection is not held back by a busy one', async () => {
        await burst(s.client, 30);
        const other = await s.server.connect({ clientName: 'other', hello: false });
        const { ok } = await burst(other, 5);
        assert.equal(ok, 5);
        await other.close();
      });
    else
      it('the limit is per token: a new X-Crew-Client per request does not get a new bucket', async () => {
        await burst(s.client, 30);
        const base = await s.server.httpBase();
        const token = await s.server.token();
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            fetch(`${base}/rpc`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'x-crew-client': `n8n/spoof-${i}` },
              body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'server/health' }),
            }).then((r) => r.json() as Promise<{ error?: { code: number } }>),
          ),
        );
        const limited = outcomes.filter((o) => o.error?.code === ErrorCodes.RateLimited).length;
        assert.ok(limited >= 15, `${limited} of 20 limited; a declared client name must not reset the bucket`);
      });
  });
}
