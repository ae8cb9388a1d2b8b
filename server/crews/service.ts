/**
 * Crews and their agents (issue 4). A crew is addressed by its id or by its name (unique, case-insensitive);
 * agent names are unique within a crew. Every agent's model must be known to the catalog: an unknown id fails
 * with UnknownModel naming close matches, and the message names the field (`agents.1.model`).
 *
 * Mutations run one at a time, so two concurrent creates cannot both take the same name.
 */
import { randomUUID } from 'node:crypto';
import type { ModelInfo } from '../../protocol';
import type { Agent, AgentInput, Crew, CrewCreate, CrewDelete, CrewUpdate } from '../../protocol/crews';
import type { Clock } from '../clock';
import { errors, DomainError } from '../errors';
import type { CrewRecord, CrewRepository } from '../store/repositories';

export const MAX_AGENTS = 50;
const ID_PATTERN = /^crew_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ModelRequirer {
  /** The model, or UnknownModel (with suggestions) if the catalog does not have it. */
  require(id: string): Promise<ModelInfo>;
}

export class CrewService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: CrewRepository,
    private readonly catalog: ModelRequirer,
    private readonly clock: Clock,
    /** Keeps agents' own budgets enforced (crews/agent-budgets.ts); none in tests that do not need it. */
    private readonly budgets?: { sync(before: Crew | null, after: Crew | null): Promise<void> },
  ) {}

  async list(): Promise<Crew[]> {
    const crews = await this.repo.list();
    return crews.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** The crew of this id, or else of this name (case-insensitive); NotFound naming what was asked. */
  async get(ref: string): Promise<Crew> {
    const found = (await this.repo.get(ref)) ?? (await this.findByName(ref));
    if (!found) throw errors.notFound('crew', ref);
    return found;
  }

  /** Like `get`, for callers that only need the crew's identity (other domains addressing a crew). */
  async resolve(ref: string): Promise<{ id: string; name: string }> {
    const { id, name } = await this.get(ref);
    return { id, name };
  }

  create(p: CrewCreate.Params): Promise<Crew> {
    return this.serial(async () => {
      const name = this.checkName(p.name, 'name');
      await this.ensureFree(name);
      const agents = await this.agents(p.agents ?? [], 'agents');
      const now = new Date(this.clock.now()).toISOString();
      const crew: CrewRecord = {
        id: `crew_${randomUUID()}`,
        name,
        description: p.description ?? '',
        agents,
        createdAt: now,
        updatedAt: now,
      };
      await this.repo.put(crew);
      await this.budgets?.sync(null, crew);
      return crew;
    });
  }

  update(p: CrewUpdate.Params): Promise<Crew> {
    return this.serial(async () => {
      const crew = await this.get(p.crew);
      if (p.agents !== undefined && (p.addAgent !== undefined || p.removeAgent !== undefined))
        throw invalid('agents', 'agents: replaces every agent; do not combine it with addAgent or removeAgent');
      const next: CrewRecord = { ...crew, agents: [...crew.agents] };
      if (p.name !== undefined) {
        next.name = this.checkName(p.name, 'name');
        await this.ensureFree(next.name, crew.id);
      }
      if (p.description !== undefined) next.description = p.description;
      if (p.agents !== undefined) next.agents = await this.agents(p.agents, 'agents');
      if (p.removeAgent !== undefined) {
        const key = p.removeAgent.trim().toLowerCase();
        const i = next.agents.findIndex((a) => a.name.toLowerCase() === key);
        if (i < 0) throw errors.notFound('agent', `${crew.name}/${p.removeAgent}`);
        next.agents.splice(i, 1);
      }
      if (p.addAgent !== undefined) {
        const agent = await this.agent(p.addAgent, 'addAgent');
        if (next.agents.some((a) => a.name.toLowerCase() === agent.name.toLowerCase()))
          throw errors.conflict(`addAgent.name: crew "${crew.name}" already has an agent named "${agent.name}"`);
        if (next.agents.length >= MAX_AGENTS)
          throw invalid('addAgent', `addAgent: crew "${crew.name}" already has ${MAX_AGENTS} agents, the most allowed`);
        next.agents.push(agent);
      }
      next.updatedAt = new Date(this.clock.now()).toISOString();
      await this.repo.put(next);
      await this.budgets?.sync(crew, next);
      return next;
    });
  }

  delete(p: CrewDelete.Params): Promise<CrewDelete.Result> {
    return this.serial(async () => {
      const crew = await this.get(p.crew);
      await this.repo.delete(crew.id);
      await this.budgets?.sync(crew, null);
      return { deleted: true, id: crew.id, name: crew.name };
    });
  }

  private async findByName(name: string): Promise<CrewRecord | undefined> {
    const key = name.trim().toLowerCase();
    return (await this.repo.list()).find((c) => c.name.toLowerCase() === key);
  }

  private checkName(raw: string, field: string): string {
    const name = raw.trim();
    if (!name) throw invalid(field, `${field}: must not be empty`);
    // A name shaped like an id would make "id or name" ambiguous.
    if (ID_PATTERN.test(name)) throw invalid(field, `${field}: "${name}" looks like a crew id; choose another name`);
    return name;
  }

  private async ensureFree(name: string, exceptId?: string): Promise<void> {
    const key = name.toLowerCase();
    const taken = (await this.repo.list()).find((c) => c.id !== exceptId && c.name.toLowerCase() === key);
    if (taken) throw errors.conflict(`name: a crew named "${taken.name}" already exists (${taken.id})`);
  }

  private async agents(inputs: AgentInput[], field: string): Promise<Agent[]> {
    if (inputs.length > MAX_AGENTS) throw invalid(field, `${field}: at most ${MAX_AGENTS} agents per crew`);
    const out: Agent[] = [];
    const seen = new Map<string, number>();
    for (const [i, input] of inputs.entries()) {
      const agent = await this.agent(input, `${field}.${i}`);
      const key = agent.name.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined)
        throw invalid(
          `${field}.${i}.name`,
          `${field}.${i}.name: "${agent.name}" is already the name of ${field}.${first}`,
        );
      seen.set(key, i);
      out.push(agent);
    }
    return out;
  }

  /** Normalises one agent and checks its model against the catalog. */
  private async agent(input: AgentInput, field: string): Promise<Agent> {
    const name = input.name.trim();
    if (!name) throw invalid(`${field}.name`, `${field}.name: must not be empty`);
    try {
      await this.catalog.require(input.model);
    } catch (e) {
      // Keep the code and data (model, suggestions); say which field held the id.
      if (e instanceof DomainError) throw new DomainError(e.code, `${field}.model: ${e.message}`, e.data);
      throw e;
    }
    return {
      name,
      role: input.role ?? '',
      model: input.model,
      systemPrompt: input.systemPrompt ?? '',
      temperature: input.temperature ?? null,
      maxTokens: input.maxTokens ?? null,
      budget: input.budget ? { limitUsd: input.budget.limitUsd, period: input.budget.period } : null,
      promptCache: input.promptCache ?? false,
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function invalid(field: string, message: string): DomainError {
  return errors.invalidParams(message, { field, issues: [{ field, message }] });
}
