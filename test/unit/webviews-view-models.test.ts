/**
 * The dashboards' view models without a browser: server results turned into chart series and tables with every
 * figure passed through unchanged, the budget form checked as the server checks it (and server errors put on the
 * field they name), the archive table's sort and filter, the policy form, the treemap and the heatmap.
 */
import assert from 'node:assert/strict';
import type { Archive, BudgetForecast, BudgetStatus, CostReport, CrewSummary } from '../../protocol';
import { chooseCrew, heatmap, treemap } from '../../webviews/src/view-models/analytics';
import {
  filterArchives,
  nextSort,
  policyFieldOf,
  revivePolicy,
  sortArchives,
  validatePolicy,
} from '../../webviews/src/view-models/archive';
import {
  draftFromBudget,
  emptyDraft,
  fieldOfServerError,
  reviveDraft,
  validateDraft,
} from '../../webviews/src/view-models/budgets';
import {
  costsState,
  forecastChart,
  forecastVerdict,
  pickForecast,
  reportParams,
  stackedChart,
  topSpenders,
} from '../../webviews/src/view-models/costs';

const row = (key: string, costUsd: number, calls = 1): CostReport.Row => ({
  key,
  calls,
  promptTokens: 10,
  completionTokens: 5,
  cachedTokens: 0,
  reasoningTokens: 0,
  costUsd,
  estimatedCostUsd: 0,
  errors: 0,
});

function forecast(over: Partial<BudgetForecast>): BudgetForecast {
  return {
    budgetId: 'b1',
    scope: 'global',
    period: 'monthly',
    limitUsd: 10,
    spentUsd: 4,
    periodStart: '2026-03-01T00:00:00.000Z',
    periodEnd: '2026-04-01T00:00:00.000Z',
    horizonEnd: '2026-04-01T00:00:00.000Z',
    projectedUsd: 8,
    low: 6,
    high: 11,
    exhaustionDate: null,
    willExceed: false,
    method: 'pace',
    pacePerDayUsd: 0.25,
    currentPacePerDayUsd: 0.25,
    trailingPacePerDayUsd: null,
    ...over,
  };
}

describe('webviews: costs view model', () => {
  it('asks for whole UTC days ending today, grouped and stacked the same way', () => {
    const now = Date.parse('2026-03-10T15:00:00.000Z');
    assert.deepEqual(reportParams({ days: 7, stack: 'agent' }, now), {
      by: 'agent',
      stack: 'agent',
      from: '2026-03-04T00:00:00.000Z',
      to: '2026-03-11T00:00:00.000Z',
    });
    assert.deepEqual(costsState({ days: 13 as never, stack: 'crew' as never }), { days: 30, stack: 'model' });
    assert.deepEqual(costsState({ days: 90, stack: 'agent', budgetId: 'x' }), {
      days: 90,
      stack: 'agent',
      budgetId: 'x',
    });
  });

  it('turns the stacked report into one dataset per series with the server figures unchanged', () => {
    const stacked: CostReport.Stacked = {
      by: 'model',
      days: ['2026-03-09', '2026-03-10'],
      series: [
        { key: 'openai/gpt-4o', costUsd: [0.5, 0.25], calls: [2, 1], totalUsd: 0.75 },
        { key: 'openai/gpt-4o-mini', costUsd: [0, 0.000123], calls: [0, 3], totalUsd: 0.000123 },
      ],
    };
    const chart = stackedChart(stacked, ['#111111']);
    assert.deepEqual(chart.labels, ['Mar 9', 'Mar 10']);
    assert.deepEqual(chart.days, stacked.days);
    assert.deepEqual(
      chart.datasets.map((d) => [d.label, d.data, d.color]),
      [
        ['openai/gpt-4o', [0.5, 0.25], '#111111'],
        ['openai/gpt-4o-mini', [0, 0.000123], '#111111'],
      ],
    );
  });

  it('lists the top spenders in the server order with bar lengths relative to the first', () => {
    const report: CostReport.Result = {
      by: 'agent',
      from: null,
      to: null,
      rows: [row('writer', 2, 4), row('critic', 0.5), row('(none)', 0)],
      total: { ...row('', 2.5, 6) },
    };
    assert.deepEqual(topSpenders(report, 2), [
      { key: 'writer', costUsd: 2, calls: 4, bar: 1 },
      { key: 'critic', costUsd: 0.5, calls: 1, bar: 0.25 },
    ]);
    assert.deepEqual(topSpenders({ ...report, rows: [] }), []);
  });

  it('draws the forecast through the server figures, and picks the chosen budget or the most at risk', () => {
    const f = forecast({});
    const at = '2026-03-16T00:00:00.000Z';
    const c = forecastChart(f, at);
    const start = Date.parse(f.periodStart!);
    const now = Date.parse(at);
    const end = Date.parse(f.horizonEnd);
    assert.deepEqual(c.spent, [
      { x: start, y: 0 },
      { x: now, y: 4 },
    ]);
    assert.deepEqual(c.projected, [
      { x: now, y: 4 },
      { x: end, y: 8 },
    ]);
    assert.deepEqual(
      [c.low[1], c.high[1]],
      [
        { x: end, y: 6 },
        { x: end, y: 11 },
      ],
    );
    assert.deepEqual(c.limit, [
      { x: start, y: 10 },
      { x: end, y: 10 },
    ]);
    // A total budget has no period start: the line starts now.
    assert.deepEqual(forecastChart(forecast({ periodStart: null }), at).spent, [{ x: now, y: 4 }]);

    const safe = forecast({ budgetId: 'safe', projectedUsd: 1 });
    const risky = forecast({ budgetId: 'risky', projectedUsd: 30 });
    assert.equal(pickForecast([safe, risky], undefined)?.budgetId, 'risky');
    assert.equal(pickForecast([safe, risky], 'safe')?.budgetId, 'safe');
    assert.equal(pickForecast([safe, risky], 'deleted')?.budgetId, 'risky');
    assert.equal(pickForecast([], undefined), undefined);
  });

  it('words the forecast: a future date, today, or a limit already passed (never a projection behind now)', () => {
    const at = '2026-12-05T15:00:00.000Z';
    assert.equal(
      forecastVerdict(forecast({ exhaustionDate: '2026-12-20', willExceed: true }), at),
      'At this pace the limit is reached on Dec 20.',
    );
    assert.equal(
      forecastVerdict(forecast({ exhaustionDate: '2026-12-05', willExceed: true }), at),
      'At this pace the limit is reached today.',
    );
    assert.equal(
      forecastVerdict(forecast({ exhaustionDate: null, willExceed: false }), at),
      'At this pace the limit is not reached in this period.',
    );
    assert.equal(
      forecastVerdict(
        forecast({ spentUsd: 0.0234, limitUsd: 0.01, exhaustionDate: '2026-12-05', willExceed: true }),
        at,
      ),
      'The limit was reached on Dec 5: $0.0234 spent, 234% of $0.01.',
    );
  });
});

