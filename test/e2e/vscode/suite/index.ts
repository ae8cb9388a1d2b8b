/**
 * Runs inside a real VS Code's extension host (code-server, via the smoke-test driver's extensionTestsPath):
 * a Mocha `tdd` suite against the extension as loaded from the repository, connected to a seeded sandbox daemon.
 * Bundled by test/e2e/vscode/build-suite.mjs; `run()` is the contract VS Code calls.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type {
  AnalyticsSummary,
  ArchiveList,
  BudgetStatusRequest,
  ChatComplete,
  CrewList,
  CrewRuns,
  MemoryList,
  Run,
} from '../../../../protocol';
import type { CostVerification, CostVerify } from '../../../../protocol/verify';
import type { CrewExtensionApi } from '../../../../extension/extension';
import { statusBarModel } from '../../../../extension/model/budgets';
import { modeOf } from '../../../../extension/model/mode';
import { tabTitle } from '../../../../extension/documents';
import { memoryLabel } from '../../../../extension/model/memories';
import { formatUsd } from '../../../../protocol/format';
import { waitForExit } from '../../../../protocol/node';

import type MochaType from 'mocha';

// Mocha is resolved from the repository's node_modules at run time (the bundle leaves it external).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Mocha = require('mocha') as typeof MochaType;

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 30_000, reporter: 'spec' });
  mocha.suite.emit('pre-require', globalThis, 'extension-host', mocha);
  defineSuite();
  return new Promise((resolve, reject) =>
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve())),
  );
}

async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function defineSuite(): void {
  suite('OpenRouter Crew in VS Code', () => {
    let api: CrewExtensionApi;
    const request = <R>(method: string, params?: unknown) => api.crew.server.request<R>(method, params);
    const labels = (items: vscode.TreeItem[]) =>
      items.map((i) => (typeof i.label === 'string' ? i.label : (i.label?.label ?? '')));

    suiteSetup(async () => {
      const ext = vscode.extensions.getExtension<CrewExtensionApi>('openrouter-crew.openrouter-crew');
      assert.ok(ext, 'the extension is installed');
      api = await ext.activate();
      await until(() => api.crew.server.state.state === 'ready', 'crew-server to be ready');
    });

    test('every contributed command is registered', async () => {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(api.crew.context.extensionPath, 'package.json'), 'utf8'),
      ) as { contributes: { commands: { command: string }[] } };
      const registered = new Set(await vscode.commands.getCommands(true));
      const missing = manifest.contributes.commands.map((c) => c.command).filter((c) => !registered.has(c));
      assert.deepEqual(missing, []);
      assert.ok(manifest.contributes.commands.length >= 20);
    });

    test('the Crews view shows the server’s crews and their agents', async () => {
      const { crews } = await request<CrewList.Result>('crew/list');
      const roots = await api.crew.views.crews.getChildren();
      assert.deepEqual(
        labels(roots),
        crews.map((c) => c.name),
      );
      const agents = await api.crew.views.crews.getChildren(roots[0]);
      assert.deepEqual(
        labels(agents),
        crews[0]!.agents.map((a) => a.name),
      );
      assert.equal(agents[0]!.description, crews[0]!.agents[0]!.model);
    });

    test('the Costs view shows every budget with the server’s figures', async () => {
      const { budgets } = await request<BudgetStatusRequest.Result>('budget/status');
      const [group] = await api.crew.views.costs.getChildren();
      assert.equal(labels([group!])[0], 'Budgets');
      const rows = await api.crew.views.costs.getChildren(group);
      assert.equal(rows.length, budgets.length);
      for (const b of budgets) {
        const row = rows.find((r) => (r as { data?: { id?: string } }).data?.id === b.id);
        assert.ok(row, `a row for budget ${b.scope}`);
        assert.ok(String(row.description).includes(`${formatUsd(b.spentUsd)} / ${formatUsd(b.limitUsd)}`));
      }
    });

    test('the Memory Browser shows crew → kind → memories as the server has them', async () => {
      const summary = await request<AnalyticsSummary.Result>('analytics/summary', { days: 1 });
      const crews = await api.crew.views.memory.getChildren();
      assert.deepEqual(
        labels(crews),
        summary.crews.filter((c) => c.total > 0).map((c) => c.crew),
      );
      const kinds = await api.crew.views.memory.getChildren(crews[0]);
      const fact = kinds.find((k) => labels([k])[0] === 'fact')!;
      const { memories } = await request<MemoryList.Result>('memory/list', { crew: labels(crews)[0], kind: 'fact' });
      const rows = await api.crew.views.memory.getChildren(fact);
      assert.equal(rows.length, memories.length);
      assert.equal(labels(rows)[0], memoryLabel(memories[0]!).label);
    });

    test('the Archives view lists the server’s archives', async () => {
      const { archives } = await request<ArchiveList.Result>('archive/list');
      const rows = await api.crew.views.archives.getChildren();
      assert.equal(rows.length, archives.length);
      assert.match(labels(rows)[0]!, new RegExp(`${archives[0]!.count} memor`));
    });

    test('a memory opens as a read-only document with its content', async () => {
      const { memories } = await request<MemoryList.Result>('memory/list', { limit: 1 });
      const m = memories[0]!;
      await vscode.commands.executeCommand('openrouterCrew.openMemory', m);
      const editor = await until(() => vscode.window.activeTextEditor, 'the memory document');
      assert.equal(editor.document.uri.scheme, 'crew-memory');
      assert.ok(editor.document.getText().startsWith(m.content));
      // The tab says what the memory is about, not its id.
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab!;
      assert.ok(!tab.label.includes(m.id), `tab "${tab.label}"`);
      assert.equal(tab.label, `${tabTitle(m.content)}.md`);
    });

    test('language features on model ids: diagnostics, hover with prices, completion, quick fix', async () => {
      const doc = await vscode.workspace.openTextDocument({
        language: 'json',
        content: '{\n  "model": "openai/gpt-4o-mini",\n  "fallback": "openai/gpt-4o-mimi"\n}\n',
      });
      await vscode.window.showTextDocument(doc);
      const diagnostics = await until(() => {
        const d = vscode.languages.getDiagnostics(doc.uri);
        return d.length > 0 ? d : undefined;
      }, 'diagnostics on the unknown id');
      assert.equal(diagnostics.length, 1);
      assert.equal(diagnostics[0]!.range.start.line, 2);
      assert.match(diagnostics[0]!.message, /openai\/gpt-4o-mimi/);
      assert.match(diagnostics[0]!.message, /openai\/gpt-4o-mini/);

      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
        'vscode.executeHoverProvider',
        doc.uri,
        new vscode.Position(1, 20),
      );
      const text = hovers
        .flatMap((h) => h.contents)
        .map((c) => (typeof c === 'string' ? c : c.value))
        .join('\n');
      const { models } = await request<{ models: { id: string; promptUsdPerMillion: number }[] }>('models/list', {});
      const mini = models.find((m) => m.id === 'openai/gpt-4o-mini')!;
      assert.match(text, /gpt-4o-mini/i);
      assert.ok(text.includes(String(mini.promptUsdPerMillion)), `the hover shows the prompt price: ${text}`);

      const completions = await vscode.commands.executeCommand<vscode.CompletionList>(
        'vscode.executeCompletionItemProvider',
        doc.uri,
        new vscode.Position(1, 21),
      );
      assert.ok(
        completions.items.some((i) => (typeof i.label === 'string' ? i.label : i.label.label) === 'openai/gpt-4o'),
        'completion offers catalog ids',
      );

      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
        'vscode.executeCodeActionProvider',
        doc.uri,
        diagnostics[0]!.range,
      );
      const fix = actions.find((a) => a.title.includes('openai/gpt-4o-mini'));
      assert.ok(fix?.edit, `a quick fix to the closest id: ${actions.map((a) => a.title).join(', ')}`);
      await vscode.workspace.applyEdit(fix.edit);
      assert.match(doc.getText(), /"fallback": "openai\/gpt-4o-mini"/);
      await until(() => vscode.languages.getDiagnostics(doc.uri).length === 0, 'the diagnostic to clear');
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    });

    test('Run Task on a crew row runs it through the server, with progress, and remembers the run', async () => {
      const [row] = await api.crew.views.crews.getChildren();
      const run = await vscode.commands.executeCommand<Run | undefined>(
        'openrouterCrew.runTask',
        row,
        'Summarise the launch risks',
      );
      assert.ok(run, 'the command returned the run');
      assert.equal(run.status, 'completed');
      assert.equal(api.crew.lastRunId, run.id);
      const { runs } = await request<CrewRuns.Result>('crew/runs', { runId: run.id });
      assert.equal(runs[0]!.cost, run.cost);
      assert.equal(runs[0]!.steps.length, 2);
      // Show Run opens it rendered (a Markdown preview), titled by its task.
      await vscode.commands.executeCommand('openrouterCrew.showRun');
      const tab = await until(() => {
        const t = vscode.window.tabGroups.activeTabGroup.activeTab;
        return t?.input instanceof vscode.TabInputWebview && /markdown\.preview/.test(t.input.viewType) ? t : undefined;
      }, 'the run as a Markdown preview');
      assert.match(tab.label, /Summarise the launch risks/);
    });

    test('the status bar follows a recorded call within a second', async () => {
      const before = api.crew.statusBar.text;
      await request<ChatComplete.Result>('chat/complete', {
        model: 'openai/gpt-4o-mini',
        crew: 'launch',
        agent: 'launch/writer',
        maxTokens: 16,
        messages: [{ role: 'user', content: 'one more call for the status bar' }],
      });
      const recorded = Date.now();
      const { budgets } = await request<BudgetStatusRequest.Result>('budget/status');
      const expected = statusBarModel(budgets, modeOf(api.crew.server.info!)).text;
      assert.notEqual(expected, before, 'the call changed the most constrained budget');
      await until(() => api.crew.statusBar.text === expected, `status bar text "${expected}"`, 1000);
      assert.ok(Date.now() - recorded <= 1000);
    });

    test('a crew created elsewhere appears in the Crews view (store/changed, no polling)', async () => {
      let fired = false;
      const sub = api.crew.views.crews.onDidChangeTreeData(() => (fired = true));
      try {
        await request('crew/create', {
          name: 'from-elsewhere',
          agents: [{ name: 'solo', model: 'openai/gpt-4o-mini' }],
        });
        await until(() => fired, 'the Crews view to be told to refresh', 5000);
      } finally {
        sub.dispose();
      }
      assert.ok(labels(await api.crew.views.crews.getChildren()).includes('from-elsewhere'));
    });

    test('spend refreshes the Analytics view without a Refresh', async () => {
      let fired = false;
      const sub = api.crew.views.analytics.onDidChangeTreeData(() => (fired = true));
      try {
        // A call as small as the status bar's: the UI scenario after this suite needs the daily budget's room.
        await request<ChatComplete.Result>('chat/complete', {
          model: 'openai/gpt-4o-mini',
          crew: 'launch',
          agent: 'launch/writer',
          maxTokens: 16,
          messages: [{ role: 'user', content: 'one call for the analytics' }],
        });
        await until(() => fired, 'the Analytics view to be told to refresh', 5000);
      } finally {
        sub.dispose();
      }
    });

    test("Check the Ledger Against OpenRouter verifies the window's calls with the server", async () => {
      const r = await vscode.commands.executeCommand<CostVerify.Result>('openrouterCrew.verifyLedger');
      assert.ok(r, 'the command returned the verification');
      assert.ok(r.checked > 0, 'the seeded calls were checked');
      assert.equal(r.matched, r.checked, 'the sandbox bills what it reported');
      const { last } = await request<CostVerification.Result>('cost/verification');
      assert.equal(last?.verifiedAt, r.verifiedAt);
    });

    // Last: these replace the daemon the other tests use.
    test('Restart Server starts a new daemon and the window reconnects to it; Stop Server stops it', async () => {
      const before = api.crew.server.info!.pid;
      await vscode.commands.executeCommand('openrouterCrew.restartServer');
      await until(
        () => api.crew.server.state.state === 'ready' && api.crew.server.info!.pid !== before,
        'a new daemon, connected',
      );
      assert.ok(await waitForExit(before, 1), 'the old daemon is gone');
      const restarted = api.crew.server.info!;
      assert.equal(restarted.upstream.sandbox, true, 'started in the mode the settings ask for');
      // The status bar re-reads budgets once connected; it then leads with the mode.
      await until(() => /sandbox/.test(api.crew.statusBar.text), 'the status bar to say sandbox', 5000);

      await vscode.commands.executeCommand('openrouterCrew.stopServer');
      assert.equal(api.crew.server.state.state, 'error');
      assert.ok(await waitForExit(restarted.pid, 10_000), 'the daemon exited');
      // The views show why they are empty; Restart Server brings the daemon back for the tests after this suite.
      assert.deepEqual(await api.crew.views.crews.getChildren(), []);
      await vscode.commands.executeCommand('openrouterCrew.restartServer');
      await until(() => api.crew.server.state.state === 'ready', 'the daemon back');
    });
  });
}
