/**
 * `crew dashboard [page] [--open]`: the dashboards in a browser, served by the daemon's HTTP port. Starts the daemon
 * if none runs, then prints the page's URL with the token in its fragment (the part after `#`, which a browser never
 * sends to a server; the page keeps it for the tab and removes it from the address bar).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { Argument, type Command } from 'commander';
import { dataDirPaths } from '../../protocol/node';
import { ClientError } from '../client/connection';
import { withContext } from '../context';
import { UsageError } from '../errors';
import { example } from './help';

const PAGES = ['costs', 'budgets', 'analytics', 'archive'] as const;

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('print the URL of a dashboard for a browser (costs, budgets, analytics, archive); --open opens it')
    .addArgument(new Argument('[page]', 'which dashboard').choices(PAGES).default('costs'))
    .option('--open', 'open it in the system browser')
    .addHelpText(
      'after',
      example('crew dashboard', 'crew dashboard budgets --open', 'crew dashboard archive --json') +
        '\n\nThe URL carries the server token: treat it like the token itself (crew server token).',
    )
    .action(
      withContext(async (ctx, page: (typeof PAGES)[number], opts: { open?: boolean }) => {
        if (ctx.global.stdio)
          throw new UsageError('"crew dashboard" needs the daemon: a --stdio server stops when this command ends');
        const client = await ctx.connect();
        const port = client.info.httpPort;
        if (port === null)
          throw new ClientError(
            `the crew-server for ${ctx.dataDir} has no HTTP port (started with --no-http?); ` +
              'restart it with one: crew server stop && crew dashboard',
          );
        const token = (await fsp.readFile(dataDirPaths(ctx.dataDir).token, 'utf8')).trim();
        const url = `http://127.0.0.1:${port}/dashboard/${page}#token=${encodeURIComponent(token)}`;
        let opened = false;
        if (opts.open) {
          try {
            await openBrowser(url);
            opened = true;
          } catch (e) {
            ctx.out.note(`crew: could not open a browser (${(e as Error).message}); open the URL yourself`);
          }
        }
        if (ctx.out.json) return ctx.out.printJson({ url });
        ctx.out.line(url);
        if (opened) ctx.out.note(`opened the ${page} dashboard in the browser`);
        else if (!opts.open) ctx.out.note('open it in a browser, or run again with --open');
      }),
    );
}

/** The system's "open this URL" program: resolves once it started, rejects if it cannot be run. */
function openBrowser(url: string): Promise<void> {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? // `start` is a cmd built-in; its first quoted argument is a window title.
          ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]]
        : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore', windowsHide: true });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ENOENT' ? `${cmd} not found` : e.message)),
    );
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
