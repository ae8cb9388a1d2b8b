/**
 * A real n8n for the e2e suite: n8n 2.40.7 on Node 24, installed by test/e2e/setup-n8n.sh into a cache folder outside
 * the repo (never a project dependency), run on 127.0.0.1 with its user folder in a temp directory and everything
 * that phones home switched off (the recipe's environment, ../shared/recipes/n8n-e2e). The community package is
 * packed and installed into that user folder as a user would. `n8n start` gets its own process group, killed as a
 * group at the end.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, runSetupScript } from '../net';

export const ROOT = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

export interface N8nTools {
  node24: string;
  n8n: string;
  /** n8n's node_modules (sqlite3 and flatted for reading executions). */
  modules: string;
}

/** Installs (once, cached) and locates Node 24 and n8n. */
export function n8nTools(): N8nTools {
  const kv = runSetupScript('setup-n8n.sh');
  const n8n = kv.N8N!;
  return { node24: kv.NODE24!, n8n, modules: path.resolve(path.dirname(n8n), '../..') };
}

export interface N8nHome {
  root: string;
  /** N8N_USER_FOLDER: n8n keeps `.n8n/` (database, settings, community packages) in it. */
  userFolder: string;
  port: number;
  env: NodeJS.ProcessEnv;
  database: string;
}

/** A fresh user folder and the environment every n8n process of this suite runs with. */
export async function n8nHome(t: N8nTools): Promise<N8nHome> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-n8n-'));
  const userFolder = path.join(root, 'user');
  fs.mkdirSync(path.join(userFolder, '.n8n'), { recursive: true });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: `${path.dirname(t.node24)}:${process.env.PATH}`,
    HOME: root,
    N8N_USER_FOLDER: userFolder,
    N8N_ENCRYPTION_KEY: 'crew-n8n-e2e',
    DB_TYPE: 'sqlite',
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    N8N_PORT: String(port),
    N8N_RUNNERS_BROKER_PORT: String(await freePort()),
    N8N_SECURE_COOKIE: 'false',
    N8N_DISABLED_MODULES: 'mcp-registry',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_DYNAMIC_BANNERS_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    N8N_AI_ENABLED: 'false',
    N8N_REINSTALL_MISSING_PACKAGES: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    EXTERNAL_FRONTEND_HOOKS_URLS: '',
    N8N_DIAGNOSTICS_CONFIG_FRONTEND: '',
    N8N_DIAGNOSTICS_CONFIG_BACKEND: '',
  };
  return { root, userFolder, port, env, database: path.join(userFolder, '.n8n', 'database.sqlite') };
}

/** The `npm i … .tgz` line of n8n-nodes/README.md's install instructions, as its words. */
export function readmeInstallCommand(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'n8n-nodes', 'README.md'), 'utf8');
  const line = /^npm i .*\.tgz$/m.exec(readme)?.[0];
  if (!line) throw new Error('n8n-nodes/README.md has no `npm i … .tgz` line to install the package with');
  return line.split(/\s+/);
}

/**
 * `npm pack` n8n-nodes, then install the .tgz into the user folder's `.n8n/nodes` with the README's own command (the
 * .tgz path put in), offline, so the README says what was tested. Returns the .tgz and the folder.
 */
export async function installCommunityPackage(home: N8nHome): Promise<{ tgz: string; nodesDir: string }> {
  const packDir = path.join(home.root, 'pack');
  fs.mkdirSync(packDir);
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', packDir], {
    cwd: path.join(ROOT, 'n8n-nodes'),
  });
  const tgz = path.join(packDir, stdout.trim().split('\n').at(-1)!);
  const nodesDir = path.join(home.userFolder, '.n8n', 'nodes');
  fs.mkdirSync(nodesDir, { recursive: true });
  fs.writeFileSync(path.join(nodesDir, 'package.json'), '{"private":true}\n');
  const [npm, ...args] = readmeInstallCommand();
  await run(npm!, [...args.slice(0, -1), tgz], {
    cwd: nodesDir,
    // Offline: a command that needs anything from the registry fails here rather than fetch it.
    env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
  });
  return { tgz, nodesDir };
}

/** Every package installed under `dir`'s node_modules, nested ones included (scoped ones as @scope/name). */
export function installedPackages(dir: string): string[] {
  const out: string[] = [];
  const walk = (modules: string) => {
    if (!fs.existsSync(modules)) return;
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      const names = entry.startsWith('@')
        ? fs.readdirSync(path.join(modules, entry)).map((n) => `${entry}/${n}`)
        : [entry];
      for (const name of names) {
        out.push(name);
        walk(path.join(modules, name, 'node_modules'));
      }
    }
  };
  walk(path.join(dir, 'node_modules'));
  return out;
}

