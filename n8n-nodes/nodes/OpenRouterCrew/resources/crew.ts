import type { INodeProperties } from 'n8n-workflow';
import { CrewRun } from '../../shared/protocol.generated';
import type { RunProcess } from '../../shared/protocol.generated';
import { collection, compact, requiredString } from '../../shared/params';
import { item, operation, type Operations } from './operation';

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
    displayOptions: show(['run']),
  },
  {
    displayName: 'Task',
    name: 'task',
    type: 'string',
    required: true,
    typeOptions: { rows: 4 },
    default: '',
    placeholder: 'Why did the nightly report get faster?',
    displayOptions: show(['run']),
  },
  {
    displayName: 'Options',
    name: 'runOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['run']),
    options: [
      {
        displayName: 'Lead Agent',
        name: 'lead',
        type: 'string',
        default: '',
        description: "Manager process: the agent that delegates (default: the crew's first agent)",
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

export const crewOperations: Operations = {
  run: operation<CrewRun.Params, CrewRun.Result>({
    method: CrewRun.method,
    params(ctx, i) {
      const o = collection(ctx, 'runOptions', i);
      return compact<CrewRun.Params>({
        crew: requiredString(ctx, 'crew', i),
        task: ctx.getNodeParameter('task', i) as string,
        process: o.process as RunProcess | undefined,
        lead: o.lead as string | undefined,
        maxSteps: o.maxSteps as number | undefined,
        memoryTokens: o.memoryTokens as number | undefined,
        saveResult: o.saveResult as boolean | undefined,
      });
    },
    // A refused or failed run is a result (its status says so), not an error: the server kept what was done.
    output: (r) => item(r),
    timeoutMs: (ctx, i) => ((collection(ctx, 'runOptions', i).timeoutMinutes as number | undefined) ?? 30) * 60_000,
  }),
};
