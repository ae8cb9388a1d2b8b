import type { INodeProperties } from 'n8n-workflow';
import { BudgetAlerts, BudgetDelete, BudgetSet, BudgetStatusRequest } from '../../shared/protocol.generated';
import type { BudgetAction, BudgetPeriod } from '../../shared/protocol.generated';
import { collection, compact, isoTime, requiredString, splitList } from '../../shared/params';
import { item, items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['budget'], operation } });

export const budgetDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['budget'] } },
    options: [
      {
        name: 'Delete',
        value: 'delete',
        description: 'Delete a budget; the calls it counted stay in the ledger',
        action: 'Delete a budget',
      },
      {
        name: 'Get Status',
        value: 'getStatus',
        description: 'Spent, reserved and remaining amount of every budget in its current period',
        action: 'Get budget status',
      },
      {
        name: 'List Alerts',
        value: 'listAlerts',
        description:
          'Alerts fired: thresholds crossed, calls blocked, warn budgets over their limit, models downgraded, forecasts and anomalies',
        action: 'List budget alerts',
      },
      {
        name: 'Set',
        value: 'set',
        description: 'Create a budget, or update the one with the same scope and period',
        action: 'Set a budget',
      },
    ],
    default: 'getStatus',
  },

  // ── set ──
  {
    displayName: 'Scope',
    name: 'scope',
    type: 'string',
    required: true,
    default: 'global',
    placeholder: 'crew:ops',
    description:
      'What the budget covers: global, crew:&lt;crew&gt;, agent:&lt;crew&gt;/&lt;agent&gt; or model:&lt;model ID&gt; (e.g. model:openai/gpt-4o)',
    displayOptions: show(['set']),
  },
  {
    displayName: 'Period',
    name: 'period',
    type: 'options',
    options: [
      { name: 'Daily', value: 'daily' },
      { name: 'Monthly', value: 'monthly' },
      { name: 'Total', value: 'total', description: 'Never resets' },
      { name: 'Weekly', value: 'weekly' },
    ],
    default: 'monthly',
    description: 'When the spent amount starts again from zero (UTC)',
    displayOptions: show(['set']),
  },
  {
    displayName: 'Limit (USD)',
    name: 'limitUsd',
    type: 'number',
    required: true,
    typeOptions: { minValue: 0, numberPrecision: 4 },
    default: 10,
    description: 'The most that calls in scope may cost per period, in US dollars',
    displayOptions: show(['set']),
  },
  {
    displayName: 'Additional Fields',
    name: 'additionalFields',
    type: 'collection',
    placeholder: 'Add Field',
    default: {},
    displayOptions: show(['set']),
    options: [
      {
        displayName: 'Alert Thresholds',
        name: 'thresholds',
        type: 'string',
        default: '50,80,100',
        description: 'Percentages of the limit at which an alert fires, comma-separated',
      },
      {
        displayName: 'Budget ID',
        name: 'id',
        type: 'string',
        default: '',
        description: 'Update this budget instead of the one with the same scope and period',
      },
      {
        displayName: 'Downgrade To',
        name: 'downgradeTo',
        type: 'string',
        default: '',
        placeholder: 'openai/gpt-4o-mini',
        description: 'Model that calls go to once the limit is reached (with the Downgrade action)',
      },
      {
        displayName: 'Min Tokens',
        name: 'minTokens',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 16,
        description: 'With the Fit action: the fewest completion tokens a call is lowered to',
      },
      {
        displayName: 'Week Starts On',
        name: 'weekStart',
        type: 'options',
        options: [
          { name: 'Friday', value: 5 },
          { name: 'Monday', value: 1 },
          { name: 'Saturday', value: 6 },
          { name: 'Sunday', value: 0 },
          { name: 'Thursday', value: 4 },
          { name: 'Tuesday', value: 2 },
          { name: 'Wednesday', value: 3 },
        ],
        default: 1,
        description: 'First day of a weekly period',
      },
      {
        displayName: 'When Exceeded',
        name: 'onExceeded',
        type: 'options',
        options: [
          { name: 'Block', value: 'block', description: 'Refuse calls that could go over the limit' },
          {
            name: 'Fit',
            value: 'fit',
            description: "Lower such a call's max_tokens to what fits (down to Min Tokens); refuse below that",
          },
          {
            name: 'Downgrade',
            value: 'downgrade',
            description: 'Send such calls to the cheaper Downgrade To model instead',
          },
          { name: 'Warn', value: 'warn', description: 'Let calls through, with an alert' },
        ],
        default: 'block',
      },
    ],
  },

  // ── getStatus ──
  {
    displayName: 'Filters',
    name: 'filters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['getStatus']),
    options: [
      { displayName: 'Budget ID', name: 'id', type: 'string', default: '', description: 'Only this budget' },
      {
        displayName: 'Scope',
        name: 'scope',
        type: 'string',
        default: '',
        placeholder: 'crew:ops',
        description: 'Only budgets of this scope',
      },
    ],
  },

  // ── delete ──
  {
    displayName: 'Budget ID',
    name: 'budgetId',
    type: 'string',
    required: true,
    default: '',
    description: 'The budget to delete (Get Status lists them with their IDs)',
    displayOptions: show(['delete']),
  },

  // ── listAlerts ──
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 5000 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['listAlerts']),
  },
  {
    displayName: 'Filters',
    name: 'alertFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['listAlerts']),
    options: [
      { displayName: 'Budget ID', name: 'budgetId', type: 'string', default: '', description: 'Only this budget' },
      {
        displayName: 'Since',
        name: 'since',
        type: 'dateTime',
        default: '',
        description: 'Only alerts after this time',
      },
    ],
  },
];

