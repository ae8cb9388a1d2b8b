/**
 * Crew runs (issue 4): a crew works on a task, agent by agent, every call through the budget gate and the ledger.
 * One namespace per method, as in methods.ts. Times are ISO 8601; USD amounts are numbers at the edge, with the
 * exact decimal beside them (`cost`), summed server-side in picodollars.
 *
 * Attribution of a run's calls in the ledger: crew = the crew's name, agent = `<crew name>/<agent name>` (so an
 * agent's budget, scope `agent:<crew>/<agent>`, covers exactly its calls), tag `run:<runId>`.
 *
 * `RUN_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import type { TokenUsage } from './types';

/**
 * How a crew agent's calls are attributed in the ledger (its `agent`), and so the one id of that agent everywhere
 * (budgets, reports): `<crew name>/<agent name>`. An agent already given as `<crew>/<agent>` (in any letter case of
 * the crew name, which is case-insensitive) is not prefixed again: `ops` + `researcher` and `ops` + `ops/researcher`
 * are the same agent, `ops/researcher`.
 */
export const crewAgentId = (crew: string, agent: string): string =>
  agent.length > crew.length &&
  agent[crew.length] === '/' &&
  agent.slice(0, crew.length).toLowerCase() === crew.toLowerCase()
    ? `${crew}${agent.slice(crew.length)}`
    : `${crew}/${agent}`;

/**
 * The ledger's `agent` of a call attributed to `crew` and `agent` as a caller spelled them: with a crew, the crew
 * agent id (`crewAgentId`); without one, the agent as given (null when none).
 */
export const attributedAgent = (crew: string | null | undefined, agent: string | null | undefined): string | null =>
  agent ? (crew ? crewAgentId(crew, agent) : agent) : null;

/** The scope of a crew agent's own budget (Agent.budget), which covers exactly its calls. */
export const crewAgentScope = (crew: string, agent: string): string => `agent:${crewAgentId(crew, agent)}`;

/**
 * `sequential`: each agent in order sees the task, the previous agents' outputs and the crew's best memories;
 * the last agent's output is the result. `manager`: a lead agent delegates to members by name, one step at a time,
 * until it gives the final answer or the step limit is reached.
 */
export type RunProcess = 'sequential' | 'manager';

/**
 * `budget_exceeded`: a budget or the run's ceiling (`maxCostUsd`) refused a call; the run stopped there, before the
 * call, and what was done is kept (the error's data names the budget, or `run:<id>` for the ceiling). `failed`: an upstream
 * or other error stopped it. `cancelled`: a client cancelled it (in-flight calls aborted, reservations released).
 */
export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'budget_exceeded';

export interface RunError {
  /** The JSON-RPC error code (e.g. 1001 BudgetExceeded, 1104 UpstreamRateLimited, -32800 cancelled). */
  code: number;
  message: string;
  /** The error's data (e.g. BudgetExceededData: scope, limit, spent). */
  data: unknown;
}

/** A memory packed into a step's context. */
export interface RunStepMemory {
  id: string;
  /** Tokens it took in the prompt. */
  tokens: number;
  /**
   * Whether the step's output shows it was used: enough of the memory's distinctive words reappear in the output.
   * Memories that keep riding along without influence are a savings recommendation.
   */
  influenced: boolean;
}

export interface RunStep {
  /** 0-based, in the order the calls were made. */
  index: number;
  /** The agent's name within its crew. */
  agent: string;
  /** `lead`: the manager's deciding call; `member`: an agent doing work. */
  role: 'lead' | 'member';
  /** The model that answered (after a budget downgrade, the one it went to). */
  model: string;
  /** What the agent was asked: the task (sequential) or the lead's instruction (manager). */
  instruction: string;
  output: string;
  status: 'ok' | 'error' | 'cancelled' | 'budget_exceeded';
  error: RunError | null;
  usage: TokenUsage;
  costUsd: number;
  /** Exact decimal USD (OpenRouter's `usage.cost`, or an estimate when `costEstimated`). */
  cost: string;
  costEstimated: boolean;
  /** The ledger row of this step's call; null when no call was made (refused before sending). */
  ledgerId: number | null;
  memories: RunStepMemory[];
  startedAt: string;
  finishedAt: string | null;
}

