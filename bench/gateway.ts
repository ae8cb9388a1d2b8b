/**
 * OpenAI-compatible gateway benchmark (issue 4). The same `openai` SDK client calls the fake OpenRouter either
 * through the gateway (`/v1/chat/completions` on the server's HTTP port: auth, parse, budget gate with 4 budgets
 * in scope, durable ledger row, OpenAI-shaped answer) or directly. The fake runs in its own process, the server
 * as a child process with `--rate-limit 0`.
 *   1. overhead per call, sequential, interleaved call by call   goal ≤ 1 ms p50 added
 *   2. the same at p99                                          (reported)
 *   3. throughput at 64 in flight                               vs the same calls direct (reported)
 *
 *   node --import tsx bench/gateway.ts [--quick]     (needs `npm run build` first: it runs dist/server.js)
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { dataDirPaths } from '../protocol/node';
import { startFake, startServer, stop } from './processes';
import { compareThroughput, finish, ms, percentile, type Row } from './stats';

const quick = process.argv.includes('--quick');
const rows: Row[] = [];
const MODEL = 'openai/gpt-4o-mini';

async function rpc(base: string, token: string, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(`${base}/rpc`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function main(): Promise<void> {
  console.log(`crew bench: gateway — node ${process.version}, ${os.cpus().length} cores${quick ? ' (quick)' : ''}`);
  const fake = await startFake();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-bench-gateway-'));
  const { child, discovery } = await startServer(dir, fake.url, ['--port', '0']);
  const base = `http://127.0.0.1:${discovery.httpPort}`;
  try {
    const token = (await fsp.readFile(dataDirPaths(dir).token, 'utf8')).trim();
    for (const scope of ['global', 'crew:research', 'agent:writer', `model:${MODEL}`])
      await rpc(base, token, 'budget/set', { scope, period: 'monthly', limitUsd: 1_000_000 });

    const viaGateway = new OpenAI({
      baseURL: `${base}/v1`,
      apiKey: token,
      maxRetries: 0,
      defaultHeaders: { 'X-Crew-Id': 'research', 'X-Agent-Id': 'writer' },
    });
    const direct = new OpenAI({ baseURL: fake.url, apiKey: 'bench-key', maxRetries: 0 });
    const body = {
      model: MODEL,
      messages: [{ role: 'user' as const, content: 'Summarise the budget situation in one line.' }],
      max_tokens: 64,
    };
    const ours = () => viaGateway.chat.completions.create(body);
    const theirs = () => direct.chat.completions.create(body);

    // Warm-up, then alternate call by call so drift in the machine's load hits both series alike.
    for (let i = 0; i < 300; i++) {
      await theirs();
      await ours();
    }
    const pairs = quick ? 1000 : 3000;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < pairs; i++) {
      let t = performance.now();
      await theirs();
      b.push(performance.now() - t);
      t = performance.now();
      await ours();
      a.push(performance.now() - t);
    }
    for (const [q, label, goal] of [
      [0.5, 'p50', 1],
      [0.99, 'p99', null],
    ] as const) {
      const added = percentile(a, q) - percentile(b, q);
      rows.push({
        name: `gateway overhead (openai SDK, sequential), ${label} added`,
        figure: ms(added),
        baseline: `${ms(percentile(b, q))} direct (gateway ${ms(percentile(a, q))})`,
        ratio: (percentile(a, q) / percentile(b, q)).toFixed(2) + '×',
        goal: goal === null ? 'reported' : `≤ ${goal} ms`,
        pass: goal === null || added <= goal,
      });
    }

    const { baseRate, ourRate } = await compareThroughput(theirs, ours, quick ? 1.5 : 4);
    rows.push({
      name: 'gateway throughput, 4 budgets in scope (64 in flight)',
      figure: `${Math.round(ourRate)} calls/s`,
      baseline: `${Math.round(baseRate)} calls/s direct`,
      ratio: (ourRate / baseRate).toFixed(2) + '×',
      goal: 'reported',
      pass: true,
    });
    const total = (await rpc(base, token, 'ledger/list', { limit: 1, crew: 'research' })) as { total: number };
    console.log(`  (ledger now holds ${total.total} gateway calls for crew research)`);
  } finally {
    await stop(child);
    fake.child.disconnect();
    await fsp.rm(dir, { recursive: true, force: true });
  }
  finish(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
