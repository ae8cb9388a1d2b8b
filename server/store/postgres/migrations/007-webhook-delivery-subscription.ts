/**
 * Schema 7: a queued webhook delivery names its subscription, so the instance that gives it up (or gets it through)
 * counts it against that subscription, which expires when its deliveries keep failing (server/webhooks/service.ts).
 * Rows queued before have none and count for nothing.
 */
import type { Migration } from './index';

export const M007: Migration = {
  version: 7,
  name: 'webhook deliveries name their subscription',
  sql: `
alter table crew_webhook_deliveries add column subscription_id text;
`,
};
