/**
 * Crews and their agents from VS Code, as `crew create` / `crew agent add|edit|remove` do from a terminal: a crew
 * is created together with its first agent (never empty), and the model catalog is read before anything is
 * written, so a server that cannot reach OpenRouter leaves nothing half-made and says what to do.
 */
import * as vscode from 'vscode';
import type { Agent, AgentInput, Crew, ModelsList } from '../protocol';
import { formatUsd as money } from '../protocol/format';
import type { CrewServer } from './server';

export type ModelItem = vscode.QuickPickItem & { id: string };

/** The chat models as quick-pick items, in the catalog's order; a failure says how to get a catalog. */
export async function chatModels(server: CrewServer): Promise<ModelItem[]> {
  let models: ModelsList.Result['models'];
  try {
    ({ models } = await server.request<ModelsList.Result>('models/list', {}));
  } catch (e) {
    const upstream = server.info?.upstream;
    const hint =
      upstream && !upstream.sandbox && !upstream.keyConfigured
        ? ' No OpenRouter API key is set: run "OpenRouter Crew: Set API Key", or "OpenRouter Crew: Try the Sandbox" to try everything without an account.'
        : '';
    throw new Error(`cannot list models: ${(e as Error).message}${hint}`, { cause: e });
  }
  return models
    .filter((m) => !m.outputModalities.includes('embeddings'))
    .map((m) => ({
      id: m.id,
      label: m.id,
      description: `${money(m.promptUsdPerMillion)}/M in · ${money(m.completionUsdPerMillion)}/M out`,
      detail: m.contextLength ? `${m.name} · ${m.contextLength.toLocaleString('en-US')} tokens context` : m.name,
    }));
}

function pickModel(models: ModelItem[], title: string, current?: string): Thenable<ModelItem | undefined> {
  const items = current ? [...models].sort((a, b) => (a.id === current ? -1 : b.id === current ? 1 : 0)) : models;
  return vscode.window.showQuickPick(items, { title, matchOnDescription: true, placeHolder: current });
}

/** Asks for a new agent (name, role, model); undefined when the user stops. */
export async function askAgent(
  models: ModelItem[],
  crew: string,
  taken: readonly string[] = [],
): Promise<AgentInput | undefined> {
  const lower = new Set(taken.map((n) => n.toLowerCase()));
  const name = await vscode.window.showInputBox({
    title: `Add an agent to ${crew}: name`,
    validateInput: (v) =>
      !v.trim()
        ? 'An agent needs a name'
        : lower.has(v.trim().toLowerCase())
          ? `${crew} has an agent ${v.trim()}`
          : undefined,
  });
  if (!name) return undefined;
  const role = await vscode.window.showInputBox({ title: `${name.trim()}: role (what it does)` });
  if (role === undefined) return undefined;
  const model = await pickModel(models, `${name.trim()}: model`);
  if (!model) return undefined;
  return { name: name.trim(), role, model: model.id };
}

/** Adds agents one after another until the user says Done; returns how many were added. */
export async function addAgents(server: CrewServer, crew: Crew, models: ModelItem[]): Promise<number> {
  let added = 0;
  let names = crew.agents.map((a) => a.name);
  for (;;) {
    const agent = await askAgent(models, crew.name, names);
    if (!agent) return added;
    const updated = await server.request<Crew>('crew/update', { crew: crew.id, addAgent: agent });
    names = updated.agents.map((a) => a.name);
    added++;
    const again = await vscode.window.showInformationMessage(
      `Agent ${agent.name} added to ${crew.name}.`,
      'Add Another Agent',
      'Done',
    );
    if (again !== 'Add Another Agent') return added;
  }
}

