/**
 * `crew budget set|status|delete|alert|alerts`. The server owns every figure (spent, reserved, state); this
 * file only turns options into params and results into tables. Budget ids may be abbreviated to a unique
 * prefix (tables show the first 8 characters), resolved against `budget/status`.
 */
import { Option, type Command } from 'commander';
import {
  BudgetAlerts,
  BudgetConfigureAlerts,
  BudgetDelete,
  BudgetSet,
  BudgetStatusRequest,
  DEFAULT_FIT_MIN_TOKENS,
  type Budget,
  type BudgetAlert,
  type BudgetStatus,
  type Webhook,
} from '../../protocol';
import type { CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { UsageError } from '../errors';
import { bar, money, percent, stateColor, when, type Column } from '../output';
import { positiveInt, thresholds, usd, weekday } from '../parse';
import { example } from './help';
import { formatEnum } from '../../protocol/format';

const shortId = (id: string) => id.slice(0, 8);

export function budgetStatusColumns(ctx: Context): Column<BudgetStatus>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (b) => (list ? b.id : shortId(b.id)) },
    { key: 'scope', header: 'SCOPE' },
    { key: 'period', header: 'PERIOD' },
    { key: 'limitUsd', header: 'LIMIT', align: 'right', text: (b) => money(b.limitUsd) },
    { key: 'spentUsd', header: 'SPENT', align: 'right', text: (b) => money(b.spentUsd) },
    { key: 'reservedUsd', header: 'RESERVED', align: 'right', text: (b) => money(b.reservedUsd) },
    { key: 'remainingUsd', header: 'REMAINING', align: 'right', text: (b) => money(b.remainingUsd) },
    {
      key: 'percentUsed',
      header: 'USED',
      text: (b) => (list ? percent(b.percentUsed) : bar(ctx.out.c, b.percentUsed, b.state)),
    },
    { key: 'state', header: 'STATE', paint: (b, c) => stateColor(c, b.state) },
    { key: 'action', header: 'ACTION' },
    ...(list
      ? [
          { key: 'periodStart', header: 'FROM', text: (b: BudgetStatus) => b.periodStart ?? '—' },
          { key: 'periodEnd', header: 'TO', text: (b: BudgetStatus) => b.periodEnd ?? '—' },
        ]
      : [{ key: 'period', header: 'THIS PERIOD', text: (b: BudgetStatus) => periodSpan(b.periodStart, b.periodEnd) }]),
  ];
}

/** `11-25 00:00 → 11-26 00:00` (the year only when it is not this one); `all time` for a total budget. */
function periodSpan(start: string | null, end: string | null): string {
  if (!start && !end) return 'all time';
  const short = (iso: string | null) => {
    const s = when(iso);
    return s.startsWith(`${new Date().getFullYear()}-`) ? s.slice(5) : s;
  };
  return `${short(start)} → ${short(end)}`;
}

const alertColumns = (ctx: Context): Column<BudgetAlert>[] => [
  { key: 'at', header: 'AT', text: (a) => (ctx.out.format === 'list' ? a.at : when(a.at, true)) },
  { key: 'scope', header: 'SCOPE' },
  { key: 'kind', header: 'KIND', text: (a) => (ctx.out.format === 'list' ? a.kind : formatEnum(a.kind)) },
  {
    key: 'severity',
    header: 'SEVERITY',
    paint: (a, c) => (a.severity === 'critical' ? c.red : a.severity === 'warning' ? c.yellow : c.cyan),
  },
  { key: 'message', header: 'MESSAGE' },
];

