/** wrk (the HTTP load generator) run against a URL with a JSON POST body, and its figures read back. */
import { execFile, execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Answers that were not 2xx, and socket errors: a figure with any of them is not a figure. */
  failures: number;
}

/** Exits with what to install when wrk is missing (Debian: `apt-get install wrk`). */
export function requireWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error('bench/gateway.ts needs wrk on the PATH: apt-get install wrk (Debian/Ubuntu), brew install wrk');
      process.exit(2);
    }
  }
}

/**
 * A Lua script for wrk that POSTs `body` with `headers`; with `pauseMs`, each connection waits that long after an
 * answer before its next call (wrk's `delay()`, not counted in latency): a set pace instead of flat out.
 */
export async function postScript(body: unknown, headers: Record<string, string>, pauseMs?: number): Promise<string> {
  const file = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-bench-wrk-')), 'post.lua');
  const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal here (ASCII)
  const lines = [
    'wrk.method = "POST"',
    `wrk.body = ${lua(JSON.stringify(body))}`,
    'wrk.headers["Content-Type"] = "application/json"',
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    ...(pauseMs ? [`function delay() return ${pauseMs} end`] : []),
  ];
  await fsp.writeFile(file, lines.join('\n') + '\n');
  return file;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const lat = (q: string) => toMs(new RegExp(`^\\s+${q}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: lat('50'),
    p99: lat('99'),
    requests: num(/(\d+) requests in/),
    failures:
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
      (errors ? errors.slice(1).reduce((s, x) => s + Number(x), 0) : 0),
  };
}

/** `connections` connections on 2 threads for `seconds`, latency percentiles on. */
export function wrk(url: string, script: string, seconds: number, connections = 32): Promise<WrkResult> {
  return new Promise((resolve, reject) =>
    execFile(
      'wrk',
      ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url],
      { timeout: (seconds + 30) * 1000 },
      (err, stdout) => (err ? reject(new Error(`wrk failed: ${err.message}`)) : resolve(parseWrk(stdout))),
    ),
  );
}
