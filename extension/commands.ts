/**
 * Every command of the extension (all under the "OpenRouter Crew" category). Each asks the server and shows
 * what it answered; a failure is shown as the server's message (it names what was wrong). Commands that act on a
 * tree row take the row; run from the palette they ask for what they need instead.
 */
import * as vscode from 'vscode';
import type {
  AnalyticsSummary,
  BudgetAction,
  BudgetPeriod,
  BudgetSet,
  ArchiveRestore,
  BudgetStatus,
  BudgetStatusRequest,
  Crew,
  CrewList,
  CrewEstimate,
  CrewRun,
  CrewRuns,
  Memory,
  MemorySearch,
  Run,
  RunProgress,
  ServerInfo,
} from '../protocol';
import type { CostVerification, CostVerify } from '../protocol/verify';
import { counted, formatEnum, formatUsd as money } from '../protocol/format';
import { addAgents, chatModels, createCrew, editAgent, removeAgent } from './agents';
import { validateApiKey } from './api-key';
import { addMemory, archiveMemory } from './memory-commands';
import type { CrewExtension } from './crew';
import { memoryUri, runUri, showRun } from './documents';
import { suggestedRaise } from './model/budgets';
import { modeLabel, modeOf } from './model/mode';
import { restoredMessage } from './model/archives';
import { parseTags } from './model/memories';
import { approvalQuestion, progressLine } from './model/runs';
import type { DashboardKind } from './panels/dashboard';
import { verificationView } from '../webviews/src/view-models/costs';
import { readSettings } from './settings';
import type { AnalyticsRow } from './views/analytics';
import type { ArchiveRow } from './views/archives';
import type { CostRow } from './views/costs';
import type { CrewRow } from './views/crews';
import type { MemoryRow } from './views/memory';

type Handler = (...args: never[]) => unknown;

