/**
 * Where the server keeps its data: the local store in the data directory (the default), or a PostgreSQL database
 * shared by a team's instances (`--store postgres://…` or CREW_STORE_URL). The password never leaves this module
 * in anything printable: `display` is what logs, errors and server/info show.
 */
import { DomainError } from '../errors';
import { ErrorCodes } from '../../protocol';

export type StoreLocation =
  | { kind: 'local'; display: string }
  | { kind: 'postgres'; url: string; display: string; host: string; port: number; database: string };

export function parseStoreLocation(raw: string | undefined, dataDir: string): StoreLocation {
  if (raw === undefined || raw === '' || raw === 'local') return { kind: 'local', display: dataDir };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`--store: "${masked(raw)}" is not a URL; use postgres://user@host:port/database, or leave it out`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw invalid(`--store: "${url.protocol}" is not supported; use postgres://user@host:port/database`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw invalid('--store: the URL names no database (postgres://user@host:port/<database>)');
  const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const port = url.port ? Number(url.port) : 5432;
  const display = `postgres://${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.host || host}/${database}`;
  return { kind: 'postgres', url: raw, display, host, port, database };
}

/** A URL as it may be printed: any password replaced. */
export function masked(raw: string): string {
  return raw.replace(/(\/\/[^/:@]*):[^@/]*@/, '$1:***@');
}

const invalid = (message: string) => new DomainError(ErrorCodes.InvalidParams, message, { field: 'store', issues: [] });
