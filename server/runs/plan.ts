/**
 * Who takes part in a run, as `crew/run` and `crew/estimate` read the same params: the process, and in a manager
 * run the lead and its members. One reading, so an estimate is of the run that would really be made.
 */
import type { Agent, Crew, RunProcess } from '../../protocol';
import { errors } from '../errors';

export const DEFAULT_MAX_STEPS = 6;
export const DEFAULT_MEMORY_TOKENS = 800;

export interface RunPlan {
  process: RunProcess;
  /** Manager runs only. */
  lead: Agent | null;
  /** The agents doing work: every agent in order (sequential), or everyone but the lead (manager). */
  members: Agent[];
}

export function runPlan(crew: Crew, p: { process?: RunProcess; lead?: string }): RunPlan {
  const process = p.process ?? 'sequential';
  if (crew.agents.length === 0)
    throw invalid('crew', `crew: "${crew.name}" has no agents; add one with "crew crew add-agent ${crew.name} …"`);
  if (process === 'sequential') {
    if (p.lead !== undefined) throw invalid('lead', 'lead: only a manager run has a lead');
    return { process, lead: null, members: crew.agents };
  }
  const lead = p.lead ? crew.agents.find((a) => a.name.toLowerCase() === p.lead!.trim().toLowerCase()) : crew.agents[0];
  if (!lead) throw invalid('lead', `lead: crew "${crew.name}" has no agent named "${p.lead}" (agents: ${names(crew)})`);
  if (crew.agents.length < 2)
    throw invalid(
      'process',
      `process: a manager run needs a lead and at least one member; "${crew.name}" has one agent`,
    );
  return { process, lead, members: crew.agents.filter((a) => a !== lead) };
}

function invalid(field: string, message: string) {
  return errors.invalidParams(message, { field, issues: [{ field, message }] });
}

const names = (crew: Crew) => crew.agents.map((a) => a.name).join(', ');
