/**
 * An agent's own budget (Agent.budget) is enforced as an ordinary budget of scope `agent:<crew>/<agent>`, the
 * attribution its run calls carry, so the gate, alerts, forecasts and `budget/status` treat it like any other.
 * This keeps those budgets in step with the crews: set when an agent gets or changes one, deleted when the agent,
 * its budget or its crew goes, moved when the crew is renamed.
 */
import { crewAgentScope, type BudgetSet, type BudgetStatus, type Crew } from '../../protocol';

export interface BudgetWriter {
  set(p: BudgetSet.Params): Promise<unknown>;
  delete(id: string): Promise<void>;
  status(filter: { scope?: string }): Promise<BudgetStatus[]>;
}

export class AgentBudgets {
  constructor(private readonly budgets: BudgetWriter) {}

  /** Brings the budgets from what `before` had to what `after` has (either may be null: created, deleted). */
  async sync(before: Crew | null, after: Crew | null): Promise<void> {
    const wanted = new Map<string, BudgetSet.Params>();
    for (const a of after?.agents ?? [])
      if (a.budget) {
        const scope = crewAgentScope(after!.name, a.name);
        wanted.set(`${scope}|${a.budget.period}`, { scope, period: a.budget.period, limitUsd: a.budget.limitUsd });
      }
    for (const a of before?.agents ?? []) {
      if (!a.budget) continue;
      const scope = crewAgentScope(before!.name, a.name);
      if (wanted.has(`${scope}|${a.budget.period}`)) continue;
      for (const b of await this.budgets.status({ scope }))
        if (b.period === a.budget.period) await this.budgets.delete(b.id);
    }
    // budget/set updates the budget of the same scope and period in place, keeping its history and thresholds.
    for (const p of wanted.values()) await this.budgets.set(p);
  }
}
