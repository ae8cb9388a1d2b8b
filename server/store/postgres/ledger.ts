/**
 * The ledger in PostgreSQL (crew_ledger): every instance's calls in one table, written by the gate's settle (one
 * transaction with the budget counters; see gate.ts), read here with the same answers the local store gives —
 * sums exact (numeric picodollars), groups keyed as the local columns key them ('(none)' for a missing crew, agent
 * or model; days as YYYY-MM-DD in UTC).
 */
import type {
  LedgerAggregate,
  LedgerFilter,
  LedgerGroupBy,
  LedgerRepository,
  LedgerRow,
  LedgerUsage,
  NewLedgerRow,
} from '../repositories';
import type { PgDatabase } from './db';

interface Row {
  id: string;
  ts: string;
  model: string;
  crew: string | null;
  agent: string | null;
  tags: string[];
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_pico: string;
  cost: string;
  estimated: boolean;
  generation_id: string | null;
  latency_ms: number;
  status: LedgerRow['status'];
  stream: boolean;
}

const toRow = (r: Row): LedgerRow => ({
  id: Number(r.id),
  ts: Number(r.ts),
  model: r.model,
  crew: r.crew,
  agent: r.agent,
  tags: r.tags,
  promptTokens: r.prompt_tokens,
  completionTokens: r.completion_tokens,
  cachedTokens: r.cached_tokens,
  reasoningTokens: r.reasoning_tokens,
  costPico: Number(r.cost_pico),
  cost: r.cost,
  estimated: r.estimated,
  generationId: r.generation_id,
  latencyMs: r.latency_ms,
  status: r.status,
  stream: r.stream,
});

/**
 * The conditions of a ledger filter and their parameters, numbered from `first`. `columnsOnly`: crew, agent, model
 * and status (the roll-ups have those columns, not times or ids).
 */
function conditions(
  filter: LedgerFilter & { before?: number },
  first: number,
  columnsOnly = false,
): { parts: string[]; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    parts.push(clause.replace('?', `$${first + params.length - 1}`));
  };
  if (filter.crew !== undefined) add('crew = ?', filter.crew);
  if (filter.agent !== undefined) add('agent = ?', filter.agent);
  if (filter.model !== undefined) add('model = ?', filter.model);
  if (filter.status !== undefined) add('status = ?', filter.status);
  if (columnsOnly) return { parts, params };
  if (filter.from !== undefined) add('ts >= ?', Math.ceil(filter.from));
  if (filter.to !== undefined) add('ts < ?', Math.ceil(filter.to));
  if (filter.before !== undefined) add('id < ?', filter.before);
  return { parts, params };
}

/** A WHERE clause (and its parameters, numbered from `first`) for a ledger filter. */
function where(filter: LedgerFilter & { before?: number }, first = 1): { sql: string; params: unknown[] } {
  const { parts, params } = conditions(filter, first);
  return { sql: parts.length ? `where ${parts.join(' and ')}` : '', params };
}

const HOUR = 3_600_000;
// Far outside any ledger time, inside bigint: the bounds of an open range.
const NEVER_BEFORE = -(2 ** 62);
const NEVER_AFTER = 2 ** 62;

/** Group keys over the hourly roll-ups (crew and agent stored as '' when absent). */
const ROLLUP_KEY: Record<LedgerGroupBy, string> = {
  crew: "coalesce(nullif(crew, ''), '(none)')",
  agent: "coalesce(nullif(agent, ''), '(none)')",
  model: 'model',
  day: '(hour / 86400000)',
};

/**
 * The part of a filter the roll-ups can answer: whole hours of [from, to), and the column conditions. Rows in those
 * hours up to the fold watermark come from the roll-ups; every other row in range from the ledger itself.
 */
function split(filter: LedgerFilter): { fromH: number; toH: number } {
  const fromH = filter.from === undefined ? NEVER_BEFORE : Math.ceil(filter.from / HOUR) * HOUR;
  const toH = filter.to === undefined ? NEVER_AFTER : Math.floor(filter.to / HOUR) * HOUR;
  return { fromH, toH: Math.max(toH, fromH) };
}

/** The roll-ups' share of a filter's conditions, each joined with `and`. */
function rollupWhere(filter: LedgerFilter, first: number): { sql: string; params: unknown[] } {
  const { parts, params } = conditions(filter, first, true);
  return { sql: parts.map((p) => ` and ${p}`).join(''), params };
}

