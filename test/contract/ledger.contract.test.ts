/**
 * The ledger repository's contract on both backends: the same rows give the same sums (exact picodollars),
 * groups (by crew, agent, model and UTC day, '(none)' for a missing key), lists (newest first, `before`, totals),
 * estimated rows, usage groups and corrections.
 */
import assert from 'node:assert/strict';
import { PgGate } from '../../server/store/postgres/gate';
import { PgLedger } from '../../server/store/postgres/ledger';
import type { LedgerRepository, NewLedgerRow } from '../../server/store/repositories';
import { forEachBackend, quietLog } from './backends';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10, 22, 0);

function rows(): NewLedgerRow[] {
  const out: NewLedgerRow[] = [];
  const crews = ['ops', 'dev', null];
  const models = ['openai/gpt-4o-mini', 'anthropic/claude-3.5-haiku'];
  for (let i = 0; i < 40; i++) {
    const crew = crews[i % 3]!;
    out.push({
      ts: T0 + i * 3_600_000,
      model: models[i % 2]!,
      crew,
      agent: crew ? `${crew}/a${i % 4}` : null,
      tags: i % 5 === 0 ? ['embedding'] : [],
      promptTokens: 10 + i,
      completionTokens: i % 7,
      cachedTokens: i % 3,
      reasoningTokens: i % 2,
      // Past 2^53 in sum only if summed as floats carelessly: a few large costs.
      costPico: i === 7 ? 4_000_000_000_000_000 : 1_000_000 * (i + 1),
      cost: i === 7 ? '4000' : ((1_000_000 * (i + 1)) / 1e12).toString(),
      estimated: i % 6 === 0,
      generationId: i % 6 === 0 ? `gen-${i}` : null,
      latencyMs: i,
      status: i % 9 === 0 ? 'error' : i % 13 === 0 ? 'cancelled' : 'ok',
      stream: i % 2 === 0,
    });
  }
  return out;
}

const sortByKey = <T extends { key: string }>(l: T[]) => [...l].sort((a, b) => a.key.localeCompare(b.key));

