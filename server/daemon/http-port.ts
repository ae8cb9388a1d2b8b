/**
 * The HTTP port a data directory keeps across restarts. Clients that were given an address (an n8n credential's
 * Server URL, a bookmarked dashboard) keep working when the daemon restarts only if the port stays the same, so the
 * first port a daemon gets is written to `<data dir>/http-port` and asked for again at every start.
 */
import type http from 'node:http';
import { promises as fsp } from 'node:fs';
import { parseKeptPort } from '../../protocol/node';
import type { Logger } from '../log';
import { writeDurably } from '../store/durable-file';

/**
 * The kept port, or undefined when none is kept yet, or the file cannot be read or holds something else (then a new
 * one is kept). Never a reason not to start: the port is a convenience for clients, the daemon works without it.
 */
export async function readKeptPort(file: string, log: Logger): Promise<number | undefined> {
  let text: string;
  try {
    text = (await fsp.readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      log.warn(`cannot read the kept HTTP port in ${file} (${describe(e)}); a new port will be used`);
    return undefined;
  }
  const port = parseKeptPort(text);
  if (port !== null) return port;
  log.warn(`${file} holds "${text.slice(0, 20)}", not a port; a new port will be kept`);
  return undefined;
}

/** Writes the kept port; a failure (a full disk, a read-only folder) is logged, and this start goes on. */
export async function keepPort(file: string, port: number, log: Logger): Promise<boolean> {
  try {
    await writeDurably(file, `${port}\n`);
    return true;
  } catch (e) {
    log.warn(
      `cannot keep HTTP port ${port} in ${file} (${describe(e)}): this start uses it, the next may get another one`,
    );
    return false;
  }
}

/** Thrown when the port that was asked for explicitly (`--port <n>`) cannot be had. */
export class PortUnavailable extends Error {}

export interface PortChoice {
  server: http.Server;
  /** The port the server listens on. */
  port: number;
  /** The data directory's kept port when it was taken and another one is used for now. */
  keptButTaken: number | null;
}

/**
 * Listens where the data directory's daemon should: `requested` when given (`--port <n>`; it becomes the kept port,
 * except 0, which means "any free port this time"), else the kept port, else any free port, which is then kept. A
 * kept port that another program holds does not stop the start: a free port is used for this run (logged as a
 * warning naming both), and the kept one is asked for again next time.
 */
export async function listenOnKeptPort(
  listen: (port: number) => Promise<http.Server>,
  port: (server: http.Server) => number,
  opts: { requested: number | undefined; file: string; log: Logger },
): Promise<PortChoice> {
  const { requested, file, log } = opts;
  if (requested !== undefined) {
    let server: http.Server;
    try {
      server = await listen(requested);
    } catch (e) {
      throw new PortUnavailable(
        `cannot listen for HTTP on port ${requested} (${describe(e)}): choose another with --port <n>, ` +
          'or leave --port out to use the data directory’s kept port',
        { cause: e },
      );
    }
    if (requested !== 0) await keepPort(file, requested, log);
    return { server, port: port(server), keptButTaken: null };
  }
  const kept = await readKeptPort(file, log);
  if (kept !== undefined) {
    try {
      const server = await listen(kept);
      return { server, port: kept, keptButTaken: null };
    } catch (e) {
      const server = await listen(0);
      const now = port(server);
      log.warn(
        `HTTP port ${kept}, kept for this data directory, is not available (${describe(e)}): listening on ${now} ` +
          `for now. Clients set up with port ${kept} (n8n credentials) cannot reach this server until it restarts ` +
          'with that port free; or choose a port for good with: crew server stop && crew server start --port <n>',
      );
      return { server, port: now, keptButTaken: kept };
    }
  }
  const server = await firstPort(listen);
  const now = port(server);
  if (await keepPort(file, now, log)) log.info(`HTTP port ${now} is now this data directory's port (kept in ${file})`);
  return { server, port: now, keptButTaken: null };
}

/** Where a data directory's first port is looked for: below the ephemeral range, so no outgoing connection takes it. */
export const FIRST_PORTS = { from: 8787, count: 100 };

/**
 * The first free port of FIRST_PORTS, else any free port. A port the system hands out for `listen(0)` comes from the
 * ephemeral range, where the machine's own outgoing connections would often hold it at a later start.
 */
async function firstPort(listen: (port: number) => Promise<http.Server>): Promise<http.Server> {
  for (let p = FIRST_PORTS.from; p < FIRST_PORTS.from + FIRST_PORTS.count; p++) {
    try {
      return await listen(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
    }
  }
  return listen(0);
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'another program uses it';
  if (code === 'EACCES') return 'not permitted';
  return code ?? (e as Error).message;
}
