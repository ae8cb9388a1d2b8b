/**
 * OpenAI-compatible gateway benchmark (issue 14), every figure beside its baseline from the same run. The fake
 * OpenRouter answers at once in its own process; crew-server runs as built (dist/server.js, rate limit off: a
 * benchmark is one very busy caller), one global budget in scope, the durable ledger on.
 *   1. non-streamed, wrk with 32 connections flat out: the fake directly, a plain Node proxy (plain-proxy.ts, the
 *      floor for any gateway in Node), our /v1 on the local store, our /v1 on PostgreSQL (reported beside it),
 *      Portkey's open-source gateway (installed into ~/.cache/crew-bench/portkey on first use, pointed at the
 *      same fake)                                     goal (local store) ≥ 0.5× direct req/s, ≤ 1 ms p50 added
 *      then the same connections paced (PACE_MS between calls): p50 added under load, reported
 *   2. one call at a time, interleaved call by call with the same call direct: non-streamed, the whole call;
 *      streamed, the time to the first byte                          goal ≤ 1 ms p50 added; stream bytes unchanged
 *   3. RSS after 100,000 gateway calls against RSS after 10,000      goal within 20 %
 *
 *   npm run bench:gateway [-- --quick] [-- --profile]   (--profile writes the local server's .cpuprofile)
 * Needs wrk (apt-get install wrk) and a PostgreSQL (PG* / 127.0.0.1:5432, or a private cluster, as bench:team).
 */
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { dataDirPaths } from '../protocol/node';
import { createTestDatabase } from '../test/helpers/postgres';
import { startPortkey } from './portkey';
import { forkTs, startFake, startServer, stop, tmpDir } from './processes';
import { finish, ms, percentile, type Row } from './stats';
import { postScript, requireWrk, wrk, type WrkResult } from './wrk';

const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const rows: Row[] = [];
const MODEL = 'openai/gpt-4o-mini';
const body = {
  model: MODEL,
  messages: [{ role: 'user', content: 'Summarise the budget situation in one line.' }],
  max_tokens: 64,
};

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** wrk's script: POST `body` with `headers`. */
  script: string;
  runs: WrkResult[];
}

async function target(name: string, url: string, headers: Record<string, string>): Promise<Target> {
  return { name, url, headers, script: await postScript(body, headers), runs: [] };
}

