/**
 * Schema 5: the gate in rounds. One hot budget is one counter row that every call locks (to reserve, to settle),
 * and a row lock is held until the commit: one call per transaction caps a budget at one commit at a time, and two
 * instances at less. An instance therefore sends the settlements and reservations that arrived while its previous
 * round ran as one round (crew_gate_batch, driven by ../batcher.ts): one transaction, one lock of each counter and
 * one commit for all of them, with the rule of crew_reserve/crew_settle for each call (every budget in scope or
 * none; a cost counted exactly once; settle keys).
 *
 * Also: crew_counter computed a budget's derived spend (a scan of the ledger) before `on conflict do nothing`
 * threw it away, on every call; it now looks for the row first.
 *
 * Every round locks counter rows in one order (the current periods' by budget id, then older periods' by budget id
 * and start), the order of schema 1's single-call functions for the current period, so rounds of two instances
 * never deadlock. A period's first round, which creates counters, may still meet a deadlock PostgreSQL breaks; the
 * caller then tries the round again.
 */
import type { Migration } from './index';

export const M005: Migration = {
  version: 5,
  name: 'the gate in batches',
  sql: `
create or replace function crew_counter(p_budget text, p_start bigint, p_except bigint default null) returns void
language plpgsql as $$
begin
  if exists (select 1 from crew_budget_counters where budget_id = p_budget and period_start = p_start) then
    return;
  end if;
  insert into crew_budget_counters (budget_id, period_start, spent_pico)
  select b.id, p_start, crew_scope_spend(b.scope, greatest(p_start, 0), p_except)
  from crew_budgets b where b.id = p_budget
  on conflict do nothing;
end $$;

-- Whether a ledger row of (crew, agent, model) is in a budget's scope (as crew_scope_spend decides).
create function crew_in_scope(p_scope text, p_crew text, p_agent text, p_model text) returns boolean
language sql immutable as $$
  select case
    when p_scope = 'global' then true
    when p_scope like 'crew:%' then p_crew = substr(p_scope, 6)
    when p_scope like 'agent:%' then p_agent = substr(p_scope, 7)
    when p_scope like 'model:%' then p_model = substr(p_scope, 7)
    else false end
$$;

-- One round of an instance's gate: the settlements, then the reservations, that arrived while its previous round
-- ran, in one transaction. Settlement k: key p_keys[k], reservation p_reservations[k] (or null), scopes the row
-- p_settle_scopes[k] (padded with nulls), ledger row p_rows->(k-1). Reservation j: id p_ids[j], amount
-- p_amounts[j], scopes the row p_scopes[j]. Each is what crew_settle / crew_reserve would do alone, in order:
--  - a settlement writes its ledger row (a key written before, a retry after a lost answer, is found, not written
--    twice), releases its reservation and adds its cost to every budget in scope now;
--  - a reservation is made on every budget of its scopes or on none (p_enforce: the actions that refuse).
-- The counter rows are locked once, in that order, after the ledger rows are written: the lock is held only for
-- arithmetic on arrays and two short writes. Few statements on purpose: each costs PostgreSQL more
-- than all the arithmetic. Returns {"s": [[ledgerId, figures]...],
-- "r": [[blocker, figures]...]}; a figure is [id, period, period start (-1: total), limit, spent, reserved], money
-- as text, and the caller derives the period's end (sql functions called from plpgsql are parsed on every call).
-- p_starts: the starts of the current periods, [daily, monthly, weekly for a week starting on Sunday … Saturday],
-- from the caller's server/costs/periods.ts (crew_period_start here would be such a call, per budget).
create function crew_gate_batch(
  p_instance text, p_starts bigint[],
  p_keys text[], p_reservations text[], p_settle_scopes text[], p_rows jsonb,
  p_ids text[], p_amounts numeric[], p_scopes text[], p_enforce text[]
) returns jsonb
language plpgsql as $$
declare
  all_scopes text[] := p_settle_scopes || p_scopes;
  ns integer := coalesce(array_length(p_keys, 1), 0);
  nr integer := coalesce(array_length(p_ids, 1), 0);
  n integer;
  i integer;
  k integer;
  ids text[] := '{}';
  scopes text[] := '{}';
  periods text[] := '{}';
  starts bigint[] := '{}';
  lims numeric[] := '{}';
  spents numeric[] := '{}';
  res numeric[] := '{}';
  enf boolean[] := '{}';
  cur boolean[] := '{}';
  b record;
  ctr record;
  st bigint;
  nwritten integer := 0;
  spent0 numeric[];
  res0 numeric[];
  ledger_ids jsonb := '{}';
  written jsonb := '{}';
  cost numeric;
  g record;
  blocker text;
  figs jsonb;
  settled jsonb := '[]';
  reserved jsonb := '[]';
  made_k integer[] := '{}';
  made_i integer[] := '{}';
begin
  if ns > 0 then
    with w as (
      insert into crew_ledger (ts, model, crew, agent, tags, prompt_tokens, completion_tokens, cached_tokens,
        reasoning_tokens, cost_pico, cost, estimated, generation_id, latency_ms, status, stream, extra, settle_key)
      select (r->>'ts')::bigint, r->>'model', r->>'crew', r->>'agent',
        array(select jsonb_array_elements_text(coalesce(r->'tags', '[]'::jsonb))),
        (r->>'promptTokens')::integer, (r->>'completionTokens')::integer, (r->>'cachedTokens')::integer,
        (r->>'reasoningTokens')::integer, (r->>'costPico')::numeric, r->>'cost',
        (r->>'estimated')::boolean, r->>'generationId', round((r->>'latencyMs')::numeric)::integer,
        r->>'status', (r->>'stream')::boolean, r->'extra', x.key
      from unnest(p_keys) with ordinality as x(key, o), lateral (select p_rows->(x.o::integer - 1) as r) as f
      order by x.o
      on conflict (settle_key) do nothing
      returning id, settle_key
    )
    select coalesce(jsonb_object_agg(settle_key, id::text), '{}'), count(*) into written, nwritten from w;
    ledger_ids := written;
    if nwritten < ns then
      select ledger_ids || coalesce(jsonb_object_agg(settle_key, id::text), '{}') into ledger_ids
      from crew_ledger where settle_key = any(p_keys) and not written ? settle_key;
    end if;
  end if;

  -- Every counter this round moves, locked one at a time in a fixed order: the current periods' by budget id, then
  -- those of the reservations it releases that began in an earlier period (a call across midnight), by id and
  -- start. Simple lookups on purpose: one statement that locks them all costs three times as much. A period's
  -- first round creates its counter where it stands in that order.
  n := 0;
  for b in select id, scope, period, week_start, action, limit_pico from crew_budgets
           where scope = any(all_scopes) order by id loop
    st := case b.period when 'daily' then p_starts[1] when 'monthly' then p_starts[2]
                        when 'weekly' then p_starts[3 + b.week_start] else -1 end;
    select spent_pico, reserved_pico into ctr from crew_budget_counters
      where budget_id = b.id and period_start = st for update;
    if not found then
      -- Derived from the ledger, less this round's rows (the charge below adds them).
      insert into crew_budget_counters (budget_id, period_start, spent_pico)
      select b.id, st, crew_scope_spend(b.scope, greatest(st, 0)) - coalesce((
          select sum(l.cost_pico) from crew_ledger l
          where l.settle_key in (select jsonb_object_keys(written)) and l.ts >= greatest(st, 0)
            and crew_in_scope(b.scope, l.crew, l.agent, l.model)), 0)
      on conflict do nothing;
      select spent_pico, reserved_pico into ctr from crew_budget_counters
        where budget_id = b.id and period_start = st for update;
    end if;
    n := n + 1;
    ids[n] := b.id; scopes[n] := b.scope; periods[n] := b.period; starts[n] := st; lims[n] := b.limit_pico;
    spents[n] := ctr.spent_pico; res[n] := ctr.reserved_pico; enf[n] := b.action = any(p_enforce); cur[n] := true;
  end loop;
  if ns > 0 then
    for g in select distinct u.id, u.start
             from crew_reservations x, unnest(x.budget_ids, x.period_starts) as u(id, start)
             where x.id = any(p_reservations) order by 1, 2 loop
      i := array_position(ids, g.id);
      continue when i is not null and starts[i] = g.start;
      select spent_pico, reserved_pico into ctr from crew_budget_counters
        where budget_id = g.id and period_start = g.start for update;
      continue when not found;
      n := n + 1;
      ids[n] := g.id; scopes[n] := null; periods[n] := null; starts[n] := g.start; lims[n] := 0;
      spents[n] := ctr.spent_pico; res[n] := ctr.reserved_pico; enf[n] := false; cur[n] := false;
    end loop;
  end if;
  spent0 := spents;
  res0 := res;

  if ns > 0 then
    for g in delete from crew_reservations x
             where x.id = any(p_reservations)
               and x.id in (select p_reservations[o] from generate_subscripts(p_keys, 1) o where written ? p_keys[o])
             returning x.amount_pico, x.budget_ids, x.period_starts loop
      for i in 1..n loop
        if ids[i] = any(g.budget_ids) and starts[i] = g.period_starts[array_position(g.budget_ids, ids[i])] then
          res[i] := greatest(res[i] - g.amount_pico, 0);
        end if;
      end loop;
    end loop;
    for k in 1..ns loop
      if written ? p_keys[k] then
        cost := (p_rows->(k - 1)->>'costPico')::numeric;
        for i in 1..n loop
          if cur[i] and scopes[i] = any(p_settle_scopes[k:k]) then spents[i] := spents[i] + cost; end if;
        end loop;
      end if;
    end loop;
    for k in 1..ns loop
      figs := '[]';
      for i in 1..n loop
        if cur[i] and scopes[i] = any(p_settle_scopes[k:k]) then
          figs := figs || jsonb_build_array(jsonb_build_array(ids[i], periods[i], starts[i], lims[i]::text,
            spents[i]::text, res[i]::text));
        end if;
      end loop;
      settled := settled || jsonb_build_array(jsonb_build_array(ledger_ids->>p_keys[k], figs));
    end loop;
  end if;

  for k in 1..nr loop
    blocker := null;
    for i in 1..n loop
      if cur[i] and enf[i] and scopes[i] = any(p_scopes[k:k]) and spents[i] + res[i] + p_amounts[k] > lims[i] then
        blocker := ids[i];
        exit;
      end if;
    end loop;
    figs := '[]';
    for i in 1..n loop
      if cur[i] and scopes[i] = any(p_scopes[k:k]) then
        if blocker is null then
          res[i] := res[i] + p_amounts[k];
          made_k := made_k || k;
          made_i := made_i || i;
        end if;
        figs := figs || jsonb_build_array(jsonb_build_array(ids[i], periods[i], starts[i], lims[i]::text,
          spents[i]::text, res[i]::text));
      end if;
    end loop;
    reserved := reserved || jsonb_build_array(jsonb_build_array(blocker, figs));
  end loop;

  if n > 0 then
    update crew_budget_counters c set spent_pico = u.spent, reserved_pico = u.res
      from unnest(ids, starts, spents, res, spent0, res0) as u(id, start, spent, res, spent0, res0)
      where c.budget_id = u.id and c.period_start = u.start and (u.spent <> u.spent0 or u.res <> u.res0);
  end if;
  if array_length(made_k, 1) > 0 then
    insert into crew_reservations (id, instance_id, amount_pico, budget_ids, period_starts)
      select p_ids[x.k], p_instance, p_amounts[x.k], array_agg(ids[x.i] order by x.i), array_agg(starts[x.i] order by x.i)
      from unnest(made_k, made_i) as x(k, i) group by x.k;
  end if;
  return jsonb_build_object('s', settled, 'r', reserved);
end $$;
`,
};
