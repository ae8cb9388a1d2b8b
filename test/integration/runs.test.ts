/**
 * crew/run through the real server against the fake OpenRouter: a 3-agent sequential run and a manager run store
 * steps whose costs are exactly the ledger's rows; progress reaches the requester and every client; a cancel
 * mid-run aborts the call and leaves no reservation; an agent's own budget stops a run cleanly; crew/runs lists
 * and shows runs, and a run a crash interrupted is marked failed at the next start.
 */
import assert from 'node:assert/strict';
import type {
  BudgetStatus,
  Crew,
  CrewCancelRun,
  CrewRuns,
  LedgerList,
  MemoryGet,
  ProgressNotification,
  Run,
  RunProgress,
} from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { exactCost } from '../fixtures/fake-openrouter';
import { eventually, makeTempDir, pico, rpcError, startServer, useFake, useServer, type RpcClient } from '../helpers';

const AGENTS: { name: string; role: string; model: string; systemPrompt?: string; maxTokens?: number }[] = [
  { name: 'researcher', role: 'finds facts', model: 'openai/gpt-4o-mini', systemPrompt: 'Cite sources.' },
  { name: 'writer', role: 'drafts the post', model: 'anthropic/claude-3.5-haiku' },
  { name: 'editor', role: 'tightens the prose', model: 'google/gemini-2.5-flash', maxTokens: 40 },
];

const userText = (body: unknown) => {
  const msgs = (body as { messages: { role: string; content: string }[] }).messages;
  return msgs.find((m) => m.role === 'user')!.content;
};
/** Every system message's text, joined (the agent's own prompt first, then the memories). */
const systemText = (body: unknown) =>
  (body as { messages: { role: string; content: unknown }[] }).messages
    .filter((m) => m.role === 'system')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n');

