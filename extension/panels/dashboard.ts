/**
 * One webview panel per dashboard kind (costs, budgets, analytics, archive), a singleton revealed when opened
 * again. It owns its disposables, serves the page from dist/webviews with a strict CSP, forwards the page's
 * requests through the bridge (bridge-host.ts) and pushes server notifications to it while it is open. The page
 * keeps its own state (acquireVsCodeApi's setState), so it survives being hidden.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { CrewServer } from '../server';
import { DASHBOARD_NOTIFICATIONS, handleWebviewMessage, type ToWebview } from './bridge-host';
import { makeNonce, webviewHtml } from './html';

export type DashboardKind = 'costs' | 'budgets' | 'analytics' | 'archive';

const TITLES: Record<DashboardKind, string> = {
  costs: 'Costs',
  budgets: 'Budgets',
  analytics: 'Analytics',
  archive: 'Archive',
};

export class DashboardPanel implements vscode.Disposable {
  private static readonly open = new Map<DashboardKind, DashboardPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  static show(kind: DashboardKind, extensionUri: vscode.Uri, server: CrewServer, output: vscode.OutputChannel): void {
    const existing = DashboardPanel.open.get(kind);
    if (existing) return existing.panel.reveal();
    const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webviews');
    const panel = vscode.window.createWebviewPanel(
      `openrouterCrew.dashboard.${kind}`,
      `OpenRouter Crew: ${TITLES[kind]}`,
      vscode.ViewColumn.Active,
      { enableScripts: true, localResourceRoots: [root] },
    );
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.png');
    DashboardPanel.open.set(kind, new DashboardPanel(kind, panel, root, server, output));
  }

  /** Open panels, for tests and for "refresh all". */
  static get(kind: DashboardKind): DashboardPanel | undefined {
    return DashboardPanel.open.get(kind);
  }

  private constructor(
    readonly kind: DashboardKind,
    readonly panel: vscode.WebviewPanel,
    private readonly root: vscode.Uri,
    server: CrewServer,
    private readonly output: vscode.OutputChannel,
  ) {
    const post = (m: ToWebview) => void panel.webview.postMessage(m);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) =>
        handleWebviewMessage(m, {
          request: (method, params) => server.request(method, params),
          post,
          executeCommand: (command, args) => void vscode.commands.executeCommand(command, ...args),
          log: (line) => output.appendLine(`[dashboard ${kind}] ${line}`),
        }),
      ),
      ...DASHBOARD_NOTIFICATIONS.map((method) =>
        server.on(method, (params) => panel.visible && post({ type: 'notification', method, params })),
      ),
      // A hidden page misses notifications; tell it something may have changed when it shows again.
      panel.onDidChangeViewState((e) => {
        if (e.webviewPanel.visible)
          post({ type: 'notification', method: 'store/changed', params: { domain: '*', method: 'reveal' } });
      }),
    );
    void this.load();
  }

  private async load(): Promise<void> {
    const file = vscode.Uri.joinPath(this.root, `${this.kind}.html`);
    try {
      const page = await fsp.readFile(file.fsPath, 'utf8');
      const webview = this.panel.webview;
      this.panel.webview.html = webviewHtml(page, {
        cspSource: webview.cspSource,
        assetUri: (f) => webview.asWebviewUri(vscode.Uri.joinPath(this.root, f)).toString(),
        nonce: makeNonce((n) => randomBytes(n)),
      });
    } catch (e) {
      this.output.appendLine(`[dashboard ${this.kind}] cannot read ${file.fsPath}: ${(e as Error).message}`);
      this.panel.webview.html = `<!DOCTYPE html><html><body><p>The ${TITLES[this.kind]} dashboard is missing from this installation (${file.fsPath}). Reinstall the extension.</p></body></html>`;
    }
  }

  dispose(): void {
    DashboardPanel.open.delete(this.kind);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  static disposeAll(): void {
    for (const p of [...DashboardPanel.open.values()]) p.dispose();
  }
}
