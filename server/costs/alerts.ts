/**
 * Budget alerts: each fires once per threshold per period (the store remembers which fired), is kept in a
 * history, published as a domain event (→ `budget/alert` notifications, SSE) and POSTed to webhooks. Webhook
 * delivery is retried in the background and never holds up a call.
 */
import { randomUUID } from 'node:crypto';
import type { AlertKind, BudgetAlert, Webhook } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import type { AlertRepository } from '../store/repositories';

export interface AlertFacts {
  budgetId: string;
  scope: string;
  kind: AlertKind;
  threshold: number | null;
  spentUsd: number;
  limitUsd: number;
  percentUsed: number;
  periodStart: number | null;
  message: string;
}

export interface WebhookSender {
  post(url: string, body: unknown, timeoutMs: number): Promise<number>;
}

export const fetchWebhookSender: WebhookSender = {
  post: async (url, body, timeoutMs) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'openrouter-crew' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status;
  },
};

export class AlertService {
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    private readonly repo: AlertRepository,
    private readonly events: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly sender: WebhookSender = fetchWebhookSender,
    private readonly retryDelaysMs: number[] = [1_000, 5_000, 15_000],
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

  private async record(f: AlertFacts): Promise<BudgetAlert | undefined> {
    const key = `${f.budgetId}|${f.periodStart ?? 'total'}|${f.kind}|${f.threshold ?? ''}`;
    if (!(await this.repo.markFired(key))) return undefined;
    const alert: BudgetAlert = {
      id: randomUUID(),
      budgetId: f.budgetId,
      scope: f.scope,
      kind: f.kind,
      threshold: f.threshold,
      severity:
        f.kind === 'blocked' || (f.threshold ?? 0) >= 100
          ? 'critical'
          : f.kind === 'forecast' || f.kind === 'anomaly' || (f.threshold ?? 0) >= 80
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
    for (const hook of await this.repo.webhooks()) {
      if (hook.budgetId === null || hook.budgetId === alert.budgetId) this.deliver(hook, alert);
    }
    return alert;
  }

  private deliver(hook: Webhook, alert: BudgetAlert): void {
    const job = (async () => {
      const body = { type: 'budget.alert', alert };
      for (let attempt = 0; ; attempt++) {
        try {
          const status = await this.sender.post(hook.url, body, 5_000);
          if (status < 300) return;
          if (status < 500 && status !== 429) throw new Error(`answered ${status}`);
          throw new RetryableError(`answered ${status}`);
        } catch (e) {
          const delay = this.retryDelaysMs[attempt];
          const permanent = e instanceof Error && !(e instanceof RetryableError) && /answered 4/.test(e.message);
          if (delay === undefined || permanent) {
            this.log.warn(`webhook ${hook.url} gave up on alert ${alert.id}: ${(e as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    })();
    this.deliveries.add(job);
    void job.finally(() => this.deliveries.delete(job));
  }

  /** For shutdown and tests: wait for in-flight webhook deliveries, at most `timeoutMs`. */
  async drain(timeoutMs = 2_000): Promise<void> {
    if (!this.deliveries.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.deliveries]),
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}

class RetryableError extends Error {}