for (const transport of ['socket', 'http'] as const) {
  describe(`crew/run (${transport})`, function () {
    this.timeout(30_000);
    const up = useFake();
    const s = useServer(() => ({ transport, upstreamUrl: up.fake.url }));
    let n = 0;
    const chatBodies = () => up.fake.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.body);

    /** A fresh crew (its own name, so ledger/list by crew finds exactly its rows on the shared server). */
    async function makeCrew(agents: object[] = AGENTS): Promise<Crew> {
      return s.client.request<Crew>('crew/create', { name: `launch-${transport}-${++n}`, agents });
    }
    const ledgerOf = async (crew: string) =>
      (await s.client.request<LedgerList.Result>('ledger/list', { crew, limit: 200 })).entries;
    const reserved = async (c: RpcClient = s.client) =>
      (await c.request<{ budgets: BudgetStatus[] }>('budget/status', { scope: 'global' })).budgets[0]!.reservedUsd;

    before(async () => {
      await s.client.request('budget/set', { scope: 'global', period: 'total', limitUsd: 1000 });
    });

    it('sequential: three agents in order, each sees the task, the earlier outputs and the memories; costs sum to the ledger', async () => {
      const crew = await makeCrew();
      await s.client.request('memory/add', {
        crew: crew.name,
        kind: 'fact',
        content: 'Postgres partial indexes made the nightly revenue report ten times faster',
      });
      up.fake.behave({
        replies: [
          'Found it: Postgres partial indexes did that.',
          'Draft: our report got faster overnight.',
          'Final: the nightly revenue report is faster.',
        ],
      });
      const before = chatBodies().length;
      const token = `run-seq-${transport}`;
      const run = await s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'Write the launch post about the faster nightly revenue report',
        progressToken: token,
      });
      assert.equal(run.status, 'completed', JSON.stringify(run.error));
      assert.equal(run.process, 'sequential');
      assert.equal(run.crewId, crew.id);
      assert.deepEqual(
        run.steps.map((st) => [st.agent, st.role, st.model, st.status]),
        AGENTS.map((a) => [a.name, 'member', a.model, 'ok']),
      );

      // What each agent was sent: its system prompt and the memory in the system message, the task and the work
      // of the agents before it in the user message, its own max_tokens.
      const bodies = chatBodies().slice(before);
      assert.equal(bodies.length, 3);
      assert.match(String(systemText(bodies[0])), /^Cite sources\./);
      for (const b of bodies) {
        assert.match(String(systemText(b)), /partial indexes made the nightly revenue report/);
        assert.match(userText(b), /^Task: Write the launch post/);
      }
      assert.doesNotMatch(userText(bodies[0]), /Work so far/);
      assert.ok(userText(bodies[1]).includes(run.steps[0]!.output), 'the writer sees the researcher output');
      assert.ok(
        userText(bodies[2]).includes(run.steps[0]!.output) && userText(bodies[2]).includes(run.steps[1]!.output),
      );
      assert.equal((bodies[2] as { max_tokens?: number }).max_tokens, 40);
      assert.ok(run.steps.every((st) => st.memories.length === 1 && st.memories[0]!.tokens > 0));
      // Only the researcher's output uses the memory's own words (not those it shares with the task).
      assert.deepEqual(
        run.steps.map((st) => st.memories[0]!.influenced),
        [true, false, false],
      );

      // Costs: every step is exactly its ledger row (OpenRouter's usage.cost), and the run is their exact sum.
      const rows = await ledgerOf(crew.name);
      assert.equal(rows.length, 3);
      for (const st of run.steps) {
        const row = rows.find((r) => r.id === st.ledgerId)!;
        assert.ok(row, `step ${st.index} has ledger row ${st.ledgerId}`);
        assert.equal(row.agent, `${crew.name}/${st.agent}`);
        assert.deepEqual(row.tags, [`run:${run.id}`]);
        assert.equal(st.cost, row.cost);
        const gen = up.fake.generations.get(row.generationId!)!;
        assert.equal(row.cost, exactCost(st.model, gen.promptTokens, gen.completionTokens));
        assert.deepEqual(st.usage.completionTokens, gen.completionTokens);
      }
      const ledgerSum = rows.reduce((a, r) => a + pico(r.cost), 0n);
      assert.equal(pico(run.cost), ledgerSum);
      assert.equal(
        run.usage.promptTokens,
        rows.reduce((a, r) => a + r.usage.promptTokens, 0),
      );
      assert.equal(run.output, run.steps[2]!.output);

      // The result is a memory of kind `result`.
      const mem = await s.client.request<MemoryGet.Result>('memory/get', { id: run.memoryId });
      assert.equal(mem.memory.kind, 'result');
      assert.equal(mem.memory.crew, crew.name);
      assert.ok(mem.memory.content.includes(run.output));

      // Progress: the requester's token saw every step start and finish with running totals.
      const progress = await s.client.notifications.waitForCount<ProgressNotification.Params<RunProgress>>(
        '$/progress',
        8,
        (p) => p.token === token,
      );
      const events = progress.map((p) => `${p.value.event}:${p.value.agent ?? '-'}`);
      assert.deepEqual(events, [
        'started:-',
        'step-started:researcher',
        'step-finished:researcher',
        'step-started:writer',
        'step-finished:writer',
        'step-started:editor',
        'step-finished:editor',
        'finished:-',
      ]);
      const last = progress[progress.length - 1]!.value;
      assert.equal(last.status, 'completed');
      assert.equal(pico(last.costUsd), pico(run.costUsd));
      assert.equal(last.tokens, run.usage.promptTokens + run.usage.completionTokens);
      // Every client hears the steps (not the deltas) as crew/runProgress.
      await s.client.notifications.waitFor<RunProgress>(
        'crew/runProgress',
        (p) => p.runId === run.id && p.event === 'finished',
      );

      // crew/runs lists it (by crew name) and shows it by id.
      const listed = await s.client.request<CrewRuns.Result>('crew/runs', { crew: crew.name });
      assert.deepEqual(
        listed.runs.map((r) => r.id),
        [run.id],
      );
      const shown = await s.client.request<CrewRuns.Result>('crew/runs', { runId: run.id });
      assert.deepEqual(shown.runs[0], run);
      // Runs outlive their crew: still listed by the name they recorded.
      await s.client.request('crew/delete', { crew: crew.id });
      const orphaned = await s.client.request<CrewRuns.Result>('crew/runs', { crew: crew.name.toUpperCase() });
      assert.deepEqual(
        orphaned.runs.map((r) => r.id),
        [run.id],
      );
    });

    it('manager: the lead delegates by name, members work, the lead answers; costs sum to the ledger', async () => {
      const crew = await makeCrew();
      up.fake.behave({
        replies: [
          '{"delegate": "researcher", "instruction": "find three facts about the report"}',
          'Fact: the report runs in 4 minutes instead of 40.',
          'Here is my decision: {"delegate": "Writer", "instruction": "turn the facts into a post"}',
          'The nightly report is now ten times faster.',
          '{"final": "Launch post: the nightly report is now ten times faster."}',
        ],
      });
      const before = chatBodies().length;
      const run = await s.client.request<Run>('crew/run', {
        crew: crew.id,
        task: 'Announce the faster report',
        process: 'manager',
        lead: 'editor',
      });
      assert.equal(run.status, 'completed', JSON.stringify(run.error));
      assert.deepEqual(
        run.steps.map((st) => `${st.role}:${st.agent}`),
        ['lead:editor', 'member:researcher', 'lead:editor', 'member:writer', 'lead:editor'],
      );
      assert.equal(run.output, 'Launch post: the nightly report is now ten times faster.');
      assert.equal(run.steps[1]!.instruction, 'find three facts about the report');
      const bodies = chatBodies().slice(before);
      // The lead is told whom it can delegate to; a member gets the lead's instruction and the work so far.
      assert.match(String(systemText(bodies[0])), /- researcher: finds facts\n- writer: drafts the post/);
      assert.match(userText(bodies[3]), /Your lead asks you: turn the facts into a post/);
      assert.ok(userText(bodies[3]).includes('Fact: the report runs in 4 minutes instead of 40.'));
      const rows = await ledgerOf(crew.name);
      assert.equal(rows.length, 5);
      assert.equal(
        pico(run.cost),
        rows.reduce((a, r) => a + pico(r.cost), 0n),
      );
      assert.deepEqual(
        run.steps.map((st) => st.cost),
        run.steps.map((st) => rows.find((r) => r.id === st.ledgerId)!.cost),
      );
    });

    it('manager: the step limit bounds a lead that keeps delegating', async () => {
      const crew = await makeCrew();
      const delegate = '{"delegate": "writer", "instruction": "again"}';
      up.fake.behave({ replies: [delegate, 'draft one', delegate] });
      const run = await s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'Loop forever',
        process: 'manager',
        maxSteps: 1,
      });
      assert.equal(run.status, 'completed');
      assert.deepEqual(
        run.steps.map((st) => `${st.role}:${st.agent}`),
        ['lead:researcher', 'member:writer', 'lead:researcher'],
      );
      assert.equal(run.output, 'draft one');
      assert.match(userText(chatBodies().at(-1)), /No delegations are left/);
    });

    it("an agent with promptCache marks its own system prompt cacheable, not the memories'", async () => {
      const crew = await makeCrew([{ ...AGENTS[0]!, promptCache: true }, AGENTS[1]!]);
      await s.client.request('memory/add', { crew: crew.name, content: 'Release notes go out on Tuesdays' });
      const before = chatBodies().length;
      const run = await s.client.request<Run>('crew/run', { crew: crew.name, task: 'When do release notes go out?' });
      assert.equal(run.status, 'completed');
      const [cached, plain] = chatBodies().slice(before) as { messages: { role: string; content: unknown }[] }[];
      const first = cached!.messages[0]!.content as { type: string; text: string; cache_control?: unknown }[];
      assert.ok(Array.isArray(first), 'the system prompt is sent as content parts');
      assert.deepEqual(first.at(-1)!.cache_control, { type: 'ephemeral' });
      assert.match(first.map((p) => p.text).join(''), /^Cite sources\./);
      assert.equal(typeof cached!.messages[1]!.content, 'string', 'the memories are not part of the cached prefix');
      assert.equal(typeof plain!.messages[0]!.content, 'string', 'an agent without promptCache sends plain text');
    });

    it('crew/cancelRun mid-call: the run is cancelled, upstream aborted, no reservation left', async () => {
      const crew = await makeCrew();
      up.fake.behave({ chunkDelayMs: 150, completionTokens: 60 });
      const token = `run-cancel-${transport}`;
      const abortedBefore = up.fake.aborted;
      const pending = s.client.request<Run>('crew/run', {
        crew: crew.name,
        task: 'A slow task',
        stream: true,
        progressToken: token,
      });
      const first = await s.client.notifications.waitFor<ProgressNotification.Params<RunProgress>>(
        '$/progress',
        (p) => p.token === token && p.value.event === 'delta',
      );
      assert.ok((await reserved()) > 0, 'the running call holds a reservation');
      const res = await s.client.request<CrewCancelRun.Result>('crew/cancelRun', { runId: first.value.runId });
      assert.deepEqual(res, { cancelled: true, status: 'cancelled' });
      const run = await pending;
      assert.equal(run.status, 'cancelled');
      assert.equal(run.error?.code, ErrorCodes.RequestCancelled);
      assert.equal(run.steps.length, 1, 'no step starts after the cancel');
      assert.equal(run.steps[0]!.status, 'cancelled');
      await eventually(() => up.fake.aborted > abortedBefore, 'the upstream call to be aborted');
      assert.equal(await reserved(), 0);
      const rows = await ledgerOf(crew.name);
      assert.deepEqual(
        rows.map((r) => r.status),
        ['cancelled'],
      );
      // What the cut-off call cost (an estimate until reconciled) is in the run as in the ledger.
      assert.equal(run.steps[0]!.cost, rows[0]!.cost);
      assert.equal(run.steps[0]!.ledgerId, rows[0]!.id);
      const again = await s.client.request<CrewCancelRun.Result>('crew/cancelRun', { runId: run.id });
      assert.deepEqual(again, { cancelled: false, status: 'cancelled' });
    });

    it("an agent's own budget stops the run cleanly at that agent, keeping the work done", async () => {
      const crew = await makeCrew([
        AGENTS[0]!,
        { ...AGENTS[1], budget: { limitUsd: 0.000001, period: 'daily' } },
        AGENTS[2]!,
      ]);
      const scope = `agent:${crew.name}/writer`;
      const status = await s.client.request<{ budgets: BudgetStatus[] }>('budget/status', { scope });
      assert.equal(status.budgets.length, 1, 'the agent budget is a budget of its own');
      const run = await s.client.request<Run>('crew/run', { crew: crew.name, task: 'Write it' });
      assert.equal(run.status, 'budget_exceeded');
      assert.equal(run.error?.code, ErrorCodes.BudgetExceeded);
      assert.equal((run.error?.data as { scope: string }).scope, scope);
      assert.deepEqual(
        run.steps.map((st) => `${st.agent}:${st.status}`),
        ['researcher:ok', 'writer:budget_exceeded'],
      );
      assert.equal(run.steps[1]!.ledgerId, null, 'a refused call is never sent, so it has no ledger row');
      assert.equal(run.output, run.steps[0]!.output);
      assert.equal(run.memoryId, null);
      assert.equal((await ledgerOf(crew.name)).length, 1);
      assert.equal(await reserved(), 0);
    });

    it('refuses a crew without agents, an unknown lead and an unknown crew with errors naming them', async () => {
      const empty = await s.client.request<Crew>('crew/create', { name: `empty-${transport}` });
      const e1 = await rpcError(
        s.client.request('crew/run', { crew: empty.name, task: 'x' }),
        ErrorCodes.InvalidParams,
      );
      assert.match(e1.message, /has no agents/);
      const crew = await makeCrew();
      const e2 = await rpcError(
        s.client.request('crew/run', { crew: crew.name, task: 'x', process: 'manager', lead: 'boss' }),
        ErrorCodes.InvalidParams,
      );
      assert.match(e2.message, /no agent named "boss" \(agents: researcher, writer, editor\)/);
      const e3 = await rpcError(s.client.request('crew/run', { crew: 'nope', task: 'x' }), ErrorCodes.NotFound);
      assert.match(e3.message, /nope/);
    });
  });
}

describe('crew/run across a crash', function () {
  this.timeout(40_000);
  const up = useFake();

  it('a run the server was killed in is marked failed at the next start', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    await first.client.request('crew/create', {
      name: 'crashy',
      agents: [{ name: 'solo', model: 'openai/gpt-4o-mini' }],
    });
    up.fake.behave({ latencyMs: 20_000 });
    const pending = first.client.request('crew/run', { crew: 'crashy', task: 'never finishes' }).catch(() => undefined);
    const started = await first.client.notifications.waitFor<RunProgress>(
      'crew/runProgress',
      (p) => p.event === 'step-started',
    );
    first.server.child.kill('SIGKILL');
    await first.server.exited;
    await pending;
    up.fake.behave({});
    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    try {
      const { runs } = await second.client.request<CrewRuns.Result>('crew/runs', { runId: started.runId });
      assert.equal(runs[0]!.status, 'failed');
      assert.match(runs[0]!.error!.message, /server stopped while the run was in progress/);
    } finally {
      await second.server.stop();
    }
  });
});
