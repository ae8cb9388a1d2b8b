/**
 * Schema 1: instances, budgets and their per-period counters, reservations, the ledger, alerts, settings, and the
 * gate as SQL functions, so a reservation or a settlement is one round trip and one transaction:
 *  - crew_reserve locks the counter rows of every budget in scope, in id order (two instances never deadlock),
 *    checks `spent + reserved + amount <= limit` on every enforcing budget, and either reserves on all of them or
 *    on none, naming the first that has no room;
 *  - crew_settle inserts the ledger row, releases the reservation and adds the cost to every budget in scope now
 *    (so a budget created while the call was in flight counts it, exactly once: see crew_counter);
 *  - a period is a counter row keyed by its start (crew_period_start), created on first use: rollover is derived.
 */
import type { Migration } from './index';

export const M001: Migration = {
  version: 1,
  name: 'budgets, gate, ledger, alerts',
  sql: `
create table crew_instances (
  id text primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);

create table crew_budgets (
  id text primary key,
  scope text not null,
  period text not null,
  week_start integer not null default 1,
  action text not null,
  limit_pico numeric(38,0) not null,
  record jsonb not null,
  unique (scope, period)
);

create table crew_budget_counters (
  budget_id text not null references crew_budgets(id) on delete cascade,
  period_start bigint not null,
  spent_pico numeric(38,0) not null default 0,
  reserved_pico numeric(38,0) not null default 0,
  primary key (budget_id, period_start)
);

create table crew_reservations (
  id text primary key,
  instance_id text not null,
  amount_pico numeric(38,0) not null,
  budget_ids text[] not null,
  period_starts bigint[] not null,
  created_at timestamptz not null default now()
);
create index crew_reservations_instance on crew_reservations (instance_id);

create table crew_ledger (
  id bigserial primary key,
  ts bigint not null,
  model text not null,
  crew text,
  agent text,
  tags text[] not null default '{}',
  prompt_tokens integer not null,
  completion_tokens integer not null,
  cached_tokens integer not null,
  reasoning_tokens integer not null,
  cost_pico numeric(38,0) not null,
  cost text not null,
  estimated boolean not null,
  generation_id text,
  latency_ms integer not null,
  status text not null,
  stream boolean not null,
  extra jsonb,
  -- The settlement that wrote the row: a settlement retried after a lost acknowledgement finds it, not a twin.
  settle_key text unique
);
create index crew_ledger_ts on crew_ledger (ts);
create index crew_ledger_crew_ts on crew_ledger (crew, ts);
create index crew_ledger_agent_ts on crew_ledger (agent, ts);
create index crew_ledger_model_ts on crew_ledger (model, ts);
create index crew_ledger_estimated on crew_ledger (id) where estimated;

create table crew_alerts (
  id text primary key,
  at timestamptz not null,
  budget_id text,
  record jsonb not null
);
create index crew_alerts_at on crew_alerts (at);
create table crew_alerts_fired (key text primary key, at timestamptz not null default now());

create table crew_settings (key text primary key, value jsonb not null);

-- The start (ms) of the period holding p_now, in UTC; -1 for a total budget. Mirrors server/costs/periods.ts.
create function crew_period_start(p_period text, p_week_start integer, p_now bigint) returns bigint
language sql immutable as $$
  select case p_period
    when 'daily' then (p_now / 86400000) * 86400000
    when 'weekly' then ((p_now / 86400000) - (((p_now / 86400000) + 4 - p_week_start) % 7 + 7) % 7) * 86400000
    when 'monthly' then (extract(epoch from date_trunc('month', to_timestamp(p_now / 1000.0) at time zone 'UTC')) * 1000)::bigint
    else -1
  end
$$;

-- The spend already in the ledger for a budget's scope since p_from (a budget created mid-period starts there).
create function crew_scope_spend(p_scope text, p_from bigint, p_except bigint default null) returns numeric
language sql stable as $$
  select coalesce(sum(cost_pico), 0) from crew_ledger
  where ts >= p_from and id is distinct from p_except and case
    when p_scope = 'global' then true
    when p_scope like 'crew:%' then crew = substr(p_scope, 6)
    when p_scope like 'agent:%' then agent = substr(p_scope, 7)
    when p_scope like 'model:%' then model = substr(p_scope, 7)
    else false end
$$;

-- Ensures the counter row of a budget's period; its spend starts at what the ledger holds for the budget's scope
-- in the period, leaving out row p_except (the settling call, which adds itself). Rows still uncommitted are not
-- in the sum; their settlement finds the row and adds itself, so every call counts exactly once.
create function crew_counter(p_budget text, p_start bigint, p_except bigint default null) returns void
language plpgsql as $$
begin
  insert into crew_budget_counters (budget_id, period_start, spent_pico)
  select b.id, p_start, crew_scope_spend(b.scope, greatest(p_start, 0), p_except)
  from crew_budgets b where b.id = p_budget
  on conflict do nothing;
end $$;

-- The end (ms, exclusive) of the period starting at p_start; null for a total budget.
create function crew_period_end(p_period text, p_start bigint) returns bigint
language sql immutable as $$
  select case p_period
    when 'daily' then p_start + 86400000
    when 'weekly' then p_start + 604800000
    when 'monthly' then (extract(epoch from (to_timestamp(p_start / 1000.0) at time zone 'UTC') + interval '1 month') * 1000)::bigint
    else null
  end
$$;

-- One budget's figures as the gate reports them (money as text: exact picodollars).
create function crew_figure(p_id text, p_period text, p_start bigint, p_limit numeric, p_spent numeric, p_reserved numeric)
returns jsonb language sql immutable as $$
  select jsonb_build_object('id', p_id, 'start', case when p_start < 0 then null else p_start end,
    'end', crew_period_end(p_period, p_start), 'limit', p_limit::text, 'spent', p_spent::text,
    'reserved', p_reserved::text)
$$;

-- Reserves p_amount on every budget of p_scopes, or on none. Returns every budget in scope with its figures
-- (after the reservation when it was made); p_blocker is the first enforcing budget without room, or null.
create function crew_reserve(
  p_id text, p_instance text, p_now bigint, p_scopes text[], p_amount numeric, p_enforce text[],
  out p_blocker text, out p_figures jsonb
) language plpgsql as $$
declare
  b record;
  c record;
  ids text[] := '{}';
  starts bigint[] := '{}';
  blocked jsonb;
  figs jsonb := '[]';
begin
  for b in select id, action, period, limit_pico, crew_period_start(period, week_start, p_now) as start
           from crew_budgets where scope = any(p_scopes) order by id loop
    perform crew_counter(b.id, b.start);
    select spent_pico, reserved_pico into c from crew_budget_counters
      where budget_id = b.id and period_start = b.start for update;
    if p_blocker is null and b.action = any(p_enforce) and c.spent_pico + c.reserved_pico + p_amount > b.limit_pico then
      p_blocker := b.id;
    end if;
    ids := ids || b.id;
    starts := starts || b.start;
    figs := figs || crew_figure(b.id, b.period, b.start, b.limit_pico, c.spent_pico, c.reserved_pico);
  end loop;
  if p_blocker is null then
    update crew_budget_counters k set reserved_pico = k.reserved_pico + p_amount
      from unnest(ids, starts) as u(id, start) where k.budget_id = u.id and k.period_start = u.start;
    insert into crew_reservations (id, instance_id, amount_pico, budget_ids, period_starts)
      values (p_id, p_instance, p_amount, ids, starts);
    select coalesce(jsonb_agg(jsonb_set(f, '{reserved}', to_jsonb(((f->>'reserved')::numeric + p_amount)::text))), '[]')
      into figs from jsonb_array_elements(figs) f;
  end if;
  p_figures := figs;
end $$;

-- Drops a reservation (failure, cancel, or its instance's lease ran out); true when there was one.
create function crew_release(p_id text) returns boolean
language plpgsql as $$
declare
  r record;
begin
  delete from crew_reservations where id = p_id returning * into r;
  if not found then return false; end if;
  update crew_budget_counters k set reserved_pico = greatest(k.reserved_pico - r.amount_pico, 0)
    from unnest(r.budget_ids, r.period_starts) as u(id, start) where k.budget_id = u.id and k.period_start = u.start;
  return true;
end $$;

-- Adds p_delta to the counter of every budget of p_scopes for the period holding p_ts (a settled call, or a
-- reconciled correction of one). p_except: the ledger row already counted by a counter created here.
create function crew_charge(p_scopes text[], p_ts bigint, p_delta numeric, p_except bigint) returns jsonb
language plpgsql as $$
declare
  b record;
  c record;
  figs jsonb := '[]';
begin
  for b in select id, period, limit_pico, crew_period_start(period, week_start, p_ts) as start
           from crew_budgets where scope = any(p_scopes) order by id loop
    perform crew_counter(b.id, b.start, p_except);
    update crew_budget_counters set spent_pico = spent_pico + p_delta
      where budget_id = b.id and period_start = b.start returning spent_pico, reserved_pico into c;
    figs := figs || crew_figure(b.id, b.period, b.start, b.limit_pico, c.spent_pico, c.reserved_pico);
  end loop;
  return figs;
end $$;

-- Records a finished call: the ledger row, the reservation (if any) released, the cost added to every budget in
-- scope now. Returns the row's id and every budget's figures after it.
create function crew_settle(
  p_reservation text, p_now bigint, p_scopes text[], p_row jsonb, p_key text,
  out p_ledger_id bigint, out p_figures jsonb
) language plpgsql as $$
begin
  -- Settled already (the answer to an earlier try was lost): the same row, counted once.
  select id into p_ledger_id from crew_ledger where settle_key = p_key;
  if found then
    p_figures := crew_figures(p_now, (select array_agg(id) from crew_budgets where scope = any(p_scopes)));
    return;
  end if;
  insert into crew_ledger (ts, model, crew, agent, tags, prompt_tokens, completion_tokens, cached_tokens,
    reasoning_tokens, cost_pico, cost, estimated, generation_id, latency_ms, status, stream, extra, settle_key)
  values ((p_row->>'ts')::bigint, p_row->>'model', p_row->>'crew', p_row->>'agent',
    array(select jsonb_array_elements_text(coalesce(p_row->'tags', '[]'::jsonb))),
    (p_row->>'promptTokens')::integer, (p_row->>'completionTokens')::integer, (p_row->>'cachedTokens')::integer,
    (p_row->>'reasoningTokens')::integer, (p_row->>'costPico')::numeric, p_row->>'cost',
    (p_row->>'estimated')::boolean, p_row->>'generationId', round((p_row->>'latencyMs')::numeric)::integer,
    p_row->>'status', (p_row->>'stream')::boolean, p_row->'extra', p_key)
  returning id into p_ledger_id;
  if p_reservation is not null then perform crew_release(p_reservation); end if;
  p_figures := crew_charge(p_scopes, p_now, (p_row->>'costPico')::numeric, p_ledger_id);
end $$;

-- Current-period figures of the given budgets (all when null), counters created (derived) where missing.
create function crew_figures(p_now bigint, p_ids text[]) returns jsonb
language plpgsql as $$
declare
  b record;
  c record;
  figs jsonb := '[]';
begin
  for b in select id, period, limit_pico, crew_period_start(period, week_start, p_now) as start
           from crew_budgets where p_ids is null or id = any(p_ids) order by id loop
    perform crew_counter(b.id, b.start);
    select spent_pico, reserved_pico into c from crew_budget_counters where budget_id = b.id and period_start = b.start;
    figs := figs || crew_figure(b.id, b.period, b.start, b.limit_pico, c.spent_pico, c.reserved_pico);
  end loop;
  return figs;
end $$;

-- Releases the reservations of instances that stopped heartbeating p_stale_ms ago (or never registered), and
-- forgets those instances. Returns how many reservations were released.
create function crew_sweep(p_stale_ms integer) returns integer
language plpgsql as $$
declare
  r record;
  n integer := 0;
begin
  for r in select x.id from crew_reservations x left join crew_instances i on i.id = x.instance_id
           where i.id is null or i.heartbeat_at < now() - make_interval(secs => p_stale_ms / 1000.0)
           for update of x skip locked loop
    if crew_release(r.id) then n := n + 1; end if;
  end loop;
  delete from crew_instances where heartbeat_at < now() - make_interval(secs => p_stale_ms / 1000.0);
  return n;
end $$;
`,
};
