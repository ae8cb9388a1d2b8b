/**
 * `crew/estimate`: what a run would cost, before anything is sent. Nothing here calls upstream or writes anything.
 *
 * - Typical and high: from the crew's own history. Per agent and model, the median and the 90th percentile of what
 *   its latest calls cost (the ledger's `usage.cost`), times how many calls it makes in a run (sequential: one; a
 *   manager run: the median and 90th percentile of its earlier manager runs).
 * - Worst case: what the gate would reserve, step after step, if every step used every completion token allowed
 *   and every prompt byte were a token: each step's prompt holds the agent's own prompt, the task, the memories
 *   (a memory token is at most 4 bytes) and every earlier output at its full length.
 */
import type { Agent, CrewEstimate, AgentEstimate, Crew, ModelInfo, Run } from '../../protocol';
import { crewAgentId } from '../../protocol';
import { defaultMaxTokens, estimatePromptTokens, worstCaseCost } from '../costs/estimate';
import { picoToUsd } from '../costs/money';
import type { LedgerRepository, RunRepository } from '../store/repositories';
import { DEFAULT_MAX_STEPS, DEFAULT_MEMORY_TOKENS, runPlan, type RunPlan } from './plan';
import { leadMessages, memberMessages } from './prompts';

/** The latest calls an agent's per-call figures come from. */
const HISTORY_CALLS = 200;
/** The latest runs a manager run's step counts come from. */
const HISTORY_RUNS = 20;
/** Bytes a memory token can stand for (the memory store counts a token per 4 bytes). */
const BYTES_PER_MEMORY_TOKEN = 4;

export interface EstimateDeps {
  crews: { get(ref: string): Promise<Crew> };
  catalog: { require(id: string): Promise<ModelInfo> };
  ledger: Pick<LedgerRepository, 'list'>;
  runs: Pick<RunRepository, 'list'>;
}

interface Steps {
  typical: number;
  high: number;
  max: number;
}

export async function estimateRun(deps: EstimateDeps, p: CrewEstimate.Params): Promise<CrewEstimate.Result> {
  const crew = await deps.crews.get(p.crew);
  const plan = runPlan(crew, p);
  const models = new Map<string, ModelInfo>();
  for (const a of crew.agents) if (!models.has(a.model)) models.set(a.model, await deps.catalog.require(a.model));
  const maxSteps = p.maxSteps ?? DEFAULT_MAX_STEPS;
  const memoryBytes = (p.memoryTokens ?? DEFAULT_MEMORY_TOKENS) * BYTES_PER_MEMORY_TOKEN;
  const notes: string[] = [];

  const { counts, runs } = plan.lead ? await managerSteps(deps, crew, plan, maxSteps, notes) : sequentialSteps(plan);
  const worst = worstCases(crew.name, p.task, plan, maxSteps, memoryBytes, models);

  const agents: AgentEstimate[] = [];
  let typical: bigint | null = 0n;
  let high: bigint | null = 0n;
  for (const a of plan.lead ? [plan.lead, ...plan.members] : plan.members) {
    const steps = counts.get(a)!;
    const history = await perCall(deps, crewAgentId(crew.name, a.name), a.model);
    // An agent that typically does nothing costs nothing typically, history or not.
    const t = steps.typical === 0 ? 0n : history ? history.typical * BigInt(steps.typical) : null;
    const h = steps.high === 0 ? 0n : history ? history.high * BigInt(steps.high) : null;
    if (!history && steps.high > 0)
      notes.push(`${a.name} has no calls on ${a.model} yet: only its worst case is known`);
    typical = typical === null || t === null ? null : typical + t;
    high = high === null || h === null ? null : high + h;
    agents.push({
      agent: a.name,
      model: a.model,
      role: a === plan.lead ? 'lead' : 'member',
      steps,
      historyCalls: history?.calls ?? 0,
      perCallTypicalUsd: history ? picoToUsd(history.typical) : null,
      perCallHighUsd: history ? picoToUsd(history.high) : null,
      typicalUsd: t === null ? null : picoToUsd(t),
      highUsd: h === null ? null : picoToUsd(h),
      worstCaseUsd: picoToUsd(worst.perAgent.get(a) ?? 0n),
    });
  }
  if (plan.lead)
    notes.push(
      `the worst case has the lead delegate all ${maxSteps} steps to the costliest member; ` +
        "an agent's own worst case assumes it gets them all",
    );
  return {
    crew: crew.name,
    process: plan.process,
    agents,
    typicalUsd: typical === null ? null : picoToUsd(typical),
    highUsd: high === null ? null : picoToUsd(high),
    worstCaseUsd: picoToUsd(worst.run),
    maxCostUsd: p.maxCostUsd ?? null,
    historyRuns: runs,
    notes,
  };
}

function sequentialSteps(plan: RunPlan): { counts: Map<Agent, Steps>; runs: number } {
  return { counts: new Map(plan.members.map((a) => [a, { typical: 1, high: 1, max: 1 }])), runs: 0 };
}