export function registerCommands(x: CrewExtension): vscode.Disposable[] {
  const { server } = x;
  const commands: Record<string, Handler> = {
    restartServer: () => x.restartServer(),
    stopServer: () => x.stopServer(),
    trySandbox: () => x.trySandbox(),
    showServerInfo: async () => {
      const info = await server.request<ServerInfo.Result>('server/info');
      const mode = modeOf(info);
      const detail = [
        `${modeLabel(mode)} · crew-server ${info.version} (protocol ${info.protocolVersion}), pid ${info.pid}`,
        `Data directory: ${info.dataDir}`,
        mode.store === 'postgres' ? `Store: PostgreSQL ${mode.location}` : 'Store: the data directory',
        `Socket: ${info.socket ?? '—'}`,
        `HTTP: ${info.httpPort ? `http://127.0.0.1:${info.httpPort}` : '—'}`,
        `Upstream: ${info.upstream.baseUrl}${info.upstream.sandbox ? ' (sandbox)' : info.upstream.keyConfigured ? '' : ' (no API key)'}`,
        `Started ${info.startedAt}; ${counted(info.clients ?? 1, 'client')} attached`,
      ].join('\n');
      const action = await vscode.window.showInformationMessage(
        'OpenRouter Crew: crew-server',
        { modal: true, detail },
        'Show Server Log',
        'Restart Server',
      );
      if (action === 'Show Server Log') x.output.show(true);
      else if (action === 'Restart Server') await x.restartServer();
    },
    showOutput: () => x.output.show(true),
    refresh: () => x.refreshAll(),

    setApiKey: async () => {
      const key = await vscode.window.showInputBox({
        title: 'OpenRouter API key',
        prompt: 'Kept in VS Code’s secret storage and handed to crew-server in memory; never written to settings.',
        password: true,
        ignoreFocusOut: true,
        validateInput: validateApiKey,
      });
      if (!key) return;
      await x.apiKey.set(key.trim());
      await vscode.commands.executeCommand('setContext', 'openrouterCrew.hasApiKey', true);
      await vscode.commands.executeCommand('setContext', 'openrouterCrew.needsKey', false);
      if (server.state.state === 'ready' && !server.info?.upstream.sandbox)
        await server.request('server/setApiKey', { apiKey: key.trim() });
      void vscode.window.showInformationMessage(
        server.info?.upstream.sandbox
          ? 'API key saved. This server runs the sandbox: the key is used once a real server runs (turn off openrouterCrew.sandbox).'
          : 'API key saved and handed to crew-server.',
      );
    },
    clearApiKey: async () => {
      await x.apiKey.clear();
      await vscode.commands.executeCommand('setContext', 'openrouterCrew.hasApiKey', false);
      if (server.state.state === 'ready' && !server.info?.upstream.sandbox)
        await server.request('server/setApiKey', { apiKey: null });
      void vscode.window.showInformationMessage('API key removed from VS Code and from crew-server.');
    },

    openCostsDashboard: () => x.showDashboard('costs'),
    verifyLedger: async (): Promise<CostVerify.Result> => {
      const r = await withServerProgress("Checking the ledger against OpenRouter's books", (token) =>
        server.request<CostVerify.Result>('cost/verify', {}, token),
      );
      // Worded as the Costs dashboard words the same stored verification, so both say one thing.
      const { last } = await server.request<CostVerification.Result>('cost/verification');
      const view = verificationView(last);
      const show = view.state === 'drift' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      void show(`OpenRouter Crew: ${[view.headline, ...view.details].join(' ')}`, 'Open Costs Dashboard').then(
        (a) => a && x.showDashboard('costs'),
      );
      return r;
    },
    openBudgetsDashboard: () => x.showDashboard('budgets'),
    openAnalyticsDashboard: () => x.showDashboard('analytics'),
    openArchiveDashboard: () => x.showDashboard('archive'),
    openDashboardInBrowser: async () => {
      const kind = await vscode.window.showQuickPick(['costs', 'budgets', 'analytics', 'archive'] as DashboardKind[], {
        title: 'Open which dashboard in the browser?',
      });
      if (!kind) return;
      const url = await x.dashboardUrl(kind as DashboardKind);
      // In a remote window (code-server, SSH) the daemon's loopback port is reached through the editor's forwarding,
      // often by path (/proxy/<port>/): asExternalUri gives the address the user's browser can open.
      await vscode.env.openExternal(await vscode.env.asExternalUri(vscode.Uri.parse(url)));
    },

    createCrew: () => createCrew(server),
    addAgent: async (row?: CrewRow) => {
      const crew = row?.kind === 'crew' ? row.data : await pickCrew(x, 'Add an agent to which crew?');
      if (crew) await addAgents(server, crew, await chatModels(server));
    },
    editAgent: async (row?: CrewRow) => {
      if (row?.kind === 'agent') await editAgent(server, row.data.crew, row.data.agent);
    },
    removeAgent: async (row?: CrewRow) => {
      if (row?.kind === 'agent') await removeAgent(server, row.data.crew, row.data.agent);
    },
    deleteCrew: async (row?: CrewRow) => {
      const crew = row?.kind === 'crew' ? row.data : await pickCrew(x, 'Delete which crew?');
      if (!crew) return;
      const ok = await vscode.window.showWarningMessage(
        `Delete crew ${crew.name} and its ${counted(crew.agents.length, 'agent')}? Its runs, memories and ledger rows stay.`,
        { modal: true },
        'Delete',
      );
      if (ok === 'Delete') await server.request('crew/delete', { crew: crew.id });
    },

    runTask: (row?: CrewRow, task?: string) => runTask(x, row, task),
    showRun: async () => {
      const runId = x.lastRunId;
      if (!runId) {
        const { runs } = await server.request<CrewRuns.Result>('crew/runs', { limit: 30 });
        const pick = await vscode.window.showQuickPick(
          runs.map((r) => ({
            label: r.task.split('\n')[0]!.slice(0, 80),
            description: `${r.crew} · ${r.status} · ${money(r.costUsd)}`,
            detail: r.startedAt,
            run: r,
          })),
          { title: 'Show which run?' },
        );
        if (!pick) return;
        return showRun(runUri(pick.run.id, pick.run.crew, pick.run.task));
      }
      const { runs } = await server.request<CrewRuns.Result>('crew/runs', { runId });
      await showRun(runUri(runId, runs[0]!.crew, runs[0]!.task));
    },

    setBudget: () => setBudget(x),
    raiseBudget: (row?: CostRow | { budgetId: string }) => raiseBudget(x, row),
    deleteBudget: async (row?: CostRow) => {
      if (row?.kind !== 'budget') return;
      const b = row.data;
      const ok = await vscode.window.showWarningMessage(
        `Delete the ${b.period} budget of ${b.scope} (${money(b.limitUsd)})? Calls in its scope will no longer be checked against it.`,
        { modal: true },
        'Delete',
      );
      if (ok === 'Delete') await server.request('budget/delete', { id: b.id });
    },

    searchMemories: () => searchMemories(x),
    addMemory: (row?: MemoryRow) => addMemory(server, row?.kind === 'memoryCrew' ? row.data.crew : undefined),
    archiveMemory: async (row?: MemoryRow) => {
      if (row?.kind === 'memory') await archiveMemory(server, row.data);
    },
    openMemory: async (arg?: MemoryRow | { id: string; crew: string; content?: string }) => {
      // A row carries the memory as its data; a memory itself has a `kind` too, so that cannot tell them apart.
      const m = arg && 'data' in arg ? (arg.data as Memory) : arg;
      if (!m) return searchMemories(x);
      await vscode.window.showTextDocument(memoryUri(m.id, m.crew, m.content), { preview: true });
    },
    editMemoryImportance: async (row?: MemoryRow) => {
      if (row?.kind !== 'memory') return;
      const m = row.data;
      const value = await vscode.window.showInputBox({
        title: 'Importance (0 to 1)',
        value: String(m.importance),
        validateInput: (v) => {
          const n = Number(v);
          return v.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 1 ? undefined : 'A number from 0 to 1';
        },
      });
      if (value === undefined) return;
      await server.request('memory/update', { id: m.id, importance: Number(value) });
    },
    editMemoryTags: async (row?: MemoryRow) => {
      if (row?.kind !== 'memory') return;
      const m = row.data;
      const value = await vscode.window.showInputBox({
        title: 'Tags (comma or space separated)',
        value: m.tags.join(', '),
      });
      if (value === undefined) return;
      await server.request('memory/update', { id: m.id, tags: parseTags(value) });
    },
    deleteMemory: async (row?: MemoryRow) => {
      if (row?.kind !== 'memory') return;
      const m = row.data;
      const ok = await vscode.window.showWarningMessage(
        `Delete this memory of ${m.crew}? "${m.content.slice(0, 80)}" — deleting cannot be undone (archiving can).`,
        { modal: true },
        'Delete',
      );
      if (ok === 'Delete') await server.request('memory/delete', { ids: [m.id] });
    },

    computeTopics: async (row?: AnalyticsRow) => {
      let crew = row?.kind === 'topicsCrew' ? (row.data as { crew: string }).crew : undefined;
      if (!crew) {
        const summary = await server.request<AnalyticsSummary.Result>('analytics/summary', { days: 1 });
        crew = await vscode.window.showQuickPick(
          summary.crews.filter((c) => c.total > 0).map((c) => c.crew),
          { title: 'Compute topics of which crew’s memories?' },
        );
      }
      if (!crew) return;
      await withServerProgress(`Computing topics of ${crew}`, (token, progressToken) =>
        server.request('clusters/compute', { crew, progressToken }, token),
      );
    },
    applyRecommendation: (row?: AnalyticsRow) => applyRecommendation(x, row),

    restoreArchive: async (row?: ArchiveRow) => {
      if (row?.kind !== 'archive') return;
      const a = row.data;
      const ok = await vscode.window.showInformationMessage(
        `Restore ${counted(a.count, 'memory', 'memories')} of ${a.crews.join(', ')} from this archive? The checksum is verified before anything changes.`,
        { modal: true },
        'Restore',
      );
      if (ok !== 'Restore') return;
      const r = await withServerProgress('Restoring archive', (token, progressToken) =>
        server.request<ArchiveRestore.Result>('archive/restore', { archiveId: a.id, progressToken }, token),
      );
      void vscode.window.showInformationMessage(restoredMessage(r));
    },
    deleteArchive: async (row?: ArchiveRow) => {
      if (row?.kind !== 'archive' && row?.contextValue !== 'archive-restored') return;
      const a = row.data;
      const left = a.count - a.restoredIds.length;
      const ok = await vscode.window.showWarningMessage(
        left > 0
          ? `Delete this archive? ${left} of its memories were not restored and will be gone for good.`
          : 'Delete this archive? All its memories are live again.',
        { modal: true },
        'Delete',
      );
      if (ok === 'Delete') await server.request('archive/delete', { id: a.id });
    },
  };
  return Object.entries(commands).map(([name, fn]) =>
    vscode.commands.registerCommand(`openrouterCrew.${name}`, async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        void vscode.window.showErrorMessage(`OpenRouter Crew: ${(e as Error).message}`);
        return undefined;
      }
    }),
  );
}

