/**
 * The archive index and the archive payloads on PostgreSQL. `crew_archives`: one row per index entry (the entry as
 * JSON; reads go to the database, the interface is asynchronous). `crew_archive_payloads`: the compressed archive
 * bytes as `bytea`, keyed by their sha256; a write is one statement, so a payload is whole or absent and nothing
 * is ever left half-written (`removePartial` has nothing to do). Archive operations of all instances take one
 * advisory lock (`exclusive`), so one instance's recovery never deletes, as an orphan, a payload another instance
 * is in the middle of archiving.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import { checkSha256 } from '../archive-payloads';
import type { ArchiveEntry, ArchiveIndexRepository, ArchivePayloadRepository } from '../repositories';
import { isConnectionError, type PgDatabase } from './db';

/** The advisory lock key archive operations take ("carc" in ASCII). */
export const ARCHIVE_LOCK = 0x63617263;

export class PgArchiveIndexRepository implements ArchiveIndexRepository {
  constructor(private readonly db: PgDatabase) {}

  private parse(id: string, record: unknown): ArchiveEntry {
    const e = record as Partial<ArchiveEntry> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      e.id !== id ||
      typeof e.sha256 !== 'string' ||
      !Array.isArray(e.memoryIds)
    )
      throw new DomainError(
        ErrorCodes.StoreCorrupt,
        `the archive index entry "${id}" in crew_archives on ${this.db.location.display} is not an archive entry`,
      );
    return e as ArchiveEntry;
  }

  /** In the order entries were first put. */
  async list(): Promise<ArchiveEntry[]> {
    const rows = await this.db.query<{ id: string; record: unknown }>(
      'select id, record from crew_archives order by seq',
    );
    return rows.map((r) => this.parse(r.id, r.record));
  }

  async get(id: string): Promise<ArchiveEntry | undefined> {
    const [row] = await this.db.query<{ id: string; record: unknown }>(
      'select id, record from crew_archives where id = $1',
      [id],
    );
    return row && this.parse(row.id, row.record);
  }

  async put(entry: ArchiveEntry): Promise<void> {
    await this.db.query(
      `insert into crew_archives (id, record) values ($1, $2::json)
       on conflict (id) do update set record = excluded.record`,
      [entry.id, JSON.stringify(entry)],
    );
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query('delete from crew_archives where id = $1 returning id', [id]);
    return rows.length > 0;
  }
}

export class PgArchivePayloadRepository implements ArchivePayloadRepository {
  constructor(private readonly db: PgDatabase) {}

  async write(sha256: string, bytes: Uint8Array): Promise<void> {
    checkSha256(sha256);
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (createHash('sha256').update(buf).digest('hex') !== sha256)
      throw new RangeError(`the bytes given for ${sha256} hash to something else`);
    // Content-addressed: a row holding other bytes under this name is damage, replaced by the right bytes.
    await this.db.query(
      `insert into crew_archive_payloads (sha256, bytes) values ($1, $2)
       on conflict (sha256) do update set bytes = excluded.bytes
       where crew_archive_payloads.bytes is distinct from excluded.bytes`,
      [sha256, buf],
    );
  }

  async read(sha256: string): Promise<Buffer | undefined> {
    const [row] = await this.db.query<{ bytes: Buffer }>('select bytes from crew_archive_payloads where sha256 = $1', [
      checkSha256(sha256),
    ]);
    return row?.bytes;
  }

  async delete(sha256: string): Promise<void> {
    await this.db.query('delete from crew_archive_payloads where sha256 = $1', [checkSha256(sha256)]);
  }

  async list(): Promise<string[]> {
    const rows = await this.db.query<{ sha256: string }>('select sha256 from crew_archive_payloads order by sha256');
    return rows.map((r) => r.sha256);
  }

  async removePartial(): Promise<number> {
    return 0;
  }

  /**
   * Runs `fn` holding the archive advisory lock (waiting for it while another instance holds it). If the lock's
   * connection is lost meanwhile, PostgreSQL releases the lock; `fn` still finishes, as it would on one server.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const session = await this.db.session();
    let broken = false;
    const sql = async (text: string) => {
      try {
        await session.query(text, [ARCHIVE_LOCK]);
      } catch (e) {
        broken = true;
        throw isConnectionError(e) ? this.db.unavailable(e) : e;
      }
    };
    session.on('error', onSessionError);
    try {
      await sql('select pg_advisory_lock($1)');
      try {
        return await fn();
      } finally {
        await sql('select pg_advisory_unlock($1)').catch(() => undefined);
      }
    } finally {
      session.off('error', onSessionError);
      session.release(broken ? true : undefined);
    }
  }
}

/** A pooled client's connection dying while it is checked out emits 'error'; the next query on it fails. */
function onSessionError(this: pg.PoolClient): void {}
