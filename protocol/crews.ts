/**
 * Crews (issue 4): named groups of agents, each agent with its model, prompt and sampling settings. One namespace
 * per method, as in methods.ts. A crew is addressed by its id or by its unique (case-insensitive) name everywhere
 * a `crew` param appears. Times are ISO 8601.
 *
 * `CREW_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';
import type { BudgetPeriod } from './types';

/** A per-agent spending limit, stored on the agent (enforced as a budget `agent:<crew>/<name>` later). */
export interface AgentBudget {
  limitUsd: number;
  period: BudgetPeriod;
}

export interface Agent {
  /** Unique within its crew (case-insensitive). */
  name: string;
  role: string;
  /** A model id known to the catalog. */
  model: string;
  systemPrompt: string;
  /** 0..2; null: the model's default. */
  temperature: number | null;
  /** null: the model's default. */
  maxTokens: number | null;
  budget: AgentBudget | null;
  /**
   * Mark the system prompt cacheable (`cache_control` on OpenRouter, for providers that need it; the others cache
   * long prefixes on their own). Set by the prompt-caching recommendation.
   */
  promptCache: boolean;
}

/** An agent as a client sends it: only name and model are required. */
export interface AgentInput {
  name: string;
  model: string;
  /** Default "". */
  role?: string;
  /** Default "". */
  systemPrompt?: string;
  temperature?: number | null;
  maxTokens?: number | null;
  budget?: AgentBudget | null;
  /** Default false. */
  promptCache?: boolean;
}

export interface Crew {
  /** `crew_<uuid>`; never changes. */
  id: string;
  /** Unique among crews (case-insensitive); may change. */
  name: string;
  description: string;
  agents: Agent[];
  createdAt: string;
  updatedAt: string;
}

// ── crew/create ────────────────────────────────────────────────────────

export namespace CrewCreate {
  export const method = 'crew/create';
  export interface Params {
    name: string;
    /** Default "". */
    description?: string;
    /** Default none. */
    agents?: AgentInput[];
  }
  export type Result = Crew;
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/update ────────────────────────────────────────────────────────

export namespace CrewUpdate {
  export const method = 'crew/update';
  export interface Params {
    /** Id or name. */
    crew: string;
    /** Renames the crew. */
    name?: string;
    description?: string;
    /** Replaces every agent; not together with addAgent/removeAgent. */
    agents?: AgentInput[];
    /** Adds one agent (after `removeAgent`, so both together replace one agent). */
    addAgent?: AgentInput;
    /** Removes the agent of this name. */
    removeAgent?: string;
  }
  export type Result = Crew;
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/delete ────────────────────────────────────────────────────────

export namespace CrewDelete {
  export const method = 'crew/delete';
  export interface Params {
    /** Id or name. */
    crew: string;
  }
  export interface Result {
    deleted: true;
    id: string;
    name: string;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/list ──────────────────────────────────────────────────────────

export namespace CrewList {
  export const method = 'crew/list';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    /** By name. */
    crews: Crew[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/get ───────────────────────────────────────────────────────────

export namespace CrewGet {
  export const method = 'crew/get';
  export interface Params {
    /** Id or name. */
    crew: string;
  }
  export type Result = Crew;
  export const type = new RequestType<Params, Result, void>(method);
}

// ── crew/token ─────────────────────────────────────────────────────────

/**
 * A crew's gateway token: an API key for the OpenAI-compatible gateway (`/v1/*`) that attributes every call to
 * this crew (never valid for `/rpc` or `/events`). The server keeps only its sha256, so the token itself is in the
 * result of `create` and `rotate` and nowhere else, ever. One token per crew; deleting the crew revokes it.
 */
export namespace CrewToken {
  export const method = 'crew/token';
  /**
   * `show` (default): whether one exists and since when. `create`: issue one; Conflict if the crew has one already.
   * `rotate`: issue a new one, replacing any (the old value is refused at once). `revoke`: delete it (no error when
   * there is none: `revoked` says whether one was deleted).
   */
  export type Action = 'create' | 'rotate' | 'revoke' | 'show';
  export interface Params {
    /** Id or name. */
    crew: string;
    /** Default `show`. */
    action?: Action;
  }
  export interface Result {
    crewId: string;
    /** The crew's name. */
    crew: string;
    /** The token (`crt_…`), only in the answer to `create` and `rotate`; null otherwise. */
    token: string | null;
    /** Whether the crew has a token after this call. */
    exists: boolean;
    /** When the current token was issued; null when there is none. */
    createdAt: string | null;
    /** `revoke` only: whether a token was deleted. */
    revoked: boolean;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). */
export const CREW_METHODS = {
  [CrewCreate.method]: { mutating: true },
  [CrewUpdate.method]: { mutating: true },
  [CrewDelete.method]: { mutating: true },
  [CrewList.method]: { mutating: false },
  [CrewGet.method]: { mutating: false },
  [CrewToken.method]: { mutating: true },
} as const satisfies Record<string, { mutating: boolean }>;
