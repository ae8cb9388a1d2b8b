/**
 * The one owner of everything the extension creates: the server connection, the views, the status bar, the
 * dashboards, the documents, the commands and every subscription (as rust-analyzer's Ctx does). Commands are
 * registered at once and answer sensibly before the server is up; the views show why they are empty.
 */
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { BudgetAlert, StoreChangedNotification } from '../protocol';
import { dataDirPaths } from '../protocol/node';
import { ApiKeyStore } from './api-key';
import { registerCommands } from './commands';
import { CrewDocuments, MEMORY_SCHEME, RUN_SCHEME } from './documents';
import { DashboardPanel, type DashboardKind } from './panels/dashboard';
import { CrewServer, type ServerState } from './server';
import { readSettings, RESTART_SETTINGS } from './settings';
import { BudgetStatusBar } from './status-bar';
import { AnalyticsView } from './views/analytics';
import { ArchivesView } from './views/archives';
import { CostsView } from './views/costs';
import { CrewsView } from './views/crews';
import { MemoryView } from './views/memory';
import type { ServerTree } from './views/tree';

type ViewName = 'crews' | 'costs' | 'memory' | 'analytics' | 'archives';

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
    for (const [name, view] of Object.entries(this.views))
      d.push(vscode.window.createTreeView(`openrouterCrew.${name}`, { treeDataProvider: view, showCollapseAll: true }));
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
        if (RESTART_SETTINGS.some((s) => e.affectsConfiguration(s)))
          void vscode.window
            .showInformationMessage('OpenRouter Crew: restart the server to apply the new setting.', 'Restart Server')
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

  async restartServer(): Promise<void> {
    this.lastError = undefined;
    await this.server.restart();
  }

  private onState(s: ServerState): void {
    void vscode.commands.executeCommand('setContext', 'openrouterCrew.serverState', s.state);
    void vscode.commands.executeCommand('setContext', 'openrouterCrew.sandbox', !!this.server.info?.upstream.sandbox);
    this.statusBar.showState();
    if (s.state === 'ready') {
      this.lastError = undefined;
      this.refreshAll();
      this.output.appendLine(
        `[extension] connected to crew-server ${this.server.info?.version} (protocol ${this.server.info?.protocolVersion}) for ${this.server.info?.dataDir}${this.server.info?.upstream.sandbox ? ' — SANDBOX' : ''}`,
      );
    } else if (s.state === 'error') {
      this.refreshAll();
      if (s.reason !== this.lastError) {
        this.lastError = s.reason;
        void vscode.window
          .showErrorMessage(`OpenRouter Crew: crew-server is not running: ${s.reason}`, 'Retry', 'Show Log')
          .then((a) => (a === 'Retry' ? this.restartServer() : a === 'Show Log' ? this.output.show(true) : undefined));
      }
    }
  }

  refreshAll(): void {
    for (const v of Object.values(this.views)) v.refresh();
    void this.statusBar.update();
  }

  /** Refreshes views after the configured debounce (a burst of notifications causes one refresh per view). */
  private stale(names: ViewName[]): void {
    const delay = readSettings().refreshDebounceMs;
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
    for (const t of this.timers.values()) clearTimeout(t);
    DashboardPanel.disposeAll();
    for (const v of Object.values(this.views)) v.dispose();
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
