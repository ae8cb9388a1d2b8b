/**
 * Numbered schema migrations, applied at start under a session advisory lock: a second instance starting at the
 * same moment waits for the lock, then finds everything applied; no migration ever runs twice. Each migration is
 * one transaction with its row in `crew_schema`. A database migrated by a newer server is refused, not touched.
 */
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import type { Logger } from '../../log';
import type { PgDatabase } from './db';
import { MIGRATIONS, type Migration } from './migrations/index';

/** Arbitrary, fixed: the advisory lock key every crew-server takes to migrate ("crew" in ASCII). */
export const MIGRATION_LOCK = 0x63726577;

export async function migrate(
  db: PgDatabase,
  log: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ applied: number[]; version: number }> {
  const session = await db.session();
  try {
    await session.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await session.query(
      `create table if not exists crew_schema (
         version integer primary key,
         name text not null,
         applied_at timestamptz not null default now()
       )`,
    );
    const done = new Set(
      (await session.query<{ version: number }>('select version from crew_schema')).rows.map((r) => r.version),
    );
    const newest = Math.max(0, ...done);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    if (newest > known)
      throw new DomainError(
        ErrorCodes.StoreTooNew,
        `the database ${db.location.display} has schema version ${newest}, newer than this server knows (${known}): ` +
          'update crew-server on this machine',
        { version: newest, supported: known },
      );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      log.info(`PostgreSQL ${db.location.display}: applying migration ${m.version} (${m.name})`);
      await session.query('begin');
      try {
        await session.query(m.sql);
        await session.query('insert into crew_schema (version, name) values ($1, $2)', [m.version, m.name]);
        await session.query('commit');
      } catch (e) {
        await session.query('rollback').catch(() => undefined);
        throw new DomainError(
          ErrorCodes.StoreIo,
          `migration ${m.version} (${m.name}) failed on ${db.location.display}: ${(e as Error).message}; nothing of it ` +
            'was applied',
        );
      }
      applied.push(m.version);
    }
    return { applied, version: Math.max(newest, ...applied) };
  } finally {
    await session.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    session.release();
  }
}
