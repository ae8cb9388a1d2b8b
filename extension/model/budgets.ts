/**
 * What the status bar and the Costs view say about budgets, as plain data (no `vscode` import), so it is
 * unit-tested without VS Code. Every figure is the server's; this only picks and words.
 */
import type { BudgetStatus } from '../../protocol';
import { modePrefix, modeTooltip, type ServerMode } from './mode';
import { formatPercent, formatScope, formatUsd as money } from '../../protocol/format';

export type Severity = 'ok' | 'warning' | 'error';

export interface StatusBarModel {
  text: string;
  severity: Severity;
  /** Markdown: the top budgets, most constrained first. */
  tooltip: string;
}

/** The most constrained budget: the highest share of its limit used (refusing budgets before warn-only ones). */
export function mostConstrained(budgets: readonly BudgetStatus[]): BudgetStatus | undefined {
  let best: BudgetStatus | undefined;
  for (const b of budgets) {
    if (!best) best = b;
    else if (b.percentUsed > best.percentUsed) best = b;
    else if (b.percentUsed === best.percentUsed && best.action === 'warn' && b.action !== 'warn') best = b;
  }
  return best;
}

export function severityOf(b: BudgetStatus): Severity {
  return b.state === 'exceeded' ? 'error' : b.state === 'warning' ? 'warning' : 'ok';
}

/**
 * "$ spent / $ limit (nn%)" for the most constrained budget, a plain label when there is none; led by the daemon's
 * mode when it is not the real OpenRouter on the local store (mode.ts).
 */
export function statusBarModel(budgets: readonly BudgetStatus[], mode?: ServerMode, top = 5): StatusBarModel {
  const lead = modePrefix(mode) || '$(credit-card) ';
  const about = mode ? `\n\n${modeTooltip(mode)}` : '';
  const b = mostConstrained(budgets);
  if (!b)
    return {
      text: `${lead}no budgets`,
      severity: 'ok',
      tooltip: `OpenRouter Crew: no budgets set. Click to open the Costs dashboard.${about}`,
    };
  const ranked = [...budgets].sort((x, y) => y.percentUsed - x.percentUsed).slice(0, top);
  const lines = ranked.map(
    (x) =>
      `| ${formatScope(x.scope)} | ${x.period} | ${money(x.spentUsd)} / ${money(x.limitUsd)} | ${pct(x.percentUsed)} | ${x.state} |`,
  );
  const more = budgets.length > ranked.length ? `\n\n…and ${budgets.length - ranked.length} more` : '';
  return {
    text: `${lead}${money(b.spentUsd)} / ${money(b.limitUsd)} (${pct(b.percentUsed)})`,
    severity: severityOf(b),
    tooltip:
      `**OpenRouter Crew budgets**\n\n| scope | period | spent / limit | used | state |\n|---|---|---|---|---|\n${lines.join('\n')}${more}` +
      `\n\nClick to open the Costs dashboard.${about}`,
  };
}

export const pct = formatPercent;

/**
 * One budget as a tree row: label, description and tooltip. The row must read at the default sidebar width, where
 * VS Code cuts the description's end: the scope alone is the label, and the share used comes first.
 */
export function budgetRow(b: BudgetStatus): { label: string; description: string; tooltip: string } {
  return {
    label: formatScope(b.scope),
    description: `${pct(b.percentUsed)} · ${money(b.spentUsd)} / ${money(b.limitUsd)} · ${b.period}`,
    tooltip:
      `${b.scope} (${b.period}): ${money(b.spentUsd)} spent of ${money(b.limitUsd)}, ${money(b.reservedUsd)} reserved, ` +
      `${money(b.remainingUsd)} left; action ${b.action}${b.downgradeTo ? ` → ${b.downgradeTo}` : ''}; ` +
      `alerts at ${b.thresholds.map(pct).join(', ')}` +
      (b.periodEnd ? `; resets ${b.periodEnd.replace('T', ' ').slice(0, 16)} UTC` : ''),
  };
}

/**
 * The limit suggested when raising a budget after an alert: half again over the limit, or over what is already
 * spent when that is more (a raise that leaves the budget still exceeded is no raise), rounded up to a readable
 * amount.
 */
export function suggestedRaise(limitUsd: number, spentUsd = 0): number {
  const target = Math.max(limitUsd, spentUsd) * 1.5;
  if (target <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(target)) / 2;
  // Rounded to cents' fractions: 0.05 × 9 is 0.45000000000000007 in floats.
  return Math.round(Math.ceil(target / step - 1e-9) * step * 1e6) / 1e6;
}
