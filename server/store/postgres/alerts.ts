/**
 * Budget alerts in crew_alerts (history, in the order appended: `seq`) and crew_alerts_fired (the keys that fired).
 * `markFired` is one insert on the key's primary key, so of several instances marking one key at once exactly one
 * gets true: an alert fires once per (budget, period, threshold) across the team. Both are trimmed as the local
 * store trims them (the newest 5,000 alerts, 20,000 keys).
 */
import type { BudgetAlert } from '../../../protocol';
import type { AlertRepository } from '../repositories';
import type { PgDatabase } from './db';
import { isUniqueViolation, translateWriteError } from './shared';
import { DomainError } from '../../errors';
import { ErrorCodes } from '../../../protocol';

export const MAX_ALERT_HISTORY = 5_000;
export const MAX_FIRED_KEYS = 20_000;

export class PgAlertRepository implements AlertRepository {
  constructor(private readonly db: PgDatabase) {}

  async markFired(key: string): Promise<boolean> {
    try {
      return await this.db.tx(async (tx) => {
        const { rowCount } = await tx.query('insert into crew_alerts_fired (key) values ($1) on conflict do nothing', [
          key,
        ]);
        if (!rowCount) return false;
        await tx.query(
          `delete from crew_alerts_fired where key in
             (select key from crew_alerts_fired order by at desc, key desc offset $1)`,
          [MAX_FIRED_KEYS],
        );
        return true;
      });
    } catch (e) {
      throw translateWriteError(e);
    }
  }

  async append(alert: BudgetAlert): Promise<void> {
    try {
      await this.db.tx(async (tx) => {
        await tx.query('insert into crew_alerts (id, at, budget_id, record) values ($1, $2, $3, $4)', [
          alert.id,
          timestamp(alert.at),
          alert.budgetId,
          JSON.stringify(alert),
        ]);
        await tx.query(
          `delete from crew_alerts where seq <= (select seq from crew_alerts order by seq desc offset $1 limit 1)`,
          [MAX_ALERT_HISTORY],
        );
      });
    } catch (e) {
      if (isUniqueViolation(e))
        throw new DomainError(ErrorCodes.Conflict, `alert "${alert.id}" is already recorded`, {
          entity: 'alert',
          id: alert.id,
        });
      throw translateWriteError(e);
    }
  }

  async firedKeys(): Promise<string[]> {
    const rows = await this.db.query<{ key: string }>('select key from crew_alerts_fired order by at, key');
    return rows.map((r) => r.key);
  }

  async list({ budgetId, since, limit }: { budgetId?: string; since?: string; limit: number }): Promise<BudgetAlert[]> {
    // As the local store compares: Date.parse, strictly after; a `since` that does not parse matches nothing.
    const after = since === undefined ? '-infinity' : timestamp(since);
    if (after === '-infinity' && since !== undefined) return [];
    const where = 'where ($1::text is null or budget_id = $1) and at > $2::timestamptz';
    const filter = [budgetId ? budgetId : null, after];
    if (limit > 0) {
      const rows = await this.db.query<{ record: BudgetAlert }>(
        `select record from crew_alerts ${where} order by seq desc limit $3`,
        [...filter, limit],
      );
      return rows.map((r) => r.record);
    }
    // `slice(-limit)` of the local store: 0 keeps everything, -n drops the n oldest.
    const rows = await this.db.query<{ record: BudgetAlert }>(
      `select record from crew_alerts ${where} order by seq`,
      filter,
    );
    return rows
      .map((r) => r.record)
      .slice(-limit)
      .reverse();
  }
}

/**
 * An ISO time as PostgreSQL reads it exactly as Date.parse does (UTC, ms); a time Date.parse cannot read is
 * '-infinity', which no `since` filter passes (as in the local store, where NaN compares false).
 */
function timestamp(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '-infinity' : new Date(ms).toISOString();
}
