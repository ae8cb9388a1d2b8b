import type { INodeProperties } from 'n8n-workflow';
import { CrewRuns } from '../../shared/protocol.generated';
import type { RunStatus } from '../../shared/protocol.generated';
import { collection, compact, isoTime, requiredString } from '../../shared/params';
import { item, items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['run'], operation } });

export const runDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['run'] } },
    options: [
      {
        name: 'Get',
        value: 'get',
        description: 'Get one crew run: status, every step, output, usage and cost',
        action: 'Get a crew run',
      },
      {
        name: 'Get Many',
        value: 'list',
        description: 'List crew runs, newest first',
        action: 'Get many crew runs',
      },
    ],
    default: 'list',
  },
  {
    displayName: 'Run ID',
    name: 'runId',
    type: 'string',
    required: true,
    default: '',
    displayOptions: show(['get']),
  },
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 200 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['list']),
  },
  {
    displayName: 'Filters',
    name: 'runFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['list']),
    options: [
      {
        displayName: 'Before',
        name: 'before',
        type: 'dateTime',
        default: '',
        description: 'Only runs that started before this time (for paging back)',
      },
      {
        displayName: 'Crew',
        name: 'crew',
        type: 'string',
        default: '',
        description: "Only this crew's runs (name or ID)",
      },
      {
        displayName: 'Status',
        name: 'status',
        type: 'options',
        options: [
          { name: 'Budget Exceeded', value: 'budget_exceeded' },
          { name: 'Cancelled', value: 'cancelled' },
          { name: 'Completed', value: 'completed' },
          { name: 'Failed', value: 'failed' },
          { name: 'Running', value: 'running' },
        ],
        default: 'completed',
        description: 'Only runs with this status',
      },
    ],
  },
];

export const runOperations: Operations = {
  list: operation<CrewRuns.Params, CrewRuns.Result>({
    method: CrewRuns.method,
    params(ctx, i) {
      const f = collection(ctx, 'runFilters', i);
      return compact<CrewRuns.Params>({
        limit: ctx.getNodeParameter('limit', i),
        crew: f.crew as string | undefined,
        status: f.status as RunStatus | undefined,
        before: isoTime(f.before),
      });
    },
    output: (r) => items(r.runs),
  }),

  get: operation<CrewRuns.Params, CrewRuns.Result>({
    method: CrewRuns.method,
    params: (ctx, i) => ({ runId: requiredString(ctx, 'runId', i) }),
    // The server answers an unknown id with NotFound, so there is exactly one run here.
    output: (r) => r.runs.slice(0, 1).flatMap((run) => item(run)),
  }),
};
