/**
 * The extension in a real VS Code (code-server 4.139.1 = VS Code 1.139.1) driven through Debian's Chromium, against
 * a seeded sandbox daemon made with the real `crew` binary:
 *   1. a Mocha suite inside the extension host (test/e2e/vscode/suite): commands registered, tree items equal the
 *      server's data, the status bar follows a recorded call, views refresh on server notifications;
 *   2. a UI scenario with the packaged .vsix installed as a user would: open the container, see the seeded budgets
 *      and memories, run a command from the palette, open the Costs dashboard and read a figure inside the webview
 *      that equals the server's, trigger a budget alert and see its notification.
 * Screenshots are saved on failure (and one at the end of the scenario) under $CREW_E2E_ARTIFACTS (default
 * <tmp>/crew-e2e-artifacts). Run with `npm run test:e2e` (installs what it needs once, cached outside the repo).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import type { AnalyticsSummary, BudgetStatusRequest, CostReport, CrewRuns } from '../../protocol';
import { formatUsd } from '../../protocol/format';
import {
  bundleForExtensionHost,
  e2eTools,
  freshDirs,
  installVsix,
  launchChromium,
  ROOT,
  startCodeServer,
  tail,
  type CodeServer,
  type Tools,
} from './vscode/code-server';
import { crewJsonIn, seed, stopDaemon, type Seeded } from './vscode/seed';
import { createTestDatabase } from '../helpers/postgres';

const ARTIFACTS = process.env.CREW_E2E_ARTIFACTS ?? path.join(os.tmpdir(), 'crew-e2e-artifacts');
const SUITE_BUNDLE = path.join(ROOT, 'dist', 'e2e', 'suite.js');
const VSIX = path.join(ROOT, 'dist', 'openrouter-crew.vsix');

describe('VS Code e2e (code-server + Chromium)', function () {
  this.timeout(30 * 60_000);
  let tools: Tools;
  let data: Seeded;

  before(async function () {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tools = e2eTools();
    execFileSync(process.execPath, [path.join(ROOT, 'extension/packaging.mjs')], { cwd: ROOT, stdio: 'inherit' });
    await bundleForExtensionHost(path.join(ROOT, 'test/e2e/vscode/suite/index.ts'), SUITE_BUNDLE);
    data = await seed();
  });
  after(async () => {
    await data?.stop();
  });

  const settings = () => ({
    'openrouterCrew.dataDirectory': data.dataDir,
    'openrouterCrew.sandbox': true,
    'openrouterCrew.refreshDebounceMs': 50,
  });

  async function withVscode(
    name: string,
    opts: { vsix: boolean; smokeTestDriver?: boolean; dataDir?: string; settings?: Record<string, unknown> },
    body: (page: Page, cs: CodeServer, workspace: string) => Promise<void>,
  ): Promise<void> {
    const dirs = freshDirs({
      ...settings(),
      ...(opts.dataDir ? { 'openrouterCrew.dataDirectory': opts.dataDir } : {}),
      ...opts.settings,
    });
    if (opts.vsix) installVsix(tools, dirs, VSIX);
    const cs = await startCodeServer(tools, dirs, { smokeTestDriver: opts.smokeTestDriver ?? false });
    let ctx: BrowserContext | undefined;
    let page: Page | undefined;
    try {
      ctx = await launchChromium(tools, dirs);
      page = ctx.pages()[0] ?? (await ctx.newPage());
      page.setDefaultTimeout(60_000);
      await body(page, cs, dirs.workspace);
    } catch (e) {
      const shot = path.join(ARTIFACTS, `${name}-failure.png`);
      await page?.screenshot({ path: shot }).catch(() => undefined);
      fs.copyFileSync(cs.logFile, path.join(ARTIFACTS, `${name}-code-server.log`));
      throw new Error(
        `${(e as Error).message}\n(screenshot: ${shot}; code-server log tail:\n${tail(cs.logFile, 15)})`,
        {
          cause: e,
        },
      );
    } finally {
      await ctx?.close().catch(() => undefined);
      await cs.stop();
      fs.rmSync(dirs.root, { recursive: true, force: true });
    }
  }

  it('passes the Mocha suite inside the extension host', async () => {
    await withVscode('extension-host', { vsix: false, smokeTestDriver: true }, async (page, cs, workspace) => {
      const logs: string[] = [];
      let resolveExit!: (code: number) => void;
      const exited = new Promise<number>((r) => (resolveExit = r));
      await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
      await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) =>
        logs.push(`[${type}] ${util.format(...(args ?? []))}`),
      );
      const authority = `127.0.0.1:${cs.port}`;
      const payload = [
        ['extensionDevelopmentPath', `vscode-remote://${authority}${ROOT}`],
        ['extensionTestsPath', `vscode-remote://${authority}${SUITE_BUNDLE}`],
      ];
      await page.goto(
        `${cs.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
      );
      const code = await Promise.race([
        exited,
        new Promise<number>((_, reject) =>
          setTimeout(() => reject(new Error('the extension-host suite did not finish in 4 minutes')), 240_000).unref(),
        ),
      ]);
      const output = logs.join('\n');
      fs.writeFileSync(path.join(ARTIFACTS, 'extension-host.log'), output);
      console.log(
        output
          .split('\n')
          .filter((l) => /✔|✓|passing|failing|\d+\)|Error/.test(l))
          .join('\n'),
      );
      assert.equal(code, 0, `the extension-host suite failed:\n${output.slice(-4000)}`);
      assert.match(output, /passing/);
    });
  });

  it('UI: container, seeded budgets and memories, palette command, Costs dashboard figure, alert toast', async () => {
    await withVscode('ui-scenario', { vsix: true }, async (page, cs, workspace) => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench').waitFor();
      const container = page.locator('.part.activitybar .action-label[aria-label="OpenRouter Crew"]');
      await container.waitFor();
      // The status bar item shows once the extension is active and connected.
      const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
      await status.waitFor();
      await container.click();

      const rows = page.locator('.part.sidebar .monaco-list-row[role="treeitem"]');
      // Seeded: the crew, its budgets and its memories, as the server has them.
      await rows.filter({ hasText: data.crewName }).first().waitFor();
      await rows.filter({ hasText: /global.*· daily/ }).waitFor();
      const summary = await rpc<AnalyticsSummary.Result>('analytics/summary', { crew: data.crewName, days: 1 });
      const memories = summary.crews[0]!.total;
      // The Memory Browser's crew row: the crew and its live memories, as the server counts them.
      await rows.filter({ hasText: `${memories} memories` }).waitFor();
      const { budgets } = await rpc<BudgetStatusRequest.Result>('budget/status');
      const global = budgets.find((b) => b.scope === 'global')!;
      const globalRow = rows.filter({ hasText: /global.*· daily/ });
      assert.match(
        await globalRow.innerText(),
        new RegExp(escape(`${formatUsd(global.spentUsd)} / ${formatUsd(global.limitUsd)}`)),
      );
      await status.filter({ hasText: `${formatUsd(global.spentUsd)} / ${formatUsd(global.limitUsd)}` }).waitFor();

      // The palette runs our command: the Costs dashboard opens in a webview.
      await runCommand(page, 'OpenRouter Crew: Open Costs Dashboard');
      await page.locator('.tabs-container .tab', { hasText: 'OpenRouter Crew: Costs' }).waitFor();
      const webview = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      const report = await rpc<CostReport.Result>('cost/report', { by: 'model' });
      // The page's "spent" figure carries the server's number as data-value (its text is that number, formatted).
      const total = webview.locator('[data-figure="total"]');
      await total.waitFor();
      assert.equal(Number(await total.getAttribute('data-value')), report.total.costUsd);
      assert.equal(await total.locator('.figure-value').innerText(), formatUsd(report.total.costUsd));

      // A call the global budget refuses: the alert shows as a notification with its actions.
      const r = await data.crew([
        'chat',
        '--crew',
        data.crewName,
        '--agent',
        `${data.crewName}/writer`,
        '--model',
        'openai/gpt-4o',
        // Its worst case (4,000 completion tokens at gpt-4o's price) is over the $0.005 daily limit.
        '--max-tokens',
        '4000',
        'Write a long launch announcement',
      ]);
      assert.equal(r.code, 3, `the budget should refuse this call: ${r.stderr}`);
      const toast = page.locator('.notifications-toasts .notification-toast', {
        hasText: 'Budget global (daily) refused a call',
      });
      await toast.first().waitFor();
      assert.match(await toast.first().innerText(), /Open Dashboard/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'ui-scenario.png') });
      assert.deepEqual(
        errors.filter((e) => /openrouter|crew/i.test(e)),
        [],
      );
    });
  });

  it('the packaged extension starts its own server from the .vsix when none runs, embedder included', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-e2e-own-'));
    try {
      await withVscode('own-server', { vsix: true, dataDir }, async (page, cs, workspace) => {
        await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
        const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
        await status.filter({ hasText: 'no budgets' }).waitFor();
        // The daemon is the .vsix's own copy of the server, run by VS Code's Node.
        const info = JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as { pid: number };
        const cmdline = fs.readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0');
        assert.ok(
          cmdline.some((a) => a.includes('openrouter-crew.openrouter-crew-') && a.endsWith('/dist/server.js')),
          `the daemon runs the installed extension's server: ${cmdline.join(' ')}`,
        );
        // The local embedder loads from the packaged runtime modules: a memory is added and embedded.
        const added = await crewJsonIn<{ memory: { embedding: { embedderId: string } | null } }>(dataDir, [
          'memory',
          'add',
          '--crew',
          'solo',
          'Embedded by the packaged server',
        ]);
        assert.match(added.memory.embedding?.embedderId ?? '', /^local-/);
      });
    } finally {
      await stopDaemon(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the storeUrl setting starts the server on a team PostgreSQL, and the CLI on that machine sees it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-e2e-team-'));
    const db = await createTestDatabase('crew_e2e_team');
    try {
      const settings = { 'openrouterCrew.storeUrl': db.url };
      await withVscode('team-store', { vsix: true, dataDir, settings }, async (page, cs, workspace) => {
        await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
        const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
        await status.filter({ hasText: 'no budgets' }).waitFor();
        const info = await crewJsonIn<{ store: { kind: string; location: string } }>(dataDir, ['server', 'status']);
        assert.equal(info.store.kind, 'postgres');
        assert.ok(info.store.location.endsWith(`/${db.name}`), info.store.location);
        // A budget set from the CLI is in the database (the store the window's server uses), not the data directory.
        await crewJsonIn(dataDir, ['budget', 'set', '--scope', 'global', '--period', 'daily', '--limit', '5']);
        await status.filter({ hasText: '$5' }).waitFor();
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          const { rows } = await c.query<{ n: number }>('select count(*)::int as n from crew_budgets');
          assert.equal(rows[0]!.n, 1);
        } finally {
          await c.end();
        }
      });
    } finally {
      await stopDaemon(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it('a new user: the welcome offers the key or the sandbox, Try the Sandbox restarts the daemon into it, the mode shows, Create Crew makes a crew with its agent', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-e2e-new-'));
    try {
      // No sandbox setting at all (a new user's default), rather than the suite's sandbox: true.
      const settings = { 'openrouterCrew.sandbox': undefined };
      await withVscode('new-user', { vsix: true, dataDir, settings }, async (page, cs, workspace) => {
        await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
        const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
        await status.filter({ hasText: 'no budgets' }).waitFor();
        const before = await crewJsonIn<{ pid: number; sandbox: boolean }>(dataDir, ['server', 'status']);
        assert.equal(before.sandbox, false);
        assert.doesNotMatch(await status.innerText(), /sandbox/);
        await page.locator('.part.activitybar .action-label[aria-label="OpenRouter Crew"]').click();
        const welcome = page.locator('.part.sidebar .welcome-view-content');
        await welcome.filter({ hasText: 'needs an OpenRouter API key' }).waitFor();
        await welcome.locator('a.monaco-button', { hasText: 'Set API Key' }).waitFor();

        // The sandbox, from the welcome view: the setting changes and the daemon restarts into it.
        await welcome.locator('a.monaco-button', { hasText: 'Try the Sandbox' }).click();
        await status.filter({ hasText: 'sandbox' }).waitFor();
        const after = await crewJsonIn<{ pid: number; sandbox: boolean }>(dataDir, ['server', 'status']);
        assert.equal(after.sandbox, true);
        assert.notEqual(after.pid, before.pid, 'a new daemon, not a reconnection to the old one');
        await page
          .locator('.part.sidebar .pane-header', { hasText: 'Crews' })
          .filter({ hasText: 'sandbox · local store' })
          .waitFor();

        // Create Crew: name, description, then its first agent; nothing is made before the agent is chosen.
        await runCommand(page, 'OpenRouter Crew: Create Crew…', 'New crew: name');
        await answer(page, 'New crew: name', 'scouts');
        await answer(page, 'Crew scouts: description (optional)', 'finds things');
        await answer(page, 'Add an agent to scouts: name', 'finder');
        await answer(page, 'finder: role (what it does)', 'looks things up');
        await answer(page, 'finder: model', 'openai/gpt-4o-mini', true);
        await page
          .locator('.notifications-toasts .notification-toast', { hasText: 'Crew scouts created with agent finder' })
          .waitFor();
        const { crews } = await crewJsonIn<{ crews: { name: string; agents: { name: string; model: string }[] }[] }>(
          dataDir,
          ['crew', 'list'],
        );
        assert.deepEqual(
          crews.map((c) => [c.name, c.agents.map((a) => `${a.name}:${a.model}`)]),
          [['scouts', ['finder:openai/gpt-4o-mini']]],
        );
        await page.locator('.part.sidebar .monaco-list-row[role="treeitem"]', { hasText: 'scouts' }).waitFor();

        // The settings read "Sandbox" under the extension's own heading, not "Openrouter Crew: Sandbox".
        await runCommand(page, 'Preferences: Open Settings (UI)');
        const toc = page.locator('.settings-editor .settings-toc-container .monaco-list-row');
        await toc.filter({ hasText: 'Extensions' }).first().click();
        // The table of contents is a virtual list: scroll until the extension's row exists.
        const ours = toc.filter({ hasText: 'OpenRouter Crew' }).first();
        for (let i = 0; i < 40 && !(await ours.isVisible()); i++) {
          await page.locator('.settings-editor .settings-toc-container').hover();
          await page.mouse.wheel(0, 150);
          await page.waitForTimeout(100);
        }
        await ours.click();
        const item = page.locator('.settings-editor .setting-item-contents', { hasText: 'a built-in fake OpenRouter' });
        for (let i = 0; i < 40 && !(await item.first().isVisible()); i++) {
          await page.locator('.settings-editor .settings-tree-container').hover();
          await page.mouse.wheel(0, 200);
          await page.waitForTimeout(100);
        }
        await item.first().waitFor();
        const title = await item.first().locator('.setting-item-title').innerText();
        await page.screenshot({ path: path.join(ARTIFACTS, 'new-user-settings.png') });
        assert.doesNotMatch(title, /Openrouter/, `the setting's title: ${title}`);
        assert.match(title, /Sandbox/);
      });
    } finally {
      await stopDaemon(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("Open Dashboard in Browser opens the dashboard through code-server's path proxy, and it shows the server's figures", async () => {
    await withVscode('browser-dashboard', { vsix: true }, async (page, cs, workspace) => {
      await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
      const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
      await status.filter({ hasText: '$' }).waitFor();
      await runCommand(page, 'OpenRouter Crew: Open Dashboard in Browser', 'Open which dashboard in the browser?');
      const opened = page.context().waitForEvent('page');
      await answer(page, 'Open which dashboard in the browser?', 'costs', true);
      // VS Code asks before opening a link outside the editor; a forwarded port may skip the question.
      const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Open' }).first();
      await confirm.click({ timeout: 5_000 }).catch(() => undefined);
      const dashboard = await opened;
      await dashboard.waitForLoadState();
      const port = (JSON.parse(fs.readFileSync(path.join(data.dataDir, 'server.json'), 'utf8')) as { httpPort: number })
        .httpPort;
      assert.match(dashboard.url(), new RegExp(`/proxy/${port}/dashboard/costs`), dashboard.url());
      const total = dashboard.locator('[data-figure="total"]');
      await total.waitFor();
      const report = await rpc<CostReport.Result>('cost/report', { by: 'model' });
      assert.equal(Number(await total.getAttribute('data-value')), report.total.costUsd);
      await dashboard.screenshot({ path: path.join(ARTIFACTS, 'browser-dashboard.png') });
    });
  });

  it('Run Task asks in a modal with the estimate when it is above the limit, and can run under a ceiling', async () => {
    const settings = { 'openrouterCrew.approveRunsOverUsd': 0.000001 };
    await withVscode('run-approval', { vsix: true, settings }, async (page, cs, workspace) => {
      await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}`);
      const status = page.locator('[id="openrouter-crew.openrouter-crew.openrouterCrew.status"]');
      await status.filter({ hasText: '$' }).waitFor();
      const runs = async () => (await rpc<CrewRuns.Result>('crew/runs', { crew: data.crewName, limit: 200 })).runs;
      const before = (await runs()).length;
      const start = async (task: string) => {
        await runCommand(page, 'OpenRouter Crew: Run Task…', 'Run a task with which crew?');
        await answer(page, 'Run a task with which crew?', data.crewName, true);
        await answer(page, `Task for ${data.crewName}`, task);
        await answer(page, 'How should the crew work?', 'sequential', true);
      };
      const dialog = page.locator('.monaco-dialog-box');

      // Asked, with the figures; closing the question runs nothing.
      await start('Estimate me first');
      await dialog.waitFor();
      assert.match(
        await dialog.locator('.dialog-message-text').innerText(),
        /^Run launch\? Its (high estimate|worst case) is \$/,
      );
      const detail = await dialog.locator('.dialog-message-detail').innerText();
      assert.match(detail, /Typical (unknown|\$\S+) · high (unknown|\$\S+) · worst case \$/);
      assert.match(detail, /researcher \(openai\/gpt-4o-mini\): 1 call, \$\S+ a call typically/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'run-approval.png') });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal((await runs()).length, before, 'no run without a yes');

      // Run with a Ceiling…: the run carries it.
      await start('Run me under a ceiling');
      await dialog.locator('.monaco-button', { hasText: 'Run with a Ceiling…' }).click();
      await answer(page, `Ceiling for this run of ${data.crewName} (USD)`, '0.002');
      // The summary toast ("launch: run Completed · 2 steps · $…"), not the progress one titled by the task.
      const summary = new RegExp(`${data.crewName}: run \\w+ · \\d+ steps`);
      await page.locator('.notifications-toasts .notification-toast', { hasText: summary }).waitFor();
      const [latest] = await runs();
      assert.equal(latest!.task, 'Run me under a ceiling');
      assert.equal(latest!.maxCostUsd, 0.002);
      assert.equal(latest!.status, 'completed', JSON.stringify(latest!.error));
      assert.ok(latest!.costUsd <= 0.002);
    });
  });

  async function rpc<R>(method: string, params: unknown = {}): Promise<R> {
    const info = JSON.parse(fs.readFileSync(path.join(data.dataDir, 'server.json'), 'utf8')) as { httpPort: number };
    const token = fs.readFileSync(path.join(data.dataDir, 'token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${info.httpPort}/rpc`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await res.json()) as { result?: R; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result!;
  }
});

/** Runs a palette command; `asks` is the title of the input it opens next, if it opens one. */
async function runCommand(page: Page, title: string, asks?: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page.locator(`.quick-input-widget .monaco-list-row[aria-label^="${title}"]`).first().waitFor();
  await page.keyboard.press('Enter');
  if (asks) await page.locator(`.quick-input-widget .quick-input-box input[aria-label="${asks}"]`).waitFor();
  else await input.waitFor({ state: 'hidden' });
}

/** Answers the input or pick the window shows under `title` (its aria-label), then waits for the next. */
async function answer(page: Page, title: string, value: string, pick = false): Promise<void> {
  const input = page.locator(`.quick-input-widget .quick-input-box input[aria-label="${title}"]`);
  await input.waitFor({ state: 'visible' });
  await input.fill(value);
  if (pick) await page.locator(`.quick-input-widget .monaco-list-row[aria-label^="${value}"]`).first().waitFor();
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