const actions: readonly BudgetAction[] = ['block', 'fit', 'warn', 'downgrade'];

export const budgetOperations: Operations = {
  delete: operation<BudgetDelete.Params, BudgetDelete.Result>({
    method: BudgetDelete.method,
    params: (ctx, i) => ({ id: requiredString(ctx, 'budgetId', i) }),
    output: (r) => item(r),
  }),

  set: operation<BudgetSet.Params, BudgetSet.Result>({
    method: BudgetSet.method,
    params(ctx, i) {
      const extra = collection(ctx, 'additionalFields', i);
      const thresholds = splitList(extra.thresholds).map(Number);
      return compact<BudgetSet.Params>({
        scope: requiredString(ctx, 'scope', i),
        period: requiredString(ctx, 'period', i) as BudgetPeriod,
        limitUsd: ctx.getNodeParameter('limitUsd', i) as number,
        id: extra.id as string | undefined,
        action: actions.find((a) => a === extra.onExceeded),
        downgradeTo: extra.downgradeTo as string | undefined,
        // Only a fit budget has a floor; the server refuses one on any other.
        minTokens: extra.onExceeded === 'fit' ? (extra.minTokens as number | undefined) : undefined,
        thresholds,
        weekStart: extra.weekStart as number | undefined,
      });
    },
    output: (r) => item({ ...r.budget, created: r.created }),
  }),

  getStatus: operation<BudgetStatusRequest.Params, BudgetStatusRequest.Result>({
    method: BudgetStatusRequest.method,
    params(ctx, i) {
      const f = collection(ctx, 'filters', i);
      return compact<BudgetStatusRequest.Params>({
        id: f.id as string | undefined,
        scope: f.scope as string | undefined,
      });
    },
    output: (r) => items(r.budgets),
  }),

  listAlerts: operation<BudgetAlerts.Params, BudgetAlerts.Result>({
    method: BudgetAlerts.method,
    params(ctx, i) {
      const f = collection(ctx, 'alertFilters', i);
      return compact<BudgetAlerts.Params>({
        limit: ctx.getNodeParameter('limit', i),
        budgetId: f.budgetId as string | undefined,
        since: isoTime(f.since),
      });
    },
    output: (r) => items(r.alerts),
  }),
};
