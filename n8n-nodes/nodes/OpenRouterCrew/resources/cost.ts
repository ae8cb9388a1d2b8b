import type { INodeProperties } from 'n8n-workflow';
import { CostForecast, CostRecommendations, CostReport, CostVerify } from '../../shared/protocol.generated';
import { collection, compact, isoTime } from '../../shared/params';
import { item, items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['cost'], operation } });

export const costDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['cost'] } },
    options: [
      {
        name: 'Forecast',
        value: 'forecast',
        description: "Each budget's projected spend at the end of its period, and the day it would run out",
        action: 'Forecast spend per budget',
      },
      {
        name: 'Get Recommendations',
        value: 'recommendations',
        description:
          'What would have been saved, per agent: cheaper models, prompt caching, max tokens, unused memories',
        action: 'Get savings recommendations',
      },
      {
        name: 'Report',
        value: 'report',
        description: 'Spend grouped by crew, agent, model or day over a time range, with totals',
        action: 'Get a cost report',
      },
      {
        name: 'Verify Against OpenRouter',
        value: 'verify',
        description:
          "Check every call of a range against what OpenRouter billed: drifted, unknown and zero-cost calls, and the key's usage",
        action: 'Verify recorded costs against billing',
      },
    ],
    default: 'report',
  },

  // ── report ──
  {
    displayName: 'Group By',
    name: 'by',
    type: 'options',
    options: [
      { name: 'Agent', value: 'agent' },
      { name: 'Crew', value: 'crew' },
      { name: 'Day', value: 'day' },
      { name: 'Model', value: 'model' },
    ],
    default: 'model',
    description: 'One row per crew, agent, model or UTC day',
    displayOptions: show(['report']),
  },
  {
    displayName: 'From',
    name: 'from',
    type: 'dateTime',
    default: '',
    description: 'Start of the range (inclusive); empty: from the first call',
    displayOptions: show(['report']),
  },
  {
    displayName: 'To',
    name: 'to',
    type: 'dateTime',
    default: '',
    description: 'End of the range (exclusive); empty: up to now',
    displayOptions: show(['report']),
  },
  {
    displayName: 'Options',
    name: 'reportOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['report']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Only calls of this agent' },
      { displayName: 'Crew', name: 'crew', type: 'string', default: '', description: 'Only calls of this crew' },
      {
        displayName: 'Include CSV',
        name: 'csv',
        type: 'boolean',
        default: false,
        description: 'Whether to add the rows as CSV text in a "csv" field',
      },
      {
        displayName: 'Model',
        name: 'model',
        type: 'string',
        default: '',
        placeholder: 'openai/gpt-4o-mini',
        description: 'Only calls to this model',
      },
      {
        displayName: 'Split Days By',
        name: 'stack',
        type: 'options',
        options: [
          { name: 'Agent', value: 'agent' },
          { name: 'Crew', value: 'crew' },
          { name: 'Model', value: 'model' },
        ],
        default: 'crew',
        description: 'Also split each day of the range by crew, agent or model (a "stacked" field, for charts)',
      },
    ],
  },

  // ── recommendations ──
  {
    displayName: 'Window (Days)',
    name: 'windowDays',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 365 },
    default: 30,
    description: 'How many days back the calls are looked at',
    displayOptions: show(['recommendations']),
  },
  {
    displayName: 'Options',
    name: 'recommendationOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['recommendations']),
    options: [
      {
        displayName: 'Crew',
        name: 'crew',
        type: 'string',
        default: '',
        description: 'Only calls of this crew (name or ID)',
      },
      {
        displayName: 'Minimum Savings (USD)',
        name: 'minSavingsUsd',
        type: 'number',
        typeOptions: { minValue: 0, numberPrecision: 4 },
        default: 0,
        description: 'Leave out recommendations that would have saved less',
      },
    ],
  },

  // ── forecast ──
  {
    displayName: 'Filters',
    name: 'forecastFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['forecast']),
    options: [
      { displayName: 'Budget ID', name: 'budgetId', type: 'string', default: '', description: 'Only this budget' },
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

  // ── verify ──
  {
    displayName: 'From',
    name: 'verifyFrom',
    type: 'dateTime',
    default: '',
    description: 'Start of the range (inclusive); empty: 7 days ago',
    displayOptions: show(['verify']),
  },
  {
    displayName: 'To',
    name: 'verifyTo',
    type: 'dateTime',
    default: '',
    description: 'End of the range (exclusive); empty: now',
    displayOptions: show(['verify']),
  },
  {
    displayName: 'Options',
    name: 'verifyOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['verify']),
    options: [
      {
        displayName: 'Append Corrections',
        name: 'fix',
        type: 'boolean',
        default: false,
        description:
          'Whether to append a correction for each drifted call (the original stays in the ledger; budgets follow)',
      },
      {
        displayName: 'Threshold (USD)',
        name: 'threshold',
        type: 'number',
        typeOptions: { minValue: 0, numberPrecision: 6 },
        default: 0.000001,
        description: 'Difference per call above which it has drifted',
      },
    ],
  },
];

export const costOperations: Operations = {
  report: operation<CostReport.Params, CostReport.Result>({
    method: CostReport.method,
    params(ctx, i) {
      const o = collection(ctx, 'reportOptions', i);
      return compact<CostReport.Params>({
        by: ctx.getNodeParameter('by', i) as CostReport.GroupBy,
        from: isoTime(ctx.getNodeParameter('from', i, '')),
        to: isoTime(ctx.getNodeParameter('to', i, '')),
        crew: o.crew as string | undefined,
        agent: o.agent as string | undefined,
        model: o.model as string | undefined,
        format: o.csv === true ? ('csv' as const) : undefined,
        stack: o.stack as CostReport.StackBy | undefined,
      });
    },
    output: (r) => item(r),
  }),

  recommendations: operation<CostRecommendations.Params, CostRecommendations.Result>({
    method: CostRecommendations.method,
    params(ctx, i) {
      const o = collection(ctx, 'recommendationOptions', i);
      return compact<CostRecommendations.Params>({
        windowDays: ctx.getNodeParameter('windowDays', i) as number,
        crew: o.crew as string | undefined,
        minSavingsUsd: o.minSavingsUsd as number | undefined,
      });
    },
    output: (r) => items(r.recommendations),
  }),

  forecast: operation<CostForecast.Params, CostForecast.Result>({
    method: CostForecast.method,
    params(ctx, i) {
      const f = collection(ctx, 'forecastFilters', i);
      return compact<CostForecast.Params>({
        budgetId: f.budgetId as string | undefined,
        scope: f.scope as string | undefined,
      });
    },
    output: (r) => items(r.forecasts),
  }),

  verify: operation<CostVerify.Params, CostVerify.Result>({
    method: CostVerify.method,
    params(ctx, i) {
      const o = collection(ctx, 'verifyOptions', i);
      return compact<CostVerify.Params>({
        from: isoTime(ctx.getNodeParameter('verifyFrom', i, '')),
        to: isoTime(ctx.getNodeParameter('verifyTo', i, '')),
        fix: o.fix === true ? true : undefined,
        threshold: o.threshold as number | undefined,
      });
    },
    // One item: the summary and the lists together, so a workflow can branch on `drifted.length`.
    output: (r) => item(r),
  }),
};
