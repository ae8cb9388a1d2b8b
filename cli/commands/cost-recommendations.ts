/**
 * `crew cost recommendations`: where money could have been saved over a window, each with its id and dollars;
 * `crew cost apply <id>`: applies one (or says what it would change with --dry-run). The server computes and
 * applies everything; these only ask and render.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  CostApplyRecommendation,
  CostRecommendations,
  type CostRecommendation,
  type RecommendationChange,
} from '../../protocol';
import { withContext, type Context } from '../context';
import { money, type Column } from '../output';
import { usd } from '../parse';
import { example } from './help';

const MAX_WINDOW_DAYS = 365;

/** `30d`, `30` (days) or `4w` (weeks), 1…365 days. */
export function windowDays(value: string): number {
  const m = /^(\d+)\s*([dw]?)$/i.exec(value.trim());
  const days = m ? Number(m[1]) * (m[2]?.toLowerCase() === 'w' ? 7 : 1) : NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_WINDOW_DAYS)
    throw new InvalidArgumentError(`expected a number of days 1–${MAX_WINDOW_DAYS}, e.g. 30d, 7 or 4w`);
  return days;
}

interface ListOptions {
  window?: number;
  crew?: string;
  minSavings?: number;
}

interface ApplyOptions {
  window?: number;
  dryRun?: boolean;
}

export function registerRecommendations(cost: Command): void {
  cost
    .command('recommendations')
    .description(
      'where money could have been saved over the window (cheaper model, prompt caching, max_tokens, memories)',
    )
    .option('--window <days>', 'look back this many days, e.g. 30d (default 30d)', windowDays)
    .option('--crew <id>', 'only this crew (id or name)')
    .option('--min-savings <usd>', 'leave out recommendations that would save less', usd)
    .addHelpText(
      'after',
      example('crew cost recommendations --window 7d', 'crew cost recommendations --crew ops --json'),
    )
    .action(
      withContext(async (ctx, opts: ListOptions) => {
        await recommendations(ctx, opts);
      }),
    );

  cost
    .command('apply')
    .description('apply a recommendation by its id (changes the crew agent, or archives the memories)')
    .argument('<id>', 'the recommendation id, as `crew cost recommendations` shows it')
    .option('--dry-run', 'say what would change, change nothing')
    .option('--window <days>', 'the window the recommendation was listed over (default 30d)', windowDays)
    .addHelpText('after', example('crew cost apply rec_3f2a9c1b7e0d --dry-run'))
    .action(
      withContext(async (ctx, id: string, opts: ApplyOptions) => {
        await apply(ctx, id, opts);
      }),
    );
}

/** max-tokens saves no spend; what it frees is budget headroom, which is the figure worth showing. */
function savingsText(r: CostRecommendation): string {
  const headroom = r.evidence.headroomUsd;
  if (r.kind === 'max-tokens' && typeof headroom === 'number') return `${money(0)} (frees ${money(headroom)} headroom)`;
  return money(r.savingsUsd);
}

export function recommendationColumns(ctx: Context): Column<CostRecommendation>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID' },
    { key: 'kind', header: 'KIND' },
    {
      key: 'savingsUsd',
      header: 'WOULD HAVE SAVED',
      align: 'right',
      text: savingsText,
      paint: (r, c) => (r.savingsUsd > 0 ? c.green : undefined),
    },
    { key: 'spentUsd', header: 'SPENT', align: 'right', text: (r) => money(r.spentUsd) },
    {
      key: 'apply',
      header: 'APPLY',
      text: (r) => (r.notApplicable === null ? 'yes' : 'by hand'),
      paint: (r, c) => (r.notApplicable === null ? undefined : c.dim),
    },
    { key: 'title', header: 'WHAT' },
    ...(list
      ? [
          { key: 'detail', header: 'DETAIL' },
          { key: 'notApplicable', header: 'NOT APPLICABLE' },
          { key: 'changes', header: 'CHANGES', text: (r: CostRecommendation) => r.changes.map(changeText).join('; ') },
        ]
      : []),
  ];
}

export function changeText(c: RecommendationChange): string {
  return `${c.target} ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`;
}

export async function recommendations(ctx: Context, opts: ListOptions): Promise<CostRecommendations.Result> {
  const client = await ctx.connect();
  const params: CostRecommendations.Params = {};
  if (opts.window !== undefined) params.windowDays = opts.window;
  if (opts.crew !== undefined) params.crew = opts.crew;
  if (opts.minSavings !== undefined) params.minSavingsUsd = opts.minSavings;
  const res = await client.request<CostRecommendations.Result>(CostRecommendations.method, params);
  const days = `${res.windowDays} day${res.windowDays === 1 ? '' : 's'}`;
  ctx.out.records(res, recommendationColumns(ctx), res.recommendations, {
    empty: `no savings found over the last ${days}${opts.crew ? ` for crew ${opts.crew}` : ''}`,
  });
  if (ctx.out.human && res.recommendations.length) {
    ctx.out.note(`would have saved ${money(res.totalSavingsUsd)} over the last ${days}`);
    const first = res.recommendations.find((r) => r.notApplicable === null);
    if (first) ctx.out.note(`apply one with: crew cost apply ${first.id}   (--dry-run to see what changes)`);
  }
  return res;
}

export async function apply(ctx: Context, id: string, opts: ApplyOptions): Promise<CostApplyRecommendation.Result> {
  const client = await ctx.connect();
  const params: CostApplyRecommendation.Params = { id };
  if (opts.window !== undefined) params.windowDays = opts.window;
  if (opts.dryRun) params.dryRun = true;
  const res = await client.request<CostApplyRecommendation.Result>(CostApplyRecommendation.method, params);
  if (ctx.out.json) {
    ctx.out.printJson(res);
    return res;
  }
  const r = res.recommendation;
  ctx.out.record(res, [
    ['recommendation', r.id],
    ['what', r.title],
    ['would have saved', savingsText(r)],
    ['status', res.applied ? `applied at ${res.appliedAt}` : 'dry run: nothing changed'],
    ...res.changes.map((c, i): [string, string] => [`change ${i + 1}`, changeText(c)]),
    ...(res.archiveId
      ? [['archive', `${res.archiveId} (crew archive restore ${res.archiveId})`] as [string, string]]
      : []),
  ]);
  return res;
}
