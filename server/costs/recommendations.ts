/**
 * Savings recommendations (`cost/recommendations`, `cost/applyRecommendation`): what the finders say about the
 * window (cheaper models, prompt caching, max_tokens, unused memories), matched to the crew agent each concerns.
 *
 * A crew run attributes its calls as crew = the crew's name, agent = `<crew name>/<agent name>`; such a finding
 * can be applied (it changes that agent's model, maxTokens or promptCache). One about an agent the caller named
 * (the gateway's X-Agent-Id, chat/complete's `agent`) or about calls without an agent has no setting here to
 * change: `changes` is empty and `notApplicable` says what to do instead. A finding whose change is already in
 * place (the agent was switched, capped or cached since) is dropped, so applying twice finds nothing to apply.
 *
 * Ids are a hash of kind and target (crew, agent, model — or the crew for memories), so the id a listing shows is
 * the one `apply` recomputes and finds. Applications are serialised and recorded with what they changed.
 */
import { createHash } from 'node:crypto';
import type { ModelInfo } from '../../protocol';
import { ErrorCodes } from '../../protocol';
import type { Agent, Crew } from '../../protocol/crews';
import type {
  AppliedRecommendation,
  CostApplyRecommendation,
  CostRecommendation,
  CostRecommendations,
  RecommendationChange,
} from '../../protocol/recommendations';
import type { Clock } from '../clock';
import type { CrewService } from '../crews/service';
import type { ArchiveService } from '../memory/archive/service';
import { errors, DomainError } from '../errors';
import type {
  AppliedRecommendationRepository,
  CallProfileRepository,
  LedgerRepository,
  MemoryRepository,
  RunRecord,
  RunRepository,
} from '../store/repositories';
import { picoToUsd, formatPico } from './money';
import { findMaxTokens, findPromptCaching } from './recommendations-call-shapes';
import { findCheaperModels } from './recommendations-cheaper-model';
import { sumAgentProfiles, sumPrefixProfiles, whoOf, type AgentSetting, type Finding } from './recommendations-common';
import { findUnusedMemories } from './recommendations-memories';

const DAY_MS = 86_400_000;
export const DEFAULT_WINDOW_DAYS = 30;
const APPLIED_SHOWN = 50;
/** Runs read per window at most; past this the oldest runs of the window are left out. */
const MAX_RUNS = 100_000;

export interface RecommendationDeps {
  ledger: Pick<LedgerRepository, 'usage'>;
  profiles: Pick<CallProfileRepository, 'query'>;
  runs: Pick<RunRepository, 'list'>;
  catalog: { list(): Promise<{ models: ModelInfo[] }> };
  crews: Pick<CrewService, 'list' | 'get' | 'update' | 'resolve'>;
  memories: Pick<MemoryRepository, 'get'>;
  archive: Pick<ArchiveService, 'create'>;
  applied: AppliedRecommendationRepository;
  clock: Clock;
}

/** How a computed recommendation is applied. */
type Plan =
  | { kind: 'agent'; crewId: string; agentName: string; setting: AgentSetting }
  | { kind: 'archive'; ids: string[] }
  | { kind: 'none' };

interface Computed {
  rec: CostRecommendation;
  savingsPico: bigint;
  crewId: string | null;
  plan: Plan;
}

interface Span {
  at: number;
  from: number;
  windowDays: number;
}

