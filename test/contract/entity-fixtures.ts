/**
 * Records for the entity repositories' contract tests (entities.contract.test.ts, entities-postgres.test.ts).
 */
import type { BudgetAlert } from '../../protocol';
import type { Crew } from '../../protocol/crews';
import type {
  AlertRepository,
  AppliedRecommendationRepository,
  BudgetRecord,
  BudgetRepository,
  CallProfileRepository,
  CallShape,
  CrewRepository,
  CrewTokenRepository,
  ModelCacheRepository,
  WebhookRepository,
} from '../../server/store/repositories';
import type { SettingsRepository } from '../../server/store/store';

export interface EntityRepos {
  budgets: BudgetRepository;
  alerts: AlertRepository;
  webhooks: WebhookRepository;
  models: ModelCacheRepository;
  settings: SettingsRepository;
  crews: CrewRepository;
  crewTokens: CrewTokenRepository;
  appliedRecommendations: AppliedRecommendationRepository;
  callProfiles: CallProfileRepository;
}

let seq = 0;
/** A fresh id per use: every case in a suite shares one store. */
export const uid = (prefix: string): string => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

export function budget(over: Partial<BudgetRecord> & { id: string; scope: string }): BudgetRecord {
  return {
    period: 'daily',
    limit: '10',
    action: 'block',
    downgradeTo: null,
    thresholds: [50, 80, 100],
    alertsEnabled: true,
    weekStart: 1,
    createdAt: '2026-01-15T12:00:00.000Z',
    updatedAt: '2026-01-15T12:00:00.000Z',
    ...over,
  };
}

export function alert(over: Partial<BudgetAlert> & { id: string; budgetId: string; at: string }): BudgetAlert {
  return {
    scope: 'global',
    kind: 'threshold',
    threshold: 80,
    severity: 'warning',
    message: 'Budget global (daily) crossed 80 %',
    spentUsd: 8.000000001,
    limitUsd: 10,
    percentUsed: 80,
    periodStart: '2026-01-15T00:00:00.000Z',
    ...over,
  };
}

export function crew(over: Partial<Crew> & { id: string; name: string }): Crew {
  return {
    description: 'writes the launch notes',
    agents: [
      {
        name: 'writer',
        role: 'writes',
        model: 'anthropic/claude-3.5-sonnet',
        systemPrompt: 'You write. "Quoted", ünïcödé, 🚀',
        temperature: 0.7,
        maxTokens: null,
        budget: { limitUsd: 2.5, period: 'weekly' },
        promptCache: true,
      },
    ],
    createdAt: '2026-01-15T12:00:00.000Z',
    updatedAt: '2026-01-15T12:00:00.000Z',
    ...over,
  };
}

export function shape(over: Partial<CallShape> & { at: number; crew: string | null }): CallShape {
  return {
    agent: over.crew === null ? null : `${over.crew}/writer`,
    model: 'openai/gpt-4o',
    maxTokens: 1000,
    completionTokens: 100,
    cachedTokens: 0,
    prefix: null,
    ...over,
  };
}