export function registerBudget(program: Command): void {
  const budget = program
    .command('budget')
    .description('set, inspect and delete budgets; configure and list their alerts')
    .addHelpText('after', example('crew budget status'));

  budget
    .command('set')
    .description('create or update the budget for a scope and period (enforced before every call)')
    .requiredOption('--scope <scope>', 'global, crew:<id>, agent:<id> or model:<id>')
    .requiredOption('--limit <usd>', 'the limit in USD', usd)
    .addOption(
      new Option('--period <period>', 'the period the limit applies to')
        .choices(['daily', 'weekly', 'monthly', 'total'])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--action <action>',
        'what happens at the limit: block refuses, warn lets through, downgrade switches model, fit lowers max_tokens',
      ).choices(['block', 'warn', 'downgrade', 'fit']),
    )
    .option('--downgrade-to <model>', 'the cheaper model calls switch to (action downgrade)')
    .option(
      '--min-tokens <n>',
      'the fewest completion tokens fit lowers a call to (action fit; default 16)',
      positiveInt,
    )
    .option('--thresholds <list>', 'alert at these percentages of the limit (default 50,80,100)', thresholds)
    .option('--week-start <0-6>', 'first day of a weekly period: 0 Sunday … 6 Saturday (default 1)', weekday)
    .option('--id <id>', 'update this budget (its scope and period change too)')
    .addHelpText(
      'after',
      example(
        'crew budget set --scope agent:writer --limit 2.50 --period daily --action warn --thresholds 50,90',
        'crew budget set --scope global --limit 0.01 --period daily --action fit --min-tokens 32',
      ),
    )
    .action(
      withContext(
        async (
          ctx,
          opts: {
            scope: string;
            limit: number;
            period: Budget['period'];
            action?: Budget['action'];
            downgradeTo?: string;
            minTokens?: number;
            thresholds?: number[];
            weekStart?: number;
            id?: string;
          },
        ) => {
          if (opts.downgradeTo && opts.action && opts.action !== 'downgrade')
            throw new UsageError('--downgrade-to only applies with --action downgrade');
          if (opts.minTokens !== undefined && opts.action !== 'fit')
            throw new UsageError('--min-tokens only applies with --action fit');
          const client = await ctx.connect();
          const params: BudgetSet.Params = { scope: opts.scope, period: opts.period, limitUsd: opts.limit };
          if (opts.id) params.id = await resolveBudgetId(client, opts.id);
          if (opts.action) params.action = opts.action;
          if (opts.downgradeTo) params.downgradeTo = opts.downgradeTo;
          if (opts.minTokens !== undefined) params.minTokens = opts.minTokens;
          if (opts.thresholds) params.thresholds = opts.thresholds;
          if (opts.weekStart !== undefined) params.weekStart = opts.weekStart;
          const res = await client.request<BudgetSet.Result>(BudgetSet.method, params);
          if (ctx.out.human) ctx.out.note(`${res.created ? 'created' : 'updated'} budget ${res.budget.id}`);
          printBudget(ctx, res, res.budget);
        },
      ),
    );

  budget
    .command('status')
    .description('spent, reserved and remaining per budget this period, with its state (ok, warning, exceeded)')
    .option('--scope <scope>', 'only budgets of this scope')
    .option('--id <id>', 'only this budget')
    .addHelpText('after', example('crew budget status --scope global --json'))
    .action(
      withContext(async (ctx, opts: { scope?: string; id?: string }) => {
        const client = await ctx.connect();
        const params: BudgetStatusRequest.Params = {};
        if (opts.scope) params.scope = opts.scope;
        if (opts.id) params.id = await resolveBudgetId(client, opts.id);
        const res = await client.request<BudgetStatusRequest.Result>(BudgetStatusRequest.method, params);
        ctx.out.records(res, budgetStatusColumns(ctx), res.budgets, {
          empty: 'no budgets yet; add one with: crew budget set --scope global --limit 5 --period daily',
        });
      }),
    );

  budget
    .command('delete')
    .description('delete a budget (its alerts history stays)')
    .argument('<id>', 'budget id (a unique prefix is enough)')
    .addHelpText('after', example('crew budget delete 3f2a9c1e'))
    .action(
      withContext(async (ctx, idArg: string) => {
        const client = await ctx.connect();
        const id = await resolveBudgetId(client, idArg);
        const res = await client.request<BudgetDelete.Result>(BudgetDelete.method, {
          id,
        } satisfies BudgetDelete.Params);
        if (ctx.out.json) ctx.out.printJson({ ...res, id });
        else ctx.out.line(`deleted budget ${id}`);
      }),
    );

  budget
    .command('alert')
    .description('configure alerts: thresholds, on/off, webhooks (without options: show the configuration)')
    .option('--budget <id>', 'only this budget (default: every budget)')
    .option('--thresholds <list>', 'alert at these percentages, e.g. 50,80,100', thresholds)
    .option('--webhook <url>', 'POST every alert in scope to this URL')
    .option('--remove-webhook <id>', 'stop posting to this webhook')
    .addOption(new Option('--disable', 'turn alerts off').conflicts('enable'))
    .addOption(new Option('--enable', 'turn alerts on').conflicts('disable'))
    .addHelpText('after', example('crew budget alert --thresholds 50,80,100 --webhook https://hooks.example.com/crew'))
    .action(
      withContext(
        async (
          ctx,
          opts: {
            budget?: string;
            thresholds?: number[];
            webhook?: string;
            removeWebhook?: string;
            disable?: boolean;
            enable?: boolean;
          },
        ) => {
          if (opts.webhook && !/^https?:\/\/./i.test(opts.webhook))
            throw new UsageError(`--webhook: "${opts.webhook}" is not an http(s) URL`);
          const client = await ctx.connect();
          const params: BudgetConfigureAlerts.Params = {};
          if (opts.budget) params.budgetId = await resolveBudgetId(client, opts.budget);
          if (opts.thresholds) params.thresholds = opts.thresholds;
          if (opts.webhook) params.webhookUrl = opts.webhook;
          if (opts.removeWebhook) params.removeWebhook = opts.removeWebhook;
          if (opts.disable) params.enabled = false;
          if (opts.enable) params.enabled = true;
          const res = await client.request<BudgetConfigureAlerts.Result>(BudgetConfigureAlerts.method, params);
          if (ctx.out.json) return ctx.out.printJson(res);
          const list = ctx.out.format === 'list';
          const cols: Column<Budget>[] = [
            { key: 'id', header: 'ID', text: (b) => (list ? b.id : shortId(b.id)) },
            { key: 'scope', header: 'SCOPE' },
            { key: 'period', header: 'PERIOD' },
            {
              key: 'alertsEnabled',
              header: 'ALERTS',
              text: (b) => (b.alertsEnabled ? 'on' : 'off'),
              paint: (b, c) => (b.alertsEnabled ? c.green : c.dim),
            },
            { key: 'thresholds', header: 'THRESHOLDS', text: (b) => b.thresholds.map((t) => `${t}%`).join(' ') },
          ];
          ctx.out.records(res, cols, res.budgets, { empty: 'no budgets yet' });
          printWebhooks(ctx, res.webhooks);
        },
      ),
    );

  budget
    .command('alerts')
    .description('alerts fired so far, newest first (thresholds crossed, calls refused, downgrades)')
    .option('--budget <id>', 'only this budget')
    .option('--limit <n>', 'at most n alerts (default 100)', positiveInt)
    .addHelpText('after', example('crew budget alerts --limit 20'))
    .action(
      withContext(async (ctx, opts: { budget?: string; limit?: number }) => {
        const client = await ctx.connect();
        const params: BudgetAlerts.Params = {};
        if (opts.budget) params.budgetId = await resolveBudgetId(client, opts.budget);
        if (opts.limit) params.limit = opts.limit;
        const res = await client.request<BudgetAlerts.Result>(BudgetAlerts.method, params);
        ctx.out.records(res, alertColumns(ctx), res.alerts, { empty: 'no alerts yet' });
      }),
    );
}

