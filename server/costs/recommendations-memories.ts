/**
 * `unused-memories`: memories that crew runs keep packing into their agents' contexts without any output showing
 * their use (RunStep.memories[].influenced). A memory packed at least 3 times over the window and never
 * influential qualifies, if it is still live and not pinned (a pin is a person saying "keep this in context").
 * savings = Σ over the steps that packed it: its tokens × that step's model's prompt price (a step on a model the
 * catalog does not know adds its tokens to the evidence but no dollars). Applying archives them (losslessly).
 */
import type { ModelInfo } from '../../protocol';
import type { MemoryRecord, RunRecord } from '../store/repositories';
import { parseUsd } from './money';
import { dollars, plural, pricesOf, type Finding } from './recommendations-common';

export const MIN_PACKINGS = 3;

interface MemoryUse {
  packed: number;
  influenced: boolean;
  tokens: number;
  pico: bigint;
  /** Steps (run id + index) that packed it. */
  steps: Set<string>;
}

interface CrewUse {
  crewId: string;
  crew: string;
  runs: Set<string>;
  memories: Map<string, MemoryUse>;
  stepCost: Map<string, bigint>;
}

export function findUnusedMemories(
  runs: RunRecord[],
  models: ReadonlyMap<string, ModelInfo>,
  live: (id: string) => MemoryRecord | undefined,
  crewName: (crewId: string, fallback: string) => string,
): Finding[] {
  const promptPrice = new Map<string, bigint | null>();
  const priceOf = (model: string): bigint | null => {
    if (!promptPrice.has(model)) {
      const m = models.get(model);
      promptPrice.set(model, (m && pricesOf(m)?.prompt) ?? null);
    }
    return promptPrice.get(model)!;
  };
  const crews = new Map<string, CrewUse>();
  for (const run of runs) {
    let c = crews.get(run.crewId);
    if (!c) {
      c = {
        crewId: run.crewId,
        crew: crewName(run.crewId, run.crew),
        runs: new Set(),
        memories: new Map(),
        stepCost: new Map(),
      };
      crews.set(run.crewId, c);
    }
    for (const step of run.steps) {
      if (!step.memories.length) continue;
      const stepKey = `${run.id}#${step.index}`;
      c.runs.add(run.id);
      c.stepCost.set(stepKey, safeUsd(step.cost));
      const price = priceOf(step.model);
      for (const m of step.memories) {
        let u = c.memories.get(m.id);
        if (!u) {
          u = { packed: 0, influenced: false, tokens: 0, pico: 0n, steps: new Set() };
          c.memories.set(m.id, u);
        }
        u.packed++;
        u.influenced ||= m.influenced;
        u.tokens += m.tokens;
        if (price !== null) u.pico += price * BigInt(m.tokens);
        u.steps.add(stepKey);
      }
    }
  }

  const findings: Finding[] = [];
  for (const c of crews.values()) {
    const ids: string[] = [];
    const steps = new Set<string>();
    let savings = 0n;
    let tokens = 0;
    let packings = 0;
    for (const [id, u] of c.memories) {
      if (u.packed < MIN_PACKINGS || u.influenced) continue;
      const record = live(id);
      if (!record || record.pinned) continue;
      ids.push(id);
      savings += u.pico;
      tokens += u.tokens;
      packings += u.packed;
      for (const s of u.steps) steps.add(s);
    }
    if (!ids.length) continue;
    ids.sort();
    let spent = 0n;
    for (const s of steps) spent += c.stepCost.get(s) ?? 0n;
    const n = ids.length;
    findings.push({
      kind: 'unused-memories',
      crew: c.crew,
      agent: null,
      model: null,
      savingsPico: savings,
      spentPico: spent,
      action: `archive ${n} ${n === 1 ? 'memory' : 'memories'} that never influenced an output`,
      detail:
        `${n} of ${c.crew}'s memories were packed into agents' contexts ${plural(packings, 'time')} (${tokens} prompt ` +
        `tokens) in ${plural(steps.size, 'step')} of ${plural(c.runs.size, 'run')}, and no step's output showed their ` +
        `use. Their prompt tokens cost ` +
        `${dollars(savings)}. Archiving them keeps them losslessly (crew archive restore brings them back) and out ` +
        `of future contexts.`,
      evidence: { memories: n, packings, tokens, steps: steps.size, runs: c.runs.size },
      crewId: c.crewId,
      memoryIds: ids,
    });
  }
  return findings;
}

function safeUsd(cost: string): bigint {
  try {
    return parseUsd(cost);
  } catch {
    return 0n;
  }
}
