/**
 * What every command gets: the global options resolved (data dir, output format, colour), and a connection
 * made on demand (the data dir's daemon, or a private --stdio server) that is closed when the command ends,
 * so the process exits by itself instead of being killed with work in flight.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { dataDirPaths, defaultDataDir } from '../protocol/node';
import { ClientError, CrewClient, readDiscovery } from './client/connection';
import { UsageError } from './errors';
import { FORMATS, Output, type Format } from './output';
import { CLI_VERSION } from './version';

export interface GlobalOptions {
  dataDir?: string;
  format?: string;
  json?: boolean;
  stdio?: boolean;
  sandbox?: boolean;
  /** false with --no-color. */
  color?: boolean;
}

/** How long a private stdio server gets to exit after we hang up before it is terminated. */
const STDIO_EXIT_GRACE_MS = 5_000;

export class Context {
  readonly dataDir: string;
  readonly out: Output;
  private client: CrewClient | undefined;

  constructor(readonly global: GlobalOptions) {
    this.dataDir = path.resolve(global.dataDir ?? defaultDataDir());
    this.out = new Output(resolveFormat(global), global.color);
  }

  /** Arguments for a server this CLI starts (daemon or stdio). */
  get serverArgs(): string[] {
    return this.global.sandbox ? ['--sandbox'] : [];
  }

  async connect(opts: { autoStart?: boolean } = {}): Promise<CrewClient> {
    if (this.client) return this.client;
    const autoStart = opts.autoStart ?? true;
    const starting =
      !this.global.stdio && autoStart && !(await readDiscovery(dataDirPaths(this.dataDir).discovery))
        ? this.out.progress(`starting crew-server for ${this.dataDir}…`)
        : () => {};
    let client: CrewClient;
    try {
      client = await CrewClient.connect({
        dataDir: this.dataDir,
        stdio: this.global.stdio === true,
        autoStart,
        clientKind: 'cli',
        clientName: 'crew',
        clientVersion: CLI_VERSION,
        serverArgs: this.serverArgs,
      });
    } finally {
      starting();
    }
    this.client = client;
    // --sandbox promises fake money; a daemon already running against real OpenRouter would break that promise.
    if (this.global.sandbox && !client.info.upstream.sandbox) {
      throw new ClientError(
        `--sandbox was given but the crew-server already running for ${this.dataDir} (pid ${client.info.pid}) uses ${client.info.upstream.baseUrl}; ` +
          'stop it first (crew server stop) or add --stdio for a private sandbox server',
      );
    }
    return client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.close();
    await client.closed(STDIO_EXIT_GRACE_MS);
  }
}

function resolveFormat(g: GlobalOptions): Format {
  if (g.json) return 'json';
  const f = (g.format ?? 'table') as Format;
  if (!FORMATS.includes(f)) throw new UsageError(`--format: "${g.format}" is not one of ${FORMATS.join(', ')}`);
  return f;
}

/** Marks commands that accept `--format csv`; every other command refuses it as a usage error. */
const csvCommands = new WeakSet<Command>();
export function acceptsCsv(cmd: Command): Command {
  csvCommands.add(cmd);
  return cmd;
}

/**
 * Wraps a command's action: builds the Context from the global options, runs the handler with the positional
 * arguments and the command's own options, and always closes the connection.
 */
export function withContext<A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const ctx = new Context(command.optsWithGlobals<GlobalOptions>());
    if (ctx.out.format === 'csv' && !csvCommands.has(command))
      throw new UsageError(`--format csv is only supported by "crew cost report"; use table, json or list`);
    try {
      await fn(ctx, ...(args.slice(0, -1) as A));
    } finally {
      await ctx.close();
    }
  };
}
