/**
 * Extension activation in a real VS Code (code-server 4.139.1, the e2e tools: test/e2e/setup-vscode.sh). Each round
 * starts a fresh code-server with ours under development and a minimal baseline extension installed beside it
 * (bench/vscode/baseline-extension: an output channel, a tree view, a status bar item, a command), and a probe in
 * the extension host (bench/vscode/probe.ts) that reads each one's own activate() time and times a fresh evaluation
 * of its main module. Goal: our own time (module evaluation + activate) ≤ 200 ms.
 *
 *   npm run build && node --import tsx bench/vscode-activation.ts [--rounds 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bundleForExtensionHost,
  e2eTools,
  freshDirs,
  launchChromium,
  ROOT,
  startCodeServer,
} from '../test/e2e/vscode/code-server';
import { stopDaemon } from '../test/e2e/vscode/seed';
import { finish, ms, type Row } from './stats';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const PROBE = path.join(ROOT, 'dist', 'bench', 'activation-probe.js');
const BASELINE = path.join(ROOT, 'bench', 'vscode', 'baseline-extension');
const OURS = 'openrouter-crew.openrouter-crew';
const BASE = 'bench.activation-baseline';

type Figures = Record<string, { activationMs: number; loadMs: number }>;

async function round(): Promise<Figures> {
  const tools = e2eTools();
  // Sandbox and a fresh data dir: the activation measured is ours, not a daemon's start (that runs in background).
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-bench-data-'));
  const dirs = freshDirs({ 'openrouterCrew.dataDirectory': dataDir, 'openrouterCrew.sandbox': true });
  // Only one extension can be under development; the baseline is installed as a user would have it (unpacked).
  fs.cpSync(BASELINE, path.join(dirs.extensions, 'bench.activation-baseline-0.0.1'), { recursive: true });
  const cs = await startCodeServer(tools, dirs, { smokeTestDriver: true });
  const ctx = await launchChromium(tools, dirs);
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    let line = '';
    const logs: string[] = [];
    let done!: (code: number) => void;
    const exited = new Promise<number>((r) => (done = r));
    await page.exposeFunction('codeAutomationExit', (code: number) => done(code));
    await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => {
      const text = (args ?? []).map(String).join(' ');
      logs.push(text);
      if (text.startsWith('BENCH ')) line = text.slice(6);
    });
    const authority = `127.0.0.1:${cs.port}`;
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://${authority}${ROOT}`],
      ['extensionTestsPath', `vscode-remote://${authority}${PROBE}`],
    ];
    await page.goto(
      `${cs.url}/?folder=${encodeURIComponent(dirs.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
    );
    const code = await Promise.race([
      exited,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('probe timed out')), 120_000).unref()),
    ]);
    if (code !== 0 || !line)
      throw new Error(
        `the probe failed (exit ${code}): ${logs
          .filter((l) => /Error|error/.test(l))
          .join('\n')
          .slice(-2000)}`,
      );
    return JSON.parse(line) as Figures;
  } finally {
    await ctx.close().catch(() => undefined);
    await cs.stop();
    // The sandbox daemon our extension started for this round (detached: it outlives code-server).
    await stopDaemon(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await bundleForExtensionHost(path.join(ROOT, 'bench/vscode/probe.ts'), PROBE);
  const runs: Figures[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    runs.push(await round());
    console.log(`round ${i + 1}/${ROUNDS}: ${JSON.stringify(runs[i])}`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const of = (id: string, k: 'activationMs' | 'loadMs') => median(runs.map((r) => r[id]![k]));
  const ours = { act: of(OURS, 'activationMs'), load: of(OURS, 'loadMs') };
  const base = { act: of(BASE, 'activationMs'), load: of(BASE, 'loadMs') };
  const rows: Row[] = [
    {
      name: `own time: module evaluation + activate(), median of ${ROUNDS}`,
      figure: ms(ours.load + ours.act),
      baseline: `${ms(base.load + base.act)} minimal extension`,
      ratio: `${((ours.load + ours.act) / (base.load + base.act)).toFixed(1)}×`,
      goal: '≤ 200 ms',
      pass: ours.load + ours.act <= 200,
    },
    {
      name: 'activate() alone',
      figure: ms(ours.act),
      baseline: `${ms(base.act)} minimal extension`,
      ratio: `${(ours.act / base.act).toFixed(1)}×`,
      goal: '(reported)',
      pass: true,
    },
    {
      name: 'module evaluation alone (dist/extension.js)',
      figure: ms(ours.load),
      baseline: `${ms(base.load)} minimal extension`,
      ratio: `${(ours.load / base.load).toFixed(1)}×`,
      goal: '(reported)',
      pass: true,
    },
  ];
  finish(rows);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
