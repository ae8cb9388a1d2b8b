/** What this data directory has spent on one model, from the ledger: this calendar month (UTC) and all time. */
import type { Clock } from '../clock';
import { periodBounds } from '../costs/periods';
import type { LedgerFilter, LedgerRepository } from '../store/repositories';

export interface SpendFigures {
  calls: number;
  costPico: bigint;
}

export interface ModelSpend {
  /** Start of the current month, ms (UTC). */
  monthStart: number;
  month: SpendFigures;
  allTime: SpendFigures;
}

export interface SpendSource {
  spendOn(model: string): Promise<ModelSpend>;
}

export class LedgerSpend implements SpendSource {
  constructor(
    private readonly ledger: Pick<LedgerRepository, 'aggregate'>,
    private readonly clock: Clock,
  ) {}

  async spendOn(model: string): Promise<ModelSpend> {
    const monthStart = periodBounds('monthly', this.clock.now()).start!;
    const [month, allTime] = await Promise.all([this.figures({ model, from: monthStart }), this.figures({ model })]);
    return { monthStart, month, allTime };
  }

  private async figures(filter: LedgerFilter): Promise<SpendFigures> {
    const [row] = await this.ledger.aggregate(filter, 'model');
    return { calls: row?.calls ?? 0, costPico: row?.costPico ?? 0n };
  }
}
