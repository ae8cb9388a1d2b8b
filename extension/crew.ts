/**
 * The one owner of everything the extension creates: the server connection, the views, the status bar, the
 * dashboards, the documents, the commands and every subscription (as rust-analyzer's Ctx does). Commands are
 * registered at once and answer sensibly before the server is up; the views show why they are empty.
 */
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { BudgetAlert, StoreChangedNotification } from '../protocol';
import { counted } from '../protocol/format';
import { dataDirPaths } from '../protocol/node';
import { ApiKeyStore } from './api-key';
import { registerCommands } from './commands';
import { CrewDocuments, MEMORY_SCHEME, RUN_SCHEME } from './documents';
import { DashboardPanel, type DashboardKind } from './panels/dashboard';
import { modeLabel, modeMismatch, modeOf, type ServerMode } from './model/mode';
import { CrewServer, type ServerState } from './server';
import { readSettings, RESTART_SETTINGS } from './settings';
import { BudgetStatusBar } from './status-bar';
import { AnalyticsView } from './views/analytics';
import { ArchivesView } from './views/archives';
import { CostsView } from './views/costs';
import { CrewsView } from './views/crews';
import { MemoryView } from './views/memory';
import type { ServerTree } from './views/tree';

/** Analytics reads the whole ledger and every memory: refreshed once a burst of calls has been quiet this long. */
const ANALYTICS_SETTLE_MS = 1_500;

export type ViewName = 'crews' | 'costs' | 'memory' | 'analytics' | 'archives';

/** Which views a change of a domain (store/changed) or a notification makes stale. */
const STALE: Record<string, ViewName[]> = {
  crew: ['crews', 'costs'],
  budget: ['costs', 'crews'],
  cost: ['analytics', 'crews', 'costs'],
  memory: ['memory', 'analytics'],
  archive: ['archives', 'memory', 'analytics'],
  clusters: ['analytics'],
  analytics: ['analytics'],
  store: ['crews', 'costs', 'memory', 'analytics', 'archives'],
  '*': ['crews', 'costs', 'memory', 'analytics', 'archives'],
};

