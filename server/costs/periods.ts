/** Budget periods in UTC. Weekly periods start on a configurable weekday (0 = Sunday … 6 = Saturday). */
import type { BudgetPeriod } from '../../protocol';

export interface PeriodBounds {
  /** Inclusive start, ms; null for `total`. */
  start: number | null;
  /** Exclusive end, ms; null for `total`. */
  end: number | null;
}

const DAY = 86_400_000;

export function periodBounds(period: BudgetPeriod, now: number, weekStart = 1): PeriodBounds {
  const d = new Date(now);
  switch (period) {
    case 'total':
      return { start: null, end: null };
    case 'daily': {
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return { start, end: start + DAY };
    }
    case 'weekly': {
      const today = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      const back = (d.getUTCDay() - weekStart + 7) % 7;
      const start = today - back * DAY;
      return { start, end: start + 7 * DAY };
    }
    case 'monthly': {
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      return { start, end };
    }
  }
}

/** The exclusive end of the period that starts at `start` (ms). */
export function periodEndOf(period: BudgetPeriod, start: number): number | null {
  return period === 'total' ? null : periodBounds(period, start, new Date(start).getUTCDay()).end;
}
