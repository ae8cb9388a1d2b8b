/**
 * crew-server: parses arguments, takes the data directory's lock, wires the app and attaches transports.
 *
 *   crew-server [--data-dir DIR] [--stdio | --socket [PATH]] [--port N] [--host ADDR] [--sandbox]
 *
 * Without --stdio it runs as the data directory's daemon: unix socket + HTTP on 127.0.0.1, and a discovery file
 * (server.json) that clients read. With --stdio it serves one client on stdin/stdout and holds the same lock.
 */
import { promises as fsp } from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import { parseArgs } from 'node:util';
import type { DiscoveryFile } from '../protocol';
import { PROTOCOL_VERSION } from '../protocol';
import { dataDirPaths, defaultDataDir, privateSocketDir } from '../protocol/node';
import { App, SERVER_VERSION } from './app';
import { boundHeapGrowth } from './daemon/heap';
import { acquireLock, LockHeld } from './daemon/lock';
import { prepareSocketPath, SocketPathUnsafe } from './daemon/socket-dir';
import { listenOnKeptPort, PortUnavailable } from './daemon/http-port';
import { loadOrCreateToken, readKeyFile } from './daemon/token';
import { createLogger, registerSecret, type Logger, type LogLevel } from './log';
import { DEFAULT_BASE_URL } from './openrouter/client';
import { DomainError } from './errors';
import { writeDurably } from './store/durable-file';
import { parseStoreLocation, type StoreLocation } from './store/location';
import { DEFAULT_LEASE } from './store/postgres/gate';
import { runStoreCopy } from './store/copy-run';
import { systemClock } from './clock';
import { boundPort, listenHttp } from './transports/http';
import { auditedChat } from './gateway/audited-chat';
import { serveStreams } from './transports/jsonrpc';
import { closeSocketServer, listenSocket } from './transports/socket';
import { startFakeOpenRouter } from '../test/fixtures/fake-openrouter';

const HELP = `crew-server — the OpenRouter Crew server (one per data directory)

Usage: crew-server [options]

  --data-dir <dir>     data directory (default: $CREW_DATA_DIR or the user data dir)
  --stdio              serve one client over stdin/stdout (no socket, no discovery file)
  --socket [path]      listen on a unix socket / named pipe (default: in the data directory)
  --port <n>           HTTP on 127.0.0.1:<n>, kept by the data directory for later starts (0 = any free port,
                       this time only). Default for a daemon: the port the data directory kept (in its http-port
                       file; a free one if that is taken), or on a first start the first free port from 8787,
                       which it then keeps
  --no-http            do not listen on HTTP
  --host <addr>        bind HTTP to another address (explicit opt-in; the token is still required)
  --allow-host <name>  accept HTTP requests whose Host is <name> (repeatable): a proxy that forwards by path and
                       passes its own host name on (code-server's /proxy/<port>/); loopback names always work
  --store <url>        keep the data in a team's PostgreSQL (postgres://user@host:port/db) shared by many
                       crew-servers, with budgets that hold across all of them (default: the data directory)
  --copy to|from       copy, then exit: the data directory's local store into the --store database (to), or the
                       database into the data directory's local store (from); the target must be empty, nothing
                       may be using either; checked row for row; prints one JSON document (crew store copy runs it)
  --sandbox            use the built-in fake OpenRouter (no account, no network; costs are not real)
  --rate-limit <n>     requests per second per client (0 = off; default 1000, burst 2×)
  --log-level <level>  debug | info | warn | error (default info)
  -h, --help

Environment: OPENROUTER_API_KEY, OPENROUTER_BASE_URL (default ${DEFAULT_BASE_URL}), CREW_DATA_DIR, CREW_SANDBOX=1,
CREW_STORE_URL (as --store), CREW_ALLOWED_HOSTS (comma-separated, as --allow-host), CREW_HEARTBEAT_MS and CREW_LEASE_MS (a shared store's lease: 5000, 20000)

Exit codes: 2 bad arguments, 3 another crew-server serves the data dir, 4 the store cannot be used as it is
(damaged or newer; the message names the file and how to restore), 5 the socket path is not safe to use,
8 the HTTP port given with --port cannot be listened on.
With --copy: 0 copied and verified, 1 failed, 3 a server uses the data dir or database, 6 the target is not empty,
7 the copy does not match its source.

Example: crew-server --data-dir ~/.crew --port 8787`;

