/**
 * `crew store verify|backup|restore`. The server reads and writes backups only in `<data dir>/backups/` (a request
 * never names a file elsewhere); this CLI, running as the user on the user's machine, moves a backup out of that
 * folder to `--output`, and copies a file to restore into it first. Paths are resolved here, against the shell's
 * working directory.
 *
 * `crew store copy --to|--from <postgres-url>` moves the data directory's local store into an empty team database
 * or back. The copy is the server's (`crew-server --copy to|from`, run here as a one-shot child with the URL in
 * CREW_STORE_URL, never on its command line): the CLI imports no server code, and only renders its answer.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { StoreBackup, StoreRestore, StoreVerify } from '../../protocol';
import type { StoreCopyFailure, StoreCopyKind, StoreCopyResult } from '../../protocol';
import { dataDirPaths } from '../../protocol/node';
import { ClientError, readDiscovery, serverEntry } from '../client/connection';
import { withContext, type Context } from '../context';
import { QuietFailure, UsageError } from '../errors';
import { count } from '../output';
import { example } from './help';

export function registerStore(program: Command): void {
  const store = program
    .command('store')
    .description('check, back up, restore and copy the data store')
    .addHelpText('after', example('crew store backup --output ./crew.backup'));

  store
    .command('copy')
    .description(
      "copy the data directory's local store into an EMPTY PostgreSQL database (--to), or a database into the data " +
        "directory's empty local store (--from), then check it row for row (no crew-server may be using either)",
    )
    .option('--to <postgres-url>', 'the database to copy the local store into')
    .option('--from <postgres-url>', 'the database to copy into the local store')
    .addHelpText(
      'after',
      example(
        'crew server stop && crew store copy --to postgres://crew@db.internal:5432/crew',
        'crew --data-dir ./laptop-copy store copy --from postgres://crew@db.internal:5432/crew --json',
      ),
    )
    .action(withContext(async (ctx, opts: { to?: string; from?: string }) => copy(ctx, opts)));

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

async function copy(ctx: Context, opts: { to?: string; from?: string }): Promise<void> {
  if ((opts.to === undefined) === (opts.from === undefined))
    throw new UsageError('crew store copy: give exactly one of --to <postgres-url> or --from <postgres-url>');
  const url = (opts.to ?? opts.from)!;
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new UsageError(`crew store copy: "${masked(url)}" is not a postgres:// URL`);
  const direction = opts.to !== undefined ? 'to' : 'from';
  const running = await readDiscovery(dataDirPaths(ctx.dataDir).discovery);
  if (running)
    throw new ClientError(
      `a crew-server (pid ${running.pid}) is using ${ctx.dataDir}: stop it first (crew server stop), then copy again; nothing was copied`,
    );
  const done = ctx.out.progress(
    `copying ${direction === 'to' ? `${ctx.dataDir} into the database` : `the database into ${ctx.dataDir}`}…`,
  );
  let answer: { code: number | null; stdout: string; stderr: string };
  try {
    answer = await runServer(['--data-dir', ctx.dataDir, '--copy', direction, '--log-level', 'warn'], url);
  } finally {
    done();
  }
  let out: StoreCopyResult | StoreCopyFailure;
  try {
    out = JSON.parse(answer.stdout) as StoreCopyResult | StoreCopyFailure;
  } catch {
    const tail = answer.stderr.trim().split('\n').slice(-3).join('\n');
    throw new ClientError(
      `crew-server --copy ended (exit ${answer.code}) without an answer${tail ? `:\n${tail}` : ''}`,
    );
  }
  const result = 'kinds' in out ? out : out.result;
  if (ctx.out.json) ctx.out.printJson(out);
  else if (result) printCopy(ctx, result);
  if (!out.ok) throw new QuietFailure('message' in out ? out.message : 'the copy does not match its source');
}

function printCopy(ctx: Context, r: StoreCopyResult): void {
  const { c } = ctx.out;
  ctx.out.records<StoreCopyKind>(
    r,
    [
      { key: 'kind', header: 'KIND' },
      { key: 'source', header: 'SOURCE', align: 'right', text: (k) => count(k.source) },
      { key: 'target', header: 'COPIED', align: 'right', text: (k) => count(k.target) },
      {
        key: 'match',
        header: 'CHECK',
        text: (k) => (k.match ? 'ok' : 'MISMATCH'),
        paint: (k, cc) => (k.match ? cc.green : cc.red),
      },
    ],
    r.kinds,
  );
  ctx.out.line();
  ctx.out.line(
    `ledger: ${count(r.ledger.rows)} rows, $${usdText(r.ledger.targetPico)} (source $${usdText(r.ledger.sourcePico)})${r.ledger.idsKept ? ', ids kept' : ', renumbered 1…n in time order'}`,
  );
  for (const n of r.notCopied) ctx.out.line(c.yellow(`not copied: ${count(n.count)} ${n.kind} (${n.why})`));
  ctx.out.line(
    r.ok
      ? c.green(`copied ${r.source} → ${r.target}, verified row for row (${(r.ms / 1000).toFixed(1)} s)`)
      : c.red(`the copy into ${r.target} does not match its source`),
  );
}

/** Picodollars (decimal text) as exact USD text. */
function usdText(pico: string): string {
  const neg = pico.startsWith('-');
  const digits = (neg ? pico.slice(1) : pico).padStart(13, '0');
  const whole = digits.slice(0, -12);
  const frac = digits.slice(-12).replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

const masked = (raw: string) => raw.replace(/(\/\/[^/:@]*):[^@/]*@/, '$1:***@');

/** Runs crew-server once (the database URL in its environment, not on its command line) and collects its output. */
function runServer(args: string[], url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverEntry(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CREW_STORE_URL: url },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
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
