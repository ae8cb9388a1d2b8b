/**
 * `crew cost report`: the ledger grouped by crew, agent, model or day, with a TOTAL row; CSV comes from the server.
 * `crew cost forecast`: each budget's projected spend at the end of its period; `crew cost anomalies`: buckets whose
 * spend stands out from their baseline; `crew cost recommendations|apply` live in cost-recommendations.ts, `crew cost
 * verify` in cost-verify.ts. Every figure comes from the server; these only ask and render.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  CostAnomalies,
  CostForecast,
  CostReport,
  type AnomalyDriver,
  type AnomalyGranularity,
  type BudgetForecast,
  type SpendAnomaly,
} from '../../protocol';
import { acceptsCsv, withContext, type Context } from '../context';
import { count, money, stateColor, type BudgetStateName, type Column } from '../output';
import { isoDate, positiveInt } from '../parse';
import { resolveBudgetId } from './budget';
import { registerRecommendations } from './cost-recommendations';
import { registerVerify } from './cost-verify';
import { example } from './help';

interface ReportOptions {
  by?: CostReport.GroupBy;
  from?: string;
  to?: string;
  crew?: string;
  agent?: string;
  model?: string;
}

type ReportRow = CostReport.Row;

export const reportColumns = (by: string): Column<ReportRow>[] => [
  { key: 'key', header: by.toUpperCase(), text: (r) => r.key || '(none)' },
  { key: 'calls', header: 'CALLS', align: 'right', text: (r) => count(r.calls) },
  { key: 'promptTokens', header: 'PROMPT TOK', align: 'right', text: (r) => count(r.promptTokens) },
  { key: 'completionTokens', header: 'COMPL TOK', align: 'right', text: (r) => count(r.completionTokens) },
  { key: 'costUsd', header: 'COST', align: 'right', text: (r) => money(r.costUsd) },
  {
    key: 'estimatedCostUsd',
    header: 'OF WHICH EST.',
    align: 'right',
    text: (r) => (r.estimatedCostUsd ? money(r.estimatedCostUsd) : '—'),
  },
  { key: 'errors', header: 'ERRORS', align: 'right', paint: (r, c) => (r.errors ? c.red : undefined) },
];

export function registerCost(program: Command): void {
  const cost = program
    .command('cost')
    .description('cost reports from the ledger')
    .addHelpText(
      'after',
      example(
        'crew cost report --by agent',
        'crew cost forecast',
        'crew cost anomalies',
        'crew cost recommendations',
        'crew cost verify',
      ),
    );

  acceptsCsv(
    cost
      .command('report')
      .description('spending grouped by crew, agent, model or day (global --format csv for a spreadsheet)')
      .addOption(
        new Option('--by <group>', 'group rows by').choices(['crew', 'agent', 'model', 'day']).default('model'),
      )
      .option('--from <iso>', 'from this date/time (inclusive)', isoDate)
      .option('--to <iso>', 'up to this date/time', isoDate)
      .option('--crew <id>', 'only calls of this crew')
      .option('--agent <id>', 'only calls of this agent')
      .option('--model <id>', 'only calls to this model')
      .addHelpText('after', example('crew cost report --by day --from 2025-01-01 --format csv > costs.csv'))
      .action(
        withContext(async (ctx, opts: ReportOptions) => {
          await report(ctx, opts);
        }),
      ),
  );

  cost
    .command('forecast')
    .description("each budget's projected spend at the end of its period, with a range and the day it runs out")
    .option('--budget <id>', 'only this budget (a unique prefix is enough)')
    .option('--scope <scope>', 'only budgets of this scope: global, crew:<id>, agent:<id> or model:<id>')
    .addHelpText('after', example('crew cost forecast --scope crew:alpha'))
    .action(
      withContext(async (ctx, opts: ForecastOptions) => {
        await forecast(ctx, opts);
      }),
    );

  cost
    .command('anomalies')
    .description('days (or hours) whose spend stands out from the baseline (robust z-score), and who drove it')
    .addOption(new Option('--granularity <unit>', 'bucket size (default day)').choices(['day', 'hour']))
    .option('--days <n>', 'look back this many UTC days, today included (default 7)', positiveInt)
    .option('--threshold <z>', 'robust z-score at or above which a bucket is an anomaly (default 3.5)', positiveNumber)
    .option('--crew <id>', 'only calls of this crew')
    .option('--agent <id>', 'only calls of this agent')
    .option('--model <id>', 'only calls to this model')
    .addHelpText('after', example('crew cost anomalies --granularity hour --days 2 --threshold 5'))
    .action(
      withContext(async (ctx, opts: AnomaliesOptions) => {
        await anomalies(ctx, opts);
      }),
    );

  registerRecommendations(cost);
  registerVerify(cost);
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

// ── forecast ───────────────────────────────────────────────────────────

interface ForecastOptions {
  budget?: string;
  scope?: string;
}

/** OVER when the projection reaches the limit, near from 80% of it; coloured like `budget status` states. */
function forecastState(f: BudgetForecast): { label: string; state: BudgetStateName } {
  if (f.willExceed) return { label: 'OVER', state: 'exceeded' };
  if (f.limitUsd > 0 && f.projectedUsd >= 0.8 * f.limitUsd) return { label: 'near', state: 'warning' };
  return { label: 'ok', state: 'ok' };
}

