/**
 * Crew runs: a crew works on a task, one agent call at a time, every call through ChatService (so through the
 * budget gate and into the ledger, attributed to crew `<name>`, agent `<crew>/<agent>` and tag `run:<id>`).
 *
 * A run is stored when it starts, after every step and when it ends, so a crash loses at most the step in flight
 * (a run found `running` at start-up is marked failed). A budget refusal, an upstream failure or a cancel ends the
 * run with that status and keeps what was done: they are results, not errors of `crew/run`. Costs are summed in
 * picodollars from each call's ledger row, so a run's cost is exactly the sum of its rows.
 */
import { randomUUID } from 'node:crypto';
import type {
  Agent,
  ChatComplete,
  Crew,
  CrewCancelRun,
  CrewRun,
  CrewRuns,
  Memory,
  MemoryAdd,
  Run,
  RunError,
  RunProgress,
  RunStep,
  RunStepMemory,
} from '../../protocol';
import { crewAgentId, ErrorCodes } from '../../protocol';
import type { Clock } from '../clock';
import type { BudgetService } from '../costs/budgets';
import { Ceiling } from '../costs/ceiling';
import type { CallContext } from '../costs/chat';
import { formatPico, parseUsd, picoToUsd, usdText } from '../costs/money';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import { errors, DomainError } from '../errors';
import type { LedgerRow, RunRepository } from '../store/repositories';
import { DEFAULT_MAX_STEPS, DEFAULT_MEMORY_TOKENS, runPlan } from './plan';
import {
  contentWords,
  influenced,
  leadMessages,
  memberMessages,
  parseLeadReply,
  type PackedMemory,
  type PriorOutput,
} from './prompts';

/** A result memory is capped below the memory store's limit (256 KiB). */
const MAX_RESULT_BYTES = 200 * 1024;

export interface RunDeps {
  crews: { get(ref: string): Promise<Crew> };
  chat: { complete(p: ChatComplete.Params, ctx?: CallContext): Promise<ChatComplete.Result> };
  /** What an agent's call has left to spend (`tellRemaining`). */
  budgets: Pick<BudgetService, 'headroom'>;
  memory: {
    context(
      p: { query: string; crew: string; maxTokens: number },
      signal?: AbortSignal,
    ): Promise<{ memories: { memory: Memory; tokens: number }[] }>;
    add(p: MemoryAdd.Params): Promise<MemoryAdd.Result>;
  };
  runs: RunRepository;
  events: EventBus;
  clock: Clock;
  log: Logger;
}

export interface RunContext {
  signal?: AbortSignal;
  /** The requester's progress (deltas included). */
  onProgress?: (p: RunProgress) => void;
}

/** Thrown inside a run to end it with a status; never leaves the service. */
class Stop extends Error {
  constructor(
    readonly status: 'failed' | 'cancelled' | 'budget_exceeded',
    readonly error: RunError,
  ) {
    super(error.message);
  }
}

export class RunService {
  /** Runs in progress: their abort controllers, and a promise that settles when each has been stored as ended. */
  private readonly active = new Map<string, { controller: AbortController; done: Promise<unknown> }>();

  constructor(private readonly deps: RunDeps) {}

  /** Runs a crash left `running` are marked failed: nothing is running them any more. */
  async recover(): Promise<number> {
    const { runs, clock } = this.deps;
    const stale = runs.orphaned
      ? await runs.orphaned()
      : runs.list({ status: 'running', limit: Number.MAX_SAFE_INTEGER }).runs;
    for (const r of stale)
      await runs.put({
        ...r,
        status: 'failed',
        error: {
          code: ErrorCodes.InternalError,
          message: 'the server stopped while the run was in progress',
          data: null,
        },
        finishedAt: new Date(clock.now()).toISOString(),
      });
    return stale.length;
  }

  async list(p: CrewRuns.Params): Promise<CrewRuns.Result> {
    const { runs } = this.deps;
    if (p.runId !== undefined) {
      const r = runs.get(p.runId);
      if (!r) throw errors.notFound('run', p.runId);
      return { runs: [r], total: 1 };
    }
    let before: number | undefined;
    if (p.before !== undefined) {
      before = Date.parse(p.before);
      if (!Number.isFinite(before))
        throw errors.invalidParams(`before: "${p.before}" is not a date`, {
          field: 'before',
          issues: [{ field: 'before', message: 'expected an ISO 8601 date' }],
        });
    }
    // A crew is matched by id (it may have been renamed since); one that no longer exists, by the name its runs kept.
    let crew: { crewId: string } | { crewName: string } | undefined;
    if (p.crew !== undefined) {
      try {
        crew = { crewId: (await this.deps.crews.get(p.crew)).id };
      } catch (e) {
        if (!(e instanceof DomainError && e.code === ErrorCodes.NotFound)) throw e;
        crew = { crewName: p.crew };
      }
    }
    return runs.list({
      ...crew,
      ...(p.status !== undefined ? { status: p.status } : {}),
      ...(before !== undefined ? { before } : {}),
      limit: p.limit ?? 20,
    });
  }

