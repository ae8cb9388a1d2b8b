/**
 * The team database going away under load, for a real crew-server on `--store postgres://…` (through a TCP proxy
 * the test cuts and restores, so the machine's PostgreSQL and other suites are untouched): while it is away every
 * call is answered — StoreUnavailable (1206, retryable), never an upstream call that is not recorded — nothing
 * acknowledged is lost, and service resumes on its own when it is back.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import type { ChatComplete, LedgerList, StoreUnavailableData } from '../../protocol';
import {
  makeTempDir,
  removeTempDir,
  RpcFailure,
  startServer,
  USER,
  useFake,
  type RpcClient,
  type ServerProcess,
} from '../helpers';
import { createTestDatabase, pgServer } from '../helpers/postgres';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

describe('the team database goes away under load, and comes back', function () {
  this.timeout(120_000);
  const up = useFake();
  let db: { url: string; drop(): Promise<void> };
  let proxy: TcpProxy;
  let server: ServerProcess;
  let client: RpcClient;

  before(async () => {
    db = await createTestDatabase('crew_outage');
    const pg = await pgServer();
    proxy = await tcpProxy({ host: pg.host, port: pg.port });
    const url = new URL(db.url);
    url.port = String(proxy.port);
    ({ server, client } = await startServer({
      transport: 'socket',
      dataDir: makeTempDir(),
      upstreamUrl: up.fake.url,
      args: ['--rate-limit', '0', '--store', url.toString()],
    }));
    await client.request('budget/set', { scope: 'global', period: 'daily', limitUsd: 100 });
  });
  after(async () => {
    await server?.stop();
    await removeTempDir(server.dataDir);
    await proxy?.close();
    await db?.drop();
  });

  const call = (i: number) =>
    client.request<ChatComplete.Result>('chat/complete', {
      model: 'openai/gpt-4o-mini',
      messages: USER(`call ${i}`),
      maxTokens: 16,
      crew: 'load',
    });

  it('every call is answered while it is away (1206, retryable); acknowledged calls stay; service resumes', async () => {
    const acknowledged: ChatComplete.Result[] = [];
    const unavailable: RpcFailure[] = [];
    let stop = false;
    const load = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          acknowledged.push(await call(w * 10_000 + i));
        } catch (e) {
          assert.ok(e instanceof RpcFailure, String(e));
          assert.equal(e.code, ErrorCodes.StoreUnavailable, e.message);
          unavailable.push(e);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    // Calls take 300 ms upstream, and the database goes away 100 ms after a wave of answers: the gate settles and
    // reserves calls that arrive together in one round, so the workers move in waves, and cutting right after a
    // wave would catch every call at its reservation and none upstream. Those upstream must still be recorded.
    up.fake.behave({ latencyMs: 300 });
    const workers = Array.from({ length: 8 }, (_, w) => load(w));
    while (acknowledged.length < 16) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    proxy.cut();
    const cutAt = acknowledged.length;
    while (unavailable.length < 20) await new Promise((r) => setTimeout(r, 10));
    const d = unavailable[0]!.data as StoreUnavailableData;
    assert.equal(d.retryable, true);
    assert.match(unavailable[0]!.message, /unreachable/);
    proxy.restore();
    // Resumes on its own: new calls are acknowledged again.
    const started = Date.now();
    while (acknowledged.length < cutAt + 24) {
      assert.ok(Date.now() - started < 30_000, 'service did not resume');
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await Promise.all(workers);
    assert.equal(server.child.exitCode, null, 'the daemon kept running');
    // Nothing acknowledged is lost; nothing unrecorded went upstream.
    const rows = await client.request<LedgerList.Result>('ledger/list', { crew: 'load', limit: 1 });
    assert.ok(rows.total >= acknowledged.length, 'every acknowledged call has its ledger row');
    // Never a spend that is not recorded: every call OpenRouter answered (and billed) has its row, including the
    // ones that were upstream when the database went away (kept in the data directory and written once it is back;
    // a caller that waited past the bound heard 1206 meanwhile).
    const billed = [...up.fake.generations.values()].filter((g) => g.apiType === 'completions').length;
    const settled = Date.now();
    for (;;) {
      const rows = await client.request<LedgerList.Result>('ledger/list', { crew: 'load', limit: 1 });
      if (rows.total === billed) break;
      assert.ok(rows.total < billed, `${rows.total} rows for ${billed} billed calls`);
      assert.ok(Date.now() - settled < 20_000, `${billed - rows.total} billed call(s) never reached the ledger`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(server.stderr, /is kept in the data directory until it is back/, 'no call was caught upstream');
  });
});
