/**
 * Conflicts both backends refuse the same way, so a domain sees one behaviour whichever store it runs on.
 */
import { ErrorCodes } from '../../protocol';
import { DomainError } from '../errors';
import type { BudgetRecord } from './repositories';

/**
 * One scope and period is one budget: writing a second budget id with the scope and period of another (a new
 * budget, or one moved onto them) is refused. PostgreSQL holds this with a unique (scope, period) key, so it holds
 * across instances; the local store checks it on write.
 */
export function budgetConflict(b: Pick<BudgetRecord, 'id' | 'scope' | 'period'>, otherId: string): DomainError {
  return new DomainError(
    ErrorCodes.Conflict,
    `a ${b.period} budget for ${b.scope} already exists (${otherId}); one scope and period is one budget: ` +
      `update that one (budget/set with its id) or delete it first`,
    { entity: 'budget', id: b.id, existingId: otherId, scope: b.scope, period: b.period },
  );
}

/** Where `b` would go into `list` (upserted by id) without making a second budget of one scope and period. */
export function checkBudgetPlacement(list: readonly BudgetRecord[], b: BudgetRecord): void {
  const previous = list.find((x) => x.id === b.id);
  // Only a write that puts the budget onto a scope and period it did not have can collide; rewriting an existing
  // record unchanged never fails (a store that has two from before this check stays writable).
  if (previous && previous.scope === b.scope && previous.period === b.period) return;
  const other = list.find((x) => x.id !== b.id && x.scope === b.scope && x.period === b.period);
  if (other) throw budgetConflict(b, other.id);
}
