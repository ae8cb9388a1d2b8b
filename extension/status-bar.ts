/**
 * "$ spent / $ limit (nn%)" for the most constrained budget, with the warning / error background at the
 * thresholds and the top budgets in the tooltip; a click opens the Costs dashboard. It re-reads budget/status
 * when a call is recorded (usage/recorded) or budgets change, so it follows a call within a second.
 */
import * as vscode from 'vscode';
import type { BudgetStatusRequest } from '../protocol';
import { statusBarModel } from './model/budgets';
import { modeOf } from './model/mode';
import type { CrewServer } from './server';

export const STATUS_BAR_ID = 'openrouterCrew.status';

export class BudgetStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly server: CrewServer) {
    this.item = vscode.window.createStatusBarItem(STATUS_BAR_ID, vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'OpenRouter Crew budget';
    this.item.command = 'openrouterCrew.openCostsDashboard';
    this.showState();
    this.item.show();
  }

  /** The server's state while there is no figure to show. */
  showState(): void {
    const s = this.server.state;
    if (s.state === 'ready') return;
    this.item.text = s.state === 'starting' ? '$(sync~spin) crew-server' : '$(error) crew-server';
    this.item.tooltip = s.state === 'error' ? `crew-server is not running: ${s.reason}` : 'crew-server is starting…';
    this.item.backgroundColor =
      s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.command = s.state === 'error' ? 'openrouterCrew.restartServer' : 'openrouterCrew.showOutput';
  }

  /** Re-reads soon (several calls in a burst cause one read). */
  schedule(delayMs = 100): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => void this.update(), delayMs);
  }

  async update(): Promise<void> {
    if (this.server.state.state !== 'ready') return this.showState();
    try {
      const { budgets } = await this.server.request<BudgetStatusRequest.Result>('budget/status');
      const m = statusBarModel(budgets, this.server.info && modeOf(this.server.info));
      this.item.text = m.text;
      this.item.tooltip = new vscode.MarkdownString(m.tooltip);
      this.item.command = 'openrouterCrew.openCostsDashboard';
      this.item.backgroundColor =
        m.severity === 'error'
          ? new vscode.ThemeColor('statusBarItem.errorBackground')
          : m.severity === 'warning'
            ? new vscode.ThemeColor('statusBarItem.warningBackground')
            : undefined;
    } catch (e) {
      this.item.text = '$(warning) crew-server';
      this.item.tooltip = `Could not read budgets: ${(e as Error).message}`;
    }
  }

  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.item.dispose();
  }
}
