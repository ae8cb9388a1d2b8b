/**
 * What the PostgreSQL repositories share: the notification channels other instances listen on (payload
 * `{instance, ...}`, sent inside the writing transaction so it is delivered at commit, and ignored by the instance
 * that sent it), SQL errors turned into domain errors, and a queue that runs work one piece at a time.
 */
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';
import type { Tx } from './db';

/** Channels, one per cached or cache-worthy entity. */
export const Channels = {
  budgets: 'crew_budgets',
  crewTokens: 'crew_crew_tokens',
  settings: 'crew_settings',
  models: 'crew_models',
  callProfiles: 'crew_call_profiles',
} as const;

export interface ChangeNotice {
  /** The instance that made the change. */
  instance: string;
  [key: string]: unknown;
}

/** Sends `payload` on `channel` when `tx` commits (nothing is sent if it rolls back). */
export async function notifyOnCommit(tx: Tx, channel: string, payload: ChangeNotice): Promise<void> {
  await tx.query('select pg_notify($1, $2)', [channel, JSON.stringify(payload)]);
}

/** The notice in a payload, or undefined when it is not one of ours. */
export function parseNotice(payload: string): ChangeNotice | undefined {
  try {
    const v = JSON.parse(payload) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as ChangeNotice).instance === 'string')
      return v as ChangeNotice;
  } catch {
    // not ours
  }
  return undefined;
}

interface PgError {
  code?: string;
  constraint?: string;
}

/** A unique_violation, optionally of one named constraint. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as PgError | undefined;
  return err?.code === '23505' && (constraint === undefined || err.constraint === constraint);
}

/**
 * SQL errors a caller can act on, as domain errors: text PostgreSQL cannot hold (a NUL character). Anything else
 * (StoreUnavailable from PgDatabase included) passes through unchanged.
 */
export function translateWriteError(e: unknown): unknown {
  const code = (e as PgError | undefined)?.code;
  if (code === '22P05' || code === '22021') {
    const message = 'text containing a NUL character (\\u0000) cannot be stored in the PostgreSQL store';
    return new DomainError(ErrorCodes.InvalidParams, message, { field: '', issues: [{ field: '', message }] });
  }
  return e;
}

/** Runs tasks one after another; a failed task does not stop the next. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/** int8 / numeric columns arrive as strings. */
export const num = (v: string | number): number => (typeof v === 'number' ? v : Number(v));
