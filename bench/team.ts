/**
 * Team-scale benchmarks (issue 11): the same gate on the local store and on PostgreSQL, side by side in one run,
 * against the fake OpenRouter in its own process, with one hot global budget in scope.
 *   1. gate overhead per call (reserve + settle), p50 added over the same upstream call direct   goal ≤ 2 ms (PostgreSQL)
 *   2. gated throughput, 64 in flight, one instance (in process)                                  goal ≥ 1,000 calls/s
 *   3. gated throughput through two crew-server processes on one database (socket clients,        goal ≥ 1,500 calls/s
 *      64 calls in flight per instance, as for one)
 *   4. budget/status p50                                                                           goal ≤ 2 ms
 *   5. cost/report over 1,000,000 ledger rows                                                      goal ≤ 100 ms
 * PostgreSQL is the machine's (PG* / 127.0.0.1:5432) or a private cluster (test/helpers/postgres.ts); each run uses
 * a database of its own and drops it.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { App } from '../server/app';
import { parseStoreLocation } from '../server/store/location';
import { createTestDatabase } from '../test/helpers/postgres';
import { benchApp, connect, startFake, startServer, stop, tmpDir } from './processes';
import { alternate, compareThroughput, finish, ms, percentile, throughput, timeEach, type Row } from './stats';

const quick = process.argv.includes('--quick');
const rows: Row[] = [];

const messages = [{ role: 'user' as const, content: 'Summarise the budget situation in one line.' }];
const params = { model: 'openai/gpt-4o-mini', messages, maxTokens: 64, crew: 'research', agent: 'writer' };

/** Gate overhead, throughput and budget/status of one backend, in process. */
async function gate(label: string, a: App): Promise<{ added50: number; rate: number; status50: number }> {
  await a.budgets.set({ scope: 'global', period: 'monthly', limitUsd: 1_000_000 });
  const direct = () => a.upstream.chat({ model: params.model, messages, maxTokens: 64, stream: false });
  const gated = () => a.chat.complete(params);
  await timeEach(300, direct);
  await timeEach(300, gated);
  const { base, ours } = await alternate(quick ? 500 : 1500, direct, gated);
  const added50 = percentile(ours, 0.5) - percentile(base, 0.5);
  const { baseRate, ourRate } = await compareThroughput(direct, gated, quick ? 1.5 : 4);
  const status = await timeEach(quick ? 300 : 1000, () => a.budgets.status({}));
  const status50 = percentile(status, 0.5);
  rows.push({
    name: `${label}: gate overhead (reserve + settle), p50 added`,
    figure: ms(added50),
    baseline: `${ms(percentile(base, 0.5))} direct (ours ${ms(percentile(ours, 0.5))})`,
    ratio: (percentile(ours, 0.5) / percentile(base, 0.5)).toFixed(2) + '×',
    goal: '≤ 2 ms',
    pass: added50 <= 2,
  });
  rows.push({
    name: `${label}: throughput, one instance (64 in flight)`,
    figure: `${Math.round(ourRate)} calls/s`,
    baseline: `${Math.round(baseRate)} calls/s direct`,
    ratio: (ourRate / baseRate).toFixed(2) + '×',
    goal: '≥ 1,000 calls/s',
    pass: ourRate >= 1000,
  });
  rows.push({
    name: `${label}: budget/status (in process), p50`,
    figure: ms(status50),
    baseline: '-',
    ratio: '-',
    goal: '≤ 2 ms',
    pass: status50 <= 2,
  });
  return { added50, rate: ourRate, status50 };
}

/** Calls/s through `n` crew-server processes on one database, clients spread over them. */
async function instances(n: number, upstream: string, url: string): Promise<number> {
  const dirs = await Promise.all(Array.from({ length: n }, () => tmpDir('team')));
  const servers = await Promise.all(
    dirs.map((d) => startServer(d, upstream, ['--socket', path.join(d, 's.sock'), '--no-http', '--store', url])),
  );
  const conns = await Promise.all(servers.map((s) => connect(s.discovery.socket!)));
  let next = 0;
  const call = () => conns[next++ % conns.length]!.sendRequest('chat/complete', params);
  await throughput(call, 1, 64 * n);
  const rate = await throughput(call, quick ? 2 : 4, 64 * n);
  conns.forEach((c) => c.dispose());
  await Promise.all(servers.map((s) => stop(s.child)));
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
  return rate;
}

/** cost/report over a million ledger rows written straight into the database (the shape bench/core.ts uses). */
async function report(a: App, db: string): Promise<void> {
  const pg = (a.store as unknown as { db: { query(sql: string, params?: unknown[]): Promise<unknown[]> } }).db;
  const t0 = Date.now() - 30 * 86_400_000;
  await pg.query(
    `insert into crew_ledger (ts, model, crew, agent, tags, prompt_tokens, completion_tokens, cached_tokens,
       reasoning_tokens, cost_pico, cost, estimated, generation_id, latency_ms, status, stream)
     select $1::bigint + g::bigint * 2592, 'model-' || (g % 12), 'crew-' || (g % 8), 'crew-' || (g % 8) || '/agent-' || (g % 40),
       '{}', 100 + g % 900, 50 + g % 400, 0, 0, 1000 + g % 100000, ((1000 + g % 100000) / 1e12)::text, false, null,
       5, 'ok', false
     from generate_series(1, 1000000) as g`,
    [t0],
  );
  // What the instances' background fold does every few seconds, done at once for the million rows.
  await pg.query('select crew_rollup_fold(2000000, 0)');
  await pg.query('analyze crew_ledger');
  await pg.query('analyze crew_ledger_hourly');
  const time = async (by: 'agent' | 'model' | 'day') =>
    percentile(await timeEach(quick ? 3 : 7, () => a.reports.report({ by })), 0.5);
  const [agent, model, day] = [await time('agent'), await time('model'), await time('day')];
  const worst = Math.max(agent, model, day);
  rows.push({
    name: `PostgreSQL (${db}): cost/report over 1,000,000 rows (agent/model/day), p50`,
    figure: `${ms(agent)} / ${ms(model)} / ${ms(day)}`,
    baseline: '-',
    ratio: '-',
    goal: '≤ 100 ms',
    pass: worst <= 100,
  });
}

async function main(): Promise<void> {
  console.log(`crew bench (team) — node ${process.version}, ${os.cpus().length} cores${quick ? ' (quick)' : ''}`);
  const fake = await startFake();
  const db = await createTestDatabase('crew_bench');
  const location = parseStoreLocation(db.url, '/unused');
  try {
    const localDir = await tmpDir('local');
    const local = await benchApp(localDir, fake.url);
    await gate('local store', local);
    await local.close();
    await fsp.rm(localDir, { recursive: true, force: true });

    const pgDir = await tmpDir('pg');
    const shared = await benchApp(pgDir, fake.url, location);
    await gate('PostgreSQL', shared);

    const one = await instances(1, fake.url, db.url);
    const two = await instances(2, fake.url, db.url);
    rows.push({
      name: 'PostgreSQL: throughput through 2 crew-server processes (socket, 64 in flight each)',
      figure: `${Math.round(two)} calls/s`,
      baseline: `${Math.round(one)} calls/s through 1 process`,
      ratio: (two / one).toFixed(2) + '×',
      goal: '≥ 1,500 calls/s',
      pass: two >= 1500,
    });
    await report(shared, new URL(db.url).pathname.slice(1));
    await shared.close();
    await fsp.rm(pgDir, { recursive: true, force: true });
  } finally {
    fake.child.disconnect();
    await db.drop();
  }
  finish(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