async function pickCrew(x: CrewExtension, title: string): Promise<Crew | undefined> {
  const { crews } = await x.server.request<CrewList.Result>('crew/list');
  if (crews.length === 0) {
    void vscode.window.showInformationMessage('No crews yet: create one first (OpenRouter Crew: Create Crew…).');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    crews.map((c) => ({
      label: c.name,
      description: counted(c.agents.length, 'agent'),
      detail: c.agents.map((a) => `${a.name}: ${a.model}`).join(' · '),
      crew: c,
    })),
    { title },
  );
  return pick?.crew;
}

async function runTask(x: CrewExtension, row?: CrewRow, given?: string): Promise<Run | undefined> {
  const crew = row?.kind === 'crew' ? row.data : await pickCrew(x, 'Run a task with which crew?');
  if (!crew) return undefined;
  if (crew.agents.length === 0) {
    const add = await vscode.window.showWarningMessage(`Crew ${crew.name} has no agents yet.`, 'Add Agent');
    if (add) await addAgents(x.server, crew, await chatModels(x.server));
    return undefined;
  }
  const task =
    given ??
    (await vscode.window.showInputBox({
      title: `Task for ${crew.name}`,
      prompt: `${crew.agents.map((a) => a.name).join(' → ')}; every call goes through your budgets`,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Say what the crew should do'),
    }));
  if (!task) return undefined;
  let process: CrewRun.Params['process'] = 'sequential';
  if (crew.agents.length > 1 && given === undefined) {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'sequential', description: 'each agent in order, seeing the work before it' },
        { label: 'manager', description: `${crew.agents[0]!.name} leads and delegates to the others` },
      ],
      { title: 'How should the crew work?' },
    );
    if (!pick) return undefined;
    process = pick.label as CrewRun.Params['process'];
  }
  const settings = readSettings();
  const shape: CrewEstimate.Params = { crew: crew.id, task, process, memoryTokens: settings.memoryContextTokens };
  if (settings.runMaxCostUsd > 0) shape.maxCostUsd = settings.runMaxCostUsd;
  if (settings.approveRunsOverUsd > 0) {
    const estimate = await x.server.request<CrewEstimate.Result>('crew/estimate', shape);
    const question = approvalQuestion(estimate, settings.approveRunsOverUsd);
    if (question) {
      const RUN = 'Run';
      const CEILING = 'Run with a Ceiling…';
      const choice = await vscode.window.showWarningMessage(
        question.message,
        { modal: true, detail: question.detail },
        RUN,
        CEILING,
      );
      if (choice === undefined) return undefined;
      if (choice === CEILING) {
        const ceiling = await vscode.window.showInputBox({
          title: `Ceiling for this run of ${crew.name} (USD)`,
          prompt: 'Steps are fitted into it, and the run stops before a step that cannot fit',
          value: String(estimate.highUsd ?? settings.approveRunsOverUsd),
          validateInput: (v) => validateUsd(v) ?? (Number(v.replace(/^\$/, '')) > 0 ? undefined : 'Above 0'),
        });
        if (ceiling === undefined) return undefined;
        shape.maxCostUsd = Number(ceiling.replace(/^\$/, ''));
      }
    }
  }
  const run = await withServerProgress(`${crew.name}: ${task.slice(0, 50)}`, (token, progressToken, report) => {
    const sub = x.server.onProgress<RunProgress>(progressToken, (p) => report(progressLine(p)));
    const params: CrewRun.Params = { ...shape, progressToken };
    if (settings.runTellRemaining) params.tellRemaining = true;
    return x.server.request<Run>('crew/run', params, token).finally(() => void sub.dispose());
  });
  x.lastRunId = run.id;
  // What the run spent and saved feeds every view; Analytics in particular may have had nothing before it.
  x.stale(['crews', 'costs', 'memory', 'analytics']);
  const summary = `${crew.name}: run ${formatEnum(run.status)} · ${counted(run.steps.length, 'step')} · ${money(run.costUsd)}`;
  const show =
    run.status === 'completed'
      ? vscode.window.showInformationMessage(summary, 'Show Result')
      : vscode.window.showWarningMessage(`${summary}${run.error ? ` — ${run.error.message}` : ''}`, 'Show Result');
  void show.then((a) => a && showRun(runUri(run.id, run.crew, run.task)));
  return run;
}