  cancel(p: CrewCancelRun.Params): CrewCancelRun.Result {
    const active = this.active.get(p.runId);
    if (active) {
      active.controller.abort();
      return { cancelled: true, status: 'cancelled' };
    }
    const r = this.deps.runs.get(p.runId);
    if (!r) throw errors.notFound('run', p.runId);
    return { cancelled: false, status: r.status };
  }

  /** Cancels every run in progress and waits until each is stored as cancelled (server shutdown). */
  async close(): Promise<void> {
    const all = [...this.active.values()];
    for (const a of all) a.controller.abort();
    await Promise.all(all.map((a) => a.done.catch(() => undefined)));
  }

  async run(p: CrewRun.Params, ctx: RunContext = {}): Promise<Run> {
    const crew = await this.deps.crews.get(p.crew);
    const { lead } = runPlan(crew, p);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal?.aborted) controller.abort();
    const exec = new Execution(this.deps, crew, p, controller.signal, ctx.onProgress);
    const done = exec.start().then(() => (lead ? exec.manager(lead) : exec.sequential()));
    this.active.set(exec.id, { controller, done });
    try {
      return await done;
    } finally {
      this.active.delete(exec.id);
      ctx.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** One run in progress: its record, its running totals and the steps it takes. */
class Execution {
  readonly id = `run_${randomUUID()}`;
  private run: Run;
  private spent = 0n;
  /** Prompt + completion tokens of the settled steps. */
  private tokens = 0;
  private readonly prior: PriorOutput[] = [];
  /** The run's own budget scope (`maxCostUsd`), which every step holds room on. */
  private readonly ceiling: Ceiling | undefined;

  constructor(
    private readonly deps: RunDeps,
    private readonly crew: Crew,
    private readonly p: CrewRun.Params,
    private readonly signal: AbortSignal,
    private readonly onProgress: ((p: RunProgress) => void) | undefined,
  ) {
    this.run = {
      id: this.id,
      crewId: crew.id,
      crew: crew.name,
      task: p.task,
      process: p.process ?? 'sequential',
      status: 'running',
      steps: [],
      output: null,
      usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
      costUsd: 0,
      cost: '0',
      error: null,
      memoryId: null,
      maxCostUsd: p.maxCostUsd ?? null,
      startedAt: this.now(),
      finishedAt: null,
    };
    if (p.maxCostUsd !== undefined) this.ceiling = new Ceiling(`run:${this.id}`, parseUsd(p.maxCostUsd));
  }

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  async start(): Promise<void> {
    await this.deps.runs.put(this.run);
    this.progress('started', null, null);
  }

  async sequential(): Promise<Run> {
    return this.finish(async () => {
      let output = '';
      for (const agent of this.crew.agents) {
        const memories = await this.memories(this.p.task);
        const messages = memberMessages({
          agent,
          crew: this.crew.name,
          task: this.p.task,
          instruction: null,
          prior: this.prior,
          memories,
        });
        output = await this.step(agent, 'member', this.p.task, messages, memories);
        this.prior.push({ agent: agent.name, role: agent.role, output });
      }
      return output;
    });
  }

  async manager(lead: Agent): Promise<Run> {
    const members = this.crew.agents.filter((a) => a !== lead);
    const maxSteps = this.p.maxSteps ?? DEFAULT_MAX_STEPS;
    return this.finish(async () => {
      let problem: string | null = null;
      for (let delegations = 0; ;) {
        const stepsLeft = maxSteps - delegations;
        const memories = await this.memories(this.p.task);
        const messages = leadMessages({
          lead,
          members,
          crew: this.crew.name,
          task: this.p.task,
          prior: this.prior,
          memories,
          stepsLeft,
          problem,
        });
        const reply = await this.step(lead, 'lead', this.p.task, messages, memories);
        const decision = parseLeadReply(reply, members);
        if (decision.kind === 'final') return decision.answer;
        // Out of delegations and still not answering: the latest work stands as the result.
        if (stepsLeft <= 0) return this.prior[this.prior.length - 1]?.output ?? reply.trim();
        if (decision.kind === 'invalid') {
          problem = decision.problem;
          delegations++;
          continue;
        }
        problem = null;
        delegations++;
        const { member, instruction } = decision;
        const memberMemories = await this.memories(`${this.p.task}\n${instruction}`);
        const out = await this.step(
          member,
          'member',
          instruction,
          memberMessages({
            agent: member,
            crew: this.crew.name,
            task: this.p.task,
            instruction,
            prior: this.prior,
            memories: memberMemories,
          }),
          memberMemories,
        );
        this.prior.push({ agent: member.name, role: member.role, output: out });
      }
    });
  }

  /** Runs the body and stores the run as ended, whatever happened; saves the output as a memory on success. */
  private async finish(body: () => Promise<string>): Promise<Run> {
    try {
      const output = await body();
      this.run = { ...this.run, status: 'completed', output };
      if (this.p.saveResult !== false) this.run.memoryId = await this.saveResult(output);
    } catch (e) {
      const stop = e instanceof Stop ? e : new Stop('failed', toRunError(e));
      const last = this.prior[this.prior.length - 1];
      this.run = { ...this.run, status: stop.status, error: stop.error, output: last?.output ?? null };
    }
    this.run = { ...this.run, finishedAt: this.now() };
    await this.deps.runs.put(this.run);
    this.progress('finished', null, null);
    this.deps.events.publish('run.finished', this.run);
    return this.run;
  }

  private async saveResult(output: string): Promise<string | null> {
    if (!output.trim()) return null;
    let content = `Task: ${this.p.task}\n\nResult (run ${this.id}):\n${output}`;
    if (Buffer.byteLength(content) > MAX_RESULT_BYTES)
      content = Buffer.from(content)
        .subarray(0, MAX_RESULT_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, '');
    try {
      const r = await this.deps.memory.add({ crew: this.crew.name, content, kind: 'result', tags: ['run'] });
      return r.memory.id;
    } catch (e) {
      this.deps.log.warn(`run ${this.id}: the result was not saved as a memory: ${(e as Error).message}`);
      return null;
    }
  }

  /** The crew's best memories for `query`, packed into the run's memory budget. */
  private async memories(query: string): Promise<(PackedMemory & { id: string; tokens: number })[]> {
    this.throwIfCancelled();
    const budget = this.p.memoryTokens ?? DEFAULT_MEMORY_TOKENS;
    if (budget <= 0) return [];
    try {
      const r = await this.deps.memory.context({ query, crew: this.crew.name, maxTokens: budget }, this.signal);
      return r.memories.map((m) => ({ id: m.memory.id, content: m.memory.content, tokens: m.tokens }));
    } catch (e) {
      this.throwIfCancelled();
      // A run without memories beats no run: the embedder may be down while the models are up.
      this.deps.log.warn(`run ${this.id}: memories left out of the context: ${(e as Error).message}`);
      return [];
    }
  }

  private throwIfCancelled(): void {
    if (this.signal.aborted)
      throw new Stop('cancelled', { code: ErrorCodes.RequestCancelled, message: 'the run was cancelled', data: null });
  }

  /** One call: stored as a step (whatever its outcome); returns the output, or throws Stop. */
  private async step(
    agent: Agent,
    role: RunStep['role'],
    instruction: string,
    messages: ChatComplete.Params['messages'],
    memories: (PackedMemory & { id: string; tokens: number })[],
  ): Promise<string> {
    this.throwIfCancelled();
    const index = this.run.steps.length;
    let step: RunStep = {
      index,
      agent: agent.name,
      role,
      model: agent.model,
      instruction,
      output: '',
      status: 'ok',
      error: null,
      usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
      costUsd: 0,
      cost: '0',
      costEstimated: false,
      ledgerId: null,
      memories: memories.map((m) => ({ id: m.id, tokens: m.tokens, influenced: false })),
      startedAt: this.now(),
      finishedAt: null,
    };
    this.progress('step-started', index, agent.name);
    let row: LedgerRow | undefined;
    let streamed = 0;
    const agentId = crewAgentId(this.crew.name, agent.name);
    if (this.p.tellRemaining)
      messages = withRemaining(
        messages,
        await this.deps.budgets.headroom({ crew: this.crew.name, agent: agentId, model: agent.model }, this.ceiling),
        this.ceiling,
      );
    const params: ChatComplete.Params = {
      model: agent.model,
      messages,
      crew: this.crew.name,
      agent: agentId,
      tags: [`run:${this.id}`],
      stream: this.p.stream ?? false,
    };
    if (agent.maxTokens !== null) params.maxTokens = agent.maxTokens;
    if (agent.temperature !== null) params.temperature = agent.temperature;
    if (agent.promptCache) params.cacheSystemPrompt = true;
    let stop: Stop | undefined;
    try {
      const r = await this.deps.chat.complete(params, {
        signal: this.signal,
        ceiling: this.ceiling,
        onRecorded: (x) => (row = x),
        onDelta: (text, completionTokens) => {
          streamed = completionTokens;
          this.progress('delta', index, agent.name, text, streamed);
        },
      });
      const asked = contentWords(`${messages[messages.length - 1]!.content}`);
      const said = contentWords(r.content);
      step = {
        ...step,
        model: r.model,
        output: r.content,
        usage: r.usage,
        memories: memories.map((m) => ({
          id: m.id,
          tokens: m.tokens,
          influenced: influenced(m.content, asked, said),
        })) satisfies RunStepMemory[],
      };
    } catch (e) {
      const error = toRunError(e);
      const status =
        error.code === ErrorCodes.BudgetExceeded
          ? 'budget_exceeded'
          : error.code === ErrorCodes.RequestCancelled || this.signal.aborted
            ? 'cancelled'
            : 'failed';
      stop = new Stop(status, error);
      step = { ...step, status: status === 'failed' ? 'error' : status, error };
    }
    // The ledger row carries the cost, also of a failed or cancelled call that produced something.
    if (row) {
      step = {
        ...step,
        cost: row.cost,
        costUsd: picoToUsd(BigInt(row.costPico)),
        costEstimated: row.estimated,
        ledgerId: row.id,
        model: row.model,
        usage: stop
          ? {
              promptTokens: row.promptTokens,
              completionTokens: row.completionTokens,
              cachedTokens: row.cachedTokens,
              reasoningTokens: row.reasoningTokens,
            }
          : step.usage,
      };
      this.spent += parseUsd(row.cost);
    }
    step.finishedAt = this.now();
    this.tokens += step.usage.promptTokens + step.usage.completionTokens;
    const u = this.run.usage;
    this.run = {
      ...this.run,
      steps: [...this.run.steps, step],
      usage: {
        promptTokens: u.promptTokens + step.usage.promptTokens,
        completionTokens: u.completionTokens + step.usage.completionTokens,
        cachedTokens: u.cachedTokens + step.usage.cachedTokens,
        reasoningTokens: u.reasoningTokens + step.usage.reasoningTokens,
      },
      cost: formatPico(this.spent),
      costUsd: picoToUsd(this.spent),
    };
    await this.deps.runs.put(this.run);
    this.progress('step-finished', index, agent.name, null, 0, step.status);
    if (stop) throw stop;
    return step.output;
  }

  private progress(
    event: RunProgress['event'],
    step: number | null,
    agent: string | null,
    text: string | null = null,
    streaming = 0,
    stepStatus: RunProgress['stepStatus'] = null,
  ): void {
    const p: RunProgress = {
      runId: this.id,
      crew: this.crew.name,
      event,
      status: this.run.status,
      step,
      stepStatus,
      agent,
      text,
      tokens: this.tokens + streaming,
      costUsd: picoToUsd(this.spent),
    };
    this.onProgress?.(p);
    if (event !== 'delta') this.deps.events.publish('run.progress', p);
  }
}

/**
 * The messages with a line on what the agent has left to spend, at the end of its user message: the first system
 * message stays the same from step to step, so a provider can still cache it.
 */
function withRemaining(
  messages: ChatComplete.Params['messages'],
  room: { scope: string; remaining: bigint } | null,
  ceiling: Ceiling | undefined,
): ChatComplete.Params['messages'] {
  if (!room) return messages;
  const whose =
    ceiling && room.scope === ceiling.scope
      ? `of this run's ${usdText(ceiling.limit)} ceiling`
      : `under the budget ${room.scope}`;
  const note = `\n\nSpending left ${whose}: ${usdText(room.remaining)}. Keep your answer within what that buys.`;
  const last = messages[messages.length - 1]!;
  return [...messages.slice(0, -1), { ...last, content: `${last.content}${note}` }];
}

function toRunError(e: unknown): RunError {
  if (e instanceof DomainError) return { code: e.code, message: e.message, data: e.data ?? null };
  return { code: ErrorCodes.InternalError, message: (e as Error)?.message ?? String(e), data: null };
}
