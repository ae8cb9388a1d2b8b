/**
 * What every view shares: a TreeDataProvider over the server whose rows carry their data, that shows nothing (the
 * welcome content explains why) until the server is ready, turns a failed request into one row saying what went
 * wrong, and refreshes when told (by server notifications, never a timer).
 */
import * as vscode from 'vscode';
import type { CrewServer } from '../server';
import { reasonOf } from '../server';

/** A row and the data behind it; `kind` doubles as the context value for menus unless one is set. */
export class Row<K extends string = string, D = unknown> extends vscode.TreeItem {
  constructor(
    readonly kind: K,
    readonly data: D,
    label: string | vscode.TreeItemLabel,
    collapsible = vscode.TreeItemCollapsibleState.None,
  ) {
    super(label, collapsible);
    this.contextValue = kind;
  }
}

export abstract class ServerTree<R extends Row> implements vscode.TreeDataProvider<R | Row<'error'>> {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;

  constructor(protected readonly server: CrewServer) {}

  refresh(): void {
    this.emitter.fire();
  }

  getTreeItem(row: R | Row<'error'>): vscode.TreeItem {
    return row;
  }

  async getChildren(row?: R | Row<'error'>): Promise<(R | Row<'error'>)[]> {
    if (this.server.state.state !== 'ready') return [];
    try {
      return row ? await this.children(row as R) : await this.roots();
    } catch (e) {
      return [errorRow(e)];
    }
  }

  protected abstract roots(): Promise<R[]>;
  protected abstract children(row: R): Promise<R[]>;

  dispose(): void {
    this.emitter.dispose();
  }
}

function errorRow(e: unknown): Row<'error'> {
  const row = new Row('error', null, 'Could not load this view');
  row.description = reasonOf(e);
  row.tooltip = `${reasonOf(e)}\n\nClick to retry.`;
  row.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
  row.command = { command: 'openrouterCrew.refresh', title: 'Retry' };
  return row;
}

export const stateColor = (state: 'ok' | 'warning' | 'exceeded') =>
  new vscode.ThemeColor(state === 'exceeded' ? 'charts.red' : state === 'warning' ? 'charts.yellow' : 'charts.green');

export const setContext = (key: string, value: unknown) =>
  vscode.commands.executeCommand('setContext', `openrouterCrew.${key}`, value);

export const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
export const expanded = vscode.TreeItemCollapsibleState.Expanded;
