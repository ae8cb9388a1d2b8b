/**
 * Spend forecasts and anomalies (issue 4) at unit level: ForecastService over a real FileLedger in a temp dir, a
 * real BudgetService and AlertService with in-memory repos, and a ManualClock.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BudgetAlert, BudgetSet } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { AlertService } from '../../server/costs/alerts';
import { LocalGate } from '../../server/costs/local-gate';
import { BudgetService } from '../../server/costs/budgets';
import { ForecastService } from '../../server/costs/forecast';
import { forecastSchemas } from '../../server/costs/forecast-schemas';
import { toPico } from '../../server/costs/money';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { FileLedger, ledgerRepository } from '../../server/store/ledger/file-ledger';
import { MemoryAlerts, MemoryBudgets } from '../helpers/memory-repos';

const T = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

interface Call {
  ts: number;
  usd: number;
  crew?: string;
  agent?: string;
  model?: string;
}

describe('ForecastService (ManualClock, FileLedger)', () => {
  let dir: string;
  let clock: ManualClock;
  let ledger: FileLedger;
  let budgets: BudgetService;
  let forecasts: ForecastService;
  let fired: BudgetAlert[];

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-forecast-'));
    clock = new ManualClock(T('2026-03-10T00:00:00.000Z'));
    ledger = await FileLedger.open(path.join(dir, 'ledger'));
    const events = new EventBus();
    fired = [];
    events.subscribe('budget.alert', (a) => fired.push(a));
    const alerts = new AlertService(new MemoryAlerts(), events, clock, silentLogger);
    budgets = new BudgetService(new MemoryBudgets(), new LocalGate(ledger, clock), alerts, clock);
    await budgets.init();
    forecasts = new ForecastService(
      ledgerRepository(() => ledger),
      budgets,
      alerts,
      clock,
    );
  });

  afterEach(async () => {
    await ledger.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  /** Writes the calls to the ledger, oldest first (the ledger is ordered by time). */
  async function seed(calls: Call[]): Promise<void> {
    for (const c of [...calls].sort((a, b) => a.ts - b.ts)) {
      const cost = c.usd.toFixed(6);
      await ledger.append({
        ts: c.ts,
        model: c.model ?? 'm/base',
        crew: c.crew ?? 'c1',
        agent: c.agent ?? 'writer',
        tags: [],
        promptTokens: 10,
        completionTokens: 10,
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico: toPico(cost),
        cost,
        estimated: false,
        generationId: null,
        latencyMs: 1,
        status: 'ok',
        stream: false,
      });
    }
  }

  /** $1 at noon every day from `from` up to (not including) `to`. */
  const linear = (from: string, to: string): Call[] => {
    const out: Call[] = [];
    for (let t = T(from) + DAY / 2; t < T(to); t += DAY) out.push({ ts: t, usd: 1 });
    return out;
  };

  const setBudget = async (p: Partial<BudgetSet.Params> & Pick<BudgetSet.Params, 'period' | 'limitUsd'>) =>
    (await budgets.set({ scope: 'global', ...p })).budget;

  describe('cost/forecast', () => {
    it('projects a linear $1/day spend to the period end and finds the exact exhaustion day', async () => {
      await seed(linear('2026-02-01', '2026-03-10')); // 28 days of history, then 1–9 March
      const b = await setBudget({ period: 'monthly', limitUsd: 20 });
      const {
        forecasts: [f],
      } = await forecasts.forecast({ budgetId: b.id });
      assert.ok(f);
      assert.equal(f.spentUsd, 9);
      assert.equal(f.pacePerDayUsd, 1);
      assert.equal(f.currentPacePerDayUsd, 1);
      assert.equal(f.trailingPacePerDayUsd, 1);
      // pace × days in March: 9 spent + 22 days to go at $1/day.
      assert.equal(f.projectedUsd, f.pacePerDayUsd * 31);
      assert.equal(f.projectedUsd, 31);
      // No dispersion in the history, so no range.
      assert.equal(f.low, 31);
      assert.equal(f.high, 31);
      // $9 by the end of 9 March, +$1 a day: $20 at the end of 20 March.
      assert.equal(f.exhaustionDate, '2026-03-20');
      assert.equal(f.willExceed, true);
      assert.equal(f.periodEnd, '2026-04-01T00:00:00.000Z');
      assert.match(f.method, /trailing 28 days/);
    });

    it('gives a range from the history’s dispersion and no exhaustion when the limit is out of reach', async () => {
      // Alternating $0.50 / $1.50 days: mean $1, σ $0.50.
      await seed(linear('2026-02-10', '2026-03-10').map((c, i) => ({ ...c, usd: i % 2 ? 1.5 : 0.5 })));
      const b = await setBudget({ period: 'monthly', limitUsd: 100 });
      const {
        forecasts: [f],
      } = await forecasts.forecast({ budgetId: b.id });
      assert.ok(f);
      assert.equal(f.exhaustionDate, null);
      assert.equal(f.willExceed, false);
      const margin = 1.645 * 0.5 * Math.sqrt(22);
      assert.ok(Math.abs(f.high - f.projectedUsd - margin) < 1e-6, `high ${f.high} vs ${f.projectedUsd} + ${margin}`);
      assert.ok(Math.abs(f.projectedUsd - f.low - margin) < 1e-6);
      assert.equal(fired.filter((a) => (a.kind as string) === 'forecast').length, 0);
    });

    it('looks 30 days ahead for a total budget', async () => {
      await seed(linear('2026-02-01', '2026-03-10'));
      const b = await setBudget({ period: 'total', limitUsd: 60 });
      const {
        forecasts: [f],
      } = await forecasts.forecast({ budgetId: b.id });
      assert.ok(f);
      assert.equal(f.spentUsd, 37);
      assert.equal(f.projectedUsd, 67);
      assert.equal(f.horizonEnd, '2026-04-09T00:00:00.000Z');
      // $37, then $1 a day from 10 March: $60 at the end of 1 April.
      assert.equal(f.exhaustionDate, '2026-04-01');
    });

    it('fires the forecast alert once per period', async () => {
      await seed(linear('2026-02-01', '2026-03-10'));
      const b = await setBudget({ period: 'monthly', limitUsd: 20 });
      await forecasts.forecast();
      await forecasts.forecast({ budgetId: b.id });
      clock.advance(DAY);
      await seed([{ ts: clock.now() - DAY / 2, usd: 1 }]);
      const again = await forecasts.forecast();
      assert.equal(again.forecasts[0]!.exhaustionDate, '2026-03-20');
      const forecastAlerts = fired.filter((a) => (a.kind as string) === 'forecast');
      assert.equal(forecastAlerts.length, 1);
      assert.equal(forecastAlerts[0]!.budgetId, b.id);
      assert.equal(forecastAlerts[0]!.periodStart, '2026-03-01T00:00:00.000Z');
      assert.match(forecastAlerts[0]!.message, /runs out on 2026-03-20/);
    });
  });

  describe('cost/anomalies', () => {
    /** 45 days of ordinary spend, ~$1/day ± 30 % over three calls (agents and models vary), deterministic. */
    const ordinary = (): Call[] => {
      const out: Call[] = [];
      let seedN = 7;
      const rnd = () => ((seedN = (seedN * 16807) % 2147483647) - 1) / 2147483646;
      for (let d = T('2026-01-24'); d < T('2026-03-10T12:00:00Z'); d += DAY) {
        for (const [h, agent, model] of [
          [9, 'writer', 'm/base'],
          [13, 'reviewer', 'm/base'],
          [17, 'writer', 'm/small'],
        ] as const) {
          const ts = d + h * 3_600_000;
          if (ts < T('2026-03-10T12:00:00Z')) out.push({ ts, usd: (1 / 3) * (0.7 + 0.6 * rnd()), agent, model });
        }
      }
      return out;
    };

    beforeEach(() => clock.set(T('2026-03-10T12:00:00.000Z')));

    it('does not flag an ordinary week of noisy spend (day and hour buckets)', async () => {
      await seed(ordinary());
      const day = await forecasts.anomalies({ granularity: 'day', days: 7 });
      assert.deepEqual(day.anomalies, []);
      assert.equal(day.from, '2026-03-04T00:00:00.000Z');
      const hour = await forecasts.anomalies({ granularity: 'hour', days: 7 });
      assert.deepEqual(hour.anomalies, []);
      assert.equal(fired.length, 0);
    });

    it('flags an injected spike day with the agent and model that drove it, once', async () => {
      const spikeAt = T('2026-03-07T15:00:00Z');
      await seed([
        ...ordinary(),
        ...Array.from({ length: 12 }, (_, i) => ({
          ts: spikeAt + i * 60_000,
          usd: 1,
          crew: 'c2',
          agent: 'runaway',
          model: 'x/huge',
        })),
      ]);
      const r = await forecasts.anomalies({ days: 7 });
      assert.equal(r.anomalies.length, 1, JSON.stringify(r.anomalies));
      const a = r.anomalies[0]!;
      assert.equal(a.at, '2026-03-07T00:00:00.000Z');
      assert.equal(a.granularity, 'day');
      assert.ok(a.spentUsd > 12.5 && a.spentUsd < 13.5, String(a.spentUsd));
      assert.ok(a.baselineUsd > 0.8 && a.baselineUsd < 1.2, String(a.baselineUsd));
      assert.ok(a.score >= 3.5);
      // The crew agent's one id (crew c2, agent runaway).
      assert.equal(a.drivers.agent?.key, 'c2/runaway');
      assert.equal(a.drivers.model?.key, 'x/huge');
      assert.equal(a.drivers.crew?.key, 'c2');
      assert.ok(a.drivers.agent.share > 0.85 && a.drivers.agent.share < 0.95);
      assert.equal(a.drivers.agent.spentUsd, 12);

      // The hour it happened in is flagged too, against the same hour on the days before.
      const h = await forecasts.anomalies({ granularity: 'hour', days: 7 });
      assert.deepEqual(
        h.anomalies.map((x) => x.at),
        ['2026-03-07T15:00:00.000Z'],
      );
      assert.equal(h.anomalies[0]!.drivers.agent?.key, 'c2/runaway');

      // A filter that leaves the spike out finds nothing (c1's writer, spelled as a caller would).
      assert.deepEqual((await forecasts.anomalies({ crew: 'c1', agent: 'writer' })).anomalies, []);

      await forecasts.anomalies({ days: 7 });
      const alerts = fired.filter((x) => (x.kind as string) === 'anomaly');
      assert.equal(alerts.length, 2, alerts.map((x) => x.message).join('\n'));
      assert.match(alerts[0]!.message, /2026-03-07.*agent c2\/runaway \(9\d(\.\d)?%\).*model x\/huge/);
    });
  });

  it('validates params strictly', () => {
    assert.equal(forecastSchemas['cost/forecast'].safeParse({ budgetId: 'b' }).success, true);
    assert.equal(forecastSchemas['cost/forecast'].safeParse({ budget: 'b' }).success, false);
    assert.equal(forecastSchemas['cost/anomalies'].safeParse({ granularity: 'hour', days: 3 }).success, true);
    assert.equal(forecastSchemas['cost/anomalies'].safeParse({ granularity: 'week' }).success, false);
    assert.equal(forecastSchemas['cost/anomalies'].safeParse({ days: 0 }).success, false);
  });
});
