/**
 * The budget form: a draft as typed, checked with the same rules the server applies to `budget/set` (its params
 * schema in server/rpc/schemas.ts and BudgetService.set), so most mistakes are shown before a round trip; whatever
 * the server still refuses comes back on the field its error names.
 */
import type { Budget, BudgetAction, BudgetPeriod, BudgetSet } from '../../../protocol';
import { ErrorCodes } from '../../../protocol/errors';

export const SCOPE_KINDS = ['global', 'crew', 'agent', 'model'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];
export const PERIODS: readonly BudgetPeriod[] = ['daily', 'weekly', 'monthly', 'total'];
export const ACTIONS: readonly BudgetAction[] = ['block', 'fit', 'warn', 'downgrade'];
export const ACTION_LABELS: Record<BudgetAction, string> = {
  block: 'block the call',
  fit: 'fit the call (lower its max_tokens)',
  warn: 'warn, let it through',
  downgrade: 'downgrade the model',
};

export interface BudgetDraft {
  /** Set when editing an existing budget. */
  id?: string;
  scopeKind: ScopeKind;
  scopeId: string;
  period: BudgetPeriod;
  limit: string;
  /** Percentages, comma- or space-separated; empty keeps the budget's own (or the server's default). */
  thresholds: string;
  action: BudgetAction;
  downgradeTo: string;
  /** Action `fit`: the fewest completion tokens a call is lowered to; empty keeps the budget's (or 16). */
  minTokens: string;
}

export type FormField = 'scopeId' | 'period' | 'limit' | 'thresholds' | 'action' | 'downgradeTo' | 'minTokens' | 'form';
export type FieldErrors = Partial<Record<FormField, string>>;

export function emptyDraft(): BudgetDraft {
  return {
    scopeKind: 'global',
    scopeId: '',
    period: 'monthly',
    limit: '',
    thresholds: '',
    action: 'block',
    downgradeTo: '',
    minTokens: '',
  };
}

export function draftFromBudget(b: Budget): BudgetDraft {
  const i = b.scope.indexOf(':');
  const kind = (i < 0 ? b.scope : b.scope.slice(0, i)) as ScopeKind;
  return {
    id: b.id,
    scopeKind: SCOPE_KINDS.includes(kind) ? kind : 'global',
    scopeId: i < 0 ? '' : b.scope.slice(i + 1),
    period: b.period,
    limit: String(b.limitUsd),
    thresholds: b.thresholds.join(', '),
    action: b.action,
    downgradeTo: b.downgradeTo ?? '',
    minTokens: b.minTokens ? String(b.minTokens) : '',
  };
}

/** A draft restored from saved state: anything missing or of the wrong type falls back to the empty draft. */
export function reviveDraft(saved: unknown): BudgetDraft {
  const d = emptyDraft();
  if (typeof saved !== 'object' || saved === null) return d;
  const s = saved as Record<string, unknown>;
  const str = (k: keyof BudgetDraft) => {
    const v = s[k];
    return typeof v === 'string' ? v : undefined;
  };
  return {
    ...(str('id') ? { id: str('id') } : {}),
    scopeKind: SCOPE_KINDS.includes(s.scopeKind as ScopeKind) ? (s.scopeKind as ScopeKind) : d.scopeKind,
    scopeId: str('scopeId') ?? d.scopeId,
    period: PERIODS.includes(s.period as BudgetPeriod) ? (s.period as BudgetPeriod) : d.period,
    limit: str('limit') ?? d.limit,
    thresholds: str('thresholds') ?? d.thresholds,
    action: ACTIONS.includes(s.action as BudgetAction) ? (s.action as BudgetAction) : d.action,
    downgradeTo: str('downgradeTo') ?? d.downgradeTo,
    minTokens: str('minTokens') ?? d.minTokens,
  };
}

// The server's limits (server/rpc/schemas.ts: id, scope, usd, thresholds).
const MAX_ID = 200;
const MAX_SCOPE = 300;
const MAX_USD = 1e9;
const MAX_THRESHOLD = 1000;
const MAX_THRESHOLDS = 20;

