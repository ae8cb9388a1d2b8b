/**
 * `crew cost verify`: the ledger checked against OpenRouter's own books (`cost/verify`). The server compares; this
 * renders the summary, the calls that drifted, that OpenRouter does not know or that cost nothing, and GET /key's
 * usage beside the ledger's, and exits 1 while drift is left uncorrected (so a script or CI can check the books).
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  CostVerify,
  DEFAULT_DRIFT_THRESHOLD_USD,
  DEFAULT_VERIFY_DAYS,
  type DriftedCall,
  type KeyUsageFigure,
  type MissingCall,
  type ZeroCostCall,
} from '../../protocol';
import { counted, formatDateTime } from '../../protocol/format';
import { withContext, type Context } from '../context';
import { QuietFailure } from '../errors';
import { count, money, type Column } from '../output';
import { isoDate } from '../parse';
import { example } from './help';

interface VerifyOptions {
  from?: string;
  to?: string;
  fix?: boolean;
  threshold?: number;
}

export function registerVerify(cost: Command): void {
  cost
    .command('verify')
    .description(
      "check every call of a range against OpenRouter's own books (GET /generation); exit 1 while drift is left uncorrected",
    )
    .option('--from <iso>', `from this date/time (inclusive; default ${DEFAULT_VERIFY_DAYS} days ago)`, isoDate)
    .option('--to <iso>', 'up to this date/time (exclusive; default now)', isoDate)
    .option('--fix', 'append a correction for each drifted call (the original row stays in the ledger)')
    .option(
      '--threshold <usd>',
      `difference per call above which it has drifted (default $${DEFAULT_DRIFT_THRESHOLD_USD.toFixed(6)})`,
      threshold,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 the ledger agrees with OpenRouter (or every drifted call was corrected with --fix), ' +
        '1 calls drifted and were left as they are (or the check failed), 2 bad options.\n' +
        'Calls OpenRouter does not know and calls with tokens but no cost are listed, not counted as drift: ' +
        'a call from the last minutes may not be known upstream yet.' +
        example(
          'crew cost verify',
          'crew cost verify --from 2026-03-01 --to 2026-04-01 --fix',
          'crew cost verify --json',
        ),
    )
    .action(
      withContext(async (ctx, opts: VerifyOptions) => {
        await verify(ctx, opts);
      }),
    );
}

function threshold(value: string): number {
  const n = Number(value.trim().replace(/^\$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected an amount in USD ≥ 0, e.g. 0.0001');
  return n;
}

export async function verify(ctx: Context, opts: VerifyOptions): Promise<CostVerify.Result> {
  const client = await ctx.connect();
  const params: CostVerify.Params = {};
  if (opts.from) params.from = opts.from;
  if (opts.to) params.to = opts.to;
  if (opts.fix) params.fix = true;
  if (opts.threshold !== undefined) params.threshold = opts.threshold;
  const done = ctx.out.progress("checking the ledger against OpenRouter's books…");
  let res: CostVerify.Result;
  try {
    res = await client.request<CostVerify.Result>(CostVerify.method, params);
  } finally {
    done();
  }
  const left = res.drifted.filter((d) => !d.estimated && d.fixedBy === null).length;
  if (ctx.out.json) ctx.out.printJson(res);
  else render(ctx, res, left);
  if (left) throw new QuietFailure(`${counted(left, 'call')} drifted from OpenRouter's books`);
  return res;
}

function render(ctx: Context, r: CostVerify.Result, left: number): void {
  const { c } = ctx.out;
  ctx.out.line(
    `${counted(r.checked, 'call')} checked from ${formatDateTime(r.from)} to ${formatDateTime(r.to)}: ` +
      `${count(r.matched)} match, ${count(r.drifted.length)} drifted, ${count(r.missing.length)} unknown to OpenRouter, ` +
      `${count(r.zeroCost.length)} with tokens but no cost (threshold ${money(r.thresholdUsd)} per call)`,
  );
  if (r.unchecked) ctx.out.line(c.dim(`${counted(r.unchecked, 'call')} without a generation id could not be checked`));
  section(ctx, 'Drifted: the ledger is not what OpenRouter billed', driftColumns, r.drifted);
  section(
    ctx,
    'Unknown to OpenRouter (a call from the last minutes may not be available yet)',
    missingColumns,
    r.missing,
  );
  section(ctx, 'Tokens but no cost in the ledger', zeroColumns, r.zeroCost);
  if (r.keyUsage) section(ctx, `OpenRouter key ${r.keyUsage.label ?? ''}`.trim(), keyColumns, r.keyUsage.periods);
  else if (r.keyUsageUnavailable) ctx.out.line(c.dim(`\n${r.keyUsageUnavailable}`));
  ctx.out.line();
  if (r.fixed) ctx.out.line(c.green(`${counted(r.fixed, 'correction')} made from OpenRouter's figures`));
  if (left)
    ctx.out.line(
      c.red(`${counted(left, 'call')} drifted from OpenRouter's books: crew cost verify --fix appends corrections`),
    );
  else if (r.missing.length || r.zeroCost.length)
    ctx.out.line(c.yellow("no call drifted from OpenRouter's books; the calls listed above are worth a look"));
  else if (!r.drifted.length) ctx.out.line(c.green("the ledger agrees with OpenRouter's books"));
}

function section<R>(ctx: Context, title: string, columns: Column<R>[], rows: R[]): void {
  if (!rows.length) return;
  ctx.out.line();
  ctx.out.line(ctx.out.c.bold(title));
  if (ctx.out.format === 'list') ctx.out.list(columns, rows);
  else ctx.out.table(columns, rows);
}

const at = (iso: string) => formatDateTime(iso);

const driftColumns: Column<DriftedCall>[] = [
  { key: 'id', header: 'ROW', align: 'right' },
  { key: 'at', header: 'AT', text: (d) => at(d.at) },
  { key: 'model', header: 'MODEL' },
  { key: 'crew', header: 'CREW', text: (d) => d.crew ?? '—' },
  { key: 'ledgerUsd', header: 'LEDGER', align: 'right', text: (d) => money(d.ledgerUsd) },
  { key: 'upstreamUsd', header: 'OPENROUTER', align: 'right', text: (d) => money(d.upstreamUsd) },
  {
    key: 'differenceUsd',
    header: 'DIFFERENCE',
    align: 'right',
    text: (d) => `${d.differenceUsd > 0 ? '+' : ''}${money(d.differenceUsd)}`,
    paint: (d, c) => (d.estimated ? c.dim : c.red),
  },
  {
    key: 'fixedBy',
    header: 'FIXED',
    // An estimate is settled by reconciliation (or --fix) in place; any other call gets a correction row.
    text: (d) =>
      d.fixedBy === null ? (d.estimated ? 'estimate' : 'no') : d.estimated ? 'settled' : `row ${d.fixedBy}`,
  },
];

const missingColumns: Column<MissingCall>[] = [
  { key: 'id', header: 'ROW', align: 'right' },
  { key: 'at', header: 'AT', text: (m) => at(m.at) },
  { key: 'model', header: 'MODEL' },
  { key: 'ledgerUsd', header: 'LEDGER', align: 'right', text: (m) => money(m.ledgerUsd) },
  { key: 'generationId', header: 'GENERATION' },
];

const zeroColumns: Column<ZeroCostCall>[] = [
  { key: 'id', header: 'ROW', align: 'right' },
  { key: 'at', header: 'AT', text: (z) => at(z.at) },
  { key: 'model', header: 'MODEL' },
  { key: 'promptTokens', header: 'PROMPT TOK', align: 'right', text: (z) => count(z.promptTokens) },
  { key: 'completionTokens', header: 'COMPL TOK', align: 'right', text: (z) => count(z.completionTokens) },
  { key: 'upstreamUsd', header: 'OPENROUTER', align: 'right', text: (z) => money(z.upstreamUsd) },
];

const PERIOD_NAMES: Record<KeyUsageFigure['period'], string> = {
  day: 'today',
  week: 'this week',
  month: 'this month',
  total: "the key's lifetime",
};

const keyColumns: Column<KeyUsageFigure>[] = [
  { key: 'period', header: 'PERIOD', text: (k) => PERIOD_NAMES[k.period] },
  { key: 'ledgerUsd', header: 'LEDGER', align: 'right', text: (k) => money(k.ledgerUsd) },
  { key: 'upstreamUsd', header: 'OPENROUTER', align: 'right', text: (k) => money(k.upstreamUsd) },
  {
    key: 'differenceUsd',
    header: 'DIFFERENCE',
    align: 'right',
    text: (k) => `${k.differenceUsd > 0 ? '+' : ''}${money(k.differenceUsd)}`,
  },
];
