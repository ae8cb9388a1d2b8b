/**
 * cost/report's `stack`: each UTC day's spend split by agent, crew or model, exact to the picodollar, zero-filled
 * over the range, the smallest keys folded into `(other)`, and agreeing with the report's own totals.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CostReport } from '../../protocol';
import { ReportService } from '../../server/costs/reports';
import { schemas } from '../../server/rpc/schemas';
import { FileLedger, ledgerRepository } from '../../server/store/ledger/file-ledger';
import type { NewLedgerRow } from '../../server/store/repositories';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function row(over: Partial<NewLedgerRow>): NewLedgerRow {
  return {
    ts: T0,
    model: 'openai/gpt-4o-mini',
    crew: null,
    agent: null,
    tags: [],
    promptTokens: 10,
    completionTokens: 20,
    cachedTokens: 0,
    reasoningTokens: 0,
    costPico: 1,
    cost: '0.000000000001',
    estimated: false,
    generationId: null,
    latencyMs: 5,
    status: 'ok',
    stream: false,
    ...over,
  };
}

describe('cost/report stack', () => {
  let dir: string;
  let ledger: FileLedger;
  let reports: ReportService;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-stack-'));
    ledger = await FileLedger.open(path.join(dir, 'ledger'));
    reports = new ReportService(ledgerRepository(() => ledger));
  });
  afterEach(async () => {
    await ledger.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('splits each day by agent, zero-filled over the range, largest first, exact', async () => {
    // Day 0: writer 0.3 + 0.1 (two calls), critic 0.2; day 1: nothing; day 2: critic 0.5 (late evening), none 0.05.
    const usd = (n: number) => Math.round(n * 1e12);
    for (const r of [
      row({ ts: T0 + 1 * HOUR, agent: 'writer', costPico: usd(0.3) }),
      row({ ts: T0 + 2 * HOUR, agent: 'critic', costPico: usd(0.2) }),
      row({ ts: T0 + 3 * HOUR, agent: 'writer', costPico: usd(0.1) }),
      row({ ts: T0 + 2 * DAY + 23 * HOUR, agent: 'critic', costPico: usd(0.5) }),
      row({ ts: T0 + 2 * DAY + 23 * HOUR + 1, agent: null, costPico: usd(0.05) }),
    ])
      await ledger.append(r);

    const r = await reports.report({ by: 'model', stack: 'agent', from: '2026-02-28', to: '2026-03-04' });
    assert.deepEqual(r.stacked, {
      by: 'agent',
      days: ['2026-02-28', '2026-03-01', '2026-03-02', '2026-03-03'],
      series: [
        { key: 'critic', costUsd: [0, 0.2, 0, 0.5], calls: [0, 1, 0, 1], totalUsd: 0.7 },
        { key: 'writer', costUsd: [0, 0.4, 0, 0], calls: [0, 2, 0, 0], totalUsd: 0.4 },
        { key: '(none)', costUsd: [0, 0, 0, 0.05], calls: [0, 0, 0, 1], totalUsd: 0.05 },
      ],
    });
    // The same money as the report itself.
    assert.equal(r.total.costUsd, 1.15);
    assert.equal(
      r.stacked.series.reduce((a, s) => a + s.calls.reduce((x, y) => x + y, 0), 0),
      r.total.calls,
    );

    // Without bounds the days run from the first to the last day with calls; a partial last day is cut at `to`.
    const open = (await reports.report({ stack: 'agent' })).stacked!;
    assert.deepEqual(open.days, ['2026-03-01', '2026-03-02', '2026-03-03']);
    const cut = (await reports.report({ stack: 'agent', to: new Date(T0 + 2 * DAY + 23 * HOUR).toISOString() }))
      .stacked!;
    assert.deepEqual(cut.days, ['2026-03-01', '2026-03-02', '2026-03-03']);
    assert.deepEqual(
      cut.series.map((s) => [s.key, s.totalUsd]),
      [
        ['writer', 0.4],
        ['critic', 0.2],
      ],
    );

    // Without `stack`, nothing extra is sent.
    assert.equal((await reports.report({ by: 'day' })).stacked, undefined);
  });

  it('filters apply to the split, and the smallest keys beyond the limit are summed into (other), last', async () => {
    const max = CostReport.STACK_SERIES_MAX;
    for (let i = 0; i < max + 3; i++)
      await ledger.append(
        row({ ts: T0 + i * 60_000, model: `m/${String(i).padStart(2, '0')}`, crew: 'red', costPico: 1000 * (i + 1) }),
      );
    await ledger.append(row({ ts: T0 + HOUR, model: 'm/blue-only', crew: 'blue', costPico: 10 ** 9 }));

    const s = (await reports.report({ stack: 'model', crew: 'red' })).stacked!;
    assert.equal(s.series.length, max);
    assert.ok(!s.series.some((x) => x.key === 'm/blue-only'));
    assert.deepEqual(
      s.series.slice(0, 2).map((x) => x.key),
      [`m/${max + 2}`, `m/${max + 1}`],
    );
    const other = s.series.at(-1)!;
    assert.equal(other.key, '(other)');
    // Keys 0 … 3 (the four smallest of max + 3) are folded: 1000 + 2000 + 3000 + 4000 picodollars.
    assert.deepEqual(other.calls, [4]);
    assert.equal(other.costUsd[0], 10_000 / 1e12);
  });

  it('a wide open range is cut to the days with calls; no calls and one bound gives no days', async () => {
    await ledger.append(row({ ts: T0 }));
    assert.deepEqual((await reports.report({ stack: 'crew', from: '2000-01-01' })).stacked!.days, ['2026-03-01']);
    assert.deepEqual((await reports.report({ stack: 'crew', from: '2030-01-01' })).stacked, {
      by: 'crew',
      days: [],
      series: [],
    });
    assert.equal(
      (await reports.report({ stack: 'crew', from: '2030-01-01', to: '2030-01-08' })).stacked!.days.length,
      7,
      'both bounds and no calls: the range, zero-filled',
    );
  });

  it('the params schema takes stack and refuses other values', () => {
    assert.ok(schemas['cost/report'].safeParse({ stack: 'agent' }).success);
    assert.ok(!schemas['cost/report'].safeParse({ stack: 'day' }).success);
  });
});
