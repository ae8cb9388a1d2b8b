/**
 * Core benchmarks (issue 2). Each figure is printed next to a baseline measured in the same run:
 *   1. budget/status round trip over the socket          vs an echo vscode-jsonrpc server   goal ≤ 0.3 ms p50
 *   2. budget/set, durable                                vs write+fsync+rename of the file  goal ≤ 3 ms p50
 *   3. gate + ledger overhead of chat/complete            vs the same upstream call direct   goal ≤ 0.2 ms p50, ≤ 1 ms p99 added
 *   4. throughput with budgets on (64 in flight)          vs the same upstream calls direct  goal ≥ 5,000 calls/s
 *   5. cost/report over 1,000,000 ledger rows             vs a plain loop over row objects   goal ≤ 100 ms
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileLedger, ledgerRepository } from '../server/store/ledger/file-ledger';
import { writeDurably } from '../server/store/durable-file';
import { ReportService } from '../server/costs/reports';
import { benchApp, connect, forkTs, startFake, startServer, stop, tmpDir } from './processes';
import { alternate, compareThroughput, finish, ms, percentile, timeEach, type Row } from './stats';

const quick = process.argv.includes('--quick');
const rows: Row[] = [];

async function socketBenches(upstream: string): Promise<void> {
  const dir = await tmpDir('socket');
  const socket = path.join(dir, 'bench.sock');
  const { child } = await startServer(dir, upstream, ['--socket', socket, '--no-http']);
  const echoPath = path.join(dir, 'echo.sock');
  const echo = forkTs('echo-server.ts', [echoPath]);
  await new Promise((r) => echo.once('message', r));
  const conn = await connect(socket);
  const echoConn = await connect(echoPath);
  await conn.sendRequest('server/hello', { clientKind: 'bench', protocolVersion: '1.0.0' });
  for (const scope of ['global', 'crew:research', 'agent:writer', 'model:openai/gpt-4o-mini', 'crew:ops']) {
    await conn.sendRequest('budget/set', { scope, period: 'monthly', limitUsd: 100 });
  }
  const n = quick ? 500 : 3000;
  await timeEach(300, () => conn.sendRequest('budget/status', {}));
  await timeEach(300, () => echoConn.sendRequest('budget/status', {}));
  const ours = await timeEach(n, () => conn.sendRequest('budget/status', {}));
  const base = await timeEach(n, () => echoConn.sendRequest('budget/status', {}));
  const p50 = percentile(ours, 0.5);
  rows.push({
    name: 'budget/status round trip (socket, 5 budgets), p50',
    figure: ms(p50),
    baseline: `${ms(percentile(base, 0.5))} echo`,
    ratio: (p50 / percentile(base, 0.5)).toFixed(2) + '×',
    goal: '≤ 0.3 ms',
    pass: p50 <= 0.3,
  });

  // budget/set: a durable write of db.json (fsync + rename + dir fsync) per call.
  const m = quick ? 200 : 500;
  let i = 0;
  const sets = await timeEach(m, () =>
    conn.sendRequest('budget/set', { scope: 'crew:research', period: 'monthly', limitUsd: 100 + (i++ % 7) }),
  );
  const dbText = await fsp.readFile(path.join(dir, 'store', 'db.json'), 'utf8');
  const raw = await timeEach(m, () => writeDurably(path.join(dir, 'baseline.json'), dbText));
  const setP50 = percentile(sets, 0.5);
  rows.push({
    name: 'budget/set durable (socket), p50',
    figure: ms(setP50),
    baseline: `${ms(percentile(raw, 0.5))} raw fsync write`,
    ratio: (setP50 / percentile(raw, 0.5)).toFixed(2) + '×',
    goal: '≤ 3 ms',
    pass: setP50 <= 3,
  });
  conn.dispose();
  echoConn.dispose();
  echo.disconnect();
  await stop(child);
  await fsp.rm(dir, { recursive: true, force: true });
}

async function gateBenches(upstream: string): Promise<void> {
  const dir = await tmpDir('gate');
  const app = await benchApp(dir, upstream);

  for (const scope of ['global', 'crew:research', 'agent:writer', 'model:openai/gpt-4o-mini']) {
    await app.budgets.set({ scope, period: 'monthly', limitUsd: 1_000_000 });
  }
  const messages = [{ role: 'user' as const, content: 'Summarise the budget situation in one line.' }];
  const params = { model: 'openai/gpt-4o-mini', messages, maxTokens: 64, crew: 'research', agent: 'writer' };
  const direct = () => app.upstream.chat({ model: params.model, messages, maxTokens: 64, stream: false });
  const gated = () => app.chat.complete(params);
  await timeEach(500, direct);
  await timeEach(500, gated);
  const { base, ours } = await alternate(quick ? 1500 : 4000, direct, gated);
  const added50 = percentile(ours, 0.5) - percentile(base, 0.5);
  const added99 = percentile(ours, 0.99) - percentile(base, 0.99);
  rows.push({
    name: 'chat/complete gate+ledger overhead, p50 added',
    figure: ms(added50),
    baseline: `${ms(percentile(base, 0.5))} direct (ours ${ms(percentile(ours, 0.5))})`,
    ratio: (percentile(ours, 0.5) / percentile(base, 0.5)).toFixed(2) + '×',
    goal: '≤ 0.2 ms',
    pass: added50 <= 0.2,
  });
  rows.push({
    name: 'chat/complete gate+ledger overhead, p99 added',
    figure: ms(added99),
    baseline: `${ms(percentile(base, 0.99))} direct (ours ${ms(percentile(ours, 0.99))})`,
    ratio: (percentile(ours, 0.99) / percentile(base, 0.99)).toFixed(2) + '×',
    goal: '≤ 1 ms',
    pass: added99 <= 1,
  });

  const { baseRate, ourRate } = await compareThroughput(direct, gated, quick ? 1.5 : 4);
  rows.push({
    name: 'throughput with 4 budgets in scope (64 in flight)',
    figure: `${Math.round(ourRate)} calls/s`,
    baseline: `${Math.round(baseRate)} calls/s direct`,
    ratio: (ourRate / baseRate).toFixed(2) + '×',
    goal: '≥ 5,000 calls/s',
    pass: ourRate >= 5000,
  });
  const spent = (await app.budgets.status({ scope: 'global' }))[0]!;
  console.log(
    `  (ledger now ${await app.store.ledger.count()} rows; global spent $${spent.spentUsd}, reserved $${spent.reservedUsd})`,
  );
  await app.close();
  await fsp.rm(dir, { recursive: true, force: true });
}

async function reportBench(upstream: string): Promise<void> {
  const dir = await tmpDir('report');
  const ledgerDir = path.join(dir, 'store', 'ledger');
  const N = quick ? 200_000 : 1_000_000;
  const models = [
    'openai/gpt-4o-mini',
    'openai/gpt-4o',
    'anthropic/claude-sonnet-4',
    'google/gemini-2.5-flash',
    'deepseek/deepseek-chat',
    'mistralai/mistral-small',
  ];
  const t0 = Date.UTC(2026, 8, 1);
  const span = 90 * 86_400_000;
  const plain: { ts: number; model: string; crew: string; agent: string; cost: number; p: number; o: number }[] = [];
  {
    const ledger = await FileLedger.open(ledgerDir);
    let pending: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      const row = {
        ts: t0 + Math.floor((i / N) * span),
        model: models[i % models.length]!,
        crew: `crew-${i % 10}`,
        agent: `agent-${i % 50}`,
        tags: [],
        promptTokens: 100 + (i % 900),
        completionTokens: 20 + (i % 300),
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico: 1_000_000 + (i % 9973) * 1000,
        cost: '',
        estimated: false,
        generationId: `gen-${i}`,
        latencyMs: 300,
        status: 'ok' as const,
        stream: false,
      };
      row.cost = String(row.costPico / 1e12);
      plain.push({
        ts: row.ts,
        model: row.model,
        crew: row.crew,
        agent: row.agent,
        cost: row.costPico,
        p: row.promptTokens,
        o: row.completionTokens,
      });
      pending.push(ledger.append(row));
      if (pending.length === 20_000) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    await ledger.close();
  }
  const tLoad = performance.now();
  const ledger = await FileLedger.open(ledgerDir);
  const loadMs = performance.now() - tLoad;
  const reports = new ReportService(ledgerRepository(() => ledger));
  const runs = 9;
  const timeReport = async (by: 'model' | 'agent' | 'day') => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await reports.report({ by });
      samples.push(performance.now() - t);
    }
    return percentile(samples, 0.5);
  };
  const naive = () => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const groups = new Map<string, { calls: number; cost: number; p: number; o: number }>();
      for (const r of plain) {
        const g = groups.get(r.agent) ?? { calls: 0, cost: 0, p: 0, o: 0 };
        g.calls++;
        g.cost += r.cost;
        g.p += r.p;
        g.o += r.o;
        groups.set(r.agent, g);
      }
      samples.push(performance.now() - t);
    }
    return percentile(samples, 0.5);
  };
  const byAgent = await timeReport('agent');
  const byModel = await timeReport('model');
  const byDay = await timeReport('day');
  const base = naive();
  const worst = Math.max(byAgent, byModel, byDay);
  rows.push({
    name: `cost/report over ${N.toLocaleString('en')} rows (agent/model/day), p50`,
    figure: `${ms(byAgent)} / ${ms(byModel)} / ${ms(byDay)}`,
    baseline: `${ms(base)} loop over row objects (by agent)`,
    ratio: (byAgent / base).toFixed(2) + '×',
    goal: '≤ 100 ms',
    pass: worst <= 100,
  });
  await ledger.close();

  // The same report through the real server over its socket (adds framing + JSON).
  const socket = path.join(dir, 'bench.sock');
  const { child } = await startServer(dir, upstream, ['--socket', socket, '--no-http']);
  const conn = await connect(socket);
  await conn.sendRequest('server/hello', { clientKind: 'bench', protocolVersion: '1.0.0' });
  const rt = await timeEach(runs, () => conn.sendRequest('cost/report', { by: 'agent' }));
  rows.push({
    name: `cost/report over ${N.toLocaleString('en')} rows via socket, p50`,
    figure: ms(percentile(rt, 0.5)),
    baseline: `${ms(loadMs)} ledger load at open`,
    ratio: '-',
    goal: '≤ 100 ms',
    pass: percentile(rt, 0.5) <= 100,
  });
  conn.dispose();
  await stop(child);
  await fsp.rm(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(`crew bench — node ${process.version}, ${os.cpus().length} cores${quick ? ' (quick)' : ''}`);
  const fake = await startFake();
  try {
    await socketBenches(fake.url);
    await gateBenches(fake.url);
    await reportBench(fake.url);
  } finally {
    fake.child.disconnect();
  }
  finish(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
