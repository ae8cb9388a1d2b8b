/**
 * The PostgreSQL schema, as numbered migrations (applied by ../migrate.ts under an advisory lock). A released
 * migration is never edited: a change is a new number, in a file of its own, listed here. Money is numeric(38,0)
 * picodollars and times are ms since the epoch (bigint), as in the local store.
 */
import { M001 } from './001-money';
import { M002 } from './002-entities';
import { M003 } from './003-memory';
import { M004 } from './004-rollups';
import { M005 } from './005-batched-gate';
import { M006 } from './006-webhook-queue';
import { M007 } from './007-webhook-delivery-subscription';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [M001, M002, M003, M004, M005, M006, M007];
