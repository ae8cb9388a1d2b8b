/**
 * Drives the real `crew` binary (bin/crew.js → dist/cli.js, so `npm run build` first) as a child process, with a
 * fresh data dir and NO_COLOR, and cleans up every daemon and temp dir a test made. Waits are on signals (process
 * exit, output appearing), never on fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const CREW = path.join(ROOT, 'bin', 'crew.js');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  dataDir?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** The environment every run gets: no colour, no real OpenRouter settings leaking in from the developer's shell. */
export function baseEnv(extra: Record<string, string | undefined> = {}, dataDir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of ['FORCE_COLOR', 'OPENROUTER_API_KEY', 'OPENROUTER_BASE_URL', 'CREW_SANDBOX', 'CREW_DATA_DIR'])
    delete env[k];
  if (dataDir) env.CREW_DATA_DIR = dataDir;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function spawnCrew(args: string[], opts: RunOptions = {}): ChildProcess {
  return spawn(process.execPath, [CREW, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: baseEnv(opts.env, opts.dataDir),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `crew …` to completion. */
export function crew(args: string[], opts: RunOptions = {}): Promise<Run> {
  const child = spawnCrew(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `crew ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 15_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, opts.timeoutMs ?? 15_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs `crew …` on a terminal of its own (script(1) makes one), typing `input`: for what the CLI does only on a
 * terminal, such as asking before it goes on. `output` is the terminal's, stdout and stderr and echo together.
 */
export function crewOnTty(
  args: string[],
  input: string,
  opts: RunOptions = {},
): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const line = [process.execPath, CREW, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qefc', line, '/dev/null'], {
    cwd: opts.cwd ?? ROOT,
    env: baseEnv(opts.env, opts.dataDir),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crew ${args.join(' ')} on a terminal did not exit: ${output}`));
    }, opts.timeoutMs ?? 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Runs `crew --json …` and parses stdout, failing with the whole run in the message when it is not JSON. */
export async function crewJson<T>(args: string[], opts: RunOptions = {}): Promise<{ run: Run; json: T }> {
  const run = await crew(['--json', ...args], opts);
  try {
    return { run, json: JSON.parse(run.stdout) as T };
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** Resolves with the output so far once `pattern` appears on the child's stdout (or rejects when it exits first). */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} in output within ${timeoutMs} ms: ${out}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern} appeared: ${out}`));
    });
  });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Re-runs `check` until it stops throwing: for effects the server completes after answering (an alert recorded
 * after the refused call returned). Each attempt is a real request, so this waits on the server, not on a clock.
 */
export async function eventually<T>(check: () => Promise<T>, attempts = 40): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await check();
    } catch (e) {
      last = e;
      await new Promise((r) => setImmediate(r));
    }
  }
  throw last;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers signal 0.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Temp data dirs, and the cleanup that stops any daemon left in them (by `crew server stop`, then by pid). */
export class Sandbox {
  private readonly dirs: string[] = [];

  async dir(prefix = 'crew-cli-test-'): Promise<string> {
    const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    for (const d of this.dirs.splice(0)) {
      const pid = readPid(d);
      if (pid !== undefined && pidAlive(pid)) {
        await crew(['server', 'stop'], { dataDir: d }).catch(() => undefined);
        if (pidAlive(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await fsp.rm(d, { recursive: true, force: true });
    }
  }
}

export function readPid(dataDir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

// eslint-disable-next-line no-control-regex -- checking for ANSI escapes is the point
export const ANSI = /\u001b\[/;
