/** Crews → agents (model, and the state of the agent's own budget). Run a task from a crew's context menu. */
import * as vscode from 'vscode';
import {
  crewAgentScope,
  type Agent,
  type BudgetStatus,
  type Crew,
  type CrewList,
  type BudgetStatusRequest,
} from '../../protocol';
import { budgetRow } from '../model/budgets';
import { collapsed, Row, ServerTree, setContext, stateColor } from './tree';

export type CrewRow = Row<'crew', Crew> | Row<'agent', { crew: Crew; agent: Agent; budget: BudgetStatus | undefined }>;

export class CrewsView extends ServerTree<CrewRow> {
  private budgets = new Map<string, BudgetStatus>();

  protected async roots(): Promise<CrewRow[]> {
    const [{ crews }, { budgets }] = await Promise.all([
      this.server.request<CrewList.Result>('crew/list'),
      this.server.request<BudgetStatusRequest.Result>('budget/status'),
    ]);
    this.budgets = new Map(budgets.filter((b) => b.scope.startsWith('agent:')).map((b) => [b.scope, b]));
    void setContext('hasCrews', crews.length > 0);
    return crews.map((c) => {
      const row = new Row('crew', c, c.name, collapsed) as CrewRow;
      row.id = `crew:${c.id}`;
      row.description = `${c.agents.length} agent${c.agents.length === 1 ? '' : 's'}`;
      row.tooltip = new vscode.MarkdownString(
        `**${c.name}**${c.description ? ` — ${c.description}` : ''}\n\n${c.agents.map((a) => `- ${a.name} (${a.role || 'no role'}): \`${a.model}\``).join('\n')}\n\n\`${c.id}\``,
      );
      row.iconPath = new vscode.ThemeIcon('organization');
      return row;
    });
  }

  protected async children(row: CrewRow): Promise<CrewRow[]> {
    if (row.kind !== 'crew') return [];
    const crew = row.data;
    return crew.agents.map((agent) => {
      const budget = this.budgets.get(crewAgentScope(crew.name, agent.name));
      const r = new Row('agent', { crew, agent, budget }, agent.name) as CrewRow;
      r.id = `agent:${crew.id}/${agent.name}`;
      r.description = agent.model + (budget ? ` · ${budgetRow(budget).description}` : '');
      const lines = [
        `**${agent.name}**${agent.role ? ` — ${agent.role}` : ''}`,
        `model \`${agent.model}\`${agent.maxTokens ? `, max ${agent.maxTokens} tokens` : ''}${agent.temperature !== null ? `, temperature ${agent.temperature}` : ''}`,
        budget ? budgetRow(budget).tooltip : agent.budget ? 'budget set, not yet enforced' : 'no budget of its own',
      ];
      if (agent.systemPrompt) lines.push(`\n> ${agent.systemPrompt.slice(0, 400).replace(/\n/g, '\n> ')}`);
      r.tooltip = new vscode.MarkdownString(lines.join('\n\n'));
      r.iconPath = budget ? new vscode.ThemeIcon('person', stateColor(budget.state)) : new vscode.ThemeIcon('person');
      return r;
    });
  }
}
