// chat, budgets, refusals, reports and the ledger through one sandbox daemon (started by the first command),
// with the output formats (json, list, table, csv) checked on real results.
import assert from 'node:assert/strict';
import type {
  AuditList,
  BudgetAlerts,
  BudgetConfigureAlerts,
  BudgetExceededData,
  BudgetSet,
  BudgetStatusRequest,
  ChatComplete,
  CostReport,
  LedgerList,
  ModelsList,
} from '../../protocol';
import { ANSI, crew, crewJson, eventually, Sandbox } from './helpers';

const MODEL = 'openai/gpt-4o-mini';

describe('crew chat, budget, cost, ledger (sandbox daemon)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  let dataDir: string;
  const run = (args: string[], env?: Record<string, string | undefined>) =>
    crew(args, { dataDir, ...(env ? { env } : {}) });
  const json = <T>(args: string[]) => crewJson<T>(args, { dataDir });

  before(async () => {
    dataDir = await box.dir();
    const start = await crew(['--sandbox', 'server', 'start'], { dataDir });
    assert.equal(start.code, 0, start.stderr);
  });
  after(() => box.cleanup());

  it('models lists the catalog with prices per million tokens', async () => {
    const table = await run(['models', '--search', 'gpt-4o-mini']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^MODEL\s+PROMPT \$\/M\s+COMPLETION \$\/M\s+CONTEXT$/m);
    assert.match(table.stdout, /openai\/gpt-4o-mini\s+\$0\.15\s+\$0\.60\s+128,000/);
    const { json: res } = await json<ModelsList.Result>(['models']);
    assert.ok(res.models.length > 3);
    assert.equal(typeof res.models[0]!.promptUsdPerMillion, 'number');
  });

  it('chat --json records the call and its cost in the ledger', async () => {
    const { run: r, json: res } = await json<ChatComplete.Result>([
      'chat',
      '--model',
      MODEL,
      '--crew',
      'alpha',
      '--agent',
      'scout',
      '--tag',
      't1',
      '--tag',
      't2',
      '--max-tokens',
      '50',
      'Say hello',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(res.content, /Sandbox reply/);
    assert.equal(res.model, MODEL);
    assert.ok(res.costUsd > 0, `costUsd ${res.costUsd}`);
    assert.equal(typeof res.ledgerId, 'number');
    assert.ok(res.usage.completionTokens > 0);

    const { json: ledger } = await json<LedgerList.Result>(['ledger', '--limit', '5']);
    const entry = ledger.entries.find((e: { id: number }) => e.id === res.ledgerId);
    assert.ok(entry, 'the call is in the ledger');
    assert.equal(entry.crew, 'alpha');
    assert.equal(entry.agent, 'alpha/scout', '--crew alpha --agent scout is the crew agent alpha/scout');
    assert.deepEqual(entry.tags, ['t1', 't2']);
    assert.equal(entry.costUsd, res.costUsd);

    // Human mode: the reply alone on stdout, the cost summary on stderr.
    const human = await run(['chat', '--model', MODEL, '--agent', 'scout', '--max-tokens', '50', 'Hi again']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^Sandbox reply: .*\n$/);
    assert.match(human.stderr, new RegExp(`${MODEL} · \\d+ → \\d+ tokens · \\$0\\.0000\\d+ · \\d+ ms`));
  });

  it('chat --stream prints the reply and records a streamed call', async () => {
    const r = await run([
      'chat',
      '--model',
      MODEL,
      '--agent',
      'scout',
      '--max-tokens',
      '50',
      '--stream',
      'Stream',
      'this',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Sandbox reply: stream this/);
    assert.match(r.stderr, /tokens · \$/);
    const { json: ledger } = await json<LedgerList.Result>(['ledger', '--limit', '1']);
    assert.equal(ledger.entries[0]!.stream, true);
  });

  let globalId: string;
  it('budget set / status --json carry the documented fields', async () => {
    const { run: r, json: set } = await json<BudgetSet.Result>([
      'budget',
      'set',
      '--scope',
      'global',
      '--limit',
      '5',
      '--period',
      'daily',
      '--thresholds',
      '50,80,100',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(set.created, true);
    assert.equal(set.budget.scope, 'global');
    assert.equal(set.budget.period, 'daily');
    assert.equal(set.budget.limitUsd, 5);
    assert.equal(set.budget.action, 'block');
    assert.deepEqual(set.budget.thresholds, [50, 80, 100]);
    globalId = set.budget.id;

    const { json: status } = await json<BudgetStatusRequest.Result>(['budget', 'status', '--scope', 'global']);
    assert.equal(status.budgets.length, 1);
    const b = status.budgets[0]!;
    for (const k of ['limitUsd', 'spentUsd', 'reservedUsd', 'remainingUsd', 'percentUsed'] as const)
      assert.equal(typeof b[k], 'number', k);
    assert.ok(b.spentUsd > 0, 'the calls made earlier today count against the new budget');
    assert.equal(b.state, 'ok');
    assert.equal(typeof b.periodStart, 'string');
    assert.equal(typeof b.periodEnd, 'string');

    // Table: aligned, money with its small decimals kept, a bar; list: key: value blocks.
    const table = await run(['budget', 'status']);
    assert.match(table.stdout, /^ID\s+SCOPE\s+PERIOD\s+LIMIT\s+SPENT\s+RESERVED\s+REMAINING\s+USED\s+STATE/m);
    assert.match(table.stdout, /global\s+daily\s+\$5\.00\s+\$0\.0000\d+\s+\$0\.00\s+\$5\.00\s+░+ 0%\s+ok/);
    assert.doesNotMatch(table.stdout, ANSI, 'NO_COLOR and a pipe: no escape codes');
    const list = await run(['--format', 'list', 'budget', 'status']);
    assert.match(list.stdout, new RegExp(`^id: ${globalId}$`, 'm'));
    assert.match(list.stdout, /^spentUsd: \$0\.0000\d+$/m);
    assert.match(list.stdout, /^state: ok$/m);
  });

  it('colours the table only when asked (FORCE_COLOR) and never with NO_COLOR on a pipe', async () => {
    const forced = await run(['budget', 'status'], { NO_COLOR: undefined, FORCE_COLOR: '1' });
    assert.match(forced.stdout, ANSI);
    const plain = await run(['budget', 'status'], { NO_COLOR: undefined });
    assert.doesNotMatch(plain.stdout, ANSI, 'stdout is a pipe: no colour');
  });

  it('a call over budget is refused with exit 3 and the figures', async () => {
    const set = await json<BudgetSet.Result>([
      'budget',
      'set',
      '--scope',
      'agent:spender',
      '--limit',
      '0.0001',
      '--period',
      'daily',
    ]);
    assert.equal(set.run.code, 0, set.run.stderr);
    const refused = await run([
      'chat',
      '--model',
      'anthropic/claude-opus-4',
      '--agent',
      'spender',
      '--max-tokens',
      '5000',
      'Write a novel',
    ]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /^crew: budget agent:spender \(daily\) would be exceeded/m);
    assert.match(refused.stderr, /limit \$0\.0001 · spent \$0\.00 · reserved \$0\.00 · this call needs up to \$0\.375/);
    assert.equal(refused.stdout, '', 'nothing on stdout in human mode');

    const { run: r, json: err } = await json<{ error: { code: number; message: string; data: BudgetExceededData } }>([
      'chat',
      '--model',
      'anthropic/claude-opus-4',
      '--agent',
      'spender',
      '--max-tokens',
      '5000',
      'Write a novel',
    ]);
    assert.equal(r.code, 3);
    assert.equal(err.error.code, 1001);
    assert.equal(err.error.data.scope, 'agent:spender');
    assert.equal(err.error.data.limitUsd, 0.0001);
    assert.ok(err.error.data.requestedUsd > 0.0001);
    assert.match(r.stderr, /^crew: /);

    // The refusal fired a "blocked" alert (recorded just after the answer, so ask until it is there).
    const alerts = await eventually(async () => {
      const { json: a } = await json<BudgetAlerts.Result>(['budget', 'alerts']);
      assert.ok(
        a.alerts.some((x: { kind: string; scope: string }) => x.kind === 'blocked' && x.scope === 'agent:spender'),
        'blocked alert',
      );
      return a;
    });
    assert.equal(alerts.alerts.find((x) => x.kind === 'blocked')?.severity, 'critical');
  });

  it('budget alert configures thresholds, on/off and webhooks; budget ids may be abbreviated', async () => {
    const prefix = globalId.slice(0, 8);
    const { run: r, json: res } = await json<BudgetConfigureAlerts.Result>([
      'budget',
      'alert',
      '--budget',
      prefix,
      '--thresholds',
      '40,90',
      '--webhook',
      'http://127.0.0.1:9/hook',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(res.budgets.length, 1);
    assert.equal(res.budgets[0]!.id, globalId);
    assert.deepEqual(res.budgets[0]!.thresholds, [40, 90]);
    assert.equal(res.webhooks[0]!.url, 'http://127.0.0.1:9/hook');
    const off = await json<BudgetConfigureAlerts.Result>(['budget', 'alert', '--budget', prefix, '--disable']);
    assert.equal(off.json.budgets[0]!.alertsEnabled, false);
    const on = await json<BudgetConfigureAlerts.Result>(['budget', 'alert', '--budget', prefix, '--enable']);
    assert.equal(on.json.budgets[0]!.alertsEnabled, true);
    const bad = await run(['budget', 'alert', '--budget', 'no-such-budget', '--disable']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^crew: budget "no-such-budget" not found/);
  });

  it('cost report: table with TOTAL, JSON, and --format csv verbatim from the server', async () => {
    const table = await run(['cost', 'report', '--by', 'agent']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^AGENT\s+CALLS/m);
    // alpha's scout (--crew alpha --agent scout) and the crewless scout are two agents.
    assert.match(table.stdout, /^alpha\/scout\s+1\s/m);
    assert.match(table.stdout, /^scout\s+2\s/m);
    assert.match(table.stdout, /^TOTAL\s+3\s/m);

    const { json: res } = await json<CostReport.Result>(['cost', 'report', '--by', 'crew']);
    assert.equal(res.by, 'crew');
    assert.equal(res.total.calls, 3);
    assert.ok(res.rows.some((x: { key: string }) => x.key === 'alpha'));

    const csv = await run(['cost', 'report', '--by', 'model', '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trimEnd().split('\n');
    assert.equal(
      lines[0],
      'model,calls,prompt_tokens,completion_tokens,cost_usd,estimated_cost_usd,errors,cached_tokens,reasoning_tokens',
    );
    assert.match(lines[1]!, new RegExp(`^${MODEL},3,`));
    assert.match(lines[lines.length - 1]!, /^TOTAL,3,/);

    const ranged = await json<CostReport.Result>(['cost', 'report', '--from', '2000-01-01', '--to', '2000-01-02']);
    assert.equal(ranged.json.total.calls, 0);
  });

  it('ledger filters by crew and prints a table', async () => {
    const { json: res } = await json<LedgerList.Result>(['ledger', '--crew', 'alpha']);
    assert.equal(res.entries.length, 1);
    const table = await run(['ledger', '--limit', '2']);
    assert.match(table.stdout, /^\s*ID\s+AT\s+CREW\s+AGENT\s+MODEL\s+PROMPT\s+COMPL\s+COST\s+STATUS$/m);
    assert.equal(table.stdout.trim().split('\n').length, 3);
  });

  it('budget delete removes a budget by id prefix', async () => {
    const del = await json<{ deleted: boolean; id: string }>(['budget', 'delete', globalId.slice(0, 8)]);
    assert.equal(del.run.code, 0, del.run.stderr);
    assert.equal(del.json.deleted, true);
    assert.equal(del.json.id, globalId);
    const { json: status } = await json<BudgetStatusRequest.Result>(['budget', 'status', '--scope', 'global']);
    assert.equal(status.budgets.length, 0);
  });

  it('audit lists the mutating calls made by the CLI', async () => {
    const { json: res } = await json<AuditList.Result>(['audit', '--limit', '50']);
    const methods = res.entries.map((e: { method: string }) => e.method);
    for (const m of ['chat/complete', 'budget/set', 'budget/delete']) assert.ok(methods.includes(m), m);
    assert.ok(res.entries.every((e: { clientKind: string }) => e.clientKind === 'cli'));
  });
});
