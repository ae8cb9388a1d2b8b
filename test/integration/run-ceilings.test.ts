/**
 * Run ceilings and estimates (issue 13, part 2) through the real server against the fake OpenRouter, on the local
 * store and on PostgreSQL: a run with `maxCostUsd` fits its steps into the ceiling, stops before the step that
 * would cross it (no call is sent for it) and never spends past it; a manager run's lead and members draw on one
 * ceiling; agents can be told what is left; `crew/estimate` makes no upstream call and learns from the ledger.
 */
import assert from 'node:assert/strict';
import type { Crew, CrewEstimate, LedgerList, Run } from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { pico, rpcError, useFake, useServer } from '../helpers';
import { createTestDatabase } from '../helpers/postgres';

const MINI = 'openai/gpt-4o-mini';
const words = (n: number, w = 'word') => Array.from({ length: n }, () => w).join(' ');
const userText = (body: unknown) =>
  (body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === 'user')!.content;

for (const store of ['local', 'postgres'] as const)
  describe(`run ceilings and estimates (${store} store)`, function () {
    this.timeout(60_000);
    const up = useFake();
    let db: { url: string; drop(): Promise<void> } | undefined;
    before(async function () {
      this.timeout(60_000);
      if (store === 'postgres') db = await createTestDatabase('crew_ceiling');
    });
    after(async () => db?.drop());
    const s = useServer(() => ({
      transport: 'socket',
      upstreamUrl: up.fake.url,
      args: ['--rate-limit', '0', ...(db ? ['--store', db.url] : [])],
    }));
    let n = 0;
    const chatBodies = () => up.fake.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.body);
    const makeCrew = (agents: object[]) =>
      s.client.request<Crew>('crew/create', { name: `ceiling-${store}-${++n}`, agents });
    const three = (maxTokens: number) =>
      ['researcher', 'writer', 'editor'].map((name) => ({ name, model: MINI, maxTokens }));
    const ledgerOf = async (crew: string) =>
      (await s.client.request<LedgerList.Result>('ledger/list', { crew, limit: 200 })).entries;

    it('fits steps into the ceiling, stops before the step that would cross it, and never spends past it', async () => {
      const crew = await makeCrew(three(500));
      // Every reply uses its whole max_tokens: the first step spends a third of the ceiling, the second (whose
      // prompt holds the first's output) is fitted into what is left, and the third cannot fit even at the floor.
      up.fake.behave({ completionTokens: 500 });
      const before = chatBodies().length;
      const ceiling = 0.0009;
      const run = await s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'Summarise the quarter',
        maxCostUsd: ceiling,
        memoryTokens: 0,
      });
      assert.equal(run.status, 'budget_exceeded', JSON.stringify(run));
      assert.equal(run.maxCostUsd, ceiling);
      assert.equal(run.error!.code, ErrorCodes.BudgetExceeded);
      const data = run.error!.data as { scope: string; limitUsd: number };
      assert.equal(data.scope, `run:${run.id}`);
      assert.equal(data.limitUsd, ceiling);
      assert.match(run.error!.message, new RegExp(`ceiling run:${run.id}`));

      assert.deepEqual(
        run.steps.map((st) => st.status),
        ['ok', 'ok', 'budget_exceeded'],
      );
      const refused = run.steps[2]!;
      assert.equal(refused.ledgerId, null, 'no call was made for the refused step');
      const bodies = chatBodies().slice(before);
      assert.equal(bodies.length, 2, 'the step that would cross the ceiling is never sent');
      assert.equal((bodies[0] as { max_tokens: number }).max_tokens, 500);
      const fitted = (bodies[1] as { max_tokens: number }).max_tokens;
      assert.ok(fitted < 500 && fitted >= 16, `the second step is fitted (max_tokens ${fitted})`);
      assert.equal(run.output, run.steps[1]!.output, 'what was done is kept');

      const rows = await ledgerOf(crew.name);
      assert.equal(rows.length, 2);
      assert.ok(rows.some((r) => r.tags.includes(`fit:max_tokens=${fitted}`)));
      const spent = rows.reduce((a, r) => a + pico(r.cost), 0n);
      assert.equal(pico(run.cost), spent);
      assert.ok(spent <= pico(ceiling), `spent ${run.cost} within the ${ceiling} ceiling`);
      assert.ok(spent > pico(ceiling) / 3n, 'the ceiling was used, not refused up front');
    });

    it("a manager run's lead and its delegations draw on the one ceiling", async () => {
      const crew = await makeCrew([
        { name: 'lead', model: MINI, maxTokens: 200 },
        { name: 'writer', model: MINI, maxTokens: 600 },
      ]);
      const delegate = JSON.stringify({ delegate: 'writer', instruction: 'write more' });
      up.fake.behave({ replies: Array.from({ length: 10 }, (_, i) => (i % 2 ? words(600) : delegate)) });
      const ceiling = 0.0015;
      const run = await s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'Write the long report',
        process: 'manager',
        maxSteps: 5,
        maxCostUsd: ceiling,
        memoryTokens: 0,
      });
      assert.equal(run.status, 'budget_exceeded', JSON.stringify(run.steps.map((x) => [x.role, x.status])));
      assert.equal((run.error!.data as { scope: string }).scope, `run:${run.id}`);
      const done = run.steps.filter((st) => st.status === 'ok');
      assert.ok(done.some((st) => st.role === 'lead') && done.some((st) => st.role === 'member'));
      const rows = await ledgerOf(crew.name);
      assert.equal(rows.length, done.length);
      const spent = rows.reduce((a, r) => a + pico(r.cost), 0n);
      assert.equal(pico(run.cost), spent);
      assert.ok(spent <= pico(ceiling));
    });

    it('tells each agent what is left when asked to, and only then', async () => {
      const crew = await makeCrew(three(100));
      up.fake.behave({ completionTokens: 20 });
      let before = chatBodies().length;
      const told = await s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'Plan the offsite',
        maxCostUsd: 0.05,
        tellRemaining: true,
        memoryTokens: 0,
      });
      assert.equal(told.status, 'completed');
      const left = chatBodies()
        .slice(before)
        .map((b) => {
          const m = /Spending left of this run's \$0\.05 ceiling: \$([0-9.]+)\./.exec(userText(b));
          assert.ok(m, `the user message says what is left: ${userText(b).slice(-200)}`);
          return Number(m[1]);
        });
      assert.equal(left.length, 3);
      assert.equal(left[0], 0.05);
      assert.ok(left[1]! < left[0] && left[2]! < left[1]!, `what is left goes down: ${left.join(', ')}`);

      // Without a ceiling, the tightest enforcing budget in scope is named.
      await s.client.request('budget/set', { scope: `crew:${crew.name}`, period: 'daily', limitUsd: 2 });
      before = chatBodies().length;
      await s.client.request<Run>('crew/run', { crew: crew.name, task: 'Plan it again', tellRemaining: true });
      assert.match(userText(chatBodies()[before]), new RegExp(`Spending left under the budget crew:${crew.name}: \\$`));

      before = chatBodies().length;
      await s.client.request<Run>('crew/run', { crew: crew.name, task: 'Plan it once more', maxCostUsd: 0.05 });
      for (const b of chatBodies().slice(before)) assert.doesNotMatch(userText(b), /Spending left/);
    });

    it('estimates a run from the crew history without calling upstream', async () => {
      const crew = await makeCrew(three(300));
      const calls = () => up.fake.requests.length;
      let before = calls();
      const fresh = await s.client.request<CrewEstimate.Result>('crew/estimate', {
        crew: crew.name,
        task: 'Draft the release notes',
        maxCostUsd: 0.2,
      });
      assert.equal(calls(), before, 'an estimate makes no upstream call');
      assert.equal(fresh.typicalUsd, null);
      assert.equal(fresh.highUsd, null);
      assert.ok(fresh.worstCaseUsd > 0);
      assert.equal(fresh.maxCostUsd, 0.2);
      assert.equal(fresh.agents.length, 3);
      assert.ok(fresh.notes.some((t) => /researcher has no calls/.test(t)));
      // Each later agent sees the earlier outputs at their full length: its worst case is larger.
      const w = fresh.agents.map((a) => a.worstCaseUsd);
      assert.ok(w[0]! < w[1]! && w[1]! < w[2]!, w.join(' < '));
      assert.ok(
        Math.abs(fresh.worstCaseUsd - w.reduce((a, b) => a + b, 0)) < 1e-12,
        'a sequential worst case is the sum',
      );

      up.fake.behave({ completionTokens: 50 });
      const run = await s.client.request<Run>('crew/run', { crew: crew.name, task: 'Draft the release notes' });
      assert.equal(run.status, 'completed');
      before = calls();
      const learnt = await s.client.request<CrewEstimate.Result>('crew/estimate', {
        crew: crew.name,
        task: 'Draft the release notes',
      });
      assert.equal(calls(), before);
      // One earlier call per agent: typical and high are that call, so the run's typical is what the run cost.
      for (const a of learnt.agents) {
        const st = run.steps.find((x) => x.agent === a.agent)!;
        assert.equal(a.historyCalls, 1);
        assert.equal(a.perCallTypicalUsd, st.costUsd);
        assert.equal(a.perCallHighUsd, st.costUsd);
      }
      assert.ok(Math.abs(learnt.typicalUsd! - run.costUsd) < 1e-12, `${learnt.typicalUsd} ≈ ${run.costUsd}`);
      assert.equal(learnt.highUsd, learnt.typicalUsd);
      assert.ok(learnt.worstCaseUsd > learnt.highUsd!);
      assert.deepEqual(learnt.notes, []);
    });

    it('estimates a manager run from the earlier manager runs, and refuses what crew/run would refuse', async () => {
      const crew = await makeCrew([
        { name: 'lead', model: MINI, maxTokens: 100 },
        { name: 'writer', model: MINI, maxTokens: 100 },
        { name: 'checker', model: MINI, maxTokens: 100 },
      ]);
      const first = await s.client.request<CrewEstimate.Result>('crew/estimate', {
        crew: crew.name,
        task: 'Ship it',
        process: 'manager',
        maxSteps: 4,
      });
      assert.equal(first.historyRuns, 0);
      assert.deepEqual(
        first.agents.map((a) => [a.agent, a.role, a.steps]),
        [
          ['lead', 'lead', { typical: 3, high: 3, max: 5 }],
          ['writer', 'member', { typical: 1, high: 1, max: 4 }],
          ['checker', 'member', { typical: 1, high: 1, max: 4 }],
        ],
      );
      up.fake.behave({
        replies: [
          JSON.stringify({ delegate: 'writer', instruction: 'draft' }),
          'drafted',
          JSON.stringify({ delegate: 'writer', instruction: 'again' }),
          'drafted again',
          JSON.stringify({ final: 'done' }),
        ],
      });
      const run = await s.client.request<Run>('crew/run', { crew: crew.name, task: 'Ship it', process: 'manager' });
      assert.equal(run.status, 'completed');
      const learnt = await s.client.request<CrewEstimate.Result>('crew/estimate', {
        crew: crew.name,
        task: 'Ship it',
        process: 'manager',
        maxSteps: 4,
      });
      assert.equal(learnt.historyRuns, 1);
      assert.deepEqual(
        learnt.agents.map((a) => [a.agent, a.steps.typical]),
        [
          ['lead', 3],
          ['writer', 2],
          ['checker', 0],
        ],
      );
      // The checker never worked: nothing is known of its calls, yet it adds nothing typical either.
      assert.notEqual(learnt.typicalUsd, null);

      const e = await rpcError(
        s.client.request('crew/estimate', { crew: crew.name, task: 'x', process: 'manager', lead: 'nobody' }),
      );
      assert.equal(e.code, ErrorCodes.InvalidParams);
      assert.match(e.message, /no agent named "nobody"/);
      const missing = await rpcError(s.client.request('crew/estimate', { crew: 'no-such-crew', task: 'x' }));
      assert.equal(missing.code, ErrorCodes.NotFound);
    });
  });
