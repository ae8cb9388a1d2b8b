/**
 * The JSON document's shape, its version and the ordered migrations that bring an older file up to date.
 * A migration is a pure function of the previous version's data; the store takes a backup before running any.
 */
import type { BudgetAlert } from '../../protocol';
import type { AppliedRecommendation } from '../../protocol';
import type { ArchiveEntry, BudgetRecord, CrewRecord, CrewTokenRecord, WebhookRecord } from './repositories';
import type { ServerSettings } from './store';

export const SCHEMA_VERSION = 4;

export interface DbData {
  schemaVersion: number;
  createdAt: string;
  budgets: BudgetRecord[];
  alerts: BudgetAlert[];
  /** Keys of alerts already fired (budget|periodStart|threshold), so each fires once per period. */
  firedAlerts: string[];
  /** Webhook subscriptions; records without `events` (written before webhook/register) are budget-alert hooks. */
  webhooks: WebhookRecord[];
  /** Index of memory archives (the archive files themselves live beside the store). Added in schema 2. */
  archives: ArchiveEntry[];
  /** Crews and their agents. Added in schema 3. */
  crews: CrewRecord[];
  /** Gateway tokens bound to one crew (only their sha256 is kept). Added in schema 4. */
  crewTokens: CrewTokenRecord[];
  /** Savings recommendations applied, and what they changed. Added in schema 4. */
  appliedRecommendations: AppliedRecommendation[];
  /** Server settings changed through the API (absent until first set; no migration needed). */
  settings?: ServerSettings;
}

export function emptyDb(now: Date): DbData {
  return {
    schemaVersion: SCHEMA_VERSION,
    createdAt: now.toISOString(),
    budgets: [],
    alerts: [],
    firedAlerts: [],
    webhooks: [],
    archives: [],
    crews: [],
    crewTokens: [],
    appliedRecommendations: [],
  };
}

export interface Migration {
  /** The version this migration produces. */
  to: number;
  describe: string;
  up(data: Record<string, unknown>): Record<string, unknown>;
}

/** Ordered; `to` runs 2, 3, … SCHEMA_VERSION. */
export const MIGRATIONS: Migration[] = [
  { to: 2, describe: 'memory archives index', up: (d) => ({ ...d, archives: [] }) },
  { to: 3, describe: 'crews', up: (d) => ({ ...d, crews: [] }) },
  {
    to: 4,
    describe: "crew tokens, applied recommendations, agents' promptCache",
    up: (d) => ({
      ...d,
      crews: (d.crews as { agents: Record<string, unknown>[] }[]).map((c) => ({
        ...c,
        agents: c.agents.map((a) => ({ ...a, promptCache: a.promptCache ?? false })),
      })),
      crewTokens: [],
      appliedRecommendations: [],
    }),
  },
];

/**
 * Brings `doc` from its schemaVersion up to `target`, one step at a time; a missing step is an error (never a
 * silent partial upgrade).
 */
export function migrate(
  doc: Record<string, unknown>,
  migrations: Migration[] = MIGRATIONS,
  target: number = SCHEMA_VERSION,
): Record<string, unknown> {
  let current = doc;
  for (let v = current.schemaVersion as number; v < target; v++) {
    const step = migrations.find((m) => m.to === v + 1);
    if (!step) throw new Error(`no migration from schema ${v} to ${v + 1}`);
    current = { ...step.up(current), schemaVersion: v + 1 };
  }
  return current;
}

/** Structural check of a loaded document; returns the first problem found. */
export function checkShape(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'the top level is not an object';
  const d = data as Record<string, unknown>;
  if (typeof d.schemaVersion !== 'number' || !Number.isInteger(d.schemaVersion)) return '"schemaVersion" is missing';
  // The lists each version has; a document is checked against its own version (before and after migrating).
  const lists = [
    'budgets',
    'alerts',
    'firedAlerts',
    'webhooks',
    ...(d.schemaVersion >= 2 ? ['archives'] : []),
    ...(d.schemaVersion >= 3 ? ['crews'] : []),
    ...(d.schemaVersion >= 4 ? ['crewTokens', 'appliedRecommendations'] : []),
  ];
  for (const key of lists) {
    const list = d[key];
    if (!Array.isArray(list)) return `"${key}" is not a list`;
    const entryOk = key === 'firedAlerts' ? (x: unknown) => typeof x === 'string' : isEntry;
    const bad = list.findIndex((x) => !entryOk(x));
    if (bad >= 0) return `"${key}" entry ${bad + 1} is not ${key === 'firedAlerts' ? 'a key' : 'a record'}`;
  }
  const budgets = d.budgets as Record<string, unknown>[];
  for (let i = 0; i < budgets.length; i++) {
    const problem = budgetProblem(budgets[i]!);
    if (problem) return `"budgets" entry ${i + 1} ${problem}`;
  }
  return undefined;
}

const isEntry = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The fields budgets are enforced with; a budget that lost one would silently stop guarding. */
function budgetProblem(b: Record<string, unknown>): string | undefined {
  const text = (k: string) => typeof b[k] === 'string';
  if (!text('id') || !text('scope') || !text('period') || !text('action'))
    return 'lacks its id, scope, period or action';
  if (typeof b.limit !== 'string' || !/^-?\d+(\.\d+)?$/.test(b.limit)) return 'has no decimal "limit"';
  if (!Array.isArray(b.thresholds) || !b.thresholds.every((t) => typeof t === 'number' && Number.isFinite(t)))
    return 'has no list of "thresholds"';
  return undefined;
}