export interface Run {
  /** `run_<uuid>`. */
  id: string;
  crewId: string;
  /** The crew's name when the run started. */
  crew: string;
  task: string;
  process: RunProcess;
  status: RunStatus;
  steps: RunStep[];
  /** The result: the last member's output (sequential) or the lead's final answer (manager); null if none. */
  output: string | null;
  usage: TokenUsage;
  costUsd: number;
  /** Exact decimal sum of the steps' costs. */
  cost: string;
  error: RunError | null;
  /** The memory (kind `result`) the output was saved as; null when not saved. */
  memoryId: string | null;
  /** The run's ceiling (`crew/run` `maxCostUsd`); null or absent (runs before protocol 1.9) when it had none. */
  maxCostUsd?: number | null;
  startedAt: string;
  finishedAt: string | null;
}

// ── crew/run ───────────────────────────────────────────────────────────

/** What shapes a run: `crew/run` takes it (with options of a run's own), and `crew/estimate` takes it alone. */
export interface RunShape {
  /** Id or name. */
  crew: string;
  task: string;
  /** Default `sequential`. */
  process?: RunProcess;
  /** Manager process: the lead agent's name; default the crew's first agent. */
  lead?: string;
  /** Manager process: most delegations before the lead must answer (default 6, at most 20). */
  maxSteps?: number;
  /** Tokens of memories packed into each agent's context (default 800; 0: none). */
  memoryTokens?: number;
  /**
   * The run's ceiling in USD: the run is a budget scope of its own (`run:<id>`). Every step reserves its worst
   * case on it as well as on every budget in scope, lowered to fit as a `fit` budget's call is (never below 16
   * completion tokens); a step that cannot fit ends the run as `budget_exceeded` before it is sent, keeping what
   * was done. A manager run's lead and its delegations draw on the one ceiling. To `crew/estimate`: the ceiling the
   * run would have, which caps its worst case.
   */
  maxCostUsd?: number;
}

