/**
 * Analytics: insights (plain-language findings), topics (the last clustering of each crew: labels and sizes),
 * and recommendations — savings from the ledger (cost/recommendations) and memory housekeeping
 * (analytics/recommendations) — each with an "apply" action.
 */
import * as vscode from 'vscode';
import type {
  AnalyticsInsights,
  AnalyticsRecommendations,
  ClusterInfo,
  ClustersList,
  CostRecommendation,
  CostRecommendations,
  Insight,
  Recommendation,
} from '../../protocol';
import { counted, formatUsd as money } from '../../protocol/format';
import { collapsed, expanded, Row, ServerTree, setContext } from './tree';

type Section = 'insights' | 'topics' | 'recommendations';
type Clustering = ClustersList.Result['results'][number];

export type AnalyticsRow =
  | Row<'section', Section>
  | Row<'insight', Insight>
  | Row<'topicsCrew', Clustering>
  | Row<'topic', { crew: string; cluster: ClusterInfo }>
  | Row<'recommendation', { cost: CostRecommendation } | { memory: Recommendation }>
  | Row<'note', string>;

export class AnalyticsView extends ServerTree<AnalyticsRow> {
  private data:
    | {
        insights: Insight[];
        topics: Clustering[];
        cost: CostRecommendation[];
        costError: string | null;
        memory: Recommendation[];
      }
    | undefined;

  protected async roots(): Promise<AnalyticsRow[]> {
    const [insights, topics, memory, cost] = await Promise.all([
      this.server.request<AnalyticsInsights.Result>('analytics/insights', {}),
      this.server.request<ClustersList.Result>('clusters/list', {}),
      this.server.request<AnalyticsRecommendations.Result>('analytics/recommendations', { limit: 20 }),
      this.server
        .request<CostRecommendations.Result>('cost/recommendations', {})
        .then((r) => ({ ok: r, error: null }))
        .catch((e: Error) => ({ ok: null, error: e.message })),
    ]);
    this.data = {
      insights: insights.insights,
      topics: topics.results,
      memory: memory.recommendations,
      cost: cost.ok?.recommendations ?? [],
      costError: cost.error,
    };
    const d = this.data;
    const any = d.insights.length + d.topics.length + d.memory.length + d.cost.length > 0;
    void setContext('hasAnalytics', any);
    if (!any) return [];
    const section = (s: Section, label: string, description: string, icon: string) => {
      const r = new Row('section', s, label, s === 'topics' ? collapsed : expanded) as AnalyticsRow;
      r.id = `analytics:${s}`;
      r.description = description;
      r.iconPath = new vscode.ThemeIcon(icon);
      return r;
    };
    const savings = d.cost.reduce((a, r) => a + r.savingsUsd, 0);
    return [
      section('insights', 'Insights', String(d.insights.length), 'lightbulb'),
      section('topics', 'Topics', `${d.topics.length} crew${d.topics.length === 1 ? '' : 's'}`, 'type-hierarchy'),
      section(
        'recommendations',
        'Recommendations',
        `${d.cost.length + d.memory.length}${savings > 0 ? ` · save ${money(savings)}` : ''}`,
        'checklist',
      ),
    ];
  }

  protected async children(row: AnalyticsRow): Promise<AnalyticsRow[]> {
    const d = this.data;
    if (!d) return [];
    if (row.kind === 'topicsCrew') {
      const c = row.data;
      return c.clusters.map((cluster) => {
        const r = new Row('topic', { crew: c.crew, cluster }, cluster.label) as AnalyticsRow;
        r.description = `${cluster.size} memor${cluster.size === 1 ? 'y' : 'ies'}`;
        r.tooltip = `${cluster.label}: ${counted(cluster.size, 'memory', 'memories')}, cohesion ${cluster.cohesion.toFixed(2)}\nterms: ${cluster.terms
          .slice(0, 8)
          .map((t) => t.term)
          .join(', ')}`;
        r.iconPath = new vscode.ThemeIcon('circle-outline');
        return r;
      });
    }
    if (row.kind !== 'section') return [];
    switch (row.data) {
      case 'insights':
        return d.insights.map((i) => {
          const r = new Row('insight', i, i.text) as AnalyticsRow;
          r.description = i.crew;
          r.tooltip = `${i.text}\n\n${Object.entries(i.figures)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n')}`;
          r.iconPath = new vscode.ThemeIcon(i.severity === 'warning' ? 'warning' : 'info');
          return r;
        });
      case 'topics':
        return d.topics.map((t) => {
          const r = new Row('topicsCrew', t, t.crew, collapsed) as AnalyticsRow;
          r.id = `topics:${t.crew}`;
          r.description = `${t.clusters.length} topics${t.stale ? ' · stale' : ''}`;
          r.tooltip = `Computed ${t.computedAt} over ${counted(t.memories, 'memory', 'memories')} (${t.embedderId}); silhouette ${t.silhouette.toFixed(2)}${t.stale ? '\nMemories changed since: compute again.' : ''}`;
          r.iconPath = new vscode.ThemeIcon(t.stale ? 'history' : 'type-hierarchy');
          return r;
        });
      case 'recommendations': {
        const rows: AnalyticsRow[] = d.cost.map((cost) => {
          const r = new Row('recommendation', { cost }, cost.title) as AnalyticsRow;
          r.id = `rec:${cost.id}`;
          r.description = cost.savingsUsd > 0 ? `saves ${money(cost.savingsUsd)}` : cost.kind;
          r.tooltip = new vscode.MarkdownString(
            `**${cost.title}**\n\n${cost.detail}${cost.notApplicable ? `\n\n_Cannot be applied here: ${cost.notApplicable}_` : ''}`,
          );
          r.iconPath = new vscode.ThemeIcon('credit-card');
          if (cost.notApplicable) r.contextValue = 'recommendation-info';
          return r;
        });
        for (const memory of d.memory) {
          const r = new Row('recommendation', { memory }, `${memory.kind}: ${memory.reason}`) as AnalyticsRow;
          r.id = `rec:${memory.id}`;
          r.description = `${memory.crew}${memory.tokensSaved ? ` · ${counted(memory.tokensSaved, 'token')}` : ''}`;
          r.tooltip = `${memory.reason}\n\n${memory.memoryIds.length} memor${memory.memoryIds.length === 1 ? 'y' : 'ies'}`;
          r.iconPath = new vscode.ThemeIcon(
            memory.kind === 'archive' ? 'archive' : memory.kind === 'merge' ? 'merge' : 'pinned',
          );
          rows.push(r);
        }
        if (d.costError) {
          const note = new Row('note', d.costError, 'Savings recommendations unavailable') as AnalyticsRow;
          note.description = d.costError;
          note.iconPath = new vscode.ThemeIcon('info');
          rows.push(note);
        }
        return rows;
      }
    }
  }
}
