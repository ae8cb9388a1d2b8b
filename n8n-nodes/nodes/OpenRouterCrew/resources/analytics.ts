import type { INodeProperties } from 'n8n-workflow';
import { AnalyticsInsights, AnalyticsRecommendations, AnalyticsSummary } from '../../shared/protocol.generated';
import { compact, optionalString } from '../../shared/params';
import { items, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['analytics'], operation } });

export const analyticsDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['analytics'] } },
    options: [
      {
        name: 'Get Insights',
        value: 'insights',
        description: 'Plain-language findings about how crews use their memories, with the figures behind them',
        action: 'Get memory insights',
      },
      {
        name: 'Get Recommendations',
        value: 'recommendations',
        description: 'Memories to archive, merge or pin, each with its reason and effect on context tokens',
        action: 'Get memory recommendations',
      },
      {
        name: 'Get Summary',
        value: 'summary',
        description: 'Per crew: memories by kind, growth, accesses by day and hour, hot and cold memories',
        action: 'Get a memory summary',
      },
    ],
    default: 'insights',
  },
  {
    displayName: 'Crew',
    name: 'crew',
    type: 'string',
    default: '',
    description: 'Only this crew; empty: every crew',
    displayOptions: show(['summary', 'insights', 'recommendations']),
  },
  {
    displayName: 'Window (Days)',
    name: 'days',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 365 },
    default: 30,
    description: 'How many days back accesses are counted, today included',
    displayOptions: show(['summary', 'insights']),
  },
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 1000 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['recommendations']),
  },
];

export const analyticsOperations: Operations = {
  summary: operation<AnalyticsSummary.Params, AnalyticsSummary.Result>({
    method: AnalyticsSummary.method,
    params: (ctx, i) =>
      compact<AnalyticsSummary.Params>({
        days: ctx.getNodeParameter('days', i) as number,
        crew: optionalString(ctx, 'crew', i),
      }),
    // Each crew's figures carry the window they cover, so an item alone says what it measured.
    output: (r) => r.crews.map((c) => ({ ...c, window: { ...r.window } })),
  }),

  insights: operation<AnalyticsInsights.Params, AnalyticsInsights.Result>({
    method: AnalyticsInsights.method,
    params: (ctx, i) =>
      compact<AnalyticsInsights.Params>({
        days: ctx.getNodeParameter('days', i) as number,
        crew: optionalString(ctx, 'crew', i),
      }),
    output: (r) => r.insights.map((x) => ({ ...x, figures: { ...x.figures }, window: { ...r.window } })),
  }),

  recommendations: operation<AnalyticsRecommendations.Params, AnalyticsRecommendations.Result>({
    method: AnalyticsRecommendations.method,
    params: (ctx, i) =>
      compact<AnalyticsRecommendations.Params>({
        limit: ctx.getNodeParameter('limit', i),
        crew: optionalString(ctx, 'crew', i),
      }),
    output: (r) => items(r.recommendations),
  }),
};
