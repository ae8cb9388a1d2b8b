/**
 * `crew server start|stop|status|token`: the data directory's daemon. These talk to the daemon found through
 * its discovery file and never start one implicitly (except `start`, whose job it is).
 */
import { promises as fsp } from 'node:fs';
import type { Command } from 'commander';
import { ServerInfo, ServerShutdown } from '../../protocol';
import { dataDirPaths, parseKeptPort, waitForExit } from '../../protocol/node';
import { ClientError, ConnectionLost, readDiscovery, startDaemon } from '../client/connection';
import { withContext, type Context } from '../context';
import { UsageError } from '../errors';
import { port } from '../parse';
import { when } from '../output';
import { example } from './help';

/** What `crew server status --json` prints (and `start`, once the daemon is up). */
export interface ServerStatusJson {
  running: boolean;
  pid: number | null;
  socket: string | null;
  httpPort: number | null;
  dataDir: string;
  version: string | null;
  protocolVersion: string | null;
  startedAt: string | null;
  sandbox: boolean | null;
  baseUrl: string | null;
  /** `local` or `postgres`, and where (never with a password). */
  store: { kind: 'local' | 'postgres'; location: string } | null;
  /**
   * The HTTP port the data directory keeps across restarts (what n8n credentials should use); null before the
   * daemon first listened. It differs from httpPort when it was taken at start.
   */
  keptHttpPort: number | null;
}

const STOP_TIMEOUT_MS = 15_000;

export function registerServer(program: Command): void {
  const server = program
    .command('server')
    .description("manage the data directory's crew-server daemon")
    .addHelpText('after', example('crew server status --json'));

  server
    .command('start')
    .description(
      'start the daemon for the data directory (if none runs) and print its status; its HTTP port stays the same ' +
        'across restarts (the first one it got, or the one --port chose)',
    )
    .option(
      '--port <n>',
      'HTTP port on 127.0.0.1, kept by the data directory from now on (0: any free port, this time)',
      port,
    )
    .addHelpText(
      'after',
      example(
        'crew --sandbox server start',
        'crew --data-dir ./crew-data server start',
        'crew server stop && crew server start --port 8787',
      ),
    )
    .action(
      withContext(async (ctx, opts: { port?: number }) => {
        noStdio(ctx, 'start');
        const paths = dataDirPaths(ctx.dataDir);
        const running = await readDiscovery(paths.discovery);
        const otherPort = (d: { pid: number; httpPort: number | null }) =>
          new ClientError(
            `crew-server (pid ${d.pid}) already runs for ${paths.dataDir} with HTTP port ${d.httpPort ?? 'none'}; ` +
              `to move it to ${opts.port}: crew server stop && crew server start --port ${opts.port}`,
          );
        if (running && opts.port && running.httpPort !== opts.port) throw otherPort(running);
        if (!running) {
          const started = await startDaemon({
            dataDir: ctx.dataDir,
            clientKind: 'cli',
            serverArgs: [...ctx.serverArgs, ...(opts.port === undefined ? [] : ['--port', String(opts.port)])],
          });
          // Another client may have started the daemon first (then without our --port): say so, not "the same".
          if (opts.port && started.httpPort !== opts.port) throw otherPort(started);
        }
        const client = await ctx.connect({ autoStart: false });
        const info = await client.request<ServerInfo.Result>(ServerInfo.method);
        if (ctx.out.human)
          ctx.out.note(
            running ? `crew-server already running (pid ${info.pid})` : `started crew-server (pid ${info.pid})`,
          );
        printStatus(ctx, fromInfo(info, await keptPort(paths.httpPort)));
      }),
    );

  server
    .command('stop')
    .description('ask the daemon to shut down and wait until its process has exited')
    .addHelpText('after', example('crew server stop'))
    .action(
      withContext(async (ctx) => {
        noStdio(ctx, 'stop');
        const paths = dataDirPaths(ctx.dataDir);
        const running = await readDiscovery(paths.discovery);
        if (!running) {
          if (ctx.out.json) ctx.out.printJson({ stopped: false, running: false, pid: null, dataDir: paths.dataDir });
          else ctx.out.line(`no crew-server is running for ${paths.dataDir}`);
          return;
        }
        try {
          const client = await ctx.connect({ autoStart: false });
          // The daemon may close the connection before its answer is on the wire; either way it is stopping.
          await client.request<ServerShutdown.Result>(ServerShutdown.method).catch((e: unknown) => {
            if (!(e instanceof ConnectionLost)) throw e;
          });
        } catch (e) {
          // A daemon whose socket no longer answers still stops cleanly on SIGTERM (it removes its discovery file).
          ctx.out.note(`crew: ${(e as Error).message}; sending SIGTERM to pid ${running.pid}`);
          process.kill(running.pid, 'SIGTERM');
        }
        await ctx.close();
        if (!(await waitForExit(running.pid, STOP_TIMEOUT_MS)))
          throw new Error(
            `crew-server (pid ${running.pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s; kill it with: kill ${running.pid}`,
          );
        if (ctx.out.json)
          ctx.out.printJson({ stopped: true, running: false, pid: running.pid, dataDir: paths.dataDir });
        else ctx.out.line(`stopped crew-server (pid ${running.pid})`);
      }),
    );

  server
    .command('status')
    .description('show whether the daemon runs, its pid, socket, HTTP port and version (exit 0 either way)')
    .addHelpText('after', example('crew server status --json'))
    .action(
      withContext(async (ctx) => {
        noStdio(ctx, 'status');
        const paths = dataDirPaths(ctx.dataDir);
        const running = await readDiscovery(paths.discovery);
        const kept = await keptPort(paths.httpPort);
        if (!running) return printStatus(ctx, notRunning(paths.dataDir, kept));
        const client = await ctx.connect({ autoStart: false });
        printStatus(ctx, fromInfo(await client.request<ServerInfo.Result>(ServerInfo.method), kept));
      }),
    );

  server
    .command('token')
    .description('print the HTTP bearer token (for n8n and other HTTP clients) and nothing else')
    .addHelpText('after', example('curl -H "Authorization: Bearer $(crew server token)" …'))
    .action(
      withContext(async (ctx) => {
        const file = dataDirPaths(ctx.dataDir).token;
        let token: string;
        try {
          token = (await fsp.readFile(file, 'utf8')).trim();
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          throw new Error(
            `no token yet in ${ctx.dataDir}: the server makes one when it first starts (crew server start)`,
            { cause: e },
          );
        }
        if (ctx.out.json) ctx.out.printJson({ token });
        else ctx.out.line(token);
      }),
    );
}

