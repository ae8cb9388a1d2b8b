// `crew run` and `crew runs` through the real binary with a private (--stdio) sandbox server per command: a
// 3-agent run with --json (runId, status, steps with agent/output/usage/costUsd, costUsd = the steps' sum = the
// ledger's), --stream, the manager process, runs/show, a budget stopping a run (exit 3) and usage errors (exit 2).
import assert from 'node:assert/strict';
import type { CrewEstimate, CrewRuns, LedgerList, Run } from '../../protocol';
import { pico } from '../helpers';
import { crew, crewJson, crewOnTty, Sandbox, type RunOptions } from './helpers';

describe('crew run / crew runs', function () {
  this.timeout(60_000);
  const box = new Sandbox();
  let dataDir: string;
  const cmd = (args: string[], opts: RunOptions = {}) =>
    crew(['--stdio', '--sandbox', '--data-dir', dataDir, ...args], opts);
  const json = <T>(args: string[], opts: RunOptions = {}) =>
    crewJson<T>(['--stdio', '--sandbox', '--data-dir', dataDir, ...args], opts);
  let runId = '';

  before(async () => {
    dataDir = await box.dir();
    const made = await cmd(['crew', 'create', 'launch']);
    assert.equal(made.code, 0, made.stderr);
    for (const [name, role, model] of [
      ['researcher', 'finds facts', 'openai/gpt-4o-mini'],
      ['writer', 'drafts the post', 'anthropic/claude-3.5-haiku'],
      ['editor', 'tightens it', 'google/gemini-2.5-flash'],
    ] as const) {
      const r = await cmd(['crew', 'add-agent', 'launch', '--name', name, '--role', role, '--model', model]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(() => box.cleanup());

  it('--json: runId, status, steps with agent/output/usage/costUsd, and costUsd summing the steps and the ledger', async () => {
    const { run, json: res } = await json<Run & { runId: string }>(['run', 'launch', 'Write', 'the', 'launch', 'post']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(res.runId, /^run_[0-9a-f-]{36}$/);
    runId = res.runId;
    assert.equal(res.status, 'completed');
    assert.equal(res.task, 'Write the launch post');
    assert.deepEqual(
      res.steps.map((s) => s.agent),
      ['researcher', 'writer', 'editor'],
    );
    for (const s of res.steps) {
      assert.match(s.output, /^Sandbox reply:/);
      assert.ok(s.usage.promptTokens > 0 && s.usage.completionTokens > 0);
      assert.ok(s.costUsd > 0);
    }
    assert.equal(
      pico(res.cost),
      res.steps.reduce((a, s) => a + pico(s.cost), 0n),
    );
    const ledger = await json<LedgerList.Result>(['ledger', '--crew', 'launch']);
    assert.equal(ledger.run.code, 0, ledger.run.stderr);
    assert.equal(
      ledger.json.entries.reduce((a, e) => a + pico(e.cost), 0n),
      pico(res.cost),
    );
  });

  it('human output: steps on stderr as they finish, the result on stdout; runs lists it and show shows it', async () => {
    const r = await cmd(['run', 'launch', 'Summarise', 'the', 'changelog']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /✓ step 1 researcher · [\d,]+ tokens · \$[\d.]+ so far\n✓ step 2 writer .*\n✓ step 3 editor /,
    );
    assert.match(r.stdout, /^status\s+completed$/m);
    assert.match(r.stdout, /^#\s+AGENT\s+ROLE\s+MODEL\s+STATUS\s+TOKENS\s+COST$/m);
    assert.match(r.stdout, /^3\s+editor\s+member\s+google\/gemini-2\.5-flash\s+ok\s+/m);
    assert.match(r.stdout, /\nResult\nSandbox reply: /);

    const list = await json<CrewRuns.Result>(['runs', '--crew', 'launch']);
    assert.equal(list.run.code, 0, list.run.stderr);
    assert.equal(list.json.total, 2);
    assert.equal(list.json.runs[1]!.id, runId, 'newest first');
    const table = await cmd(['runs']);
    assert.match(table.stdout, /^RUN\s+CREW\s+PROCESS\s+STATUS\s+STEPS\s+COST\s+STARTED\s+TASK$/m);
    assert.match(table.stdout, new RegExp(`^${runId.slice(0, 12)}\\s+launch\\s+sequential\\s+completed\\s+3\\s+`, 'm'));
    const show = await cmd(['runs', 'show', runId]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^run\\s+${runId}$`, 'm'));
    assert.match(show.stdout, /^task\s+Write the launch post$/m);
    const missing = await cmd(['runs', 'show', 'run_nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^crew: .*run_nope/m);
  });

  it('--stream prints each step as it is generated under the agent name', async () => {
    const r = await cmd(['run', 'launch', '--stream', '--no-save', 'Stream', 'it']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^── researcher ──\nSandbox reply: .*\n\n── writer ──\nSandbox reply: .*\n\n── editor ──\n/m,
    );
    assert.match(r.stderr, /run run_\S+ · 3 steps · /);
  });

  it('--process manager: a lead with members (the sandbox lead answers at once)', async () => {
    const { run, json: res } = await json<Run>(['run', 'launch', '--process', 'manager', '--lead', 'editor', 'Plan']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(res.process, 'manager');
    assert.deepEqual(
      res.steps.map((s) => `${s.role}:${s.agent}`),
      ['lead:editor'],
    );
    assert.equal(res.output, res.steps[0]!.output);
  });

  it('a budget that stops the run exits 3 and says where; usage errors exit 2', async () => {
    const b = await cmd([
      'budget',
      'set',
      '--scope',
      'agent:launch/writer',
      '--limit',
      '0.000001',
      '--period',
      'daily',
    ]);
    assert.equal(b.code, 0, b.stderr);
    const r = await cmd(['run', 'launch', 'Too', 'expensive']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^status\s+budget_exceeded$/m);
    assert.match(r.stderr, /^crew: run run_\S+ stopped by a budget at step 2: budget agent:launch\/writer \(daily\)/m);
    assert.match(r.stderr, /^✓ step 1 researcher /m);
    assert.match(r.stderr, /^✗ step 2 writer was refused by a budget · /m, 'a refused step is not shown as done');
    assert.doesNotMatch(r.stderr, /✓ step 2/);
    const bad = await cmd(['run', 'launch', '--process', 'parallel', 'x']);
    assert.equal(bad.code, 2, bad.stderr);
    const lead = await cmd(['run', 'launch', '--lead', 'editor', 'x']);
    assert.equal(lead.code, 2, lead.stderr);
    assert.match(lead.stderr, /only a manager run has a lead/);
  });

  describe('ceilings and estimates', () => {
    const runsOf = async (crewName: string) => (await json<CrewRuns.Result>(['runs', '--crew', crewName])).json.total;
    before(async () => {
      assert.equal((await cmd(['crew', 'create', 'notes'])).code, 0);
      for (const name of ['drafter', 'checker']) {
        const r = await cmd([
          'crew',
          'add-agent',
          'notes',
          '--name',
          name,
          '--role',
          name,
          '--model',
          'openai/gpt-4o-mini',
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
    });

    it('--estimate prints the estimate and runs nothing; after a run it knows the typical cost', async () => {
      const fresh = await json<CrewEstimate.Result>(['run', 'notes', '--estimate', 'Draft', 'the', 'notes']);
      assert.equal(fresh.run.code, 0, fresh.run.stderr);
      assert.equal(fresh.json.typicalUsd, null);
      assert.ok(fresh.json.worstCaseUsd > 0);
      assert.equal(await runsOf('notes'), 0, 'an estimate starts no run');

      const ran = await json<Run>(['run', 'notes', 'Draft', 'the', 'notes']);
      assert.equal(ran.run.code, 0, ran.run.stderr);
      const human = await cmd(['run', 'notes', '--estimate', 'Draft', 'the', 'notes']);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^AGENT\s+ROLE\s+MODEL\s+CALLS\s+HISTORY\s+TYPICAL\s+HIGH\s+WORST$/m);
      assert.match(human.stdout, /^drafter\s+member\s+openai\/gpt-4o-mini\s+1 \(≤1\)\s+1\s+\$/m);
      assert.match(human.stdout, /^ {2}typical {5}\$\d/m);
      assert.match(human.stdout, /^ {2}worst case {2}\$\d/m);
      assert.equal(await runsOf('notes'), 1);
    });

    it('--max-cost stops the run before a step that cannot fit, and says it was the ceiling (exit 3)', async () => {
      const r = await cmd(['run', 'notes', '--max-cost', '0.000001', 'Draft', 'again']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        /^crew: run run_\S+ stopped at step 1 by its \$\S+ ceiling: ceiling run:run_\S+ \(total\)/m,
      );
      assert.match(r.stdout, /^ceiling\s+\$/m);
      const zero = await cmd(['run', 'notes', '--max-cost', '0', 'x']);
      assert.equal(zero.code, 2, zero.stderr);
      assert.match(zero.stderr, /above 0/);
    });

    it('--approve-over: refuses off a terminal unless --yes, and asks on a terminal', async () => {
      const before = await runsOf('notes');
      const off = await cmd(['run', 'notes', '--approve-over', '0', 'Draft', 'once', 'more']);
      assert.equal(off.code, 3, off.stderr);
      assert.match(
        off.stderr,
        /not run: the run's high estimate \$\S+ is above --approve-over \$0\.00 \(stdin is not a terminal\); pass --yes/,
      );
      assert.equal(await runsOf('notes'), before);

      const yes = await cmd(['run', 'notes', '--approve-over', '0', '--yes', 'Draft', 'once', 'more']);
      assert.equal(yes.code, 0, yes.stderr);
      assert.equal(await runsOf('notes'), before + 1);

      const within = await cmd(['run', 'notes', '--approve-over', '100', 'Draft', 'within']);
      assert.equal(within.code, 0, within.stderr);
      assert.doesNotMatch(within.stderr, /Run anyway/);

      // On a terminal (script(1) gives the command one), the figures and the question go to the user.
      for (const [answer, code, runs] of [
        ['n', 3, before + 2],
        ['y', 0, before + 3],
      ] as const) {
        const line = ['--stdio', '--sandbox', '--data-dir', dataDir, 'run', 'notes', '--approve-over', '0', 'Draft'];
        const tty = await crewOnTty(line, `${answer}\n`);
        assert.equal(tty.code, code, tty.output);
        assert.match(tty.output, /Estimate for notes \(sequential/);
        assert.match(tty.output, /above --approve-over \$0\.00\. Run anyway\? \[y\/N\]/);
        assert.equal(await runsOf('notes'), runs);
      }
    });
  });

  it('has --help with an example on run, runs, runs show and runs cancel', async () => {
    for (const args of [['run'], ['runs'], ['runs', 'show'], ['runs', 'cancel']]) {
      const r = await crew([...args, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples?:\n {2}crew run/, args.join(' '));
    }
  });
});
