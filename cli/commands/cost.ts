/** `crew cost report`: the ledger grouped by crew, agent, model or day, with a TOTAL row; CSV comes from the server. */
import { Option, type Command } from 'commander';
import { CostReport } from '../../protocol';
import { acceptsCsv, withContext, type Context } from '../context';
import { count, money, type Column } from '../output';
import { isoDate } from '../parse';
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
    .addHelpText('after', example('crew cost report --by agent'));

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