describe('webviews: budget form', () => {
  const draft = (over: Partial<ReturnType<typeof emptyDraft>>) => ({ ...emptyDraft(), limit: '25', ...over });

  it('builds budget/set params from a valid draft', () => {
    assert.deepEqual(validateDraft(draft({})), {
      params: { scope: 'global', period: 'monthly', limitUsd: 25, action: 'block' },
      errors: {},
    });
    assert.deepEqual(
      validateDraft(
        draft({
          id: 'b1',
          scopeKind: 'crew',
          scopeId: ' ops ',
          period: 'daily',
          limit: '0.5',
          thresholds: '50, 80 100',
          action: 'downgrade',
          downgradeTo: 'openai/gpt-4o-mini',
        }),
      ).params,
      {
        id: 'b1',
        scope: 'crew:ops',
        period: 'daily',
        limitUsd: 0.5,
        thresholds: [50, 80, 100],
        action: 'downgrade',
        downgradeTo: 'openai/gpt-4o-mini',
      },
    );
  });

  it('refuses what the server refuses, on the right field', () => {
    const errors = (over: Partial<ReturnType<typeof emptyDraft>>) => validateDraft(draft(over)).errors;
    assert.ok(errors({ scopeKind: 'agent', scopeId: '  ' }).scopeId);
    assert.ok(errors({ scopeKind: 'agent', scopeId: 'x'.repeat(300) }).scopeId);
    assert.ok(errors({ limit: '' }).limit);
    assert.ok(errors({ limit: '-5' }).limit);
    assert.ok(errors({ limit: 'ten' }).limit);
    assert.ok(errors({ limit: '2e9' }).limit);
    assert.equal(errors({ limit: '1e3' }).limit, undefined);
    assert.match(errors({ thresholds: '50, 0' }).thresholds ?? '', /"0"/);
    assert.ok(errors({ thresholds: '1001' }).thresholds);
    assert.ok(errors({ thresholds: Array.from({ length: 21 }, (_, i) => i + 1).join(',') }).thresholds);
    assert.match(errors({ action: 'downgrade', downgradeTo: '' }).downgradeTo ?? '', /downgrade/);
    assert.equal(validateDraft(draft({ limit: '' })).params, undefined);
    // A stale scope id or downgrade target of another choice is not sent.
    assert.deepEqual(validateDraft(draft({ scopeId: 'old', downgradeTo: 'old/model' })).params?.scope, 'global');
    assert.equal(validateDraft(draft({ downgradeTo: 'old/model' })).params?.downgradeTo, undefined);
  });

  it('puts a server error on the field it names; an unknown model on the downgrade target', () => {
    assert.equal(fieldOfServerError(-32602, { field: 'limitUsd' }), 'limit');
    assert.equal(fieldOfServerError(-32602, { field: 'scope' }), 'scopeId');
    assert.equal(fieldOfServerError(-32602, { field: 'thresholds.2' }), 'thresholds');
    assert.equal(fieldOfServerError(-32602, { field: 'downgradeTo' }), 'downgradeTo');
    assert.equal(fieldOfServerError(-32602, { field: '(params)' }), 'form');
    assert.equal(fieldOfServerError(-32602, undefined), 'form');
    assert.equal(fieldOfServerError(1003, { model: 'x/y', suggestions: [] }), 'downgradeTo');
    assert.equal(fieldOfServerError(1002, { entity: 'budget', id: 'b' }), 'form');
  });

  it('offers fit with its floor: sent only with action fit, checked as the server checks it', () => {
    assert.deepEqual(validateDraft(draft({ action: 'fit', minTokens: '32' })).params, {
      scope: 'global',
      period: 'monthly',
      limitUsd: 25,
      action: 'fit',
      minTokens: 32,
    });
    assert.deepEqual(validateDraft(draft({ action: 'fit' })).params?.minTokens, undefined);
    assert.deepEqual(validateDraft(draft({ action: 'block', minTokens: '32' })).params?.minTokens, undefined);
    assert.match(validateDraft(draft({ action: 'fit', minTokens: '0' })).errors.minTokens ?? '', /whole number/);
    assert.equal(fieldOfServerError(-32602, { field: 'minTokens' }), 'minTokens');
    const fit = draftFromBudget({
      ...({} as BudgetStatus),
      scope: 'global',
      action: 'fit',
      minTokens: 64,
      thresholds: [],
    });
    assert.equal(fit.minTokens, '64');
  });

  it('edits a budget as it is, and revives a saved draft defensively', () => {
    const b = {
      id: 'b9',
      scope: 'agent:ops/writer',
      period: 'weekly',
      limitUsd: 3.5,
      action: 'warn',
      downgradeTo: null,
      thresholds: [50, 90],
    } as unknown as BudgetStatus;
    const d = draftFromBudget(b);
    assert.deepEqual(d, {
      id: 'b9',
      scopeKind: 'agent',
      scopeId: 'ops/writer',
      period: 'weekly',
      limit: '3.5',
      thresholds: '50, 90',
      action: 'warn',
      downgradeTo: '',
      minTokens: '',
    });
    assert.deepEqual(reviveDraft(d), d);
    assert.deepEqual(reviveDraft({ scopeKind: 'planet', limit: 7, period: 'hourly' }), emptyDraft());
    assert.deepEqual(reviveDraft(null), emptyDraft());
  });
});

