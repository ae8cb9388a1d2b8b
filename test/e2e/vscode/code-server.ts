/**
 * A real VS Code for the e2e suites: code-server 4.139.1 (VS Code 1.139.1, Node extension host) on Node 24, and
 * Debian's Chromium driven by playwright-core. Nothing here is a project dependency: test/e2e/setup-vscode.sh
 * installs them into a cache folder (outside the repo) and prints where. Processes get their own process group
 * and are killed as a group (code-server leaves watchers and servers behind otherwise).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { freePort, runSetupScript } from '../net';

export const ROOT = path.resolve(__dirname, '../../..');

export interface Tools {
  node24: string;
  codeServer: string;
  chromium: string;
}

let tools: Tools | undefined;

/** Installs (once, cached) and locates Node 24, code-server and Chromium. */
export function e2eTools(): Tools {
  if (tools) return tools;
  const kv = runSetupScript('setup-vscode.sh');
  tools = { node24: kv.NODE24!, codeServer: kv.CODE_SERVER!, chromium: kv.CHROMIUM! };
  return tools;
}

export interface VscodeDirs {
  root: string;
  home: string;
  userData: string;
  extensions: string;
  workspace: string;
}

/** A fresh user, extensions and workspace folder, with settings that keep the workbench quiet. */
export function freshDirs(settings: Record<string, unknown>, prefix = 'crew-vscode-'): VscodeDirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const d: VscodeDirs = {
    root,
    home: path.join(root, 'home'),
    userData: path.join(root, 'user-data'),
    extensions: path.join(root, 'extensions'),
    workspace: path.join(root, 'workspace'),
  };
  for (const dir of [
    d.home,
    path.join(d.userData, 'User'),
    path.join(d.userData, 'Machine'),
    d.extensions,
    d.workspace,
  ])
    fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(root, 'config.yaml'), 'auth: none\n');
  // code-server is a remote window: machine-scoped settings (our data directory) are read from Machine/.
  fs.writeFileSync(path.join(d.userData, 'Machine', 'settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(
    path.join(d.userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'workbench.enableExperiments': false,
        'workbench.tips.enabled': false,
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        ...settings,
      },
      null,
      2,
    ),
  );
  return d;
}

function csEnv(t: Tools, d: VscodeDirs, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, HOME: d.home, PATH: `${path.dirname(t.node24)}:${process.env.PATH}`, ...extra };
}

export function installVsix(t: Tools, d: VscodeDirs, vsix: string): void {
  execFileSync(
    t.node24,
    [t.codeServer, '--user-data-dir', d.userData, '--extensions-dir', d.extensions, '--install-extension', vsix],
    { env: csEnv(t, d), stdio: 'pipe', timeout: 120_000 },
  );
}

export interface CodeServer {
  url: string;
  port: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export async function startCodeServer(
  t: Tools,
  d: VscodeDirs,
  opts: { smokeTestDriver?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<CodeServer> {
  const port = await freePort();
  const logFile = path.join(d.root, 'code-server.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(
    t.node24,
    [
      t.codeServer,
      '--config',
      path.join(d.root, 'config.yaml'),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--reconnection-grace-time',
      '5',
      '--user-data-dir',
      d.userData,
      '--extensions-dir',
      d.extensions,
      ...(opts.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      d.workspace,
    ],
    { env: csEnv(t, d, opts.env), detached: true, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  process.once('exit', () => killGroup('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}): ${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz within 60 s: ${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    logFile,
    stop: async () => {
      killGroup('SIGTERM');
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      killGroup('SIGKILL');
    },
  };
}

export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function launchChromium(t: Tools, d: VscodeDirs): Promise<BrowserContext> {
  return chromium.launchPersistentContext(path.join(d.root, 'chromium'), {
    executablePath: t.chromium,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Bundles a module that runs inside the extension host (a test suite, a probe): `vscode` and `mocha` stay external. */
export async function bundleForExtensionHost(entry: string, outfile: string): Promise<void> {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    logLevel: 'error',
  });
}