const GROUP_KEY: Record<LedgerGroupBy, string> = {
  crew: "coalesce(crew, '(none)')",
  agent: "coalesce(agent, '(none)')",
  model: "coalesce(model, '(none)')",
  day: '(ts / 86400000)',
};

/**
 * A group's key as the report shows it. Days are grouped by their number and only the groups are formatted:
 * formatting each of a million rows' dates cost more than the rest of the report.
 */
const KEY_TEXT = (by: LedgerGroupBy | "''") =>
  by === 'day' ? "to_char(to_timestamp(key * 86400) at time zone 'UTC', 'YYYY-MM-DD')" : 'key';

const IMPORT_BATCH = 2_000;

export class PgLedger implements LedgerRepository {
  constructor(
    private readonly db: PgDatabase,
    /** The gate's settle, which writes a row and counts it on the budgets in one transaction. */
    private readonly settle: (row: NewLedgerRow) => Promise<LedgerRow>,
  ) {}

  append(row: NewLedgerRow): Promise<LedgerRow> {
    return this.settle(row);
  }

  /**
   * A copy into this (empty) ledger: the rows as they are (ids, exact cost text and picodollars, flags), in one
   * transaction, the id sequence moved past them. No budget is charged here: counter rows are dropped and each is
   * derived from the ledger on first use (crew_counter), so every row counts exactly once.
   */
  async importRows(rows: LedgerRow[]): Promise<void> {
    await this.db.tx(async (tx) => {
      const [{ n } = { n: '0' }] = (await tx.query<{ n: string }>('select count(*) as n from crew_ledger')).rows;
      if (n !== '0') throw new Error(`the shared ledger already holds ${n} row(s); a copy goes into an empty one`);
      for (let i = 0; i < rows.length; i += IMPORT_BATCH) {
        const batch = rows.slice(i, i + IMPORT_BATCH).map((r) => ({ ...r, latencyMs: Math.round(r.latencyMs) }));
        await tx.query(
          `insert into crew_ledger (id, ts, model, crew, agent, tags, prompt_tokens, completion_tokens, cached_tokens,
             reasoning_tokens, cost_pico, cost, estimated, generation_id, latency_ms, status, stream)
           select x.id, x.ts, x.model, x.crew, x.agent, array(select json_array_elements_text(x.tags)),
             x."promptTokens", x."completionTokens", x."cachedTokens", x."reasoningTokens", x."costPico", x.cost,
             x.estimated, x."generationId", x."latencyMs", x.status, x.stream
           from json_to_recordset($1::json) as x(id bigint, ts bigint, model text, crew text, agent text, tags json,
             "promptTokens" integer, "completionTokens" integer, "cachedTokens" integer, "reasoningTokens" integer,
             "costPico" numeric, cost text, estimated boolean, "generationId" text, "latencyMs" integer,
             status text, stream boolean)`,
          [JSON.stringify(batch)],
        );
      }
      await tx.query(
        `select setval(pg_get_serial_sequence('crew_ledger', 'id'), coalesce((select max(id) from crew_ledger), 0) + 1, false)`,
      );
      await tx.query('delete from crew_budget_counters where reserved_pico = 0');
    });
  }

  async settleCost(id: number, costPico: number, cost: string): Promise<LedgerRow | undefined> {
    // Only an estimate is replaced: of two instances reconciling one row at once, one does it, once (its hour in
    // the roll-ups with it).
    const [r] = await this.db.query<Row>('select * from crew_correct_cost($1, $2, $3)', [id, String(costPico), cost]);
    return r && toRow(r);
  }

  /** Folds settled rows into the hourly roll-ups (any instance may call it; they take turns). */
  async fold(limit = 100_000, settleMs = 60_000): Promise<number> {
    const [r] = await this.db.query<{ n: number }>('select crew_rollup_fold($1, $2) as n', [limit, settleMs]);
    return r!.n;
  }

  async get(id: number): Promise<LedgerRow | undefined> {
    const [r] = await this.db.query<Row>('select * from crew_ledger where id = $1', [id]);
    return r && toRow(r);
  }

  async count(): Promise<number> {
    const [r] = await this.db.query<{ n: string }>('select count(*) as n from crew_ledger');
    return Number(r!.n);
  }

  async sumCost(filter: LedgerFilter): Promise<bigint> {
    const [g] = await this.aggregateBy(filter, "''");
    return g?.costPico ?? 0n;
  }

