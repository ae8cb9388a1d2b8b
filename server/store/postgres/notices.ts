/**
 * Change notices between instances: a repository that keeps an in-memory copy sends, in the transaction of its
 * write (so it is delivered at commit, and never for a write rolled back), `pg_notify(channel, payload)` with the
 * JSON payload `{"instance": <sender>, "ids": [...]}`: ids, never records, so a payload stays under PostgreSQL's
 * 8000-byte limit. Many ids go in several payloads; more than MAX_CHUNKS payloads' worth becomes one
 * `{"instance": <sender>, "reload": true}`: reload everything. A receiver ignores its own notices, reloads the ids
 * named, and reloads everything after the listening connection was lost (it may have missed notices).
 */
import type { Logger } from '../../log';
import type { PgDatabase, Tx } from './db';

export interface ChangeNotice {
  instance: string;
  ids?: string[];
  reload?: true;
}

/** Well under the 8000 bytes PostgreSQL allows a payload. */
export const MAX_PAYLOAD_BYTES = 7_600;
/** Beyond this many payloads for one write, receivers reload everything instead. */
export const MAX_CHUNKS = 16;

/** The payloads announcing `ids` (deduplicated, in order). */
export function noticePayloads(instance: string, ids: Iterable<string>): string[] {
  const unique = [...new Set(ids)];
  if (!unique.length) return [];
  const head = Buffer.byteLength(JSON.stringify({ instance, ids: [] }));
  const reload = JSON.stringify({ instance, reload: true } satisfies ChangeNotice);
  if (head + 64 > MAX_PAYLOAD_BYTES) throw new RangeError('instance id too long for a notice');
  const out: string[] = [];
  let chunk: string[] = [];
  let bytes = head;
  for (const id of unique) {
    const size = Buffer.byteLength(JSON.stringify(id)) + 1;
    // An id too long for any payload cannot be named: everyone reloads.
    if (head + size > MAX_PAYLOAD_BYTES) return [reload];
    if (bytes + size > MAX_PAYLOAD_BYTES) {
      out.push(JSON.stringify({ instance, ids: chunk } satisfies ChangeNotice));
      if (out.length >= MAX_CHUNKS) return [reload];
      chunk = [];
      bytes = head;
    }
    chunk.push(id);
    bytes += size;
  }
  out.push(JSON.stringify({ instance, ids: chunk } satisfies ChangeNotice));
  return out.length > MAX_CHUNKS ? [reload] : out;
}

/** Queues the notices of a write in its transaction: they are delivered when (and only if) it commits. */
export async function sendNotices(c: Tx, channel: string, instance: string, ids: Iterable<string>): Promise<void> {
  const payloads = noticePayloads(instance, ids);
  if (payloads.length) await c.query('select pg_notify($1, p) from unnest($2::text[]) as p', [channel, payloads]);
}

/** Announces that everything may have changed (a write too large to name). */
export async function sendReload(c: Tx, channel: string, instance: string): Promise<void> {
  await c.query('select pg_notify($1, $2)', [channel, JSON.stringify({ instance, reload: true })]);
}

export interface NoticeHandler {
  /** Another instance changed these ids. */
  ids(ids: string[]): void;
  /** Anything may have changed (a reload notice, an unreadable one, or notices missed while disconnected). */
  all(): void;
}

/** Listens on `channel`, skipping this instance's own notices; resolves to the unsubscribe function. */
export function listenForChanges(
  db: PgDatabase,
  channel: string,
  instance: string,
  handler: NoticeHandler,
  log: Logger,
): Promise<() => void> {
  return db.listen(channel, {
    notify: (payload) => {
      let notice: ChangeNotice;
      try {
        notice = JSON.parse(payload) as ChangeNotice;
      } catch {
        log.warn(`PostgreSQL notice on ${channel} is not JSON (${payload.slice(0, 80)}); reloading everything`);
        handler.all();
        return;
      }
      if (notice?.instance === instance) return;
      if (Array.isArray(notice?.ids) && notice.ids.every((x) => typeof x === 'string')) handler.ids(notice.ids);
      else handler.all();
    },
    resync: () => handler.all(),
  });
}