/** How many calls each agent of a manager run makes: from the crew's earlier manager runs, else assumed. */
async function managerSteps(
  deps: EstimateDeps,
  crew: Crew,
  plan: RunPlan,
  maxSteps: number,
  notes: string[],
): Promise<{ counts: Map<Agent, Steps>; runs: number }> {
  const lead = plan.lead!;
  const past = deps.runs
    .list({ crewId: crew.id, limit: HISTORY_RUNS * 5 })
    .runs.filter((r) => r.process === 'manager' && r.status === 'completed')
    .slice(0, HISTORY_RUNS);
  const counts = new Map<Agent, Steps>();
  const maxOf = (a: Agent) => (a === lead ? maxSteps + 1 : maxSteps);
  if (!past.length) {
    notes.push(
      `no earlier completed manager runs of ${crew.name}: assumed each member works once and the lead decides once more`,
    );
    for (const a of [lead, ...plan.members]) {
      const n = a === lead ? plan.members.length + 1 : 1;
      counts.set(a, { typical: n, high: n, max: maxOf(a) });
    }
    return { counts, runs: 0 };
  }
  for (const a of [lead, ...plan.members]) {
    const per = past.map((r) => stepsOf(r, a, a === lead)).sort((x, y) => x - y);
    counts.set(a, { typical: nearestRank(per, 0.5), high: nearestRank(per, 0.9), max: maxOf(a) });
  }
  return { counts, runs: past.length };
}

const stepsOf = (r: Run, a: Agent, lead: boolean) =>
  r.steps.filter((s) => s.agent.toLowerCase() === a.name.toLowerCase() && (s.role === 'lead') === lead).length;

/** The median and the 90th percentile of an agent's latest successful calls on a model; undefined with none. */
async function perCall(
  deps: EstimateDeps,
  agent: string,
  model: string,
): Promise<{ typical: bigint; high: bigint; calls: number } | undefined> {
  const { rows } = await deps.ledger.list({ agent, model, status: 'ok', limit: HISTORY_CALLS });
  if (!rows.length) return undefined;
  const costs = rows.map((r) => BigInt(r.costPico)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return { typical: nearestRank(costs, 0.5), high: nearestRank(costs, 0.9), calls: rows.length };
}

function nearestRank<T>(sorted: T[], q: number): T {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The worst case of the run and of each agent's share, step by step in the order the run makes them (a manager
 * run: lead, costliest member, lead, … and the lead's final answer).
 */
function worstCases(
  crewName: string,
  task: string,
  plan: RunPlan,
  maxSteps: number,
  memoryBytes: number,
  models: Map<string, ModelInfo>,
): { run: bigint; perAgent: Map<Agent, bigint> } {
  const base = new Map<Agent, number>();
  const ask = (a: Agent) => {
    const messages =
      a === plan.lead
        ? leadMessages({
            lead: a,
            members: plan.members,
            crew: crewName,
            task,
            prior: [],
            memories: [],
            stepsLeft: maxSteps,
            problem: null,
          })
        : memberMessages({
            agent: a,
            crew: crewName,
            task,
            instruction: plan.lead ? '' : null,
            prior: [],
            memories: [],
          });
    return estimatePromptTokens(messages) + memoryBytes;
  };
  for (const a of [...(plan.lead ? [plan.lead] : []), ...plan.members]) base.set(a, ask(a));
  const step = (a: Agent, priorTokens: number) => {
    const model = models.get(a.model)!;
    const prompt = base.get(a)! + priorTokens;
    const maxTokens = a.maxTokens ?? defaultMaxTokens(model, prompt);
    return { cost: worstCaseCost(model, prompt, maxTokens), output: maxTokens };
  };

  const perAgent = new Map<Agent, bigint>();
  if (!plan.lead) {
    let prior = 0;
    let run = 0n;
    for (const a of plan.members) {
      const s = step(a, prior);
      perAgent.set(a, s.cost);
      run += s.cost;
      prior += s.output;
    }
    return { run, perAgent };
  }
  // Each member's own worst case: it does every delegation. The run's: the costliest of those members does.
  const lead = plan.lead;
  const alone = (member: Agent) => {
    let prior = 0;
    let leadCost = 0n;
    let memberCost = 0n;
    for (let i = 0; i < maxSteps; i++) {
      const decision = step(lead, prior);
      leadCost += decision.cost;
      // The member's instruction is the lead's output, at most its whole completion.
      const s = step(member, prior + decision.output);
      memberCost += s.cost;
      prior += s.output;
    }
    leadCost += step(lead, prior).cost;
    return { leadCost, memberCost };
  };
  let run = 0n;
  let leadWorst = 0n;
  for (const m of plan.members) {
    const { leadCost, memberCost } = alone(m);
    perAgent.set(m, memberCost);
    if (leadCost + memberCost > run) run = leadCost + memberCost;
    if (leadCost > leadWorst) leadWorst = leadCost;
  }
  perAgent.set(lead, leadWorst);
  return { run, perAgent };
}