const SCOPES = [
  { label: 'global', description: 'every call' },
  { label: 'crew', description: 'one crew’s calls' },
  { label: 'agent', description: 'one agent’s calls (crew agents are <crew>/<agent>)' },
  { label: 'model', description: 'calls to one model' },
];

async function setBudget(x: CrewExtension): Promise<void> {
  const kind = await vscode.window.showQuickPick(SCOPES, { title: 'Budget for what?' });
  if (!kind) return;
  let scope = 'global';
  if (kind.label !== 'global') {
    const id = await vscode.window.showInputBox({
      title: `Which ${kind.label}?`,
      validateInput: (v) => (v.trim() ? undefined : `Name the ${kind.label}`),
    });
    if (!id) return;
    scope = `${kind.label}:${id.trim()}`;
  }
  const period = await vscode.window.showQuickPick(['daily', 'weekly', 'monthly', 'total'], { title: 'Period' });
  if (!period) return;
  const limit = await vscode.window.showInputBox({
    title: `Limit in USD (${scope}, ${period})`,
    validateInput: validateUsd,
  });
  if (limit === undefined) return;
  const action = await vscode.window.showQuickPick(BUDGET_ACTIONS, { title: 'When a call does not fit the limit' });
  if (!action) return;
  const params: BudgetSet.Params = {
    scope,
    period: period as BudgetPeriod,
    limitUsd: Number(limit.replace(/^\$/, '')),
    action: action.action,
  };
  if (action.action === 'downgrade') {
    const model = await vscode.window.showQuickPick(await chatModels(x.server), {
      title: 'Downgrade to which (cheaper) model?',
      matchOnDescription: true,
    });
    if (!model) return;
    params.downgradeTo = model.id;
  }
  await x.server.request('budget/set', params);
}

