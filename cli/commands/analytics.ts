/**
 * `crew analytics summary|insights|recommendations`: how a crew's memories are used, what the numbers say, and
 * what to do about it (archive, merge, pin). Every figure comes from the server; this file only lays them out.
 */
import type { Command } from 'commander';
import {
  AnalyticsInsights,
  AnalyticsRecommendations,
  AnalyticsSummary,
  type CrewSummary,
  type Insight,
  type MemoryBrief,
  type Recommendation,
} from '../../protocol';
import { withContext, type Context } from '../context';
import { count, percent, when, type Colors, type Column } from '../output';
import { positiveInt } from '../parse';
import { example } from './help';
import { preview } from './memory';

const shortId = (id: string) => id.slice(0, 8);
const KIND_ORDER = ['fact', 'insight', 'lesson', 'result', 'note'] as const;
const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** A share in [0, 1] as `66.7%`. */
const share = (s: number) => percent(Math.round(s * 1000) / 10);

/** One character per value, the tallest `█`, zero `·`: a histogram that fits on a line. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => (v <= 0 || max === 0 ? '·' : SPARKS[Math.min(7, Math.max(0, Math.ceil((v / max) * 8) - 1))]!))
    .join('');
}

/** `00 ··▁▃█▂ … 23  peak 14h (12)`, hours in UTC as the server counts them. */
export function hourLine(byHour: number[]): string {
  const total = byHour.reduce((a, b) => a + b, 0);
  if (total === 0) return 'no accesses in the window';
  let peak = 0;
  byHour.forEach((v, h) => {
    if (v > byHour[peak]!) peak = h;
  });
  return `00 ${sparkline(byHour)} 23  peak ${String(peak).padStart(2, '0')}h (${count(byHour[peak])})`;
}

function briefLine(m: MemoryBrief, c: Colors): string {
  const uses = m.accessCount ? `${count(m.accessCount)}×` : 'never';
  return `${shortId(m.id)}  ${uses.padStart(6)}  ${m.kind.padEnd(7)}  ${c.dim(`${count(m.tokens)} tok`)}  ${preview(m.preview, 50)}`;
}

function printSummary(ctx: Context, res: AnalyticsSummary.Result): void {
  const { c } = ctx.out;
  const list = ctx.out.format === 'list';
  res.crews.forEach((s: CrewSummary, i) => {
    if (i > 0) ctx.out.line();
    const kinds = KIND_ORDER.map((k) => `${k} ${count(s.byKind[k] ?? 0)}`).join(', ');
    if (list) {
      ctx.out.record(s, [
        ['crew', s.crew],
        ['from', res.window.from],
        ['to', res.window.to],
        ['total', String(s.total)],
        ['pinned', String(s.pinned)],
        ...KIND_ORDER.map((k): [string, string] => [k, String(s.byKind[k] ?? 0)]),
        ['neverAccessed', String(s.neverAccessed)],
        ['neverAccessedShare', String(s.neverAccessedShare)],
        ['unusedInWindow', String(s.unusedInWindow)],
        ['agedMemories', String(s.agedMemories)],
        ['contextTokens', String(s.contextTokens)],
        ['accessesInWindow', String(s.accessesInWindow)],
        ['byHour', s.byHour.join(',')],
        ['hot', s.hot.map((m) => m.id).join(',') || '—'],
        ['cold', s.cold.map((m) => m.id).join(',') || '—'],
      ]);
      return;
    }
    ctx.out.line(
      c.bold(`crew ${s.crew}`) + c.dim(` · last ${res.window.days} days (${res.window.from} … ${res.window.to}, UTC)`),
    );
    ctx.out.record(s, [
      ['memories', `${count(s.total)} (${kinds})${s.pinned ? ` · ${count(s.pinned)} pinned` : ''}`],
      ['never accessed', `${count(s.neverAccessed)} (${share(s.neverAccessedShare)})`],
      [
        'unused in window',
        `${count(s.unusedInWindow)} of ${count(s.agedMemories)} older than the window (${share(s.unusedInWindowShare)})`,
      ],
      ['context tokens', `${count(s.contextTokens)} (all live memories in one prompt)`],
      ['accesses', `${count(s.accessesInWindow)} in the window`],
      ['by hour (UTC)', hourLine(s.byHour)],
    ]);
    ctx.out.line(c.dim('hot') + (s.hot.length ? '' : '   none accessed in the window'));
    for (const m of s.hot) ctx.out.line(`  ${briefLine(m, c)}`);
    const noCold = s.agedMemories
      ? '  none: every older memory was used'
      : '  none: no memory is older than the window';
    ctx.out.line(c.dim('cold') + (s.cold.length ? '' : noCold));
    for (const m of s.cold) ctx.out.line(`  ${briefLine(m, c)}`);
  });
}

function insightColumns(): Column<Insight>[] {
  return [
    {
      key: 'severity',
      header: 'SEVERITY',
      paint: (i, c) => (i.severity === 'warning' ? c.yellow : c.dim),
    },
    { key: 'crew', header: 'CREW' },
    { key: 'kind', header: 'KIND' },
    { key: 'text', header: 'INSIGHT' },
  ];
}

