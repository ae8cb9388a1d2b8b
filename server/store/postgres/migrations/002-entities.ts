/**
 * Schema 2: the entities beside the money (webhooks, the models cache, crews, crew tokens, applied recommendations,
 * call-profile aggregates), and an insertion order for budgets and alerts (the local store lists both in the order
 * they were first written). Each record is kept whole as jsonb; the columns beside it are the ones lookups,
 * uniqueness and order need. Settings use crew_settings from schema 1 (one row per key).
 */
import type { Migration } from './index';

export const M002: Migration = {
  version: 2,
  name: 'entities: webhooks, models cache, crews, crew tokens, applied recommendations, call profiles',
  sql: `
alter table crew_budgets add column seq bigint generated always as identity;

alter table crew_alerts add column seq bigint generated always as identity;
create index crew_alerts_seq on crew_alerts (seq);
create index crew_alerts_budget_seq on crew_alerts (budget_id, seq);
create index crew_alerts_fired_at on crew_alerts_fired (at);

-- In registration order; the id is not unique, as in the local store (remove drops every record of an id).
create table crew_webhooks (
  seq bigint generated always as identity primary key,
  id text not null,
  record jsonb not null
);
create index crew_webhooks_id on crew_webhooks (id);

-- One row: the catalog as OpenRouter last sent it.
create table crew_model_cache (
  one boolean primary key default true check (one),
  fetched_at text not null,
  models jsonb not null
);

-- name_key is the name as the crews service compares it (JavaScript toLowerCase), so two instances can never
-- both take one name.
create table crew_crews (
  id text primary key,
  seq bigint generated always as identity,
  name_key text not null,
  record jsonb not null,
  constraint crew_crews_name_key unique (name_key)
);

create table crew_crew_tokens (
  crew_id text primary key,
  seq bigint generated always as identity,
  sha256 text not null,
  record jsonb not null,
  constraint crew_crew_tokens_sha256 unique (sha256)
);

create table crew_applied_recommendations (
  seq bigint generated always as identity primary key,
  id text not null,
  record jsonb not null
);
create index crew_applied_recommendations_id on crew_applied_recommendations (id, seq);

-- Per-day aggregates of call shapes (server/store/call-profile-store.ts), added to by every instance's flush.
-- A null crew or agent is keyed as '' (as the local store keys them).
create table crew_call_profile_agents (
  day date not null,
  crew text,
  agent text,
  model text not null,
  crew_k text generated always as (coalesce(crew, '')) stored,
  agent_k text generated always as (coalesce(agent, '')) stored,
  calls bigint not null,
  max_tokens_sum bigint not null,
  max_tokens_max bigint not null,
  completion_sum bigint not null,
  completion_max bigint not null,
  completion_histogram jsonb not null,
  primary key (day, crew_k, agent_k, model)
);

create table crew_call_profile_prefixes (
  day date not null,
  crew text,
  agent text,
  model text not null,
  sha256 text not null,
  crew_k text generated always as (coalesce(crew, '')) stored,
  agent_k text generated always as (coalesce(agent, '')) stored,
  calls bigint not null,
  cached_calls bigint not null,
  prefix_tokens bigint not null,
  writes bigint not null,
  last_at bigint not null,
  primary key (day, crew_k, agent_k, model, sha256)
);
`,
};
