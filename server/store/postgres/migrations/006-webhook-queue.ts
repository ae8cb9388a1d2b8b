/**
 * Schema 6: webhook deliveries as a queue every instance sends from. A delivery is claimed with
 * `FOR UPDATE SKIP LOCKED` by one instance for a lease, sent, and removed (2xx, or given up) or put back with a
 * later time; an instance that dies mid-send leaves it to the others when the lease runs out. Publishing writes
 * the row, so a delivery survives the instance that raised it.
 */
import type { Migration } from './index';

export const M006: Migration = {
  version: 6,
  name: 'webhook delivery queue',
  sql: `
create table crew_webhook_deliveries (
  id text primary key,
  url text not null,
  body text not null,
  headers jsonb not null,
  what text not null,
  attempt integer not null default 0,
  due_at timestamptz not null default now(),
  claimed_by text,
  claimed_until timestamptz,
  last_failure text,
  created_at timestamptz not null default now()
);
create index crew_webhook_deliveries_due on crew_webhook_deliveries (due_at);
`,
};