  aggregate(filter: LedgerFilter, by: LedgerGroupBy): Promise<LedgerAggregate[]> {
    return this.aggregateBy(filter, by);
  }

  /**
   * One statement (one snapshot: a fold in between cannot count a row twice): the roll-ups for the whole hours of
   * the range up to the watermark, and the ledger's own rows for the rest.
   */
  private async aggregateBy(filter: LedgerFilter, by: LedgerGroupBy | "''"): Promise<LedgerAggregate[]> {
    const { fromH, toH } = split(filter);
    const raw = where(filter, 3);
    const roll = rollupWhere(filter, 3 + raw.params.length);
    const rawKey = by === "''" ? "''" : GROUP_KEY[by];
    const rollKey = by === "''" ? "''" : ROLLUP_KEY[by];
    const rows = await this.db.query<{
      key: string;
      calls: string;
      prompt: string;
      completion: string;
      cached: string;
      reasoning: string;
      cost: string;
      est: string;
      errors: string;
    }>(
      `with w as (select through from crew_rollup_state),
       parts as (
         select ${rollKey} as key, calls, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
           cost_pico, estimated_pico, case when status <> 'ok' then calls else 0 end as errors
         from crew_ledger_hourly where hour >= $1 and hour < $2${roll.sql}
         union all
         select ${rawKey}, 1, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_pico,
           case when estimated then cost_pico else 0 end, case when status <> 'ok' then 1 else 0 end
         from crew_ledger ${raw.sql ? `${raw.sql} and` : 'where'}
           (id > (select through from w) or ts < $1 or ts >= $2)
       )
       select ${KEY_TEXT(by)} as key, sum(calls) as calls, sum(prompt_tokens) as prompt, sum(completion_tokens) as completion,
         sum(cached_tokens) as cached, sum(reasoning_tokens) as reasoning, sum(cost_pico)::text as cost,
         sum(estimated_pico)::text as est, sum(errors) as errors
       from parts group by key`,
      [fromH, toH, ...raw.params, ...roll.params],
    );
    return rows.map((r) => ({
      key: r.key,
      calls: Number(r.calls),
      promptTokens: Number(r.prompt),
      completionTokens: Number(r.completion),
      cachedTokens: Number(r.cached),
      reasoningTokens: Number(r.reasoning),
      costPico: BigInt(r.cost),
      estimatedPico: BigInt(r.est),
      errors: Number(r.errors),
    }));
  }

  async list(filter: LedgerFilter & { before?: number; limit: number }): Promise<{ rows: LedgerRow[]; total: number }> {
    const w = where(filter);
    const [count] = await this.db.query<{ n: string }>(`select count(*) as n from crew_ledger ${w.sql}`, w.params);
    const rows =
      filter.limit > 0
        ? await this.db.query<Row>(
            `select * from crew_ledger ${w.sql} order by id desc limit $${w.params.length + 1}`,
            [...w.params, filter.limit],
          )
        : [];
    return { rows: rows.map(toRow), total: Number(count!.n) };
  }

  async estimated(limit: number): Promise<LedgerRow[]> {
    const rows = await this.db.query<Row>(
      'select * from crew_ledger where estimated and generation_id is not null order by id limit $1',
      [limit],
    );
    return rows.map(toRow);
  }

  async usage(filter: LedgerFilter): Promise<LedgerUsage[]> {
    const w = where(filter);
    const rows = await this.db.query<{
      crew: string | null;
      agent: string | null;
      model: string;
      calls: string;
      prompt: string;
      completion: string;
      cached: string;
      cost: string;
      max_context: number;
      max_completion: number;
    }>(
      `select crew, agent, model, count(*) as calls, sum(prompt_tokens) as prompt,
         sum(completion_tokens) as completion, sum(cached_tokens) as cached, sum(cost_pico)::text as cost,
         max(prompt_tokens + completion_tokens) as max_context, max(completion_tokens) as max_completion
       from crew_ledger ${w.sql} group by crew, agent, model`,
      w.params,
    );
    return rows.map((r) => ({
      crew: r.crew,
      agent: r.agent,
      model: r.model,
      calls: Number(r.calls),
      promptTokens: Number(r.prompt),
      completionTokens: Number(r.completion),
      cachedTokens: Number(r.cached),
      costPico: BigInt(r.cost),
      maxContextTokens: Number(r.max_context),
      maxCompletionTokens: Number(r.max_completion),
    }));
  }
}
