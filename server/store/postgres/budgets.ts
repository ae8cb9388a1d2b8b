/**
 * Budgets in crew_budgets (schema 1): the record whole as jsonb, with the columns the gate functions read (scope,
 * period, week start, action, the limit in picodollars). Read from the database on every call, so a budget written
 * by one instance is there for every other at once; each write also notifies Channels.budgets (`{instance, ids}`)
 * for services that keep budgets in memory.
 *
 * A budget moved to another scope, period or week start loses its counter rows: they re-derive from the ledger on
 * first use. One scope and period is one budget (a unique key): a second id onto them is a Conflict (see
 * ../conflicts.ts), as in the local store.
 */
import { ErrorCodes } from '../../../protocol';
import { parseUsd } from '../../costs/money';
import { DomainError } from '../../errors';
import { budgetConflict } from '../conflicts';
import type { BudgetRecord, BudgetRepository } from '../repositories';
import type { PgDatabase, Tx } from './db';
import { Channels, isUniqueViolation, notifyOnCommit, translateWriteError } from './shared';

const SCOPE_PERIOD_KEY = 'crew_budgets_scope_period_key';

export class PgBudgetRepository implements BudgetRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
  ) {}

  async list(): Promise<BudgetRecord[]> {
    const rows = await this.db.query<{ record: BudgetRecord }>('select record from crew_budgets order by seq');
    return rows.map((r) => r.record);
  }

  async get(id: string): Promise<BudgetRecord | undefined> {
    const [row] = await this.db.query<{ record: BudgetRecord }>('select record from crew_budgets where id = $1', [id]);
    return row?.record;
  }

  put(budget: BudgetRecord): Promise<void> {
    return this.putMany([budget]);
  }

  /** All or none, in one transaction. */
  async putMany(budgets: BudgetRecord[]): Promise<void> {
    if (budgets.length === 0) return;
    const limits = budgets.map(limitPico);
    try {
      await this.db.tx(async (tx) => {
        for (const [i, b] of budgets.entries()) await upsert(tx, b, limits[i]!);
        await notifyOnCommit(tx, Channels.budgets, { instance: this.instanceId, ids: budgets.map((b) => b.id) });
      });
    } catch (e) {
      if (isUniqueViolation(e, SCOPE_PERIOD_KEY)) throw await this.conflict(budgets);
      throw translateWriteError(e);
    }
  }

  async delete(id: string): Promise<boolean> {
    return this.db.tx(async (tx) => {
      // Its counters go with it (on delete cascade).
      const { rowCount } = await tx.query('delete from crew_budgets where id = $1', [id]);
      if (!rowCount) return false;
      await notifyOnCommit(tx, Channels.budgets, { instance: this.instanceId, ids: [id], deleted: true });
      return true;
    });
  }

  /** The refusal naming the budget that holds the scope and period (after the failed transaction rolled back). */
  private async conflict(budgets: BudgetRecord[]): Promise<DomainError> {
    for (const [i, b] of budgets.entries()) {
      const [held] = await this.db.query<{ id: string }>(
        'select id from crew_budgets where scope = $1 and period = $2 and id <> $3',
        [b.scope, b.period, b.id],
      );
      if (held) return budgetConflict(b, held.id);
      const earlier = budgets.slice(0, i).find((x) => x.id !== b.id && x.scope === b.scope && x.period === b.period);
      if (earlier) return budgetConflict(b, earlier.id);
    }
    // Taken and released again in the meantime: still say what happened.
    return budgetConflict(budgets[0]!, 'another budget');
  }
}

async function upsert(tx: Tx, b: BudgetRecord, limit: bigint): Promise<void> {
  const { rows } = await tx.query<{ scope: string; period: string; week_start: number }>(
    'select scope, period, week_start from crew_budgets where id = $1 for update',
    [b.id],
  );
  const before = rows[0];
  await tx.query(
    `insert into crew_budgets (id, scope, period, week_start, action, limit_pico, record)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (id) do update set scope = excluded.scope, period = excluded.period, week_start = excluded.week_start,
       action = excluded.action, limit_pico = excluded.limit_pico, record = excluded.record`,
    [b.id, b.scope, b.period, b.weekStart ?? 1, b.action, limit.toString(), JSON.stringify(b)],
  );
  // Counters are per (budget, period start) of this scope: another scope, period or week start derives anew.
  if (before && (before.scope !== b.scope || before.period !== b.period || before.week_start !== (b.weekStart ?? 1)))
    await tx.query('delete from crew_budget_counters where budget_id = $1', [b.id]);
}

function limitPico(b: BudgetRecord): bigint {
  try {
    return parseUsd(b.limit);
  } catch {
    const message = `limit: "${b.limit}" is not a decimal USD amount`;
    throw new DomainError(ErrorCodes.InvalidParams, message, {
      field: 'limit',
      issues: [{ field: 'limit', message }],
    });
  }
}
