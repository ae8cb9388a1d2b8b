/** `crew models`: the model catalog with prices as the server has it (cached from OpenRouter). */
import type { Command } from 'commander';
import { ModelsList, type ModelInfo } from '../../protocol';
import { withContext } from '../context';
import { count, money, type Column } from '../output';
import { example } from './help';

export const MODEL_COLUMNS: Column<ModelInfo>[] = [
  { key: 'id', header: 'MODEL' },
  { key: 'promptUsdPerMillion', header: 'PROMPT $/M', align: 'right', text: (m) => money(m.promptUsdPerMillion) },
  {
    key: 'completionUsdPerMillion',
    header: 'COMPLETION $/M',
    align: 'right',
    text: (m) => money(m.completionUsdPerMillion),
  },
  { key: 'contextLength', header: 'CONTEXT', align: 'right', text: (m) => count(m.contextLength) },
];

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list models with their prices per million tokens and context length')
    .option('--search <text>', 'only models whose id or name contains the text')
    .option('--refresh', 'ask OpenRouter now instead of using the cached list')
    .addHelpText('after', example('crew models --search claude'))
    .action(
      withContext(async (ctx, opts: { search?: string; refresh?: boolean }) => {
        const client = await ctx.connect();
        const params: ModelsList.Params = {};
        if (opts.search) params.search = opts.search;
        if (opts.refresh) params.refresh = true;
        const res = await client.request<ModelsList.Result>(ModelsList.method, params);
        ctx.out.records(res, MODEL_COLUMNS, res.models, { empty: `no models match "${opts.search ?? ''}"` });
        if (ctx.out.human && res.source === 'stale-cache')
          ctx.out.note(
            ctx.out.ce.yellow(
              `note: OpenRouter could not be reached; this list is from a stale cache fetched ${res.fetchedAt ?? 'earlier'}` +
                (res.warning ? ` (${res.warning})` : ''),
            ),
          );
        else if (ctx.out.human && res.warning) ctx.out.note(ctx.out.ce.yellow(`note: ${res.warning}`));
      }),
    );
}