async function rpc(base: string, token: string, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(`${base}/rpc`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const reply = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
  return reply.result;
}

/** A crew-server on `dir` with one global budget; its /v1 base and token. */
async function ourServer(dir: string, upstream: string, extra: string[], nodeArgs: string[] = []) {
  const { child, discovery } = await startServer(dir, upstream, ['--port', '0', ...extra], nodeArgs);
  const base = `http://127.0.0.1:${discovery.httpPort}`;
  const token = (await fsp.readFile(dataDirPaths(dir).token, 'utf8')).trim();
  await rpc(base, token, 'budget/set', { scope: 'global', period: 'monthly', limitUsd: 1_000_000 });
  return { child, base, token };
}

type Figures = ReturnType<typeof figures>;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Every target in turn, `rounds` times, so drift in the machine's load reaches them all alike. */
async function load(targets: Target[], seconds: number, rounds: number): Promise<void> {
  for (const t of targets) await wrk(t.url, t.script, quick ? 1 : 2);
  for (let r = 0; r < rounds; r++) for (const t of targets) t.runs.push(await wrk(t.url, t.script, seconds));
}

function figures(t: Target) {
  return {
    rps: mean(t.runs.map((r) => r.rps)),
    p50: mean(t.runs.map((r) => r.p50)),
    p99: mean(t.runs.map((r) => r.p99)),
    failures: t.runs.reduce((s, r) => s + r.failures, 0),
  };
}

/** A difference in ms with its sign: "+1.200 ms", "-0.350 ms". */
const signed = (d: number) => (d < 0 ? '-' : '+') + ms(Math.abs(d));

const LABELS: Record<string, string> = { local: 'local store', pg: 'PostgreSQL' };

function print(how: string, targets: Target[], figs: Figures[]): void {
  console.log(`  non-streamed, wrk -c32, ${how} (mean of rounds):`);
  targets.forEach((t, i) => {
    const f = figs[i]!;
    const rps = Math.round(f.rps).toLocaleString('en').padStart(7);
    console.log(`    ${t.name.padEnd(8)} ${rps} req/s  p50 ${ms(f.p50)}  p99 ${ms(f.p99)}  failed ${f.failures}`);
  });
}

/** How long each connection waits between calls in the paced run: direct and ours then carry the same load. */
const PACE_MS = 15;

/**
 * The same 32 connections, each waiting PACE_MS after every answer: well below what either side can carry, so the
 * p50 is the latency a call pays under concurrent load rather than the queue of a saturated machine (at full load
 * a closed loop's p50 is connections ÷ throughput, whatever each hop costs).
 */
async function paced(flatOut: Target[]): Promise<void> {
  const targets = await Promise.all(
    flatOut.map(async (t) => ({ ...t, script: await postScript(body, t.headers, PACE_MS), runs: [] })),
  );
  await load(targets, quick ? 3 : 5, quick ? 1 : 2);
  const [direct, ...ours] = targets.map(figures) as [Figures, ...Figures[]];
  print(`each connection pausing ${PACE_MS} ms between calls`, targets, [direct, ...ours]);
  ours.forEach((f, i) =>
    rows.push({
      name: `gateway ${LABELS[targets[i + 1]!.name]}: p50 added at ${Math.round(f.rps)} req/s (32 connections, ${PACE_MS} ms pauses)${f.failures ? ` (${f.failures} failed)` : ''}`,
      figure: ms(f.p50 - direct.p50),
      baseline: `${ms(direct.p50)} direct at ${Math.round(direct.rps)} req/s (ours ${ms(f.p50)}, p99 ${ms(f.p99)} vs ${ms(direct.p99)})`,
      ratio: (f.p50 / direct.p50).toFixed(2) + '×',
      goal: 'reported',
      pass: f.failures === 0,
    }),
  );
}

/** One call: milliseconds to the answer's first byte and to its end, and its text. */
function callOnce(url: string, headers: Record<string, string>, agent: http.Agent, stream: boolean) {
  return new Promise<{ ttfb: number; total: number; text: string }>((resolve, reject) => {
    const payload = JSON.stringify(stream ? { ...body, stream: true } : body);
    const t0 = performance.now();
    let ttfb = NaN;
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (Number.isNaN(ttfb)) ttfb = performance.now() - t0;
          text += c;
        });
        res.on('end', () =>
          res.statusCode === 200
            ? resolve({ ttfb, total: performance.now() - t0, text })
            : reject(new Error(`${res.statusCode}: ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A stream without what differs from call to call (its id and time), to compare two calls' bytes. */
const generic = (text: string) => text.replace(/"id":"[^"]*"/g, '"id":""').replace(/"created":\d+/g, '"created":0');

/** One call at a time, the same call direct and through the gateway alternately: what a call pays unloaded. */
async function sequential(fakeUrl: string, base: string, token: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const direct = (stream: boolean) =>
    callOnce(`${fakeUrl}/chat/completions`, { authorization: 'Bearer bench-key' }, agent, stream);
  const ours = (stream: boolean) =>
    callOnce(`${base}/v1/chat/completions`, { authorization: `Bearer ${token}` }, agent, stream);
  const pairs = quick ? 300 : 1500;
  for (const stream of [false, true]) {
    for (let i = 0; i < 200; i++) {
      await direct(stream);
      await ours(stream);
    }
    const a: number[] = [];
    const b: number[] = [];
    let sameBytes = false;
    for (let i = 0; i < pairs; i++) {
      const d = await direct(stream);
      const o = await ours(stream);
      b.push(stream ? d.ttfb : d.total);
      a.push(stream ? o.ttfb : o.total);
      if (stream && i === 0) sameBytes = generic(d.text) === generic(o.text);
    }
    const added = percentile(a, 0.5) - percentile(b, 0.5);
    rows.push({
      name: stream
        ? 'streamed, one call at a time: time to first byte, p50 added'
        : 'non-streamed, one call at a time: p50 added',
      figure: ms(added),
      baseline: `${ms(percentile(b, 0.5))} direct (ours ${ms(percentile(a, 0.5))}; p99 ${ms(percentile(a, 0.99))} vs ${ms(percentile(b, 0.99))})`,
      ratio: (percentile(a, 0.5) / percentile(b, 0.5)).toFixed(2) + '×',
      goal: '≤ 1 ms',
      pass: added <= 1,
    });
    if (stream)
      rows.push({
        name: "streamed: OpenRouter's bytes pass through unchanged",
        figure: sameBytes ? 'byte for byte (ids, times aside)' : 'rewritten',
        baseline: 'the same call direct',
        ratio: '-',
        goal: 'unchanged',
        pass: sameBytes,
      });
  }
  agent.destroy();
}

function rssMb(pid: number): Promise<number> {
  return fsp.readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? NaN) / 1024);
}

/** RSS of a fresh server after `small` and after `large` gateway calls (wrk at 32 connections). */
async function memory(fakeUrl: string): Promise<void> {
  const small = quick ? 2_000 : 10_000;
  const large = quick ? 20_000 : 100_000;
  const dir = await tmpDir('gateway-rss');
  const s = await ourServer(dir, fakeUrl, []);
  try {
    const script = await postScript(body, { Authorization: `Bearer ${s.token}` });
    let calls = 0;
    // Short runs up to the first mark, so it is read near 10,000 calls rather than several thousand past them.
    const until = async (n: number, seconds: number) => {
      while (calls < n) {
        const r = await wrk(`${s.base}/v1/chat/completions`, script, seconds);
        if (r.failures) throw new Error(`${r.failures} gateway calls failed during the memory run`);
        calls += r.requests;
      }
      return rssMb(s.child.pid!);
    };
    const atSmall = await until(small, 1);
    const callsSmall = calls;
    const atLarge = await until(large, 3);
    const growth = atLarge / atSmall - 1;
    rows.push({
      name: `RSS after ${calls.toLocaleString('en')} gateway calls`,
      figure: `${atLarge.toFixed(1)} MB`,
      baseline: `${atSmall.toFixed(1)} MB after ${callsSmall.toLocaleString('en')}`,
      ratio: (atLarge / atSmall).toFixed(2) + '×',
      goal: 'within 20 %',
      pass: Math.abs(growth) <= 0.2,
    });
  } finally {
    await stop(s.child);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`crew bench: gateway — node ${process.version}, ${os.cpus().length} cores${quick ? ' (quick)' : ''}`);
  const fake = await startFake();
  const db = await createTestDatabase('crew_bench_gateway');
  const localDir = await tmpDir('gateway-local');
  const pgDir = await tmpDir('gateway-pg');
  const profDir = path.join(os.tmpdir(), 'crew-bench-gateway-profile');
  const local = await ourServer(localDir, fake.url, [], profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const pg = await ourServer(pgDir, fake.url, ['--store', db.url]);
  const portkey = await startPortkey();
  const plain = forkTs('plain-proxy.ts', [fake.url]);
  const plainUrl = await new Promise<string>((resolve) =>
    plain.once('message', (m: { url: string }) => resolve(m.url)),
  );
  try {
    const ourHeaders = (token: string) => ({ Authorization: `Bearer ${token}` });
    const upstreamKey = { Authorization: 'Bearer bench-key' };
    const targets: Target[] = await Promise.all([
      target('direct', `${fake.url}/chat/completions`, upstreamKey),
      target('plain', `${plainUrl}/v1/chat/completions`, upstreamKey),
      target('local', `${local.base}/v1/chat/completions`, ourHeaders(local.token)),
      target('pg', `${pg.base}/v1/chat/completions`, ourHeaders(pg.token)),
      target('portkey', `${portkey.url}/chat/completions`, {
        ...upstreamKey,
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': fake.url,
      }),
    ]);
    await load(targets, quick ? 3 : 5, quick ? 1 : 2);
    const all = targets.map(figures);
    const [direct, bare, ours, ourPg, peer] = all as [Figures, Figures, Figures, Figures, Figures];
    print('flat out', targets, all);
    // The goals are the local store's (the issue); PostgreSQL's figures are reported beside them.
    for (const [label, f, goals] of [
      ['local store', ours, true],
      ['PostgreSQL', ourPg, false],
    ] as const) {
      const ok = f.failures === 0;
      rows.push({
        name: `gateway ${label}: req/s, 32 connections${ok ? '' : ` (${f.failures} failed)`}`,
        figure: `${Math.round(f.rps)} req/s`,
        baseline: `${Math.round(direct.rps)} req/s direct`,
        ratio: (f.rps / direct.rps).toFixed(2) + '×',
        goal: goals ? '≥ 0.5×' : 'reported',
        pass: ok && (!goals || f.rps >= 0.5 * direct.rps),
      });
      rows.push({
        name: `gateway ${label}: p50 added (p99 ${ms(f.p99)})`,
        figure: ms(f.p50 - direct.p50),
        baseline: `${ms(direct.p50)} direct (ours ${ms(f.p50)})`,
        ratio: (f.p50 / direct.p50).toFixed(2) + '×',
        goal: goals ? '≤ 1 ms' : 'reported',
        pass: ok && (!goals || f.p50 - direct.p50 <= 1),
      });
    }
    // What any gateway written in Node pays on this machine before doing anything: a plain proxy's figures, and
    // ours against them (what the budget, the ledger and the audit cost at full load).
    rows.push({
      name: `plain Node proxy (no budgets, no ledger): req/s${bare.failures ? ` (${bare.failures} failed)` : ''}`,
      figure: `${Math.round(bare.rps)} req/s, p50 ${ms(bare.p50)} (${signed(bare.p50 - direct.p50)})`,
      baseline: `${Math.round(direct.rps)} req/s direct, p50 ${ms(direct.p50)}`,
      ratio: (bare.rps / direct.rps).toFixed(2) + '×',
      goal: 'reported',
      pass: bare.failures === 0,
    });
    rows.push({
      name: 'gateway local store against the plain proxy: req/s, p50 added',
      figure: `${(ours.rps / bare.rps).toFixed(2)}×, ${signed(ours.p50 - bare.p50)}`,
      baseline: `${Math.round(bare.rps)} req/s, p50 ${ms(bare.p50)}`,
      ratio: (ours.rps / bare.rps).toFixed(2) + '×',
      goal: 'reported',
      pass: true,
    });
    rows.push({
      name: `Portkey gateway ${'1.15.2'} (no budgets): req/s${peer.failures ? ` (${peer.failures} failed)` : ''}`,
      figure: `${Math.round(peer.rps)} req/s, p50 ${ms(peer.p50)}`,
      baseline: `ours ${Math.round(ours.rps)} req/s (local), ${Math.round(ourPg.rps)} (PostgreSQL)`,
      ratio: `ours ${(ours.rps / peer.rps).toFixed(2)}× / ${(ourPg.rps / peer.rps).toFixed(2)}×`,
      goal: 'reported',
      pass: true,
    });
    await paced(targets.filter((t) => t.name !== 'portkey' && t.name !== 'plain'));
    const ledger = (await rpc(local.base, local.token, 'ledger/list', { limit: 1 })) as { total: number };
    console.log(`  (the local ledger holds ${ledger.total.toLocaleString('en')} gateway calls)`);

    await sequential(fake.url, local.base, local.token);
  } finally {
    plain.kill('SIGTERM');
    portkey.child.kill('SIGTERM');
    await stop(local.child);
    await stop(pg.child);
    await fsp.rm(localDir, { recursive: true, force: true });
    await fsp.rm(pgDir, { recursive: true, force: true });
  }
  try {
    await memory(fake.url);
  } finally {
    fake.child.disconnect();
    await db.drop();
  }
  if (profile) console.log(`  (the local server's CPU profile is in ${profDir})`);
  finish(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