function recommendationColumns(ctx: Context): Column<Recommendation>[] {
  const list = ctx.out.format === 'list';
  const ids = (r: Recommendation) => {
    if (list) return r.memoryIds.join(',');
    const shown = r.memoryIds.slice(0, 3).map(shortId).join(',');
    return r.memoryIds.length > 3 ? `${shown} +${r.memoryIds.length - 3}` : shown;
  };
  return [
    { key: 'id', header: 'ID' },
    { key: 'kind', header: 'KIND' },
    { key: 'crew', header: 'CREW' },
    { key: 'memoryIds', header: 'MEMORIES', text: ids },
    { key: 'tokensSaved', header: 'TOKENS SAVED', align: 'right', text: (r) => count(r.tokensSaved) },
    ...(list ? [{ key: 'command', header: 'COMMAND', text: commandFor }] : []),
    { key: 'reason', header: 'REASON', text: (r) => (list ? r.reason : preview(r.reason, 70)) },
  ];
}

/** The command that follows a recommendation. */
export function commandFor(r: Recommendation): string {
  switch (r.kind) {
    case 'archive':
      return `crew archive archive --ids ${r.memoryIds.map(shortId).join(',')}`;
    case 'merge': {
      const keep = r.merge?.keepId ?? r.memoryIds[0]!;
      const others = r.merge?.mergeIds ?? r.memoryIds.filter((id) => id !== keep);
      return `crew memory merge ${[keep, ...others].map(shortId).join(' ')}`;
    }
    case 'pin':
      return `crew memory update ${r.memoryIds.map(shortId).join(' ')} --pinned`;
  }
}

interface WindowOptions {
  crew?: string;
  days?: number;
}

function windowParams(opts: WindowOptions): AnalyticsSummary.Params {
  const params: AnalyticsSummary.Params = {};
  if (opts.crew) params.crew = opts.crew;
  if (opts.days !== undefined) params.days = opts.days;
  return params;
}

export function registerAnalytics(program: Command): void {
  const analytics = program
    .command('analytics')
    .description('how memories are used: figures per crew, findings, and what to archive, merge or pin')
    .addHelpText(
      'after',
      example(
        'crew analytics summary --crew ops',
        'crew analytics insights',
        'crew analytics recommendations --limit 5',
      ),
    );

  analytics
    .command('summary')
    .description('per crew: memories by kind, never-accessed share, context tokens, accesses by hour, hot and cold')
    .option('--crew <id>', 'only this crew (default: every crew with memories or accesses)')
    .option('--days <n>', 'the window, in days ending today (default 30)', positiveInt)
    .addHelpText('after', example('crew analytics summary --crew ops --days 7', 'crew analytics summary --json'))
    .action(
      withContext(async (ctx, opts: WindowOptions) => {
        const client = await ctx.connect();
        const res = await client.request<AnalyticsSummary.Result>(AnalyticsSummary.method, windowParams(opts));
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.crews.length === 0)
          return ctx.out.note(
            `no memories or accesses${opts.crew ? ` for crew ${opts.crew}` : ''} in the last ${res.window.days} days`,
          );
        printSummary(ctx, res);
        if (ctx.out.format === 'table') ctx.out.note(ctx.out.ce.dim(`generated ${when(res.generatedAt, true)}`));
      }),
    );

  analytics
    .command('insights')
    .description('what the figures say, one line per finding (warnings first)')
    .option('--crew <id>', 'only this crew')
    .option('--days <n>', 'the window, in days ending today (default 30)', positiveInt)
    .addHelpText('after', example('crew analytics insights --crew ops', 'crew analytics insights --days 90 --json'))
    .action(
      withContext(async (ctx, opts: WindowOptions) => {
        const client = await ctx.connect();
        const res = await client.request<AnalyticsInsights.Result>(AnalyticsInsights.method, windowParams(opts));
        ctx.out.records(res, insightColumns(), res.insights, {
          empty: `no findings${opts.crew ? ` for crew ${opts.crew}` : ''} in the last ${res.window.days} days: nothing stands out`,
        });
      }),
    );

  analytics
    .command('recommendations')
    .description('memories to archive, merge or pin, with the prompt tokens each change saves')
    .option('--crew <id>', 'only this crew')
    .option('--limit <n>', 'at most n recommendations (default 20)', positiveInt)
    .addHelpText('after', example('crew analytics recommendations --crew ops --limit 5'))
    .action(
      withContext(async (ctx, opts: { crew?: string; limit?: number }) => {
        const client = await ctx.connect();
        const params: AnalyticsRecommendations.Params = {};
        if (opts.crew) params.crew = opts.crew;
        if (opts.limit !== undefined) params.limit = opts.limit;
        const res = await client.request<AnalyticsRecommendations.Result>(AnalyticsRecommendations.method, params);
        ctx.out.records(res, recommendationColumns(ctx), res.recommendations, {
          empty: `no recommendations${opts.crew ? ` for crew ${opts.crew}` : ''}: nothing to archive, merge or pin`,
        });
        if (ctx.out.format === 'table' && res.recommendations.length) {
          const first = res.recommendations[0]!;
          ctx.out.note(
            ctx.out.ce.dim(
              `${res.recommendations.length} of ${res.total} recommendations · follow the first with: ${commandFor(first)}`,
            ),
          );
        }
      }),
    );
}
