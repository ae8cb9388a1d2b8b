/**
 * Budget alerts: each fires once per threshold per period (the store remembers which fired), is kept in a
 * history and published as a domain event (→ `budget/alert` notifications, SSE, and webhooks: server/webhooks).
 */
import { randomUUID } from 'node:crypto';
import type { AlertKind, BudgetAlert } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import type { AlertRepository } from '../store/repositories';

export interface AlertFacts {
  budgetId: string;
  scope: string;
  kind: AlertKind;
  /** Whether the budget refuses calls without room: reaching its limit is critical only then (default true). */
  enforcing?: boolean;
  threshold: number | null;
  spentUsd: number;
  limitUsd: number;
  percentUsed: number;
  periodStart: number | null;
  message: string;
  /** What makes this alert the same as one fired before, when (budget, period, kind, threshold) does not. */
  key?: string;
}

export class AlertService {
  constructor(
    private readonly repo: AlertRepository,
    private readonly events: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Fires the alert unless this (budget, period, kind/threshold) already fired. Resolves when recorded. */
  async fire(f: AlertFacts): Promise<BudgetAlert | undefined> {
    try {
      return await this.record(f);
    } catch (e) {
      this.log.error(`could not record alert for budget ${f.budgetId}: ${(e as Error).message}`);
      throw e;
    }
  }

  private async firedBefore(f: AlertFacts, kind: AlertKind): Promise<boolean> {
    const since = f.periodStart === null ? undefined : new Date(f.periodStart).toISOString();
    const earlier = await this.repo.list({ budgetId: f.budgetId, limit: 100, ...(since ? { since } : {}) });
    return earlier.some((a) => a.kind === kind);
  }

  private async record(f: AlertFacts): Promise<BudgetAlert | undefined> {
    const key = f.key ?? `${f.budgetId}|${f.periodStart ?? 'total'}|${f.kind}|${f.threshold ?? ''}`;
    // Before over_limit existed, a warn budget's went out as `blocked`: a budget that had that alert this period (in
    // a store written by the previous release) has had its alert, and upgrading must not send it again. Read, not
    // marked: the budget may become a `block` one this period, and its refusals must still alert.
    if (f.kind === 'over_limit' && (await this.firedBefore(f, 'blocked'))) return undefined;
    if (!(await this.repo.markFired(key))) return undefined;
    const alert: BudgetAlert = {
      id: randomUUID(),
      budgetId: f.budgetId,
      scope: f.scope,
      kind: f.kind,
      threshold: f.threshold,
      severity:
        f.kind === 'blocked' || (f.kind === 'threshold' && (f.threshold ?? 0) >= 100 && f.enforcing !== false)
          ? 'critical'
          : f.kind === 'over_limit' ||
              f.kind === 'forecast' ||
              f.kind === 'anomaly' ||
              f.kind === 'ledger_drift' ||
              (f.threshold ?? 0) >= 80
            ? 'warning'
            : 'info',
      message: f.message,
      spentUsd: f.spentUsd,
      limitUsd: f.limitUsd,
      percentUsed: f.percentUsed,
      periodStart: f.periodStart === null ? null : new Date(f.periodStart).toISOString(),
      at: new Date(this.clock.now()).toISOString(),
    };
    await this.repo.append(alert);
    this.events.publish('budget.alert', alert);
    return alert;
  }
}