export namespace CrewRun {
  export const method = 'crew/run';
  export interface Params extends RunShape {
    /** Stream each call (progress then carries text deltas). Default false. */
    stream?: boolean;
    /** Save the output as a memory of kind `result` (default true). */
    saveResult?: boolean;
    /**
     * Tell each agent, in its prompt, what it has left to spend: the least of the ceiling's and every enforcing
     * budget's room in scope of its call. Default false (it costs prompt tokens and changes the prompt each step).
     */
    tellRemaining?: boolean;
    progressToken?: string | number;
  }
  /** The run as stored when it ended (whatever its status: a refusal or a cancel is a result, not an error). */
  export type Result = Run;
  /** `$/progress` values (when a progressToken was given); the same figures go to every client as `crew/runProgress`. */
  export type Progress = RunProgress;
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/estimate ──────────────────────────────────────────────────────

/**
 * What one agent of a run is expected to cost. Per call, `typical` and `high` are the median and the 90th
 * percentile of what this agent's calls on this model cost before (the ledger's `usage.cost`); with no such calls
 * they are null: there is nothing to go on, and only the worst case is known.
 */
export interface AgentEstimate {
  agent: string;
  model: string;
  role: 'lead' | 'member';
  /** Calls of this agent in the run: typically, at most the high figure, and at most possible. */
  steps: { typical: number; high: number; max: number };
  /** How many earlier calls (agent and model) the per-call figures come from (the latest 200 at most). */
  historyCalls: number;
  perCallTypicalUsd: number | null;
  perCallHighUsd: number | null;
  /** typical steps × typical per call; null without history. */
  typicalUsd: number | null;
  /** high steps × high per call; null without history. */
  highUsd: number | null;
  /** The most its `max` steps can cost: every prompt token the bytes allow, every completion token allowed. */
  worstCaseUsd: number;
}

export namespace CrewEstimate {
  export const method = 'crew/estimate';
  /** What `crew/run` would be given; nothing is sent upstream and nothing is recorded. */
  export type Params = RunShape;
  export interface Result {
    crew: string;
    process: RunProcess;
    agents: AgentEstimate[];
    /** Sums over the agents; null when an agent has no history (then only the worst case is known). */
    typicalUsd: number | null;
    highUsd: number | null;
    worstCaseUsd: number;
    /** The ceiling given, which no run can pass: the most the run can spend is min(worstCaseUsd, this). */
    maxCostUsd: number | null;
    /** Earlier runs of this crew with this process that the step counts come from. */
    historyRuns: number;
    /** What the figures rest on, in words (assumptions, missing history). */
    notes: string[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/**
 * The figure a client holds against the user's approval limit before a run (`crew run --approve-over`, VS Code's
 * `approveRunsOverUsd`): the estimate's high end, or its worst case when the crew has no history to go on; a
 * ceiling below either caps it, since no run spends past its ceiling.
 */
export function approvalFigure(e: CrewEstimate.Result): {
  usd: number;
  what: 'high estimate' | 'worst case' | 'ceiling';
} {
  const base =
    e.highUsd !== null
      ? { usd: e.highUsd, what: 'high estimate' as const }
      : { usd: e.worstCaseUsd, what: 'worst case' as const };
  return e.maxCostUsd !== null && e.maxCostUsd < base.usd ? { usd: e.maxCostUsd, what: 'ceiling' } : base;
}

// ── crew/runs ──────────────────────────────────────────────────────────

export namespace CrewRuns {
  export const method = 'crew/runs';
  export interface Params {
    /** One run, by id (then the other filters are ignored). */
    runId?: string;
    /** Id or name; a deleted crew's runs are found by the name they recorded. */
    crew?: string;
    status?: RunStatus;
    /** Default 20, at most 200. */
    limit?: number;
    /** Only runs that started before this time (paging back). */
    before?: string;
  }
  export interface Result {
    /** Newest first. */
    runs: Run[];
    /** Runs matching the filters. */
    total: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/cancelRun ─────────────────────────────────────────────────────

export namespace CrewCancelRun {
  export const method = 'crew/cancelRun';
  export interface Params {
    runId: string;
  }
  export interface Result {
    /** false when the run had already ended (its status says how). */
    cancelled: boolean;
    status: RunStatus;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── notifications ──────────────────────────────────────────────────────

export interface RunProgress {
  runId: string;
  crew: string;
  event: 'started' | 'step-started' | 'delta' | 'step-finished' | 'finished';
  status: RunStatus;
  /** The step concerned (null for `started`/`finished`). */
  step: number | null;
  /** `step-finished` only: how the step ended (a step a budget refused is not a finished one); null otherwise. */
  stepStatus: RunStep['status'] | null;
  agent: string | null;
  /** `delta` only: the text just generated. */
  text: string | null;
  /** Tokens (prompt + completion) of the run so far, the current step's streamed tokens included. */
  tokens: number;
  /** Settled cost of the run so far. */
  costUsd: number;
}

/** Sent to every client while runs progress (not `delta` events: those go to the requester's `$/progress` only). */
export namespace RunProgressNotification {
  export const method = 'crew/runProgress';
  export type Params = RunProgress;
  export const type = new NotificationType<Params>(method);
}

/** Spread into `METHODS` (methods.ts). */
export const RUN_METHODS = {
  [CrewRun.method]: { mutating: true },
  [CrewEstimate.method]: { mutating: false },
  [CrewRuns.method]: { mutating: false },
  [CrewCancelRun.method]: { mutating: true },
} as const satisfies Record<string, { mutating: boolean }>;
