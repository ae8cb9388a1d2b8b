/**
 * The entity repositories of one instance on a team's PostgreSQL (budgets, alerts, webhooks, the models cache,
 * settings, crews, crew tokens, applied recommendations, call profiles), opened together. `instanceId` is how this
 * instance tells its own notifications from others'.
 */
import type { Logger } from '../../log';
import type { PgDatabase } from './db';
import { PgAlertRepository } from './alerts';
import { PgAppliedRecommendationRepository } from './applied-recommendations';
import { PgBudgetRepository } from './budgets';
import { PgCallProfileRepository } from './call-profiles';
import { PgCrewTokenRepository } from './crew-tokens';
import { PgCrewRepository } from './crews';
import { PgModelCacheRepository, PgSettings } from './settings';
import { PgWebhookRepository } from './webhooks';

export interface PgEntities {
  budgets: PgBudgetRepository;
  alerts: PgAlertRepository;
  webhooks: PgWebhookRepository;
  models: PgModelCacheRepository;
  settings: PgSettings;
  crews: PgCrewRepository;
  crewTokens: PgCrewTokenRepository;
  appliedRecommendations: PgAppliedRecommendationRepository;
  callProfiles: PgCallProfileRepository;
  /** Writes what is pending and stops listening. */
  close(): Promise<void>;
}

export async function openEntities(
  db: PgDatabase,
  instanceId: string,
  log: Logger,
  opts: { callProfileDebounceMs?: number } = {},
): Promise<PgEntities> {
  const settings = await PgSettings.open(db, instanceId, log);
  const callProfiles = await PgCallProfileRepository.open(db, instanceId, log, {
    debounceMs: opts.callProfileDebounceMs,
  });
  return {
    budgets: new PgBudgetRepository(db, instanceId),
    alerts: new PgAlertRepository(db),
    webhooks: new PgWebhookRepository(db),
    models: new PgModelCacheRepository(db, instanceId),
    settings,
    crews: new PgCrewRepository(db),
    crewTokens: new PgCrewTokenRepository(db, instanceId),
    appliedRecommendations: new PgAppliedRecommendationRepository(db),
    callProfiles,
    close: async () => {
      settings.close();
      await callProfiles.close();
    },
  };
}
