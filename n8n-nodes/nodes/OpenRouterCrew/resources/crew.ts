import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { CrewCreate, CrewEstimate, CrewGet, CrewList, CrewRun, CrewUpdate } from '../../shared/protocol.generated';
import type { AgentInput, RunProcess } from '../../shared/protocol.generated';
import { collection, compact, requiredString } from '../../shared/params';
import { item, items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['crew'], operation } });

export const crewDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['crew'] } },
    options: [
      {
        name: 'Add Agent',
        value: 'addAgent',
        description: 'Add an agent (name, model, role, system prompt) to a crew',
        action: 'Add an agent to a crew',
      },
      {
        name: 'Create',
        value: 'create',
        description: 'Create a crew, with agents or without',
        action: 'Create a crew',
      },
      {
        name: 'Estimate Run',
        value: 'estimate',
        description:
          "What a run of the task would cost, from the crew's own history (typical, high) and its worst case; nothing is sent",
        action: 'Estimate a crew run',
      },
      { name: 'Get', value: 'get', description: 'Get a crew with its agents', action: 'Get a crew' },
      { name: 'Get Many', value: 'list', description: 'List every crew with its agents', action: 'Get many crews' },
      {
        name: 'Run Task',
        value: 'run',
        description:
          'The crew works on a task agent by agent, every call through the budgets; waits for the result (steps, output, cost)',
        action: 'Run a task with a crew',
      },
    ],
    default: 'run',
  },
  {
    displayName: 'Crew',
    name: 'crew',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'ops',
    description: 'Name or ID of the crew (`crew crew list` shows them)',
    displayOptions: show(['run', 'estimate', 'get', 'addAgent']),
  },

  // ── create ──
  {
    displayName: 'Name',
    name: 'name',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'ops',
    description: 'Unique among crews (regardless of case)',
    displayOptions: show(['create']),
  },
  {
    displayName: 'Additional Fields',
    name: 'createFields',
    type: 'collection',
    placeholder: 'Add Field',
    default: {},
    displayOptions: show(['create']),
    options: [
      {
        displayName: 'Agents',
        name: 'agents',
        type: 'fixedCollection',
        typeOptions: { multipleValues: true },
        default: {},
        description: "The crew's agents, in the order a sequential run calls them",
        options: [{ name: 'agent', displayName: 'Agent', values: agentFields(true) }],
      },
      { displayName: 'Description', name: 'description', type: 'string', default: '' },
    ],
  },

  // ── addAgent ──
  {
    displayName: 'Agent Name',
    name: 'agentName',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'writer',
    description: 'Unique within the crew',
    displayOptions: show(['addAgent']),
  },
  {
    displayName: 'Model',
    name: 'model',
    type: 'string',
    required: true,
    default: 'openai/gpt-4o-mini',
    description: 'OpenRouter model ID the agent calls',
    displayOptions: show(['addAgent']),
  },
  {
    displayName: 'Additional Fields',
    name: 'agentFields',
    type: 'collection',
    placeholder: 'Add Field',
    default: {},
    displayOptions: show(['addAgent']),
    options: agentFields(false),
  },
  {
    displayName: 'Task',
    name: 'task',
    type: 'string',
    required: true,
    typeOptions: { rows: 4 },
    default: '',
    placeholder: 'Why did the nightly report get faster?',
    displayOptions: show(['run', 'estimate']),
  },
  {
    displayName: 'Options',
    name: 'runOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['run', 'estimate']),
    options: [
      {
        displayName: 'Lead Agent',
        name: 'lead',
        type: 'string',
        default: '',
        description: "Manager process: the agent that delegates (default: the crew's first agent)",
      },
      {
        displayName: 'Max Cost (USD)',
        name: 'maxCostUsd',
        type: 'number',
        typeOptions: { minValue: 0, numberPrecision: 6 },
        default: 0,
        description:
          'The run’s ceiling: steps are fitted into it, and the run stops (status Budget Exceeded) before a step that cannot fit. 0: no ceiling.',
      },
      {
        displayName: 'Max Delegations',
        name: 'maxSteps',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 20 },
        default: 6,
        description: 'Manager process: most delegations before the lead must answer',
      },
      {
        displayName: 'Memory Tokens',
        name: 'memoryTokens',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 100000 },
        default: 800,
        description: "Tokens of the crew's best memories packed into each agent's context (0: none)",
      },
      {
        displayName: 'Process',
        name: 'process',
        type: 'options',
        options: [
          {
            name: 'Manager',
            value: 'manager',
            description: 'A lead agent delegates to members until it gives the final answer',
          },
          {
            name: 'Sequential',
            value: 'sequential',
            description: "Each agent in order, seeing the previous agents' outputs",
          },
        ],
        default: 'sequential',
      },
      {
        displayName: 'Save Result as Memory',
        name: 'saveResult',
        type: 'boolean',
        default: true,
        description: 'Whether the output is saved as a memory of kind "result"',
      },
      {
        displayName: 'Tell Agents What Is Left',
        name: 'tellRemaining',
        type: 'boolean',
        default: false,
        description: "Whether each agent's prompt says what it has left to spend (Run Task only)",
      },
      {
        displayName: 'Timeout (Minutes)',
        name: 'timeoutMinutes',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 30,
        description: 'How long to wait for the run to finish',
      },
    ],
  },
];

