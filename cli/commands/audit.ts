/** `crew audit`: the server's audit log of mutating calls (who did what, when, with which outcome). */
import type { Command } from 'commander';
import { AuditList, type AuditEntry } from '../../protocol';
import { withContext } from '../context';
import { when, type Column } from '../output';
import { positiveInt } from '../parse';
import { example } from './help';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('recent entries of the audit log (mutating calls and their outcome)')
    .option('--limit <n>', 'at most n entries (default 100)', positiveInt)
    .option('--method <name>', 'only this method, e.g. budget/set')
    .addHelpText('after', example('crew audit --limit 20 --method budget/set'))
    .action(
      withContext(async (ctx, opts: { limit?: number; method?: string }) => {
        const client = await ctx.connect();
        const params: AuditList.Params = {};
        if (opts.limit) params.limit = opts.limit;
        if (opts.method) params.method = opts.method;
        const res = await client.request<AuditList.Result>(AuditList.method, params);
        const list = ctx.out.format === 'list';
        const cols: Column<AuditEntry>[] = [
          { key: 'at', header: 'AT', text: (e) => (list ? e.at : when(e.at, true)) },
          // Who authenticated; CLIENT is only what the client declared itself to be.
          { key: 'principal', header: 'PRINCIPAL', text: (e) => e.principal ?? '' },
          { key: 'clientKind', header: 'CLIENT' },
          { key: 'method', header: 'METHOD' },
          { key: 'outcome', header: 'OUTCOME', paint: (e, c) => (e.outcome === 'ok' ? c.green : c.red) },
          { key: 'errorCode', header: 'CODE', align: 'right' },
          { key: 'durationMs', header: 'MS', align: 'right', text: (e) => String(Math.round(e.durationMs)) },
          { key: 'summary', header: 'SUMMARY' },
        ];
        ctx.out.records(res, cols, res.entries, { empty: 'the audit log is empty' });
      }),
    );
}