async function main(): Promise<void> {
  boundHeapGrowth();
  let args;
  try {
    args = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        stdio: { type: 'boolean' },
        socket: { type: 'string' },
        'default-socket': { type: 'boolean' },
        port: { type: 'string' },
        'no-http': { type: 'boolean' },
        host: { type: 'string' },
        'allow-host': { type: 'string', multiple: true },
        sandbox: { type: 'boolean' },
        store: { type: 'string' },
        copy: { type: 'string' },
        'rate-limit': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`crew-server: ${(e as Error).message}\n\n${HELP}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  // `--socket` with no path is written as `--socket ''` or --default-socket by clients.
  const stdio = args.stdio === true;
  const socketPath = stdio
    ? null
    : args.socket
      ? args.socket
      : dataDirPaths(args['data-dir'] ?? defaultDataDir()).socket;
  const port = args['no-http'] || (stdio && args.port === undefined) ? null : Number(args.port ?? 0);
  if (port !== null && (!Number.isInteger(port) || port < 0 || port > 65535))
    return usage(`--port: "${args.port}" is not a port number`);
  const explicitPort = args.port === undefined ? undefined : port!;
  const rate = Number(args['rate-limit'] ?? 1000);
  if (!Number.isFinite(rate) || rate < 0) return usage(`--rate-limit: "${args['rate-limit']}" is not a number ≥ 0`);
  // The lease of a shared store: a typo must not make the heartbeat a busy loop or the lease never run out.
  const lease = {
    heartbeatMs: Number(process.env.CREW_HEARTBEAT_MS ?? DEFAULT_LEASE.heartbeatMs),
    leaseMs: Number(process.env.CREW_LEASE_MS ?? DEFAULT_LEASE.leaseMs),
  };
  if (!Number.isInteger(lease.heartbeatMs) || lease.heartbeatMs < 50)
    return usage(`CREW_HEARTBEAT_MS: "${process.env.CREW_HEARTBEAT_MS}" is not a whole number of ms ≥ 50`);
  if (!Number.isInteger(lease.leaseMs) || lease.leaseMs <= lease.heartbeatMs)
    return usage(`CREW_LEASE_MS: "${process.env.CREW_LEASE_MS}" is not a whole number of ms above the heartbeat's`);
  const level = (args['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    return usage(`--log-level: "${level}" is not one of debug, info, warn, error`);

  let store: StoreLocation;
  try {
    store = parseStoreLocation(
      args.store ?? process.env.CREW_STORE_URL,
      dataDirPaths(args['data-dir'] ?? defaultDataDir()).dataDir,
    );
  } catch (e) {
    return usage((e as Error).message);
  }
  const log = createLogger((line) => process.stderr.write(line), level);
  if (args.copy !== undefined) {
    if (args.copy !== 'to' && args.copy !== 'from') return usage(`--copy: "${args.copy}" is not one of to, from`);
    if (store.kind !== 'postgres')
      return usage('--copy needs the database: --store postgres://user@host:port/database (or CREW_STORE_URL)');
    const { code, output } = await runStoreCopy({
      direction: args.copy,
      dataDir: dataDirPaths(args['data-dir'] ?? defaultDataDir()).dataDir,
      database: store,
      clock: systemClock,
      log,
    });
    // Both stores are closed: nothing is left to flush once the answer is out.
    process.stdout.write(JSON.stringify(output) + '\n', () => process.exit(code));
    return;
  }
  // Until the app is up there is nothing to flush.
  let giveUp: () => void = () => process.exit(70);
  keepServing(log, () => giveUp());
  const paths = dataDirPaths(args['data-dir'] ?? defaultDataDir());
  await fsp.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  if (socketPath) {
    try {
      await prepareSocketPath(socketPath, privateSocketDir());
    } catch (e) {
      if (!(e instanceof SocketPathUnsafe)) throw e;
      process.stderr.write(`crew-server: ${e.message}\n`);
      process.exit(5);
    }
  }

  let release: () => Promise<void>;
  try {
    release = await acquireLock(paths.lock, paths.dataDir);
  } catch (e) {
    if (e instanceof LockHeld) {
      process.stderr.write(`crew-server: ${e.message}\n`);
      process.exit(3);
    }
    throw e;
  }

  const sandbox = args.sandbox === true || process.env.CREW_SANDBOX === '1';
  let fake: Awaited<ReturnType<typeof startFakeOpenRouter>> | undefined;
  let baseUrl = process.env.OPENROUTER_BASE_URL || DEFAULT_BASE_URL;
  let apiKey = process.env.OPENROUTER_API_KEY || (await readKeyFile(paths.apiKey));
  if (sandbox) {
    fake = await startFakeOpenRouter({ port: 0, host: '127.0.0.1', label: 'OpenRouter Crew sandbox' });
    baseUrl = fake.url;
    apiKey = 'sandbox-key';
    log.warn(`SANDBOX MODE: calls go to the built-in fake OpenRouter at ${baseUrl}; costs are simulated, not real`);
  }
  registerSecret(apiKey);
  const token = await loadOrCreateToken(paths.token);
  registerSecret(token);

  let shuttingDown: Promise<void> | undefined;
  const closers: (() => Promise<void>)[] = [];
  const shutdown = (code: number) => {
    shuttingDown ??= (async () => {
      log.info('shutting down');
      app?.announceStopping();
      for (const c of closers.reverse()) await c().catch((e: Error) => log.error(`shutdown: ${e.message}`));
      await release();
      process.exit(code);
    })();
    return shuttingDown;
  };
  giveUp = () => void shutdown(70);

  const endpoints = { socket: null as string | null, httpPort: null as number | null };
  let app: App | undefined;
  try {
    app = await App.create({
      dataDir: paths.dataDir,
      upstream: {
        baseUrl,
        apiKey,
        timeoutMs: Number(process.env.CREW_UPSTREAM_TIMEOUT_MS ?? 120_000),
        maxRetries: 3,
        maxRetryWaitMs: 30_000,
        appUrl: 'https://github.com/openrouter-crew/openrouter-crew',
        appTitle: 'OpenRouter Crew',
      },
      sandbox,
      store,
      lease,
      rateLimit: { perSecond: rate, burst: rate * 2 },
      reconcileIntervalMs: Number(process.env.CREW_RECONCILE_INTERVAL_MS ?? 30_000),
      log,
      endpoints,
      onShutdownRequested: () => void shutdown(0),
    });
  } catch (e) {
    await release();
    await fake?.close();
    process.stderr.write(`crew-server: ${(e as Error).message}\n`);
    process.exit(e instanceof DomainError ? 4 : 1);
  }
  closers.push(async () => {
    await app.close();
    await fake?.close();
  });

  if (stdio) {
    const conn = serveStreams(process.stdin, process.stdout, app.router, app.hub, 'stdio', app.languageServer);
    conn.onClose(() => void shutdown(0));
    process.stdin.on('end', () => void shutdown(0));
  }
  let socketServer: net.Server | undefined;
  if (socketPath) {
    socketServer = await listenSocket(socketPath, app.router, app.hub, app.languageServer);
    endpoints.socket = socketPath;
    closers.push(() => closeSocketServer(socketServer!));
  }
  let httpServer: http.Server | undefined;
  const allowHosts = [...(args['allow-host'] ?? []), ...(process.env.CREW_ALLOWED_HOSTS ?? '').split(',')]
    .map((h) => h.trim())
    .filter(Boolean);
  if (port !== null) {
    const listen = (p: number) =>
      listenHttp({ host: args.host ?? '127.0.0.1', port: p, token, log, allowHosts }, app.router, app.hub, {
        chat: auditedChat(app.chat, app.audit, app.metrics, app.clock),
        catalog: app.catalog,
        clock: app.clock,
        limiter: app.limiter,
        crewTokens: app.crewTokens,
      });
    if (stdio) httpServer = await listen(port);
    else {
      // The daemon keeps its data directory's port across restarts (what n8n credentials point at).
      try {
        httpServer = (await listenOnKeptPort(listen, boundPort, { requested: explicitPort, file: paths.httpPort, log }))
          .server;
      } catch (e) {
        if (!(e instanceof PortUnavailable)) throw e;
        process.stderr.write(`crew-server: ${e.message}\n`);
        return void shutdown(8);
      }
    }
    endpoints.httpPort = boundPort(httpServer);
    closers.push(
      () =>
        new Promise((r) => {
          httpServer!.close(() => r());
          httpServer!.closeAllConnections();
        }),
    );
  }
  if (!stdio) {
    const discovery: DiscoveryFile = {
      pid: process.pid,
      socket: endpoints.socket,
      httpPort: endpoints.httpPort,
      protocolVersion: PROTOCOL_VERSION,
      version: SERVER_VERSION,
      dataDir: paths.dataDir,
      startedAt: new Date().toISOString(),
    };
    await writeDurably(paths.discovery, JSON.stringify(discovery, null, 2));
    closers.unshift(async () => {
      const cur = await fsp.readFile(paths.discovery, 'utf8').catch(() => '');
      if (cur.includes(`"pid": ${process.pid},`)) await fsp.rm(paths.discovery, { force: true });
    });
  }
  app.events.publish('server.status', { state: 'ready', message: null });
  log.info(
    `crew-server ${SERVER_VERSION} ready: data ${paths.dataDir}` +
      (endpoints.socket ? `, socket ${endpoints.socket}` : '') +
      (endpoints.httpPort !== null ? `, http 127.0.0.1:${endpoints.httpPort}` : '') +
      (stdio ? ', stdio' : '') +
      (store.kind === 'postgres' ? `, store ${store.display}` : '') +
      (sandbox ? ' [SANDBOX]' : ''),
  );
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
}

/**
 * Errors that escape every request's own catch are still request-scoped in a daemon like this one (a socket that
 * errs, a handler's stray promise): log them and keep serving. Only a burst that says the process itself is
 * broken ends it, through the normal shutdown, so the store is flushed first.
 */
function keepServing(log: Logger, giveUp: () => void): void {
  const window = 10_000;
  const limit = 50;
  let recent: number[] = [];
  const onError = (kind: string) => (e: unknown) => {
    log.error(`${kind} (kept serving): ${(e as Error)?.stack ?? String(e)}`);
    const now = Date.now();
    recent = recent.filter((t) => now - t < window);
    recent.push(now);
    if (recent.length >= limit) {
      log.error(`${limit} unexpected errors in ${window / 1000} s: shutting down`);
      giveUp();
    }
  };
  process.on('uncaughtException', onError('uncaught exception'));
  process.on('unhandledRejection', onError('unhandled rejection'));
}

function usage(msg: string): void {
  process.stderr.write(`crew-server: ${msg}\n\n${HELP}\n`);
  process.exit(2);
}

main().catch((e: Error) => {
  process.stderr.write(`crew-server: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
