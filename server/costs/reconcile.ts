/**
 * Replaces estimated ledger costs with OpenRouter's real figure from GET /generation, which becomes available
 * a little after a call. Runs on a timer in the background; a row stays estimated until upstream has it.
 */
import type { Logger } from '../log';
import type { OpenRouterClient } from '../openrouter/client';
import type { LedgerRepository } from '../store/repositories';
import type { BudgetService } from './budgets';
import { formatPico, parseUsd } from './money';

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly ledger: LedgerRepository,
    private readonly upstream: OpenRouterClient,
    private readonly budgets: BudgetService,
    private readonly log: Logger,
    /** On a shared store, one instance at a time reconciles (server/store/store.ts `exclusive`). */
    private readonly exclusive: <T>(name: string, job: () => Promise<T>) => Promise<T | undefined> = (_n, job) => job(),
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reconciles what it can now; resolves to the number of rows settled. */
  runOnce(batch = 50): Promise<number> {
    this.running ??= this.exclusive('reconcile', () => this.pass(batch))
      .then((n) => n ?? 0)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(batch: number): Promise<number> {
    if (!this.upstream.keyConfigured) return 0;
    let settled = 0;
    for (const row of await this.ledger.estimated(batch)) {
      let info;
      try {
        info = await this.upstream.generation(row.generationId!);
      } catch (e) {
        this.log.warn(`reconcile: GET /generation for ${row.generationId} failed: ${(e as Error).message}`);
        break;
      }
      if (!info) continue;
      const real = parseUsd(info.totalCost);
      const updated = await this.ledger.settleCost(row.id, Number(real), formatPico(real));
      if (!updated) continue;
      await this.budgets.adjust(
        { crew: row.crew, agent: row.agent, model: row.model },
        real - BigInt(row.costPico),
        row.ts,
      );
      settled++;
    }
    if (settled) this.log.info(`reconcile: replaced ${settled} estimated cost(s) with OpenRouter's figures`);
    return settled;
  }
}
