// crew cost forecast / cost anomalies against a private --stdio sandbox server per command (fresh data dir).
import { formatUsd } from '../../protocol/format';
import assert from 'node:assert/strict';
import type { BudgetSet, ChatComplete, CostAnomalies, CostForecast } from '../../protocol';
import { ANSI, crew, crewJson, Sandbox } from './helpers';

const MODEL = 'openai/gpt-4o-mini';

describe('crew cost forecast, cost anomalies (sandbox, --stdio)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  let dataDir: string;
  const g = () => ['--stdio', '--sandbox', '--data-dir', dataDir];
  const run = (args: string[]) => crew([...g(), ...args]);
  const json = <T>(args: string[]) => crewJson<T>([...g(), ...args]);

  before(async () => {
    dataDir = await box.dir();
  });
  after(() => box.cleanup());

  it('anomalies on a fresh ledger: an empty list, and the table says so', async () => {
    const { run: r, json: res } = await json<CostAnomalies.Result>(['cost', 'anomalies']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(res.anomalies, []);
    assert.equal(res.granularity, 'day');
    const table = await run(['cost', 'anomalies', '--days', '3']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout + table.stderr, /no anomalies in the last 3 days/);
  });

  it('forecast shows a budget with its projection after a couple of calls', async () => {
    const set = await json<BudgetSet.Result>([
      'budget',
      'set',
      '--scope',
      'global',
      '--limit',
      '5',
      '--period',
      'daily',
    ]);
    assert.equal(set.run.code, 0, set.run.stderr);
    const id = set.json.budget.id;
    for (const prompt of ['Say hello', 'Say it again']) {
      const chat = await json<ChatComplete.Result>(['chat', '--model', MODEL, '--max-tokens', '50', prompt]);
      assert.equal(chat.run.code, 0, chat.run.stderr);
      assert.ok(chat.json.costUsd > 0);
    }

    const { run: r, json: res } = await json<CostForecast.Result>(['cost', 'forecast', '--budget', id.slice(0, 6)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(res.forecasts.length, 1);
    const f = res.forecasts[0]!;
    assert.equal(f.budgetId, id);
    assert.equal(f.scope, 'global');
    assert.ok(f.spentUsd > 0, `spentUsd ${f.spentUsd}`);
    assert.ok(f.projectedUsd >= f.spentUsd, `projected ${f.projectedUsd} < spent ${f.spentUsd}`);
    assert.equal(typeof res.at, 'string');

    const table = await run(['cost', 'forecast']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^ID\s+SCOPE\s+PERIOD\s+LIMIT\s+SPENT\s+PROJECTED \(RANGE\)\s+PACE\/DAY\s+EXHAUSTED ON\s+STATE$/m,
    );
    assert.match(table.stdout, /global\s+daily\s+\$5\.00\s+\$0\.0000\d+/);
    // The range is shown when it spans more than one amount, as written.
    assert.equal(/\(\$[\d.]+–\$[\d.]+\)/.test(table.stdout), formatUsd(f.low) !== formatUsd(f.high), table.stdout);
    assert.match(table.stdout, /\s(ok|near|OVER)$/m);
    assert.doesNotMatch(table.stdout, ANSI);

    const scoped = await run(['cost', 'forecast', '--scope', 'agent:nobody']);
    assert.equal(scoped.code, 0, scoped.stderr);
    assert.match(scoped.stderr, /no budgets for scope agent:nobody/);
  });

  it('usage errors exit 2 naming the option', async () => {
    const week = await run(['cost', 'anomalies', '--granularity', 'week']);
    assert.equal(week.code, 2, week.stderr);
    assert.match(week.stderr, /--granularity/);
    const z = await run(['cost', 'anomalies', '--threshold', '-1']);
    assert.equal(z.code, 2, z.stderr);
    assert.match(z.stderr, /--threshold/);
    const days = await run(['cost', 'anomalies', '--days', '0']);
    assert.equal(days.code, 2, days.stderr);
    assert.match(days.stderr, /--days/);
  });

  it('--help ends with an example', async () => {
    for (const sub of ['forecast', 'anomalies']) {
      const help = await crew(['cost', sub, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Example:\n {2}crew cost \S+.*\n$/);
    }
  });
});