/** The params to send, or the errors by field (and then no params). */
export function validateDraft(d: BudgetDraft): { params?: BudgetSet.Params; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const scopeId = d.scopeId.trim();
  let scope = 'global';
  if (d.scopeKind !== 'global') {
    scope = `${d.scopeKind}:${scopeId}`;
    if (scopeId === '') errors.scopeId = `enter the ${d.scopeKind} this budget is for`;
    else if (scope.length > MAX_SCOPE) errors.scopeId = `at most ${MAX_SCOPE - d.scopeKind.length - 1} characters`;
  }
  if (!PERIODS.includes(d.period)) errors.period = `one of ${PERIODS.join(', ')}`;

  const limitText = d.limit.trim();
  const limitUsd = Number(limitText);
  if (limitText === '') errors.limit = 'enter a limit in US dollars';
  else if (!Number.isFinite(limitUsd) || !/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(limitText))
    errors.limit = 'a number of US dollars, e.g. 25 or 0.50';
  else if (limitUsd > MAX_USD) errors.limit = `at most ${MAX_USD.toLocaleString('en-US')}`;

  let thresholds: number[] | undefined;
  const parts = d.thresholds.split(/[\s,;]+/).filter(Boolean);
  if (parts.length) {
    thresholds = parts.map(Number);
    const bad = parts.find((part) => {
      const n = Number(part);
      return !Number.isFinite(n) || n <= 0 || n > MAX_THRESHOLD;
    });
    if (bad !== undefined) errors.thresholds = `"${bad}" is not a percentage above 0 and at most ${MAX_THRESHOLD}`;
    else if (parts.length > MAX_THRESHOLDS) errors.thresholds = `at most ${MAX_THRESHOLDS} thresholds`;
  }

  if (!ACTIONS.includes(d.action)) errors.action = `one of ${ACTIONS.join(', ')}`;
  const downgradeTo = d.downgradeTo.trim();
  if (d.action === 'downgrade') {
    if (downgradeTo === '') errors.downgradeTo = 'a budget with action "downgrade" needs the model to downgrade to';
    else if (downgradeTo.length > MAX_ID) errors.downgradeTo = `at most ${MAX_ID} characters`;
  }

  const minText = d.minTokens.trim();
  const minTokens = Number(minText);
  if (d.action === 'fit' && minText !== '' && (!Number.isInteger(minTokens) || minTokens < 1 || minTokens > 1_000_000))
    errors.minTokens = 'a whole number of tokens from 1 to 1,000,000';

  if (Object.keys(errors).length) return { errors };
  const params: BudgetSet.Params = { scope, period: d.period, limitUsd, action: d.action };
  if (d.id) params.id = d.id;
  if (thresholds) params.thresholds = thresholds;
  if (d.action === 'downgrade') params.downgradeTo = downgradeTo;
  if (d.action === 'fit' && minText !== '') params.minTokens = minTokens;
  return { params, errors };
}

/**
 * Which form field a server error belongs to: InvalidParams names it in `data.field` (`thresholds.1` is the
 * thresholds field); an unknown model can only be the downgrade target. Anything else is about the whole form.
 */
export function fieldOfServerError(code: number, data: unknown): FormField {
  if (code === ErrorCodes.UnknownModel) return 'downgradeTo';
  if (code !== ErrorCodes.InvalidParams) return 'form';
  const field = (data as { field?: unknown } | undefined)?.field;
  if (typeof field !== 'string') return 'form';
  switch (field.split('.')[0]) {
    case 'scope':
      return 'scopeId';
    case 'period':
      return 'period';
    case 'limitUsd':
      return 'limit';
    case 'thresholds':
      return 'thresholds';
    case 'action':
      return 'action';
    case 'downgradeTo':
      return 'downgradeTo';
    case 'minTokens':
      return 'minTokens';
    default:
      return 'form';
  }
}