const BUDGET_ACTIONS: (vscode.QuickPickItem & { action: BudgetAction })[] = [
  { action: 'block', label: 'Block', description: 'refuse the call before it is sent' },
  {
    action: 'fit',
    label: 'Fit',
    description: 'lower its max_tokens to what fits (down to 16 tokens), refuse below that',
  },
  { action: 'warn', label: 'Warn', description: 'let it through and alert' },
  { action: 'downgrade', label: 'Downgrade', description: 'send it to a cheaper model' },
];

function validateUsd(v: string): string | undefined {
  const n = Number(v.replace(/^\$/, ''));
  return v.trim() !== '' && Number.isFinite(n) && n >= 0 ? undefined : 'An amount in USD, e.g. 5 or 0.50';
}

async function raiseBudget(x: CrewExtension, arg?: CostRow | { budgetId: string }): Promise<void> {
  let b: BudgetStatus | undefined;
  if (arg && 'kind' in arg && arg.kind === 'budget') b = arg.data;
  else {
    const { budgets } = await x.server.request<BudgetStatusRequest.Result>('budget/status');
    const wanted = arg && 'budgetId' in arg ? arg.budgetId : undefined;
    b = wanted
      ? budgets.find((y) => y.id === wanted)
      : (
          await vscode.window.showQuickPick(
            budgets.map((y) => ({ label: `${y.scope} · ${y.period}`, description: money(y.limitUsd), b: y })),
            { title: 'Raise which budget?' },
          )
        )?.b;
  }
  if (!b) return;
  const limit = await vscode.window.showInputBox({
    title: `New limit for ${b.scope} (${b.period}): now ${money(b.limitUsd)}, ${money(b.spentUsd)} spent`,
    value: String(suggestedRaise(b.limitUsd, b.spentUsd)),
    validateInput: validateUsd,
  });
  if (limit === undefined) return;
  await x.server.request('budget/set', {
    id: b.id,
    scope: b.scope,
    period: b.period,
    limitUsd: Number(limit.replace(/^\$/, '')),
  });
}