function archive(over: Partial<Archive>): Archive {
  return {
    id: 'arc_1',
    sha256: 'aa',
    count: 1,
    crews: ['ops'],
    bytesIn: 100,
    bytesOut: 50,
    ratio: 2,
    policy: null,
    createdAt: '2026-03-01T00:00:00.000Z',
    restoredIds: [],
    state: 'complete',
    ...over,
  };
}

describe('webviews: archive view model', () => {
  const list = [
    archive({ id: 'a', crews: ['ops'], count: 5, createdAt: '2026-03-03T00:00:00.000Z', ratio: 2.5 }),
    archive({ id: 'b', crews: ['research'], count: 9, createdAt: '2026-03-02T00:00:00.000Z', state: 'restored' }),
    archive({ id: 'c', crews: ['ops', 'lab'], count: 5, createdAt: '2026-03-01T00:00:00.000Z', sha256: 'f00d' }),
  ];

  it('filters by crew, id or checksum and by state', () => {
    assert.deepEqual(
      filterArchives(list, { text: 'OPS', state: '' }).map((a) => a.id),
      ['a', 'c'],
    );
    assert.deepEqual(
      filterArchives(list, { text: 'f00', state: '' }).map((a) => a.id),
      ['c'],
    );
    assert.deepEqual(
      filterArchives(list, { text: '', state: 'restored' }).map((a) => a.id),
      ['b'],
    );
  });

  it('sorts by any column, ties in the server order, and a second click flips the direction', () => {
    assert.deepEqual(
      sortArchives(list, { key: 'count', dir: 'desc' }).map((a) => a.id),
      ['b', 'a', 'c'],
    );
    assert.deepEqual(
      sortArchives(list, { key: 'count', dir: 'asc' }).map((a) => a.id),
      ['a', 'c', 'b'],
    );
    assert.deepEqual(
      sortArchives(list, { key: 'createdAt', dir: 'asc' }).map((a) => a.id),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      sortArchives(list, { key: 'crews', dir: 'asc' }).map((a) => a.id),
      ['a', 'c', 'b'],
    );
    assert.deepEqual(nextSort({ key: 'count', dir: 'desc' }, 'count'), { key: 'count', dir: 'asc' });
    assert.deepEqual(nextSort({ key: 'count', dir: 'desc' }, 'crews'), { key: 'crews', dir: 'asc' });
    assert.deepEqual(nextSort({ key: 'crews', dir: 'asc' }, 'ratio'), { key: 'ratio', dir: 'desc' });
  });

  it('checks a policy as the server does and maps its errors to fields', () => {
    const base = revivePolicy(undefined);
    assert.deepEqual(validatePolicy(base), { policy: { olderThanDays: 30 }, errors: {} });
    assert.deepEqual(
      validatePolicy({
        crew: ' ops ',
        olderThanDays: '',
        belowScore: '0.3',
        kinds: ['note', 'fact'],
        includePinned: true,
      }).policy,
      { crew: 'ops', belowScore: 0.3, kinds: ['note', 'fact'], includePinned: true },
    );
    assert.ok(validatePolicy({ ...base, olderThanDays: '' }).errors.form, 'a policy never means everything');
    assert.ok(validatePolicy({ ...base, belowScore: '0' }).errors.belowScore);
    assert.ok(validatePolicy({ ...base, belowScore: '1.5' }).errors.belowScore);
    assert.ok(validatePolicy({ ...base, olderThanDays: '-1' }).errors.olderThanDays);
    assert.equal(policyFieldOf({ field: 'policy.belowScore' }), 'belowScore');
    assert.equal(policyFieldOf({ field: 'policy' }), 'form');
    assert.deepEqual(revivePolicy({ kinds: ['note', 'bogus'], includePinned: 'yes' }).kinds, ['note']);
  });
});