export function forecastColumns(ctx: Context): Column<BudgetForecast>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'budgetId', header: 'ID', text: (f) => (list ? f.budgetId : f.budgetId.slice(0, 8)) },
    { key: 'scope', header: 'SCOPE' },
    { key: 'period', header: 'PERIOD' },
    { key: 'limitUsd', header: 'LIMIT', align: 'right', text: (f) => money(f.limitUsd) },
    { key: 'spentUsd', header: 'SPENT', align: 'right', text: (f) => money(f.spentUsd) },
    {
      key: 'projectedUsd',
      header: 'PROJECTED (RANGE)',
      align: 'right',
      // A range of one amount (no spread in the history) is left out rather than repeated.
      text: (f) =>
        money(f.low) === money(f.high)
          ? money(f.projectedUsd)
          : `${money(f.projectedUsd)} (${money(f.low)}–${money(f.high)})`,
    },
    { key: 'pacePerDayUsd', header: 'PACE/DAY', align: 'right', text: (f) => money(f.pacePerDayUsd) },
    { key: 'exhaustionDate', header: 'EXHAUSTED ON', text: (f) => f.exhaustionDate ?? '—' },
    {
      key: 'state',
      header: 'STATE',
      text: (f) => forecastState(f).label,
      paint: (f, c) => stateColor(c, forecastState(f).state),
    },
    ...(list ? [{ key: 'method', header: 'METHOD', text: (f: BudgetForecast) => f.method }] : []),
  ];
}

export async function forecast(ctx: Context, opts: ForecastOptions): Promise<CostForecast.Result> {
  const client = await ctx.connect();
  const params: CostForecast.Params = {};
  if (opts.budget) params.budgetId = await resolveBudgetId(client, opts.budget);
  if (opts.scope) params.scope = opts.scope;
  const res = await client.request<CostForecast.Result>(CostForecast.method, params);
  ctx.out.records(res, forecastColumns(ctx), res.forecasts, {
    empty: opts.scope
      ? `no budgets for scope ${opts.scope} (crew budget set …)`
      : 'no budgets to forecast (crew budget set …)',
  });
  return res;
}

// ── anomalies ──────────────────────────────────────────────────────────

interface AnomaliesOptions {
  granularity?: AnomalyGranularity;
  days?: number;
  threshold?: number;
  crew?: string;
  agent?: string;
  model?: string;
}

const driver = (d: AnomalyDriver | null): string => (d ? `${d.key} ${Math.round(d.share * 100)}%` : '—');

/** Buckets are UTC: `2025-01-31` for a day, `2025-01-31 14:00Z` for an hour (the ISO string as-is in list). */
function bucket(a: SpendAnomaly): string {
  const d = new Date(a.at);
  if (Number.isNaN(d.getTime())) return a.at;
  const iso = d.toISOString();
  return a.granularity === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z` : iso.slice(0, 10);
}

export function anomalyColumns(ctx: Context, threshold: number): Column<SpendAnomaly>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'at', header: 'AT', text: (a) => (list ? a.at : bucket(a)) },
    { key: 'spentUsd', header: 'SPENT', align: 'right', text: (a) => money(a.spentUsd) },
    { key: 'baselineUsd', header: 'BASELINE (MEDIAN)', align: 'right', text: (a) => money(a.baselineUsd) },
    {
      key: 'score',
      header: 'SCORE',
      align: 'right',
      text: (a) => a.score.toFixed(1),
      paint: (a, c) => (a.score >= 2 * threshold ? c.red : c.yellow),
    },
    { key: 'crew', header: 'TOP CREW', text: (a) => driver(a.drivers.crew) },
    { key: 'agent', header: 'TOP AGENT', text: (a) => driver(a.drivers.agent) },
    { key: 'model', header: 'TOP MODEL', text: (a) => driver(a.drivers.model) },
  ];
}

export async function anomalies(ctx: Context, opts: AnomaliesOptions): Promise<CostAnomalies.Result> {
  const client = await ctx.connect();
  const params: CostAnomalies.Params = {};
  if (opts.granularity) params.granularity = opts.granularity;
  if (opts.days !== undefined) params.days = opts.days;
  if (opts.threshold !== undefined) params.threshold = opts.threshold;
  for (const k of ['crew', 'agent', 'model'] as const) if (opts[k]) params[k] = opts[k];
  const res = await client.request<CostAnomalies.Result>(CostAnomalies.method, params);
  const days = opts.days ?? 7;
  ctx.out.records(res, anomalyColumns(ctx, res.threshold), res.anomalies, {
    empty: `no anomalies in the last ${days} day${days === 1 ? '' : 's'} (${res.granularity} buckets, score ≥ ${res.threshold})`,
  });
  return res;
}

export async function report(ctx: Context, opts: ReportOptions): Promise<CostReport.Result> {
  const client = await ctx.connect();
  const params: CostReport.Params = { by: opts.by ?? 'model' };
  for (const k of ['from', 'to', 'crew', 'agent', 'model'] as const) if (opts[k]) params[k] = opts[k];
  if (ctx.out.format === 'csv') params.format = 'csv';
  const res = await client.request<CostReport.Result>(CostReport.method, params);
  // The server's CSV is the contract (header, rows, TOTAL); print it byte for byte.
  if (ctx.out.format === 'csv') ctx.out.write(res.csv ?? '');
  else
    ctx.out.records(res, reportColumns(res.by), res.rows, {
      footer: { key: 'TOTAL', ...res.total },
      empty: 'no calls in this range yet',
    });
  return res;
}