function noStdio(ctx: Context, sub: string): void {
  if (ctx.global.stdio)
    throw new UsageError(
      `"crew server ${sub}" manages the daemon; --stdio runs a private server and cannot be combined with it`,
    );
}

/** The data directory's kept HTTP port (written by the daemon; see server/daemon/http-port.ts). */
async function keptPort(file: string): Promise<number | null> {
  return parseKeptPort(await fsp.readFile(file, 'utf8').catch(() => ''));
}

function notRunning(dataDir: string, keptHttpPort: number | null): ServerStatusJson {
  return {
    running: false,
    pid: null,
    socket: null,
    httpPort: null,
    dataDir,
    version: null,
    protocolVersion: null,
    startedAt: null,
    sandbox: null,
    baseUrl: null,
    store: null,
    keptHttpPort,
  };
}

function fromInfo(info: ServerInfo.Result, keptHttpPort: number | null): ServerStatusJson {
  return {
    running: true,
    pid: info.pid,
    socket: info.socket,
    httpPort: info.httpPort,
    dataDir: info.dataDir,
    version: info.version,
    protocolVersion: info.protocolVersion,
    startedAt: info.startedAt,
    sandbox: info.upstream.sandbox,
    baseUrl: info.upstream.baseUrl,
    store: info.store ?? { kind: 'local', location: info.dataDir },
    keptHttpPort,
  };
}

/** The HTTP line of the status: the address, and whether it is the one that stays across restarts. */
function httpLine(ctx: Context, s: ServerStatusJson): string {
  if (s.httpPort === null) return '—';
  const address = `http://127.0.0.1:${s.httpPort} (bearer token: crew server token)`;
  if (s.keptHttpPort === null || s.keptHttpPort === s.httpPort) return `${address}, the same after restarts`;
  return `${address}; ${ctx.out.c.yellow(`this data directory's port ${s.keptHttpPort} was taken at start`)}: clients set up with it (n8n credentials) do not reach this server until it restarts with ${s.keptHttpPort} free`;
}

function printStatus(ctx: Context, s: ServerStatusJson): void {
  const { c } = ctx.out;
  if (!s.running) {
    ctx.out.record(s, [
      ['running', ctx.out.format === 'list' ? 'false' : c.yellow('no')],
      ['dataDir', s.dataDir],
      ['http', s.keptHttpPort === null ? '—' : `port ${s.keptHttpPort} when it starts`],
    ]);
    if (ctx.out.format === 'table') ctx.out.note('start one with: crew server start');
    return;
  }
  ctx.out.record(s, [
    ['running', ctx.out.format === 'list' ? 'true' : `${c.green('yes')} (pid ${s.pid})`],
    ['pid', String(s.pid)],
    ['version', `${s.version} (protocol ${s.protocolVersion})`],
    ['dataDir', s.dataDir],
    ['store', s.store?.kind === 'postgres' ? `PostgreSQL ${s.store.location} (shared)` : 'local (the data directory)'],
    ['socket', s.socket ?? '—'],
    ['http', httpLine(ctx, s)],
    ['upstream', s.sandbox ? c.yellow(`SANDBOX ${s.baseUrl} (simulated, no real money)`) : (s.baseUrl ?? '—')],
    ['startedAt', when(s.startedAt, true)],
  ]);
}