export class CrewExtension implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('OpenRouter Crew');
  readonly apiKey: ApiKeyStore;
  readonly server: CrewServer;
  readonly views: Record<ViewName, ServerTree<never>>;
  readonly statusBar: BudgetStatusBar;
  readonly documents: CrewDocuments;
  lastRunId: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly timers = new Map<ViewName, NodeJS.Timeout>();
  private lastError: string | undefined;
  private readonly treeViews: vscode.TreeView<unknown>[] = [];
  /** Closes the "not running" notification: it must not outlive the problem it reports. */
  private closeDownNotice: (() => void) | undefined;
  /** The daemon (pid) whose mode was already found to differ from the settings: said once per daemon. */
  private mismatchSaid: number | undefined;
  /** Set while a command of ours changes a setting and applies it itself. */
  private applyingSettings = false;

  constructor(readonly context: vscode.ExtensionContext) {
    this.apiKey = new ApiKeyStore(context.secrets);
    this.server = new CrewServer(context, this.output, this.apiKey);
    this.views = {
      crews: new CrewsView(this.server),
      costs: new CostsView(this.server),
      memory: new MemoryView(this.server),
      analytics: new AnalyticsView(this.server),
      archives: new ArchivesView(this.server),
    } as unknown as Record<ViewName, ServerTree<never>>;
    this.statusBar = new BudgetStatusBar(this.server);
    this.documents = new CrewDocuments(this.server);
    const d = this.disposables;
    for (const [name, view] of Object.entries(this.views)) {
      const tree = vscode.window.createTreeView(`openrouterCrew.${name}`, {
        treeDataProvider: view,
        showCollapseAll: true,
      });
      this.treeViews.push(tree);
      d.push(tree);
    }
    d.push(
      this.output,
      this.server,
      this.statusBar,
      this.documents,
      vscode.workspace.registerTextDocumentContentProvider(MEMORY_SCHEME, this.documents),
      vscode.workspace.registerTextDocumentContentProvider(RUN_SCHEME, this.documents),
      ...registerCommands(this),
      this.server.onDidChangeState((s) => this.onState(s)),
      this.server.on('usage/recorded', () => {
        this.statusBar.schedule();
        this.stale(['costs', 'crews']);
        // Spend feeds insights and savings too; a run's calls come in a burst, so Analytics waits for it to settle.
        this.stale(['analytics'], ANALYTICS_SETTLE_MS);
      }),
      this.server.on('budget/alert', (a) => {
        this.statusBar.schedule();
        this.stale(['costs', 'crews']);
        this.showAlert(a as BudgetAlert);
      }),
      this.server.on('memory/changed', () => this.stale(['memory', 'analytics', 'archives'])),
      this.server.on('store/changed', (p) => {
        const { domain } = p as StoreChangedNotification.Params;
        this.stale(STALE[domain] ?? []);
        if (domain === 'budget' || domain === 'crew' || domain === 'store') this.statusBar.schedule();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (this.applyingSettings || !RESTART_SETTINGS.some((s) => e.affectsConfiguration(s))) return;
        void vscode.window
          .showInformationMessage(
            'OpenRouter Crew: the new setting applies when crew-server starts. Restart it now?',
            'Restart Server',
          )
          .then((a) => a && this.restartServer());
      }),
    );
    void vscode.commands.executeCommand('setContext', 'openrouterCrew.serverState', 'starting');
    void this.apiKey.get().then((k) => vscode.commands.executeCommand('setContext', 'openrouterCrew.hasApiKey', !!k));
  }

  /** Connects in the background: activation never waits for the server. */
  start(): void {
    void this.server.start();
  }

  /** Restarts the daemon this window uses into the mode its settings ask for, after saying whom it disconnects. */
  async restartServer(): Promise<void> {
    this.lastError = undefined;
    if (!(await this.confirmDisconnect('Restart'))) return;
    await this.server.restartDaemon();
  }

  async stopServer(): Promise<void> {
    if (!(await this.confirmDisconnect('Stop'))) return;
    await this.server.stopDaemon();
  }

  /** Switches this window to the sandbox (the setting, globally) and restarts the daemon into it. */
  async trySandbox(): Promise<void> {
    this.applyingSettings = true;
    try {
      const config = vscode.workspace.getConfiguration('openrouterCrew');
      const set = config.inspect<boolean>('sandbox');
      // Where the value is set decides where it must change: a workspace's setting wins over the user's.
      const target =
        set?.workspaceFolderValue !== undefined
          ? vscode.ConfigurationTarget.WorkspaceFolder
          : set?.workspaceValue !== undefined
            ? vscode.ConfigurationTarget.Workspace
            : vscode.ConfigurationTarget.Global;
      await config.update('sandbox', true, target);
    } finally {
      this.applyingSettings = false;
    }
    if (!readSettings().sandbox)
      throw new Error(
        'openrouterCrew.sandbox is still off: it is set to false in settings that win over the user settings (a remote machine’s). Turn it on there, then Restart Server.',
      );
    await this.restartServer();
  }

  /** Asks before stopping a daemon that other clients use too; true when nobody else is attached. */
  private async confirmDisconnect(verb: 'Restart' | 'Stop'): Promise<boolean> {
    const others = await this.server.otherClients();
    if (others === 0) return true;
    const answer = await vscode.window.showWarningMessage(
      `${verb} crew-server (pid ${this.server.info?.pid})? ${counted(others, 'other client')} ${others === 1 ? 'uses' : 'use'} it too ` +
        '(a terminal, n8n, a dashboard or another window); they lose their connection, and reconnect when a server runs again.',
      { modal: true },
      verb,
    );
    return answer === verb;
  }

  private onState(s: ServerState): void {
    const info = s.state === 'ready' ? this.server.info : undefined;
    void vscode.commands.executeCommand('setContext', 'openrouterCrew.serverState', s.state);
    void vscode.commands.executeCommand('setContext', 'openrouterCrew.sandbox', !!info?.upstream.sandbox);
    void vscode.commands.executeCommand(
      'setContext',
      'openrouterCrew.needsKey',
      !!info && !info.upstream.sandbox && !info.upstream.keyConfigured,
    );
    const mode = info && modeOf(info);
    for (const t of this.treeViews) t.description = mode ? modeLabel(mode) : undefined;
    this.statusBar.showState();
    if (s.state === 'ready') {
      this.lastError = undefined;
      this.closeDownNotice?.();
      this.refreshAll();
      this.output.appendLine(
        `[extension] connected to crew-server ${info?.version} (protocol ${info?.protocolVersion}, pid ${info?.pid}) for ${info?.dataDir}: ${mode ? modeLabel(mode) : ''}`,
      );
      if (mode) this.sayMismatch(mode);
    } else if (s.state === 'error') {
      this.refreshAll();
      if (s.reason !== this.lastError) {
        this.lastError = s.reason;
        this.showDownNotice(s.reason);
      }
    }
  }

  /** Says once per daemon when it runs in another mode than this window's settings ask for. */
  private sayMismatch(mode: ServerMode): void {
    const why = modeMismatch(mode, readSettings());
    if (!why || this.mismatchSaid === mode.pid) return;
    this.mismatchSaid = mode.pid;
    void vscode.window
      .showWarningMessage(`OpenRouter Crew: ${why}`, 'Restart Server')
      .then((a) => a && this.restartServer());
  }

  /**
   * "Not running" as a notification that closes itself once the server is back (a plain error message cannot be
   * closed by the extension, and stayed up, wrong, after a restart). Restart is in the status bar and the views.
   */
  private showDownNotice(reason: string): void {
    this.closeDownNotice?.();
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: 'OpenRouter Crew: crew-server is not running',
        cancellable: true,
      },
      (progress, token) => {
        progress.report({ message: `${reason}. Restart Server (in the status bar or the Crews view) starts it.` });
        return new Promise<void>((resolve) => {
          const close = () => {
            if (this.closeDownNotice === close) this.closeDownNotice = undefined;
            resolve();
          };
          this.closeDownNotice = close;
          token.onCancellationRequested(close);
        });
      },
    );
  }

  refreshAll(): void {
    for (const v of Object.values(this.views)) v.refresh();
    void this.statusBar.update();
  }

  /** Refreshes views after the configured debounce (a burst of notifications causes one refresh per view). */
  stale(names: ViewName[], atLeastMs = 0): void {
    const delay = Math.max(atLeastMs, readSettings().refreshDebounceMs);
    for (const n of names) {
      clearTimeout(this.timers.get(n));
      this.timers.set(
        n,
        setTimeout(() => this.views[n].refresh(), delay),
      );
    }
  }

  private showAlert(a: BudgetAlert): void {
    const show =
      a.severity === 'critical'
        ? vscode.window.showErrorMessage
        : a.severity === 'warning'
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    void show(`OpenRouter Crew: ${a.message}`, 'Open Dashboard', 'Raise Budget').then((action) => {
      if (action === 'Open Dashboard') this.showDashboard('costs');
      else if (action === 'Raise Budget')
        void vscode.commands.executeCommand('openrouterCrew.raiseBudget', { budgetId: a.budgetId });
    });
  }

  showDashboard(kind: DashboardKind): void {
    DashboardPanel.show(kind, this.context.extensionUri, this.server, this.output);
  }

  /** The browser URL of a dashboard on the daemon's HTTP port, with the token in the fragment (never sent). */
  async dashboardUrl(kind: DashboardKind): Promise<string> {
    const info = this.server.info;
    if (!info?.httpPort) throw new Error('this crew-server has no HTTP port (it was started with --no-http)');
    const token = (await fsp.readFile(dataDirPaths(info.dataDir).token, 'utf8')).trim();
    return `http://127.0.0.1:${info.httpPort}/dashboard/${kind}#token=${encodeURIComponent(token)}`;
  }

  dispose(): void {
    this.closeDownNotice?.();
    for (const t of this.timers.values()) clearTimeout(t);
    DashboardPanel.disposeAll();
    for (const v of Object.values(this.views)) v.dispose();
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
