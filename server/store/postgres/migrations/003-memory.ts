/**
 * Schema 3: crews' memories and what hangs off them, as the PostgreSQL side of MemoryRepository, VectorRepository,
 * AccessRepository, ArchiveIndexRepository (+ the archive payloads) and RunRepository (../memories.ts etc.):
 *  - records (memories, runs, archive index entries) are one row each, the record as `json` text exactly as
 *    JSON.stringify wrote it (not jsonb: jsonb refuses \u0000 and lone surrogates, which a memory may hold), and a
 *    `seq` that keeps insertion order (an upsert keeps the row's seq, as a Map keeps a replaced key's place);
 *  - vectors are little-endian float32 bytes (`bytea`) keyed by (memory id, embedder id), with one dimension count
 *    per embedder held by crew_memory_embedders, so two instances can never store vectors of two lengths;
 *  - access figures: per-memory counters and per-day, per-crew aggregates, added to (never overwritten) by each
 *    instance's flush; the ids seen on a day whose distinct count is still open; the newest day seen;
 *  - archive payloads: the compressed archive bytes, content-addressed by their sha256.
 */
import type { Migration } from './index';

export const M003: Migration = {
  version: 3,
  name: 'memories, vectors, access, archives, runs',
  sql: `
create table crew_memories (
  id text primary key,
  seq bigint generated always as identity,
  record json not null
);
create unique index crew_memories_seq on crew_memories (seq);

create table crew_memory_embedders (
  embedder_id text primary key,
  dims integer not null check (dims > 0)
);

create table crew_memory_vectors (
  memory_id text not null,
  embedder_id text not null references crew_memory_embedders (embedder_id),
  seq bigint generated always as identity,
  data bytea not null,
  primary key (memory_id, embedder_id)
);
create unique index crew_memory_vectors_seq on crew_memory_vectors (seq);

create table crew_memory_access (
  memory_id text primary key,
  count bigint not null,
  last bigint
);

-- tracking: the day's distinct memories are still counted (its ids are in crew_memory_access_seen).
create table crew_memory_access_daily (
  day text not null,
  crew text not null,
  accesses bigint not null,
  memories bigint not null,
  by_hour bigint[] not null check (cardinality(by_hour) = 24),
  tracking boolean not null,
  primary key (day, crew)
);

create table crew_memory_access_seen (
  day text not null,
  crew text not null,
  memory_id text not null,
  primary key (day, crew, memory_id)
);

-- One row: the newest day any access was recorded for. Flushes lock it, so they apply one after the other.
create table crew_memory_access_state (
  id boolean primary key default true check (id),
  latest_day text
);
insert into crew_memory_access_state (id, latest_day) values (true, null);

create table crew_archives (
  id text primary key,
  seq bigint generated always as identity,
  record json not null
);
create unique index crew_archives_seq on crew_archives (seq);

create table crew_archive_payloads (
  sha256 text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
  bytes bytea not null,
  created_at timestamptz not null default now()
);

-- instance_id: the instance that last wrote the run (a run in progress is its instance's; see RunService.recover).
create table crew_runs (
  id text primary key,
  seq bigint generated always as identity,
  instance_id text not null,
  record json not null
);
create unique index crew_runs_seq on crew_runs (seq);
`,
};
