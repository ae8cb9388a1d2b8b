/**
 * A call with fallbacks (an OpenRouter `models` chain) on either gate, through BudgetService: its reservation is
 * held on the model budgets of every model of the chain (and global/crew/agent once), a fallback's budget without
 * room refuses the whole call, and settling to the model that answered takes the reservation off everything it was
 * held on and counts the cost once, only where the answering model is in scope. On PostgreSQL a round carries
 * chains (more scopes per call) beside calls of one model.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../protocol';
import { AlertService } from '../../server/costs/alerts';
import { BudgetService } from '../../server/costs/budgets';
import type { CallScope } from '../../server/costs/gate';
import { LocalGate } from '../../server/costs/local-gate';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { PgAlertRepository } from '../../server/store/postgres/alerts';
import { PgBudgetRepository } from '../../server/store/postgres/budgets';
import { PgGate } from '../../server/store/postgres/gate';
import type { NewLedgerRow } from '../../server/store/repositories';
import type { ManualClock } from '../../server/clock';
import { pico } from '../helpers';
import { forEachBackend } from './backends';

const PICO = 1_000_000_000_000n;
const CHAIN: CallScope = { crew: 'ops', agent: 'ops/w', model: 'm/a', fallbacks: ['m/b', 'm/c'] };
const answered = (model: string): CallScope => ({ crew: 'ops', agent: 'ops/w', model });

function rowOf(clock: ManualClock, model: string, costPico: bigint): NewLedgerRow {
  return {
    ts: clock.now(),
    model,
    crew: 'ops',
    agent: 'ops/w',
    tags: [],
    promptTokens: 3,
    completionTokens: 5,
    cachedTokens: 0,
    reasoningTokens: 0,
    costPico: Number(costPico),
    cost: (Number(costPico) / 1e12).toString(),
    estimated: false,
    generationId: 'gen',
    latencyMs: 1,
    status: 'ok',
    stream: false,
  };
}

forEachBackend('a fallback chain through the gate', (get) => {
  let svc: BudgetService;
  let ids: Record<string, string>;
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
        : new BudgetService(
            new PgBudgetRepository(b.db, 'instance-a'),
            new PgGate(b.db, 'instance-a', b.clock, silentLogger),
            new AlertService(new PgAlertRepository(b.db), new EventBus(), b.clock, silentLogger),
            b.clock,
          );
    await svc.init();
    ids = {};
    for (const scope of ['global', 'crew:ops', 'model:m/a', 'model:m/b', 'model:m/c'])
      ids[scope] = (await svc.set({ scope, period: 'total', limitUsd: 10 })).budget.id;
  });

  const figures = async () =>
    Object.fromEntries((await svc.status()).map((s) => [s.scope, [pico(s.spentUsd), pico(s.reservedUsd)]])) as Record<
      string,
      [bigint, bigint]
    >;

  it('holds the reservation on every model of the chain, and settles to the one that answered', async () => {
    const before = await figures();
    const r = await svc.reserve(CHAIN, () => PICO);
    assert.deepEqual(r.call.fallbacks, ['m/b', 'm/c']);
    const held = await figures();
    for (const scope of Object.keys(ids))
      assert.equal(held[scope]![1] - before[scope]![1], PICO, `${scope} holds the reservation, once`);

    await svc.settle(r, answered('m/b'), rowOf(get().clock, 'm/b', PICO / 4n));
    const after = await figures();
    for (const scope of Object.keys(ids)) assert.equal(after[scope]![1], 0n, `${scope} holds nothing after`);
    const spent = (scope: string) => after[scope]![0] - before[scope]![0];
    assert.equal(spent('global'), PICO / 4n);
    assert.equal(spent('crew:ops'), PICO / 4n);
    assert.equal(spent('model:m/b'), PICO / 4n, 'the answering model counts the cost');
    assert.equal(spent('model:m/a'), 0n, 'the model that did not answer counts nothing');
    assert.equal(spent('model:m/c'), 0n);
  });

  it('a fallback whose model budget has no room refuses the whole call, and nothing stays held', async () => {
    await svc.set({ scope: 'model:m/c', period: 'total', limitUsd: 0.5 });
    try {
      await assert.rejects(
        svc.reserve(CHAIN, () => PICO),
        (e: { code: number; data: { scope: string } }) => {
          assert.equal(e.code, ErrorCodes.BudgetExceeded);
          assert.equal(e.data.scope, 'model:m/c');
          return true;
        },
      );
      const after = await figures();
      for (const scope of Object.keys(ids)) assert.equal(after[scope]![1], 0n, `${scope} holds nothing`);
      // The same call without that fallback goes.
      const r = await svc.reserve({ ...CHAIN, fallbacks: ['m/b'] }, () => PICO);
      await svc.release(r);
    } finally {
      await svc.set({ scope: 'model:m/c', period: 'total', limitUsd: 10 });
    }
  });

  it('chains and single-model calls at once: every reservation is released, every cost counted once', async () => {
    const before = await figures();
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const call = i % 2 ? CHAIN : answered('m/a');
        const r = await svc.reserve(call, () => PICO / 100n);
        const by = i % 4 === 1 ? 'm/c' : 'm/a';
        await svc.settle(r, answered(by), rowOf(get().clock, by, PICO / 1000n), false);
      }),
    );
    const after = await figures();
    const spent = (scope: string) => after[scope]![0] - before[scope]![0];
    for (const scope of Object.keys(ids)) assert.equal(after[scope]![1], 0n, `${scope} holds nothing`);
    assert.equal(spent('global'), (BigInt(n) * PICO) / 1000n);
    assert.equal(spent('model:m/c'), (10n * PICO) / 1000n);
    assert.equal(spent('model:m/a'), (30n * PICO) / 1000n);
    assert.equal(spent('model:m/b'), 0n);
  });
});
