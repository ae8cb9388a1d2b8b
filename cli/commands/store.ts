/**
 * `crew store verify|backup|restore`. Paths are resolved here, against the shell's working directory: the
 * daemon runs elsewhere and would resolve a relative path against its own.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { StoreBackup, StoreRestore, StoreVerify } from '../../protocol';
import { withContext } from '../context';
import { QuietFailure } from '../errors';
import { count } from '../output';
import { example } from './help';

export function registerStore(program: Command): void {
  const store = program
    .command('store')
    .description('check, back up and restore the data store')
    .addHelpText('after', example('crew store backup --output ./crew.backup'));

  store
    .command('verify')
    .description('check the store for damage (exit 1 if a check fails)')
    .addHelpText('after', example('crew store verify'))
    .action(
      withContext(async (ctx) => {
        const client = await ctx.connect();
        const res = await client.request<StoreVerify.Result>(StoreVerify.method);
        const { c } = ctx.out;
        ctx.out.records(
          res,
          [
            {
              key: 'ok',
              header: 'OK',
              text: (x) => (x.ok ? 'ok' : 'FAIL'),
              paint: (x, cc) => (x.ok ? cc.green : cc.red),
            },
            { key: 'name', header: 'CHECK' },
            { key: 'detail', header: 'DETAIL' },
          ],
          res.checks,
        );
        if (ctx.out.human)
          ctx.out.line(
            res.ok
              ? c.green(`store ok (schema ${res.schemaVersion})`)
              : c.red('store has problems: restore a backup with crew store restore <file>'),
          );
        if (!res.ok) throw new QuietFailure('store verification failed');
      }),
    );

  store
    .command('backup')
    .description('write a checksummed backup of the whole store')
    .option('--output <file>', 'where to write it (default: <data-dir>/backups/crew-<time>.backup)')
    .addHelpText('after', example('crew store backup --output ./crew-2025-01-31.backup'))
    .action(
      withContext(async (ctx, opts: { output?: string }) => {
        const client = await ctx.connect();
        const params: StoreBackup.Params = opts.output ? { path: path.resolve(opts.output) } : {};
        const res = await client.request<StoreBackup.Result>(StoreBackup.method, params);
        ctx.out.record(res, [
          ['path', res.path],
          ['bytes', count(res.bytes)],
          ['sha256', res.sha256],
          ['ledgerEntries', count(res.ledgerEntries)],
        ]);
      }),
    );

  store
    .command('restore')
    .description('replace the store with a backup (the current state is backed up first)')
    .argument('<file>', 'a backup written by crew store backup')
    .addHelpText('after', example('crew store restore ./crew-2025-01-31.backup'))
    .action(
      withContext(async (ctx, file: string) => {
        const client = await ctx.connect();
        const res = await client.request<StoreRestore.Result>(StoreRestore.method, {
          path: path.resolve(file),
        } satisfies StoreRestore.Params);
        ctx.out.record(res, [
          ['restoredFrom', res.restoredFrom],
          ['previousBackup', res.previousBackup],
          ['ledgerEntries', count(res.ledgerEntries)],
          ['budgets', count(res.budgets)],
        ]);
      }),
    );
}
