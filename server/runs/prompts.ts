/**
 * What agents are told, and how a lead's answer is read. Pure functions: the run service calls them, tests read
 * them. The agent's own prompt is the first system message and stays the same from call to call (so a provider can
 * cache it: the prompt-caching recommendation and `cache_control` both look at that message only); the memories
 * come in a second system message, and the task with the work so far in the user message, so a model that leans on
 * the task (or on previous outputs) is not mistaken for one that used a memory.
 */
import type { Agent, ChatMessage } from '../../protocol';

export interface PriorOutput {
  agent: string;
  role: string;
  output: string;
}

export interface PackedMemory {
  content: string;
}

function identity(agent: Agent, crew: string): string {
  return `You are ${agent.name}${agent.role ? `, ${agent.role},` : ''} in the crew "${crew}".`;
}

function memoryMessage(memories: PackedMemory[]): ChatMessage[] {
  if (!memories.length) return [];
  const list = memories.map((m) => `- ${m.content}`).join('\n');
  return [{ role: 'system', content: `What the crew remembers (use it where it helps):\n${list}` }];
}

function workSoFar(prior: PriorOutput[]): string {
  if (!prior.length) return '';
  const parts = prior.map((p) => `### ${p.agent}${p.role ? ` (${p.role})` : ''}\n${p.output}`);
  return `\n\nWork so far:\n\n${parts.join('\n\n')}`;
}

function system(agent: Agent, crew: string, extra: string): string {
  const own = agent.systemPrompt.trim();
  return `${own ? `${own}\n\n` : ''}${identity(agent, crew)}${extra}`;
}

/** A member's call: the task, what the lead asked of it (manager) and what the others produced before it. */
export function memberMessages(p: {
  agent: Agent;
  crew: string;
  task: string;
  /** The lead's instruction (manager process); null in a sequential run. */
  instruction: string | null;
  prior: PriorOutput[];
  memories: PackedMemory[];
}): ChatMessage[] {
  const ask = p.instruction === null ? '' : `\n\nYour lead asks you: ${p.instruction}`;
  const yourPart = p.instruction === null ? `\n\nDo your part${p.agent.role ? ` as ${p.agent.role}` : ''}.` : '';
  return [
    { role: 'system', content: system(p.agent, p.crew, '') },
    ...memoryMessage(p.memories),
    { role: 'user', content: `Task: ${p.task}${ask}${workSoFar(p.prior)}${yourPart}` },
  ];
}

/** The lead's call in a manager run: who it can delegate to, how to answer, and the work so far. */
export function leadMessages(p: {
  lead: Agent;
  members: Agent[];
  crew: string;
  task: string;
  prior: PriorOutput[];
  memories: PackedMemory[];
  /** Delegations left; 0 means the lead must answer now. */
  stepsLeft: number;
  /** Why the previous answer could not be followed, to be corrected. */
  problem: string | null;
}): ChatMessage[] {
  const roster = p.members.map((m) => `- ${m.name}${m.role ? `: ${m.role}` : ''}`).join('\n');
  const rules =
    `\n\nYou lead the crew. Members you can delegate to:\n${roster}\n\n` +
    'Answer with one JSON object and nothing else: {"delegate": "<member name>", "instruction": "<what they should do>"} ' +
    'to hand a piece of work to a member, or {"final": "<your answer to the task>"} when the task is done.';
  const must =
    p.stepsLeft > 0
      ? `\n\nYou can delegate ${p.stepsLeft} more time${p.stepsLeft === 1 ? '' : 's'}.`
      : '\n\nNo delegations are left: answer now with {"final": "..."}.';
  const problem = p.problem ? `\n\nYour previous answer could not be followed: ${p.problem}` : '';
  return [
    { role: 'system', content: system(p.lead, p.crew, rules) },
    ...memoryMessage(p.memories),
    { role: 'user', content: `Task: ${p.task}${workSoFar(p.prior)}${must}${problem}` },
  ];
}

export type LeadDecision =
  | { kind: 'delegate'; member: Agent; instruction: string }
  | { kind: 'final'; answer: string }
  | { kind: 'invalid'; problem: string };

/**
 * Reads the lead's answer: the first JSON object in it (models wrap JSON in prose or code fences). An answer with
 * no JSON object at all is the lead answering directly: its whole text is final.
 */
export function parseLeadReply(reply: string, members: Agent[]): LeadDecision {
  const obj = firstJsonObject(reply);
  if (!obj) return { kind: 'final', answer: reply.trim() };
  if (typeof obj.final === 'string') return { kind: 'final', answer: obj.final.trim() };
  if (typeof obj.delegate === 'string') {
    const want = obj.delegate.trim().toLowerCase();
    const member = members.find((m) => m.name.toLowerCase() === want);
    if (!member)
      return {
        kind: 'invalid',
        problem: `there is no member named "${obj.delegate}" (members: ${members.map((m) => m.name).join(', ')})`,
      };
    const instruction = typeof obj.instruction === 'string' ? obj.instruction.trim() : '';
    if (!instruction) return { kind: 'invalid', problem: `"instruction" for ${member.name} is missing or empty` };
    return { kind: 'delegate', member, instruction };
  }
  return { kind: 'invalid', problem: 'the JSON object has neither "delegate" nor "final"' };
}

function firstJsonObject(text: string): Record<string, unknown> | undefined {
  for (let start = text.indexOf('{'); start >= 0; start = text.indexOf('{', start + 1)) {
    // Try each closing brace from the last back, so nested objects and braces inside strings are handled.
    for (let end = text.lastIndexOf('}'); end > start; end = text.lastIndexOf('}', end - 1)) {
      try {
        const v: unknown = JSON.parse(text.slice(start, end + 1));
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {
        // not this span
      }
    }
  }
  return undefined;
}

const STOP = new Set(
  (
    'about after again also because been before being between both could does doing down during each from further ' +
    'have having here into itself just more most once only other over same should some such than that their them ' +
    'then there these they this those through under until very were what when where which while will with would ' +
    'your yours'
  ).split(' '),
);

/** Lower-cased words of 4+ letters or digits, without the commonest English words. */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? [])
    if (w.length >= 4 && !STOP.has(w)) out.add(w);
  return out;
}

/**
 * Whether an output shows that a memory was used: enough of the memory's own words — those not already in what
 * the agent was asked — reappear in the output (one for a memory with up to four such words, up to three for
 * longer ones).
 */
export function influenced(memory: string, asked: Set<string>, output: Set<string>): boolean {
  const own = [...contentWords(memory)].filter((w) => !asked.has(w));
  if (!own.length) return false;
  const needed = Math.max(1, Math.min(3, Math.ceil(own.length / 4)));
  let hits = 0;
  for (const w of own) if (output.has(w) && ++hits >= needed) return true;
  return false;
}