forEachBackend('ledger repository', (get) => {
  let ledger: LedgerRepository;

  before(async () => {
    const b = get();
    if (b.kind === 'local') ledger = b.store.ledger;
    else {
      const gate = new PgGate(b.db, 'ledger-test', b.clock, quietLog);
      await gate.start();
      const pg = new PgLedger(b.db, async (row) => (await gate.settle(null, rowScope(row), row, false)).row);
      ledger = pg;
      for (const r of rows()) await ledger.append(r);
      // Half the rows folded into the hourly roll-ups, half not: every answer below comes from both.
      assert.equal(await pg.fold(20, 0), 20);
      return;
    }
    for (const r of rows()) await ledger.append(r);
  });

  const rowScope = (r: NewLedgerRow) => ({ crew: r.crew, agent: r.agent, model: r.model });

  it('count, get and sums are exact', async () => {
    assert.equal(await ledger.count(), 40);
    const all = rows();
    const total = all.reduce((s, r) => s + BigInt(r.costPico), 0n);
    assert.equal(await ledger.sumCost({}), total);
    assert.equal(
      await ledger.sumCost({ crew: 'ops', from: T0 + 5 * 3_600_000, to: T0 + 30 * 3_600_000 }),
      all
        .filter((r) => r.crew === 'ops' && r.ts >= T0 + 5 * 3_600_000 && r.ts < T0 + 30 * 3_600_000)
        .reduce((s, r) => s + BigInt(r.costPico), 0n),
    );
    // A range that cuts hours in the middle: roll-ups for the whole hours, rows for the edges.
    const from = T0 + 3 * 3_600_000 + 1_234;
    const to = T0 + 33 * 3_600_000 - 999;
    assert.equal(
      await ledger.sumCost({ from, to }),
      all.filter((r) => r.ts >= from && r.ts < to).reduce((s, r) => s + BigInt(r.costPico), 0n),
    );
    const first = (await ledger.list({ limit: 1, before: 2 })).rows[0]!;
    const byId = await ledger.get(first.id);
    assert.deepEqual(byId, first);
    assert.equal(byId.model, 'openai/gpt-4o-mini');
    assert.equal(byId.agent, 'ops/a0');
  });

  it('aggregates by crew, agent, model and day match a computation over the rows', async () => {
    const all = rows();
    for (const by of ['crew', 'agent', 'model', 'day'] as const) {
      const want = new Map<string, { calls: number; cost: bigint; est: bigint; errors: number; prompt: number }>();
      for (const r of all) {
        const key =
          by === 'day' ? new Date(Math.floor(r.ts / DAY) * DAY).toISOString().slice(0, 10) : (r[by] ?? '(none)');
        const g = want.get(key) ?? { calls: 0, cost: 0n, est: 0n, errors: 0, prompt: 0 };
        g.calls++;
        g.cost += BigInt(r.costPico);
        if (r.estimated) g.est += BigInt(r.costPico);
        if (r.status !== 'ok') g.errors++;
        g.prompt += r.promptTokens;
        want.set(key, g);
      }
      const got = sortByKey(await ledger.aggregate({}, by));
      assert.deepEqual(
        got.map((g) => [g.key, g.calls, g.costPico, g.estimatedPico, g.errors, g.promptTokens]),
        [...want.entries()]
          .sort((a, b) => a[0].localeCompare(b[0]))
          .map(([k, g]) => [k, g.calls, g.cost, g.est, g.errors, g.prompt]),
        by,
      );
    }
  });

  it('list is newest first with the total; `before` pages; filters apply', async () => {
    const page = await ledger.list({ limit: 5 });
    assert.equal(page.total, 40);
    assert.deepEqual(
      page.rows.map((r) => r.ts),
      [39, 38, 37, 36, 35].map((i) => T0 + i * 3_600_000),
    );
    const next = await ledger.list({ limit: 5, before: page.rows[4]!.id });
    assert.equal(next.rows[0]!.ts, T0 + 34 * 3_600_000);
    const errors = await ledger.list({ limit: 100, status: 'error' });
    assert.deepEqual(
      errors.rows.map((r) => r.ts),
      [36, 27, 18, 9, 0].map((i) => T0 + i * 3_600_000),
    );
    assert.equal((await ledger.list({ limit: 0, model: 'anthropic/claude-3.5-haiku' })).total, 20);
  });

  it('estimated rows with a generation id, oldest first; settleCost corrects one', async () => {
    const est = await ledger.estimated(3);
    assert.deepEqual(
      est.map((r) => r.generationId),
      ['gen-0', 'gen-6', 'gen-12'],
    );
    const before = await ledger.sumCost({});
    const estBefore = (await ledger.aggregate({}, 'model')).reduce((x, g) => x + g.estimatedPico, 0n);
    const fixed = await ledger.settleCost(est[0]!.id, 123_456, '0.000000123456');
    // The totals follow the correction, wherever the row is counted (a folded hour, or the row itself).
    assert.equal(await ledger.sumCost({}), before - BigInt(est[0]!.costPico) + 123_456n);
    assert.equal(
      (await ledger.aggregate({}, 'model')).reduce((x, g) => x + g.estimatedPico, 0n),
      estBefore - BigInt(est[0]!.costPico),
    );
    assert.equal(await ledger.settleCost(est[0]!.id, 1, '0.000000000001'), undefined, 'an estimate is corrected once');
    assert.equal(fixed!.costPico, 123_456);
    assert.equal(fixed!.estimated, false);
    assert.deepEqual(
      (await ledger.estimated(2)).map((r) => r.generationId),
      ['gen-6', 'gen-12'],
    );
  });

  it('usage groups by crew, agent and model with the largest call', async () => {
    const got = (await ledger.usage({ crew: 'dev' })).sort((a, b) =>
      `${a.agent}${a.model}`.localeCompare(`${b.agent}${b.model}`),
    );
    const want = new Map<string, { calls: number; prompt: number; maxContext: number }>();
    for (const r of rows().filter((x) => x.crew === 'dev')) {
      const k = `${r.agent}${r.model}`;
      const g = want.get(k) ?? { calls: 0, prompt: 0, maxContext: 0 };
      g.calls++;
      g.prompt += r.promptTokens;
      g.maxContext = Math.max(g.maxContext, r.promptTokens + r.completionTokens);
      want.set(k, g);
    }
    assert.deepEqual(
      got.map((u) => [`${u.agent}${u.model}`, u.calls, u.promptTokens, u.maxContextTokens]),
      [...want.entries()]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([k, g]) => [k, g.calls, g.prompt, g.maxContext]),
    );
  });
});