async function searchMemories(x: CrewExtension): Promise<void> {
  const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { memory?: Memory }>();
  qp.title = 'Search memories (ranked by relevance, recency, importance and use)';
  qp.placeholder = 'What are you looking for?';
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  qp.onDidChangeValue((q) => {
    clearTimeout(timer);
    if (!q.trim()) {
      qp.items = [];
      return;
    }
    timer = setTimeout(() => {
      const mine = ++seq;
      qp.busy = true;
      void x.server
        .request<MemorySearch.Result>('memory/search', { query: q, limit: 20 })
        .then((r) => {
          if (mine !== seq) return;
          qp.items = r.hits.map((h) => ({
            label: h.memory.content.split('\n')[0]!.slice(0, 80),
            description: `${h.memory.crew} · ${h.memory.kind} · ${h.score.toFixed(2)}`,
            detail: h.memory.tags.map((t) => `#${t}`).join(' ') || undefined,
            alwaysShow: true,
            memory: h.memory,
          }));
        })
        .catch((e: Error) => {
          if (mine === seq) qp.items = [{ label: `$(error) ${e.message}`, alwaysShow: true }];
        })
        .finally(() => mine === seq && (qp.busy = false));
    }, 200);
  });
  qp.onDidAccept(() => {
    const m = qp.selectedItems[0]?.memory;
    qp.hide();
    if (m) void vscode.window.showTextDocument(memoryUri(m.id, m.crew, m.content), { preview: true });
  });
  qp.onDidHide(() => qp.dispose());
  qp.show();
}

async function applyRecommendation(x: CrewExtension, row?: AnalyticsRow): Promise<void> {
  if (row?.kind !== 'recommendation') return;
  const data = row.data as {
    cost?: { id: string; title: string; changes: { target: string; field: string; before: unknown; after: unknown }[] };
    memory?: { id: string; kind: 'archive' | 'merge' | 'pin'; memoryIds: string[]; merge?: unknown; reason: string };
  };
  if (data.cost) {
    const r = data.cost;
    const what = r.changes.map(
      (c) => `${c.target} ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`,
    );
    const ok = await vscode.window.showInformationMessage(`${r.title}\n\n${what.join('\n')}`, { modal: true }, 'Apply');
    if (ok === 'Apply') await x.server.request('cost/applyRecommendation', { id: r.id });
    return;
  }
  const m = data.memory!;
  const verb = m.kind === 'archive' ? 'Archive' : m.kind === 'merge' ? 'Merge' : 'Pin';
  const ok = await vscode.window.showInformationMessage(
    `${verb} ${m.memoryIds.length} memor${m.memoryIds.length === 1 ? 'y' : 'ies'}? ${m.reason}`,
    { modal: true },
    verb,
  );
  if (ok !== verb) return;
  if (m.kind === 'archive') await x.server.request('archive/create', { ids: m.memoryIds });
  else if (m.kind === 'merge') await x.server.request('memory/merge', m.merge);
  else for (const id of m.memoryIds) await x.server.request('memory/update', { id, pinned: true });
}

let progressSeq = 0;

/** Runs a server request under a cancellable notification progress; Cancel sends `$/cancelRequest`. */
async function withServerProgress<T>(
  title: string,
  work: (token: vscode.CancellationToken, progressToken: string, report: (message: string) => void) => Promise<T>,
): Promise<T> {
  const progressToken = `vscode-${process.pid}-${++progressSeq}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) => work(token, progressToken, (message) => progress.report({ message })),
  );
}