/** One n8n CLI command (import, publish, execute) to completion; rejects with its output when it fails. */
export async function n8nCli(t: N8nTools, home: N8nHome, args: string[], timeoutMs = 120_000) {
  try {
    return await run(t.node24, [t.n8n, ...args], {
      env: home.env,
      cwd: home.root,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const x = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`n8n ${args.join(' ')} failed: ${x.message}\n${tail(x.stdout)}\n${tail(x.stderr)}`, { cause: e });
  }
}

export interface ExecutionResult {
  status: string;
  data: { resultData: { runData: Record<string, { data?: { main?: ({ json: object }[] | null)[] } }[]> } };
}

/** `n8n execute --id … --rawOutput`: the execution's JSON (the lines between the log output). */
export async function execute(t: N8nTools, home: N8nHome, workflowId: string): Promise<ExecutionResult> {
  const { stdout } = await n8nCli(t, home, ['execute', `--id=${workflowId}`, '--rawOutput']);
  const json = /^\{$[\s\S]*^\}$/m.exec(stdout)?.[0];
  if (!json) throw new Error(`n8n execute printed no execution:\n${tail(stdout)}`);
  return JSON.parse(json) as ExecutionResult;
}

/** The items each output of `node` produced in an execution, as JSON. */
export function outputs(result: ExecutionResult, node: string): object[][] {
  const runs = result.data.resultData.runData[node];
  if (!runs)
    throw new Error(`node "${node}" did not run; ran: ${Object.keys(result.data.resultData.runData).join(', ')}`);
  return (runs[0]?.data?.main ?? []).map((items) => (items ?? []).map((i) => i.json));
}

export interface StoredExecution {
  id: string;
  status: string;
  mode: string;
  workflowId: string;
  error: string | null;
  nodes: Record<string, object[][]>;
}

/** A query of database.js on the user folder's database (n8n's own sqlite3, under Node 24). */
async function queryDatabase<T>(t: N8nTools, home: N8nHome, query: 'executions' | 'static-data'): Promise<T> {
  const { stdout } = await run(t.node24, [path.join(__dirname, 'database.js'), t.modules, home.database, query], {
    timeout: 30_000,
  });
  return JSON.parse(stdout) as T;
}

/** Executions n8n stored. */
export function storedExecutions(t: N8nTools, home: N8nHome): Promise<StoredExecution[]> {
  return queryDatabase<StoredExecution[]>(t, home, 'executions');
}

/** A workflow's static data as n8n saved it (`{"node:<name>": {...}}`), null when it has none. */
export async function workflowStaticData(
  t: N8nTools,
  home: N8nHome,
  workflowId: string,
): Promise<Record<string, Record<string, unknown>> | null> {
  const rows = await queryDatabase<{ id: string; staticData: Record<string, Record<string, unknown>> | null }[]>(
    t,
    home,
    'static-data',
  );
  return rows.find((r) => r.id === workflowId)?.staticData ?? null;
}

export interface RunningN8n {
  url: string;
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** `n8n start` in its own process group; resolves once `/healthz/readiness` answers 200 (bounded). */
export async function startN8n(t: N8nTools, home: N8nHome, timeoutMs = 120_000): Promise<RunningN8n> {
  const logFile = path.join(home.root, 'n8n-start.log');
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(t.node24, [t.n8n, 'start'], {
    env: home.env,
    cwd: home.root,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  const url = `http://127.0.0.1:${home.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const log = () => fs.readFileSync(logFile, 'utf8');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 20_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const code = await Promise.race([exited, readiness(url)]);
    if (code === 'ready') return { url, child, log, stop };
    if (typeof code === 'number' || code === null) throw new Error(`n8n start exited (${code}):\n${tail(log())}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`n8n was not ready within ${timeoutMs} ms:\n${tail(log())}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function readiness(url: string): Promise<'ready' | 'not yet'> {
  try {
    const res = await fetch(`${url}/healthz/readiness`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok ? 'ready' : 'not yet';
  } catch {
    return 'not yet';
  }
}

export function tail(text: string | undefined, lines = 40): string {
  return (text ?? '').trim().split('\n').slice(-lines).join('\n');
}
