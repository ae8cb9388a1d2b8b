/**
 * The server methods and notifications the dashboards use, typed from protocol/ (types only: the pages must not
 * bundle vscode-jsonrpc, which the protocol's method constants come with).
 */
import type {
  AnalyticsInsights,
  AnalyticsRecommendations,
  AnalyticsSummary,
  ArchiveCreate,
  ArchiveDelete,
  ArchiveList,
  ArchiveRestore,
  BudgetDelete,
  BudgetSet,
  BudgetStatusRequest,
  ClustersCompute,
  ClustersList,
  CostApplyRecommendation,
  CostForecast,
  CostRecommendations,
  CostReport,
  CostVerification,
  MemoryMerge,
  MemoryUpdate,
  MethodName,
} from '../../protocol';
import type { Bridge } from './bridge';

export interface Methods {
  'cost/report': [CostReport.Params, CostReport.Result];
  'cost/forecast': [CostForecast.Params, CostForecast.Result];
  'cost/recommendations': [CostRecommendations.Params, CostRecommendations.Result];
  'cost/applyRecommendation': [CostApplyRecommendation.Params, CostApplyRecommendation.Result];
  'cost/verification': [CostVerification.Params, CostVerification.Result];
  'budget/status': [BudgetStatusRequest.Params, BudgetStatusRequest.Result];
  'budget/set': [BudgetSet.Params, BudgetSet.Result];
  'budget/delete': [BudgetDelete.Params, BudgetDelete.Result];
  'analytics/summary': [AnalyticsSummary.Params, AnalyticsSummary.Result];
  'analytics/insights': [AnalyticsInsights.Params, AnalyticsInsights.Result];
  'analytics/recommendations': [AnalyticsRecommendations.Params, AnalyticsRecommendations.Result];
  'clusters/list': [ClustersList.Params, ClustersList.Result];
  'clusters/compute': [ClustersCompute.Params, ClustersCompute.Result];
  'memory/merge': [MemoryMerge.Params, MemoryMerge.Result];
  'memory/update': [MemoryUpdate.Params, MemoryUpdate.Result];
  'archive/list': [ArchiveList.Params, ArchiveList.Result];
  'archive/create': [ArchiveCreate.Params, ArchiveCreate.Result];
  'archive/restore': [ArchiveRestore.Params, ArchiveRestore.Result];
  'archive/delete': [ArchiveDelete.Params, ArchiveDelete.Result];
}

/** Fails to compile if a name above is not a protocol method. */
export type KnownMethods = keyof Methods extends MethodName ? keyof Methods : never;

export function call<M extends KnownMethods>(bridge: Bridge, method: M, params: Methods[M][0]): Promise<Methods[M][1]> {
  return bridge.request<Methods[M][1]>(method, params);
}

/** The server notifications after which a dashboard re-reads its data. */
export const NOTIFICATIONS = {
  usage: 'usage/recorded',
  budgetAlert: 'budget/alert',
  memoryChanged: 'memory/changed',
  runProgress: 'crew/runProgress',
  storeChanged: 'store/changed',
} as const;
