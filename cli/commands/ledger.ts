/** `crew ledger`: the most recent calls as recorded (cost, tokens, attribution), newest first. */
import { Option, type Command } from 'commander';
import { LedgerList, type LedgerEntry } from '../../protocol';
import { withContext, type Context } from '../context';
import { count, money, when, type Column } from '../output';
import { positiveInt } from '../parse';
import { example } from './help';

const ledgerColumns = (ctx: Context): Column<LedgerEntry>[] => {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', align: 'right' },
    { key: 'at', header: 'AT', text: (e) => (list ? e.at : when(e.at, true)) },
    { key: 'crew', header: 'CREW' },
    { key: 'agent', header: 'AGENT' },
    { key: 'model', header: 'MODEL' },
    { key: 'promptTokens', header: 'PROMPT', align: 'right', text: (e) => count(e.usage.promptTokens) },
    { key: 'completionTokens', header: 'COMPL', align: 'right', text: (e) => count(e.usage.completionTokens) },
    // `~` marks an estimate (no usage.cost yet); the reconciler replaces it with OpenRouter's figure.
    { key: 'costUsd', header: 'COST', align: 'right', text: (e) => (e.costEstimated ? '~' : '') + money(e.costUsd) },
    { key: 'status', header: 'STATUS', paint: (e, c) => (e.status === 'ok' ? undefined : c.red) },
    ...(list
      ? [
          { key: 'tags', header: 'TAGS' },
          { key: 'stream', header: 'STREAM' },
          { key: 'generationId', header: 'GENERATION' },
        ]
      : []),
  ];
};

export function registerLedger(program: Command): void {
  program
    .command('ledger')
    .description('recent calls with their cost, newest first (~ marks an estimated cost)')
    .option('--limit <n>', 'at most n entries (default 50)', positiveInt)
    .option('--before <id>', 'entries older than this ledger id (paging)', positiveInt)
    .option('--crew <id>', 'only calls of this crew')
    .option('--agent <id>', 'only calls of this agent')
    .option('--model <id>', 'only calls to this model')
    .addOption(new Option('--status <status>', 'only calls with this outcome').choices(['ok', 'error', 'cancelled']))
    .addHelpText('after', example('crew ledger --limit 10 --crew research'))
    .action(
      withContext(async (ctx, opts: LedgerList.Params) => {
        const client = await ctx.connect();
        const params: LedgerList.Params = {};
        for (const k of ['limit', 'before', 'crew', 'agent', 'model', 'status'] as const)
          if (opts[k] !== undefined) Object.assign(params, { [k]: opts[k] });
        const res = await client.request<LedgerList.Result>(LedgerList.method, params);
        ctx.out.records(res, ledgerColumns(ctx), res.entries, { empty: 'no calls recorded yet' });
        if (ctx.out.format === 'table' && res.entries.length)
          ctx.out.note(ctx.out.ce.dim(`${res.entries.length} of ${res.total} entries`));
      }),
    );
}
