import type { INodeProperties } from 'n8n-workflow';
import { ModelsList } from '../../shared/protocol.generated';
import { collection, compact } from '../../shared/params';
import { items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['model'], operation } });

export const modelDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['model'] } },
    options: [
      {
        name: 'Get Many',
        value: 'list',
        description: "OpenRouter's models with their prices per million tokens and context length",
        action: 'Get many models',
      },
    ],
    default: 'list',
  },
  {
    displayName: 'Options',
    name: 'modelOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['list']),
    options: [
      {
        displayName: 'Refresh',
        name: 'refresh',
        type: 'boolean',
        default: false,
        description: "Whether to ask OpenRouter now instead of using the server's cached list",
      },
      {
        displayName: 'Search',
        name: 'search',
        type: 'string',
        default: '',
        placeholder: 'claude',
        description: 'Only models whose ID or name contains this',
      },
    ],
  },
];

export const modelOperations: Operations = {
  list: operation<ModelsList.Params, ModelsList.Result>({
    method: ModelsList.method,
    params(ctx, i) {
      const o = collection(ctx, 'modelOptions', i);
      return compact<ModelsList.Params>({
        search: o.search as string | undefined,
        refresh: o.refresh === true ? true : undefined,
      });
    },
    output: (r) => items(r.models),
  }),
};