/** Creates a crew with its first agent; nothing is created when the user stops before the agent is chosen. */
export async function createCrew(server: CrewServer): Promise<Crew | undefined> {
  const models = await chatModels(server);
  const name = await vscode.window.showInputBox({
    title: 'New crew: name',
    prompt: 'Unique among crews; used for attribution (crew:<name>) and memories',
    validateInput: (v) => (v.trim() ? undefined : 'A crew needs a name'),
  });
  if (!name) return undefined;
  const description = await vscode.window.showInputBox({ title: `Crew ${name.trim()}: description (optional)` });
  if (description === undefined) return undefined;
  const first = await askAgent(models, name.trim());
  if (!first) return undefined;
  const crew = await server.request<Crew>('crew/create', { name: name.trim(), description, agents: [first] });
  const again = await vscode.window.showInformationMessage(
    `Crew ${crew.name} created with agent ${first.name}.`,
    'Add Another Agent',
    'Done',
  );
  if (again === 'Add Another Agent') await addAgents(server, crew, models);
  return crew;
}

type Field = 'model' | 'role' | 'systemPrompt' | 'maxTokens' | 'temperature';

function inputOf(a: Agent): AgentInput {
  return {
    name: a.name,
    model: a.model,
    role: a.role,
    systemPrompt: a.systemPrompt,
    temperature: a.temperature,
    maxTokens: a.maxTokens,
    budget: a.budget,
    promptCache: a.promptCache,
  };
}

/** Changes one setting of an agent, keeping every other setting and its place in the crew. */
export async function editAgent(server: CrewServer, crew: Crew, agent: Agent): Promise<boolean> {
  const fields: (vscode.QuickPickItem & { field: Field })[] = [
    { field: 'model', label: 'Model', description: agent.model },
    { field: 'role', label: 'Role', description: agent.role || '(none)' },
    { field: 'systemPrompt', label: 'System prompt', description: agent.systemPrompt ? 'set' : '(none)' },
    {
      field: 'maxTokens',
      label: 'Max tokens',
      description: agent.maxTokens === null ? '(model default)' : String(agent.maxTokens),
    },
    {
      field: 'temperature',
      label: 'Temperature',
      description: agent.temperature === null ? '(model default)' : String(agent.temperature),
    },
  ];
  const pick = await vscode.window.showQuickPick(fields, { title: `Edit ${crew.name}/${agent.name}: which setting?` });
  if (!pick) return false;
  const next = inputOf(agent);
  switch (pick.field) {
    case 'model': {
      const model = await pickModel(await chatModels(server), `${agent.name}: model`, agent.model);
      if (!model) return false;
      next.model = model.id;
      break;
    }
    case 'role':
    case 'systemPrompt': {
      const value = await vscode.window.showInputBox({
        title: `${agent.name}: ${pick.label.toLowerCase()}`,
        value: agent[pick.field],
      });
      if (value === undefined) return false;
      next[pick.field] = value;
      break;
    }
    case 'maxTokens':
    case 'temperature': {
      const integer = pick.field === 'maxTokens';
      const value = await vscode.window.showInputBox({
        title: `${agent.name}: ${pick.label.toLowerCase()} (empty for the model's default)`,
        value: agent[pick.field] === null ? '' : String(agent[pick.field]),
        validateInput: (v) => {
          if (!v.trim()) return undefined;
          const n = Number(v);
          if (integer) return Number.isInteger(n) && n >= 1 ? undefined : 'A whole number of tokens, 1 or more';
          return Number.isFinite(n) && n >= 0 && n <= 2 ? undefined : 'A number from 0 to 2';
        },
      });
      if (value === undefined) return false;
      next[pick.field] = value.trim() ? Number(value) : null;
      break;
    }
  }
  // The whole list, in order: removing and adding would move the agent to the end of a sequential crew.
  const agents = crew.agents.map((a) => (a.name === agent.name ? next : inputOf(a)));
  await server.request('crew/update', { crew: crew.id, agents });
  return true;
}

export async function removeAgent(server: CrewServer, crew: Crew, agent: Agent): Promise<boolean> {
  const ok = await vscode.window.showWarningMessage(
    `Remove agent ${agent.name} from ${crew.name}? Its ledger rows, runs and memories stay.`,
    { modal: true },
    'Remove',
  );
  if (ok !== 'Remove') return false;
  await server.request('crew/update', { crew: crew.id, removeAgent: agent.name });
  return true;
}
