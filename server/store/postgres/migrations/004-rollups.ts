/**
 * Schema 4: hourly roll-ups of the ledger, so a report over millions of rows reads thousands. The hot path never
 * writes them (a settlement only inserts its row): `crew_rollup_fold` folds settled rows into them in the
 * background, one instance at a time, up to a watermark; a report reads the roll-ups up to the watermark and the
 * few raw rows after it. Rows are folded only once they are a minute old, so a row whose id was taken before a
 * folded one but committed after it cannot be skipped. A corrected cost (reconcile) below the watermark corrects
 * its hour in the same statement.
 */
import type { Migration } from './index';

export const M004: Migration = {
  version: 4,
  name: 'ledger roll-ups',
  sql: `
create table crew_ledger_hourly (
  hour bigint not null,
  crew text not null,
  agent text not null,
  model text not null,
  status text not null,
  calls bigint not null,
  prompt_tokens bigint not null,
  completion_tokens bigint not null,
  cached_tokens bigint not null,
  reasoning_tokens bigint not null,
  cost_pico numeric(38,0) not null,
  estimated_pico numeric(38,0) not null,
  primary key (hour, crew, agent, model, status)
);

create table crew_rollup_state (
  one boolean primary key default true check (one),
  through bigint not null
);
insert into crew_rollup_state (through) values (0);

-- Folds ledger rows after the watermark (at most p_limit, none younger than p_settle_ms) into the hourly roll-ups.
-- Returns how many were folded; concurrent callers wait on the state row, so each row is folded once.
create function crew_rollup_fold(p_limit integer, p_settle_ms integer) returns integer
language plpgsql as $$
declare
  w bigint;
  upto bigint;
  n integer;
begin
  select through into w from crew_rollup_state for update;
  select max(id) into upto from (
    select id from crew_ledger where id > w and ts < (extract(epoch from now()) * 1000)::bigint - p_settle_ms
    order by id limit p_limit) x;
  if upto is null then return 0; end if;
  insert into crew_ledger_hourly as h
  select (ts / 3600000) * 3600000, coalesce(crew, ''), coalesce(agent, ''), model, status, count(*),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(reasoning_tokens), sum(cost_pico),
    coalesce(sum(cost_pico) filter (where estimated), 0)
  from crew_ledger where id > w and id <= upto
  group by 1, 2, 3, 4, 5
  on conflict (hour, crew, agent, model, status) do update set
    calls = h.calls + excluded.calls,
    prompt_tokens = h.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = h.completion_tokens + excluded.completion_tokens,
    cached_tokens = h.cached_tokens + excluded.cached_tokens,
    reasoning_tokens = h.reasoning_tokens + excluded.reasoning_tokens,
    cost_pico = h.cost_pico + excluded.cost_pico,
    estimated_pico = h.estimated_pico + excluded.estimated_pico;
  select count(*) into n from crew_ledger where id > w and id <= upto;
  update crew_rollup_state set through = upto;
  return n;
end $$;

-- Replaces an estimated cost with the real one; a row already folded corrects its hour too. Returns the row.
create function crew_correct_cost(p_id bigint, p_pico numeric, p_cost text) returns setof crew_ledger
language plpgsql as $$
declare
  r crew_ledger;
  w bigint;
begin
  select through into w from crew_rollup_state for update;
  update crew_ledger l set cost_pico = p_pico, cost = p_cost, estimated = false
    from crew_ledger o where l.id = p_id and o.id = p_id and l.estimated
    returning o.* into r;
  if not found then return; end if;
  if r.id <= w then
    update crew_ledger_hourly set cost_pico = cost_pico - r.cost_pico + p_pico,
      estimated_pico = estimated_pico - r.cost_pico
    where hour = (r.ts / 3600000) * 3600000 and crew = coalesce(r.crew, '') and agent = coalesce(r.agent, '')
      and model = r.model and status = r.status;
  end if;
  return query select * from crew_ledger where id = p_id;
end $$;
`,
};