describe('webviews: analytics view model', () => {
  it('lays a treemap out with areas proportional to sizes, inside the box, without overlaps', () => {
    const items = [60, 30, 10, 0].map((size, id) => ({ id, size }));
    const box = { x: 0, y: 0, w: 400, h: 200 };
    const tiles = treemap(items, (i) => i.size, box);
    assert.deepEqual(
      tiles.map((t) => t.item.id),
      [0, 1, 2],
      'largest first; nothing for an empty cluster',
    );
    for (const t of tiles) {
      assert.ok(Math.abs((t.w * t.h) / (box.w * box.h) - t.item.size / 100) < 1e-9, `area of ${t.item.id}`);
      assert.ok(t.x >= -1e-9 && t.y >= -1e-9 && t.x + t.w <= box.w + 1e-9 && t.y + t.h <= box.h + 1e-9);
    }
    for (const a of tiles)
      for (const b of tiles) {
        if (a === b) continue;
        const overlap =
          Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 1e-9 &&
          Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 1e-9;
        assert.ok(!overlap, `${a.item.id} overlaps ${b.item.id}`);
      }
    assert.deepEqual(
      treemap([], () => 1, box),
      [],
    );
  });

  it('shades the heatmap relative to the busiest cell, and says when the server has no matrix', () => {
    const m = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
    m[1]![9] = 4;
    m[3]![14] = 1;
    const cells = heatmap({ byWeekdayHour: m } as CrewSummary)!;
    assert.equal(cells.length, 168);
    assert.deepEqual(cells[24 + 9], { weekday: 1, hour: 9, count: 4, level: 1 });
    assert.deepEqual(cells[3 * 24 + 14], { weekday: 3, hour: 14, count: 1, level: 0.25 });
    assert.equal(cells[0]!.level, 0);
    assert.equal(heatmap({} as CrewSummary), null);
    assert.ok(
      heatmap({ byWeekdayHour: Array.from({ length: 7 }, () => new Array<number>(24).fill(0)) } as CrewSummary)!.every(
        (c) => c.level === 0,
      ),
    );
  });

  it('keeps the chosen crew while it exists', () => {
    assert.equal(chooseCrew(['lab', 'ops'], 'ops'), 'ops');
    assert.equal(chooseCrew(['lab', 'ops'], 'gone'), 'lab');
    assert.equal(chooseCrew([], 'ops'), undefined);
  });
});
