/**
 * Budgets against calls and writes that overlap (BudgetService with a ManualClock and a real FileLedger):
 *
 * - a budget created while a call is in flight counts that call when it settles (its spend was derived from a
 *   ledger that did not have the call yet), exactly once, next to the budgets that held the reservation;
 * - concurrent `set`s of one scope and period make one budget.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { AlertService } from '../../server/costs/alerts';
import { LocalGate } from '../../server/costs/local-gate';
import { BudgetService, type CallScope } from '../../server/costs/budgets';
import { formatPico, parseUsd } from '../../server/costs/money';
import { DomainError } from '../../server/errors';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { FileLedger } from '../../server/store/ledger/file-ledger';
import type { NewLedgerRow } from '../../server/store/repositories';
import { MemoryAlerts, MemoryBudgets } from '../helpers/memory-repos';

describe('BudgetService: calls in flight and concurrent writes', () => {
  let dir: string;
  let clock: ManualClock;
  let ledger: FileLedger;
  let repo: MemoryBudgets;
  let svc: BudgetService;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-budget-races-'));
    clock = new ManualClock(Date.parse('2026-03-10T12:00:00.000Z'));
    ledger = await FileLedger.open(path.join(dir, 'ledger'));
    repo = new MemoryBudgets();
    svc = new BudgetService(
      repo,
      new LocalGate(ledger, clock),
      new AlertService(new MemoryAlerts(), new EventBus(), clock, silentLogger),
      clock,
    );
    await svc.init();
  });
  afterEach(async () => {
    await ledger.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const CALL: CallScope = { crew: 'ops', agent: 'ops/researcher', model: 'm/x' };

  /** The ledger row of a finished call costing `usd` (the gate stores it as it settles). */
  function rowOf(usd: string, call: CallScope = CALL): NewLedgerRow {
    const cost = parseUsd(usd);
    return {
      ts: clock.now(),
      model: call.model,
      crew: call.crew,
      agent: call.agent,
      tags: [],
      promptTokens: 1,
      completionTokens: 1,
      cachedTokens: 0,
      reasoningTokens: 0,
      costPico: Number(cost),
      cost: formatPico(cost),
      estimated: false,
      generationId: null,
      latencyMs: 1,
      status: 'ok',
      stream: false,
    };
  }
  const status = async (id: string) => (await svc.status({ id }))[0]!;
  const refused = (usd: string) =>
    assert.rejects(
      svc.reserve(CALL, () => parseUsd(usd)),
      (e: unknown) => e instanceof DomainError && e.code === ErrorCodes.BudgetExceeded,
    );

  it('the issue: reserve with no budget, create a $1 total budget, settle at $0.90 → $0.90 spent, a $0.50 call refused', async () => {
    const r = await svc.reserve(CALL, () => parseUsd('0.95'));
    const { budget } = await svc.set({ scope: 'global', period: 'total', limitUsd: 1 });
    assert.equal((await status(budget.id)).spentUsd, 0);
    assert.equal((await status(budget.id)).reservedUsd, 0, 'the new budget holds no reservation of the call');
    await svc.settle(r, r.call, rowOf('0.90'));
    assert.equal((await status(budget.id)).spentUsd, 0.9);
    assert.equal((await status(budget.id)).reservedUsd, 0);
    await refused('0.50');
    // A fresh service derives the same figure from the ledger: the call is counted once, not twice.
    const again = new BudgetService(
      repo,
      new LocalGate(ledger, clock),
      new AlertService(new MemoryAlerts(), new EventBus(), clock, silentLogger),
      clock,
    );
    await again.init();
    assert.equal((await again.status({ id: budget.id }))[0]!.spentUsd, 0.9);
  });

  it('a budget created mid-flight counts the call once, beside one that held the reservation', async () => {
    const { budget: held } = await svc.set({ scope: 'crew:ops', period: 'daily', limitUsd: 5 });
    const r = await svc.reserve(CALL, () => parseUsd('2'));
    assert.equal((await status(held.id)).reservedUsd, 2);
    const { budget: late } = await svc.set({ scope: 'agent:ops/researcher', period: 'monthly', limitUsd: 5 });
    // Not in scope of the call: untouched by its settle.
    const { budget: other } = await svc.set({ scope: 'crew:dev', period: 'daily', limitUsd: 5 });
    await svc.settle(r, r.call, rowOf('1.25'));
    const figures = await Promise.all([held, late, other].map((b) => status(b.id)));
    assert.deepEqual(
      figures.map((b) => [b.spentUsd, b.reservedUsd]),
      [
        [1.25, 0],
        [1.25, 0],
        [0, 0],
      ],
    );
  });

  it('a budget created while the settle writes the row counts it once, whichever comes first', async () => {
    const r = await svc.reserve(CALL, () => parseUsd('1'));
    const settling = svc.settle(r, r.call, rowOf('0.40'));
    const { budget } = await svc.set({ scope: 'global', period: 'total', limitUsd: 1 });
    await settling;
    assert.equal((await status(budget.id)).spentUsd, 0.4);
    const r2 = await svc.reserve(CALL, () => parseUsd('0.1'));
    const { budget: late } = await svc.set({ scope: 'crew:ops', period: 'total', limitUsd: 1 });
    await svc.settle(r2, r2.call, rowOf('0.10'));
    assert.equal((await status(budget.id)).spentUsd, 0.5);
    assert.equal((await status(late.id)).spentUsd, 0.5);
  });

  it('a call released (failed) while a budget was created leaves that budget as it was', async () => {
    const r = await svc.reserve(CALL, () => parseUsd('1'));
    const { budget } = await svc.set({ scope: 'global', period: 'total', limitUsd: 1 });
    await svc.release(r);
    assert.equal((await status(budget.id)).spentUsd, 0);
    assert.equal((await status(budget.id)).reservedUsd, 0);
  });

  it('ten concurrent sets of one scope and period make one budget; the others update it in order', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => svc.set({ scope: 'crew:ops', period: 'daily', limitUsd: i + 1 })),
    );
    assert.equal(new Set(results.map((r) => r.budget.id)).size, 1);
    assert.deepEqual(
      results.map((r) => r.created),
      [true, ...new Array<boolean>(9).fill(false)],
    );
    assert.equal((await repo.list()).length, 1);
    assert.equal((await svc.status({ scope: 'crew:ops' })).length, 1);
    assert.equal((await svc.status({ scope: 'crew:ops' }))[0]!.limitUsd, 10, 'the last write wins');
  });

  it('a failed set does not stop the writes queued behind it', async () => {
    const [bad, good] = await Promise.allSettled([
      svc.set({ scope: 'nonsense', period: 'daily', limitUsd: 1 }),
      svc.set({ scope: 'global', period: 'daily', limitUsd: 1 }),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal(good.status, 'fulfilled');
  });
});
