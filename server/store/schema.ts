/**
 * The JSON document's shape, its version and the ordered migrations that bring an older file up to date.
 * A migration is a pure function of the previous version's data; the store takes a backup before running any.
 */
import type { BudgetAlert, Webhook } from '../../protocol';
import type { BudgetRecord } from './repositories';

export const SCHEMA_VERSION = 1;

export interface DbData {
  schemaVersion: number;
  createdAt: string;
  budgets: BudgetRecord[];
  alerts: BudgetAlert[];
  /** Keys of alerts already fired (budget|periodStart|threshold), so each fires once per period. */
  firedAlerts: string[];
  webhooks: Webhook[];
}

export function emptyDb(now: Date): DbData {
  return {
    schemaVersion: SCHEMA_VERSION,
    createdAt: now.toISOString(),
    budgets: [],
    alerts: [],
    firedAlerts: [],
    webhooks: [],
  };
}

export interface Migration {
  /** The version this migration produces. */
  to: number;
  describe: string;
  up(data: Record<string, unknown>): Record<string, unknown>;
}

/** Ordered; `to` runs 2, 3, … SCHEMA_VERSION. Version 1 is the first released shape, so none exist yet. */
export const MIGRATIONS: Migration[] = [];

/** Structural check of a loaded document; returns the first problem found. */
export function checkShape(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'the top level is not an object';
  const d = data as Record<string, unknown>;
  if (typeof d.schemaVersion !== 'number' || !Number.isInteger(d.schemaVersion)) return '"schemaVersion" is missing';
  for (const key of ['budgets', 'alerts', 'firedAlerts', 'webhooks']) {
    if (!Array.isArray(d[key])) return `"${key}" is not a list`;
  }
  return undefined;
}