function printBudget(ctx: Context, result: unknown, b: Budget): void {
  const fields: [string, string][] = [
    ['id', b.id],
    ['scope', b.scope],
    ['period', b.period],
    ['limitUsd', money(b.limitUsd)],
    [
      'action',
      b.action +
        (b.downgradeTo ? ` → ${b.downgradeTo}` : '') +
        (b.action === 'fit' ? ` (down to ${b.minTokens ?? DEFAULT_FIT_MIN_TOKENS} tokens)` : ''),
    ],
    ['thresholds', b.thresholds.map((t) => `${t}%`).join(' ')],
    ['alerts', b.alertsEnabled ? 'on' : 'off'],
  ];
  if (b.period === 'weekly') fields.push(['weekStart', String(b.weekStart)]);
  ctx.out.record(result, fields);
}

function printWebhooks(ctx: Context, hooks: Webhook[]): void {
  if (hooks.length === 0) return;
  ctx.out.line();
  if (ctx.out.format === 'table') ctx.out.line(ctx.out.c.bold('Webhooks'));
  ctx.out.records(
    hooks,
    [
      { key: 'id', header: 'ID' },
      { key: 'url', header: 'URL' },
      { key: 'budgetId', header: 'BUDGET', text: (w: Webhook) => w.budgetId ?? 'all' },
    ],
    hooks,
  );
}

export { alertColumns };

/** A full id passes through; a unique prefix becomes the full id; anything else goes to the server to refuse. */
export async function resolveBudgetId(client: CrewClient, idOrPrefix: string): Promise<string> {
  const { budgets } = await client.request<BudgetStatusRequest.Result>(BudgetStatusRequest.method, {});
  if (budgets.some((b) => b.id === idOrPrefix)) return idOrPrefix;
  const matches = budgets.filter((b) => b.id.startsWith(idOrPrefix));
  if (matches.length > 1)
    throw new UsageError(`budget id "${idOrPrefix}" is ambiguous: ${matches.map((b) => b.id).join(', ')}`);
  return matches[0]?.id ?? idOrPrefix;
}