export class RecommendationService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: RecommendationDeps) {}

  async recommendations(p: CostRecommendations.Params = {}): Promise<CostRecommendations.Result> {
    const span = this.span(p.windowDays);
    let computed = await this.compute(span);
    if (p.crew !== undefined) {
      const matches = await this.crewFilter(p.crew);
      computed = computed.filter((c) => matches(c));
    }
    const min = p.minSavingsUsd ?? 0;
    if (min > 0) computed = computed.filter((c) => c.rec.savingsUsd >= min);
    const total = computed.reduce((s, c) => s + c.savingsPico, 0n);
    return {
      at: new Date(span.at).toISOString(),
      from: new Date(span.from).toISOString(),
      to: new Date(span.at).toISOString(),
      windowDays: span.windowDays,
      recommendations: computed.map((c) => c.rec),
      totalSavingsUsd: picoToUsd(total),
      applied: await this.deps.applied.list(APPLIED_SHOWN),
    };
  }

  apply(p: CostApplyRecommendation.Params): Promise<CostApplyRecommendation.Result> {
    const run = this.queue.then(() => this.applyNow(p));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(p: CostApplyRecommendation.Params): Promise<CostApplyRecommendation.Result> {
    const span = this.span(p.windowDays);
    const found = (await this.compute(span)).find((c) => c.rec.id === p.id);
    if (!found) {
      const before = await this.deps.applied.get(p.id);
      if (before)
        throw errors.conflict(
          `recommendation ${p.id} was already applied at ${before.appliedAt} (${before.title}); nothing changed`,
        );
      throw new DomainError(
        ErrorCodes.NotFound,
        `no recommendation ${p.id} over the last ${span.windowDays} days (list them with crew cost recommendations)`,
        { entity: 'recommendation', id: p.id },
      );
    }
    const { rec, plan } = found;
    if (plan.kind === 'none')
      throw errors.conflict(`recommendation ${p.id} cannot be applied here: ${rec.notApplicable}`);
    if (p.dryRun) return { applied: false, recommendation: rec, changes: rec.changes, appliedAt: null };

    let changes: RecommendationChange[];
    let archiveId: string | null = null;
    if (plan.kind === 'agent') {
      changes = [await this.changeAgent(plan)];
    } else {
      const res = await this.deps.archive.create({ ids: plan.ids });
      if (res.dryRun || res.ids.length === 0)
        throw errors.conflict(
          `recommendation ${p.id}: the memories changed while being archived; nothing was archived`,
        );
      archiveId = res.archive?.id ?? null;
      changes = res.ids.map((id) => ({ target: `memory:${id}`, field: 'archived', before: false, after: true }));
    }
    const appliedAt = new Date(this.deps.clock.now()).toISOString();
    const entry: AppliedRecommendation = {
      id: rec.id,
      kind: rec.kind,
      title: rec.title,
      savingsUsd: rec.savingsUsd,
      changes,
      appliedAt,
    };
    await this.deps.applied.append(entry);
    return { applied: true, recommendation: rec, changes, appliedAt, archiveId };
  }

  /** Sets the agent's field on the crew as it is now (the agent keeps its place: order matters to runs). */
  private async changeAgent(plan: Extract<Plan, { kind: 'agent' }>): Promise<RecommendationChange> {
    const crew = await this.deps.crews.get(plan.crewId);
    const agent = crew.agents.find((a) => a.name === plan.agentName);
    if (!agent) throw errors.conflict(`crew "${crew.name}" has no agent "${plan.agentName}" any more`);
    const { field, value } = plan.setting;
    const before = agent[field];
    await this.deps.crews.update({
      crew: crew.id,
      agents: crew.agents.map((a) => (a === agent ? { ...a, [field]: value } : a)),
    });
    return { target: targetOf(crew, agent), field, before, after: value };
  }

  private span(windowDays = DEFAULT_WINDOW_DAYS): Span {
    const at = this.deps.clock.now();
    // Whole UTC days (today included), so the ledger's rows and the per-day profiles cover the same span.
    const from = (Math.floor(at / DAY_MS) - windowDays + 1) * DAY_MS;
    return { at, from, windowDays };
  }

  private async compute(w: Span): Promise<Computed[]> {
    const { ledger, profiles, catalog, crews, memories } = this.deps;
    const models = new Map((await catalog.list()).models.map((m) => [m.id, m]));
    // Embedding calls (prompt tokens only, on a model GET /models does not list) have no chat model to move to.
    const usage = (await ledger.usage({ from: w.from })).filter(
      (u) => u.completionTokens > 0 || u.maxCompletionTokens > 0 || models.has(u.model),
    );
    const days = profiles.query({ fromDay: isoDay(w.from), toDay: isoDay(w.at) });
    const crewList = await crews.list();
    const crewById = new Map(crewList.map((c) => [c.id, c]));
    const findings = [
      ...findCheaperModels(usage, models.values(), w.at),
      ...findPromptCaching(sumPrefixProfiles(days.prefixes), usage, models),
      ...findMaxTokens(sumAgentProfiles(days.agents), usage, models),
      ...findUnusedMemories(
        this.runsSince(w.from),
        models,
        (id) => memories.get(id),
        (id, name) => crewById.get(id)?.name ?? name,
      ),
    ];
    const out: Computed[] = [];
    for (const f of findings) {
      const c = this.toComputed(f, crewList);
      if (c) out.push(c);
    }
    return out.sort(
      (a, b) =>
        (a.savingsPico > b.savingsPico ? -1 : a.savingsPico < b.savingsPico ? 1 : 0) ||
        b.rec.spentUsd - a.rec.spentUsd ||
        a.rec.id.localeCompare(b.rec.id),
    );
  }

  private runsSince(from: number): RunRecord[] {
    const first = this.deps.runs.list({ from, limit: 1_000 });
    if (first.total <= first.runs.length) return first.runs;
    return this.deps.runs.list({ from, limit: Math.min(first.total, MAX_RUNS) }).runs;
  }

  /** Null when the change it asks for is already in place. */
  private toComputed(f: Finding, crews: Crew[]): Computed | null {
    let plan: Plan = { kind: 'none' };
    let changes: RecommendationChange[] = [];
    let notApplicable: string | null = null;
    if (f.set) {
      const found = crewAgentOf(crews, f.crew, f.agent);
      if (typeof found === 'string') {
        notApplicable = f.manualHint ? `${found}; ${f.manualHint}` : found;
      } else {
        const { crew, agent } = found;
        if (inPlace(agent, f)) return null;
        plan = { kind: 'agent', crewId: crew.id, agentName: agent.name, setting: f.set };
        changes = [
          { target: targetOf(crew, agent), field: f.set.field, before: agent[f.set.field], after: f.set.value },
        ];
      }
    } else if (f.memoryIds?.length) {
      plan = { kind: 'archive', ids: f.memoryIds };
      changes = f.memoryIds.map((id) => ({ target: `memory:${id}`, field: 'archived', before: false, after: true }));
    }
    const idTarget = f.kind === 'unused-memories' ? [f.kind, f.crewId] : [f.kind, f.crew, f.agent, f.model];
    const id = `rec_${createHash('sha256').update(JSON.stringify(idTarget)).digest('hex').slice(0, 12)}`;
    return {
      savingsPico: f.savingsPico,
      crewId: f.crewId ?? null,
      plan,
      rec: {
        id,
        kind: f.kind,
        title: `${f.kind === 'unused-memories' ? (f.crew ?? '?') : whoOf(f)}: ${f.action}`,
        detail: f.detail,
        crew: f.crew,
        agent: f.agent,
        model: f.model,
        savingsUsd: picoToUsd(f.savingsPico),
        savings: formatPico(f.savingsPico),
        spentUsd: picoToUsd(f.spentPico),
        evidence: f.evidence,
        changes,
        notApplicable,
      },
    };
  }

  /** Whether a recommendation belongs to the crew `ref` (an id or name, or a crew label the caller attributed). */
  private async crewFilter(ref: string): Promise<(c: Computed) => boolean> {
    let resolved: { id: string; name: string } | undefined;
    try {
      resolved = await this.deps.crews.resolve(ref);
    } catch (e) {
      // Not a crew we keep: calls can still carry it as their crew label (the gateway's X-Crew-Id).
      if (!(e instanceof DomainError && e.code === ErrorCodes.NotFound)) throw e;
    }
    const labels = new Set([ref.toLowerCase(), ...(resolved ? [resolved.name.toLowerCase(), resolved.id] : [])]);
    return (c) =>
      (c.crewId !== null && resolved?.id === c.crewId) || (c.rec.crew !== null && labels.has(c.rec.crew.toLowerCase()));
  }
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const targetOf = (crew: Crew, agent: Agent): string => `crew:${crew.name}/agent:${agent.name}`;

function inPlace(agent: Agent, f: Finding): boolean {
  const s = f.set!;
  switch (s.field) {
    case 'model':
      // The agent no longer calls the model these calls went to: switched (perhaps by this very recommendation).
      return agent.model !== f.model;
    case 'maxTokens':
      return agent.maxTokens !== null && agent.maxTokens <= s.value;
    case 'promptCache':
      // Caching on, or the agent left the model whose cache prices the savings were figured on.
      return agent.promptCache || agent.model !== f.model;
  }
}

/**
 * The crew agent a ledger attribution names (crew runs attribute crew = name, agent = `<crew>/<agent>`), or why
 * there is none, in words a user can act on.
 */
export function crewAgentOf(
  crews: Crew[],
  crew: string | null,
  agent: string | null,
): { crew: Crew; agent: Agent } | string {
  if (agent === null)
    return (
      'these calls carry no agent, so there is no agent setting to change (attribute them with chat/complete ' +
      "`agent` or the gateway's X-Agent-Id header to get per-agent advice)"
    );
  const lower = agent.toLowerCase();
  for (const c of crews) {
    const prefix = `${c.name.toLowerCase()}/`;
    if (!lower.startsWith(prefix) || (crew !== null && crew.toLowerCase() !== c.name.toLowerCase())) continue;
    const name = lower.slice(prefix.length);
    const a = c.agents.find((x) => x.name.toLowerCase() === name);
    if (a) return { crew: c, agent: a };
    return `crew "${c.name}" has no agent named "${agent.slice(prefix.length)}" any more`;
  }
  if (crew !== null && lower.startsWith(`${crew.toLowerCase()}/`))
    return `crew "${crew}" no longer exists (renamed or deleted), so "${agent}" has no settings here to change`;
  return (
    `"${agent}" is not an agent of a crew (the caller named it, e.g. with the gateway's X-Agent-Id header), ` +
    'so there is no setting here to change'
  );
}
