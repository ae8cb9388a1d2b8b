/**
 * Costs: budgets (spent / limit / percent with a coloured state icon), then this month's spend by model and by
 * agent. Refreshed on `usage/recorded`, `budget/alert` and `store/changed` for budgets.
 */
import * as vscode from 'vscode';
import type { BudgetStatus, BudgetStatusRequest, CostReport } from '../../protocol';
import { counted, formatCount, formatUsd as money } from '../../protocol/format';
import { budgetRow } from '../model/budgets';
import { monthStart } from '../model/scopes';
import { collapsed, expanded, Row, ServerTree, setContext, stateColor } from './tree';

type Group = 'budgets' | 'byModel' | 'byAgent';
export type CostRow = Row<'group', Group> | Row<'budget', BudgetStatus> | Row<'spend', CostReport.Row>;

export class CostsView extends ServerTree<CostRow> {
  private budgets: BudgetStatus[] = [];

  protected async roots(): Promise<CostRow[]> {
    const [{ budgets }, byModel] = await Promise.all([
      this.server.request<BudgetStatusRequest.Result>('budget/status'),
      this.report('model'),
    ]);
    this.budgets = budgets;
    void setContext('hasBudgets', budgets.length > 0);
    void setContext('hasSpend', byModel.rows.length > 0);
    if (budgets.length === 0 && byModel.rows.length === 0) return [];
    const group = (g: Group, label: string, description: string, icon: string, open = true) => {
      const r = new Row('group', g, label, open ? expanded : collapsed) as CostRow;
      r.id = `costs:${g}`;
      r.description = description;
      r.iconPath = new vscode.ThemeIcon(icon);
      r.contextValue = `group-${g}`;
      return r;
    };
    return [
      group('budgets', 'Budgets', `${budgets.length}`, 'pie-chart'),
      group('byModel', 'Spend by model', `this month · ${money(byModel.total.costUsd)}`, 'symbol-class'),
      group('byAgent', 'Spend by agent', 'this month', 'person', false),
    ];
  }

  protected async children(row: CostRow): Promise<CostRow[]> {
    if (row.kind !== 'group') return [];
    const g = row.data;
    if (g === 'budgets')
      return this.budgets.map((b) => {
        const view = budgetRow(b);
        const r = new Row('budget', b, view.label) as CostRow;
        r.id = `budget:${b.id}`;
        r.description = view.description;
        r.tooltip = view.tooltip;
        r.iconPath = new vscode.ThemeIcon(
          b.state === 'exceeded' ? 'error' : b.state === 'warning' ? 'warning' : 'pass-filled',
          stateColor(b.state),
        );
        return r;
      });
    const res = await this.report(g === 'byModel' ? 'model' : 'agent');
    return res.rows.map((x) => {
      const r = new Row('spend', x, x.key || '(none)') as CostRow;
      r.description = `${money(x.costUsd)} · ${x.calls} call${x.calls === 1 ? '' : 's'}`;
      r.tooltip = `${x.key}: ${money(x.costUsd)} over ${counted(x.calls, 'call')} this month (${formatCount(x.promptTokens)} prompt + ${formatCount(x.completionTokens)} completion tokens${x.estimatedCostUsd ? `; ${money(x.estimatedCostUsd)} estimated, to be reconciled` : ''}${x.errors ? `; ${x.errors} failed` : ''})`;
      r.iconPath = new vscode.ThemeIcon(g === 'byModel' ? 'symbol-class' : 'person');
      return r;
    });
  }

  private report(by: 'model' | 'agent'): Promise<CostReport.Result> {
    return this.server.request<CostReport.Result>('cost/report', { by, from: monthStart(Date.now()) });
  }
}
