/**
 * budget/set (BudgetService) on either backend when a write would make a second budget of one scope and period:
 * moving a budget by id onto another's scope and period is a Conflict (1006) naming the other, and changes nothing;
 * on PostgreSQL, two instances creating one new scope and period at once make exactly one budget.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import { AlertService } from '../../server/costs/alerts';
import { BudgetService } from '../../server/costs/budgets';
import { LocalGate } from '../../server/costs/local-gate';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { PgAlertRepository } from '../../server/store/postgres/alerts';
import { PgBudgetRepository } from '../../server/store/postgres/budgets';
import { PgGate } from '../../server/store/postgres/gate';
import type { PgDatabase } from '../../server/store/postgres/db';
import type { ManualClock } from '../../server/clock';
import { forEachBackend, postgresBackend, type PostgresBackend } from './backends';

function pgService(db: PgDatabase, instance: string, clock: ManualClock): BudgetService {
  return new BudgetService(
    new PgBudgetRepository(db, instance),
    new PgGate(db, instance, clock, silentLogger),
    new AlertService(new PgAlertRepository(db), new EventBus(), clock, silentLogger),
    clock,
  );
}

forEachBackend('budget/set onto a taken scope and period', (get) => {
  let svc: BudgetService;
  before(async () => {
    const b = get();
    svc =
      b.kind === 'local'
        ? new BudgetService(
            b.store.budgets,
            new LocalGate(b.store.ledgerFile, b.clock),
            new AlertService(b.store.alerts, new EventBus(), b.clock, silentLogger),
            b.clock,
          )
        : pgService(b.db, 'instance-a', b.clock);
    await svc.init();
  });

  it('moving a budget by id onto the scope and period of another is a Conflict; both stay as they were', async () => {
    const daily = await svc.set({ scope: 'crew:ops', period: 'daily', limitUsd: 5 });
    const weekly = await svc.set({ scope: 'crew:ops', period: 'weekly', limitUsd: 20 });
    assert.equal(daily.created && weekly.created, true);
    await assert.rejects(
      svc.set({ id: weekly.budget.id, scope: 'crew:ops', period: 'daily', limitUsd: 1 }),
      (e: { code: number; message: string }) => {
        assert.equal(e.code, ErrorCodes.Conflict);
        assert.match(e.message, new RegExp(`already exists \\(${daily.budget.id}\\)`));
        return true;
      },
    );
    const status = await svc.status({ scope: 'crew:ops' });
    assert.deepEqual(
      status.map((s) => [s.id, s.period, s.limitUsd]).sort(),
      [
        [daily.budget.id, 'daily', 5],
        [weekly.budget.id, 'weekly', 20],
      ].sort(),
    );
    // Without an id, the one of that scope and period is updated, as always.
    const again = await svc.set({ scope: 'crew:ops', period: 'daily', limitUsd: 6 });
    assert.equal(again.created, false);
    assert.equal(again.budget.id, daily.budget.id);
  });
});

describe('budget/set on two PostgreSQL instances at once', function () {
  this.timeout(30_000);
  let backend: PostgresBackend;
  before(async () => {
    backend = await postgresBackend();
  });
  after(async () => {
    await backend?.close();
  });

  it('one new scope and period from two instances: exactly one budget; the other set is a Conflict', async () => {
    const a = pgService(backend.db, 'instance-a', backend.clock);
    const b = pgService(await backend.peer(), 'instance-b', backend.clock);
    await a.init();
    await b.init();
    for (let round = 0; round < 5; round++) {
      const scope = `crew:race-${round}` as const;
      const results = await Promise.allSettled([
        a.set({ scope, period: 'monthly', limitUsd: 10 }),
        b.set({ scope, period: 'monthly', limitUsd: 11 }),
      ]);
      const rows = await backend.db.query<{ id: string }>('select id from crew_budgets where scope = $1', [scope]);
      assert.equal(rows.length, 1);
      for (const r of results)
        if (r.status === 'rejected') assert.equal((r.reason as { code: number }).code, ErrorCodes.Conflict);
        else assert.equal(r.value.budget.id, rows[0]!.id);
    }
  });
});