/** An agent's fields: all of them in a crew's Agents list, the optional ones for Add Agent. */
function agentFields(withNameAndModel: boolean): INodeProperties[] {
  const optional: INodeProperties[] = [
    {
      displayName: 'Max Tokens',
      name: 'maxTokens',
      type: 'number',
      typeOptions: { minValue: 1 },
      default: 512,
      description: "Longest reply of each of the agent's calls",
    },
    {
      displayName: 'Prompt Cache',
      name: 'promptCache',
      type: 'boolean',
      default: false,
      description: "Whether the agent's system prompt is marked cacheable, for providers that need it marked",
    },
    { displayName: 'Role', name: 'role', type: 'string', default: '', placeholder: 'finds facts' },
    { displayName: 'System Prompt', name: 'systemPrompt', type: 'string', typeOptions: { rows: 3 }, default: '' },
    {
      displayName: 'Temperature',
      name: 'temperature',
      type: 'number',
      typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 },
      default: 1,
    },
  ];
  if (!withNameAndModel) return optional;
  return [
    { displayName: 'Name', name: 'name', type: 'string', required: true, default: '', placeholder: 'writer' },
    {
      displayName: 'Model',
      name: 'model',
      type: 'string',
      required: true,
      default: 'openai/gpt-4o-mini',
      description: 'OpenRouter model ID the agent calls',
    },
    ...optional,
  ];
}

/** One agent as crew/create and crew/update take it; fields left out keep the server's defaults. */
function agentInput(name: unknown, model: unknown, f: IDataObject): AgentInput {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  return compact<AgentInput>({
    name: text(name) ?? '',
    model: text(model) ?? '',
    role: text(f.role),
    systemPrompt: typeof f.systemPrompt === 'string' && f.systemPrompt.trim() ? f.systemPrompt : undefined,
    maxTokens: f.maxTokens as number | undefined,
    temperature: f.temperature as number | undefined,
    promptCache: f.promptCache as boolean | undefined,
  });
}

export const crewOperations: Operations = {
  list: operation<Record<string, never>, CrewList.Result>({
    method: CrewList.method,
    params: () => ({}),
    output: (r) => items(r.crews),
  }),

  get: operation<CrewGet.Params, CrewGet.Result>({
    method: CrewGet.method,
    params: (ctx, i) => ({ crew: requiredString(ctx, 'crew', i) }),
    output: (r) => item(r),
  }),

  create: operation<CrewCreate.Params, CrewCreate.Result>({
    method: CrewCreate.method,
    params(ctx, i) {
      const f = collection(ctx, 'createFields', i);
      const agents = ((f.agents as { agent?: IDataObject[] } | undefined)?.agent ?? []).map((a) =>
        agentInput(a.name, a.model, a),
      );
      return compact<CrewCreate.Params>({
        name: requiredString(ctx, 'name', i),
        description: f.description as string | undefined,
        agents,
      });
    },
    output: (r) => item(r),
  }),

  addAgent: operation<CrewUpdate.Params, CrewUpdate.Result>({
    method: CrewUpdate.method,
    params: (ctx, i) => ({
      crew: requiredString(ctx, 'crew', i),
      addAgent: agentInput(
        requiredString(ctx, 'agentName', i),
        requiredString(ctx, 'model', i),
        collection(ctx, 'agentFields', i),
      ),
    }),
    output: (r) => item(r),
  }),

  run: operation<CrewRun.Params, CrewRun.Result>({
    method: CrewRun.method,
    params(ctx, i) {
      const o = collection(ctx, 'runOptions', i);
      return compact<CrewRun.Params>({
        ...runShape(ctx, i),
        saveResult: o.saveResult as boolean | undefined,
        tellRemaining: o.tellRemaining ? true : undefined,
      });
    },
    // A refused or failed run is a result (its status says so), not an error: the server kept what was done.
    output: (r) => item(r),
    timeoutMs: (ctx, i) => ((collection(ctx, 'runOptions', i).timeoutMinutes as number | undefined) ?? 30) * 60_000,
  }),

  estimate: operation<CrewEstimate.Params, CrewEstimate.Result>({
    method: CrewEstimate.method,
    params: (ctx, i) => compact<CrewEstimate.Params>(runShape(ctx, i)),
    output: (r) => item(r),
  }),
};

/** What shapes a run, read alike for Run Task and Estimate Run (so an estimate is of the run that would be made). */
function runShape(ctx: IExecuteFunctions, i: number): CrewEstimate.Params {
  const o = collection(ctx, 'runOptions', i);
  const maxCost = o.maxCostUsd as number | undefined;
  return {
    crew: requiredString(ctx, 'crew', i),
    task: ctx.getNodeParameter('task', i) as string,
    process: o.process as RunProcess | undefined,
    lead: o.lead as string | undefined,
    maxSteps: o.maxSteps as number | undefined,
    memoryTokens: o.memoryTokens as number | undefined,
    // 0 is the field's "no ceiling", not a ceiling of nothing.
    maxCostUsd: maxCost ? maxCost : undefined,
  };
}
