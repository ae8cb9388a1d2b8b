import type { INodeProperties } from 'n8n-workflow';
import { LedgerList } from '../../shared/protocol.generated';
import type { CallStatus } from '../../shared/protocol.generated';
import { collection, compact } from '../../shared/params';
import { items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['ledger'], operation } });

export const ledgerDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['ledger'] } },
    options: [
      {
        name: 'Get Many',
        value: 'list',
        description: 'The calls recorded, newest first: model, crew, agent, tokens, real cost, status',
        action: 'Get many ledger entries',
      },
    ],
    default: 'list',
  },
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 1000 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['list']),
  },
  {
    displayName: 'Filters',
    name: 'ledgerFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['list']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Only calls of this agent' },
      {
        displayName: 'Before Entry ID',
        name: 'before',
        type: 'number',
        typeOptions: { minValue: 0 },
        default: 0,
        description: 'Only entries with an ID below this one (for paging back); 0 for the newest',
      },
      { displayName: 'Crew', name: 'crew', type: 'string', default: '', description: 'Only calls of this crew' },
      {
        displayName: 'Model',
        name: 'model',
        type: 'string',
        default: '',
        placeholder: 'openai/gpt-4o-mini',
        description: 'Only calls to this model',
      },
      {
        displayName: 'Status',
        name: 'status',
        type: 'options',
        options: [
          { name: 'Cancelled', value: 'cancelled' },
          { name: 'Error', value: 'error' },
          { name: 'OK', value: 'ok' },
        ],
        default: 'ok',
        description: 'Only calls that ended this way',
      },
    ],
  },
];

export const ledgerOperations: Operations = {
  list: operation<LedgerList.Params, LedgerList.Result>({
    method: LedgerList.method,
    params(ctx, i) {
      const f = collection(ctx, 'ledgerFilters', i);
      return compact<LedgerList.Params>({
        limit: ctx.getNodeParameter('limit', i),
        // 0 (the field's default once added) means no paging: the newest entries.
        before: (f.before as number | undefined) || undefined,
        crew: f.crew as string | undefined,
        agent: f.agent as string | undefined,
        model: f.model as string | undefined,
        status: f.status as CallStatus | undefined,
      });
    },
    output: (r) => items(r.entries),
  }),
};
