/**
 * `crew store verify|backup|restore`. The server reads and writes backups only in `<data dir>/backups/` (a request
 * never names a file elsewhere); this CLI, running as the user on the user's machine, moves a backup out of that
 * folder to `--output`, and copies a file to restore into it first. Paths are resolved here, against the shell's
 * working directory.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { StoreBackup, StoreRestore, StoreVerify } from '../../protocol';
import { dataDirPaths } from '../../protocol/node';
import { ClientError } from '../client/connection';
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
    .option('--output <file>', 'where to put it (default: <data-dir>/backups/crew-<time>.backup)')
    .addHelpText('after', example('crew store backup --output ./crew-2025-01-31.backup'))
    .action(
      withContext(async (ctx, opts: { output?: string }) => {
        const client = await ctx.connect();
        const res = await client.request<StoreBackup.Result>(StoreBackup.method, {} satisfies StoreBackup.Params);
        if (opts.output) res.path = await moveOut(res.path, path.resolve(opts.output));
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
        const source = path.resolve(file);
        const backups = dataDirPaths(ctx.dataDir).backups;
        const inside = await isInside(backups, source);
        const name = inside ? path.relative(backups, source) : await copyIn(source, backups);
        let res: StoreRestore.Result;
        try {
          res = await client.request<StoreRestore.Result>(StoreRestore.method, {
            path: name,
          } satisfies StoreRestore.Params);
        } finally {
          if (!inside) await fsp.rm(path.join(backups, name), { force: true });
        }
        res.restoredFrom = source;
        ctx.out.record(res, [
          ['restoredFrom', res.restoredFrom],
          ['previousBackup', res.previousBackup],
          ['ledgerEntries', count(res.ledgerEntries)],
          ['budgets', count(res.budgets)],
        ]);
      }),
    );
}

/** Moves the server's backup to `dest` (a rename, or a copy across filesystems); returns `dest`. */
async function moveOut(from: string, dest: string): Promise<string> {
  if (path.resolve(from) === dest) return dest;
  try {
    await fsp.rename(from, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV')
      throw new ClientError(`could not put the backup at ${dest} (${(e as Error).message}); it is at ${from}`);
    await fsp.copyFile(from, dest);
    await fsp.rm(from, { force: true });
  }
  return dest;
}

/** Whether `file` is inside `dir`, symbolic links resolved (a file there need not be copied in). */
async function isInside(dir: string, file: string): Promise<boolean> {
  const real = async (p: string) => fsp.realpath(p).catch(() => path.resolve(p));
  const rel = path.relative(await real(dir), await real(file));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** Copies a backup from anywhere into the backups folder under a fresh name; returns that name. */
async function copyIn(source: string, backups: string): Promise<string> {
  const name = `.import-${randomBytes(6).toString('hex')}-${path.basename(source)}`;
  await fsp.mkdir(backups, { recursive: true, mode: 0o700 });
  try {
    await fsp.copyFile(source, path.join(backups, name));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ClientError(`${source} is not a usable backup: ${why}; nothing was changed`);
  }
  return name;
}
