/**
 * Budgets: every budget with spent / limit / percent and its state (budget/status), a form to create or edit one
 * (budget/set) checked as the server checks it, with the server's own refusals shown on the field they name, and
 * delete with confirmation. The form's draft is kept in the page state, so a half-typed budget survives hide/show.
 */
import '../styles/base.css';
import type { BudgetStatus, BudgetStatusRequest } from '../../../protocol';
import { DEFAULT_FIT_MIN_TOKENS } from '../../../protocol/types';
import { call } from '../api';
import { BridgeError } from '../bridge';
import {
  banner,
  button,
  card,
  confirmButton,
  empty,
  errorBanner,
  field,
  fill,
  loading,
  meter,
  select,
  showErrors,
  table,
  textfield,
} from '../components';
import { h, replace } from '../dom';
import { formatDateTime, formatPercent, formatScope, formatUsd } from '../../../protocol/format';
import { startPage, type Page } from '../page';
import { debounce } from '../refresh';
import {
  ACTION_LABELS,
  ACTIONS,
  draftFromBudget,
  fieldOfServerError,
  PERIODS,
  reviveDraft,
  SCOPE_KINDS,
  validateDraft,
  type BudgetDraft,
  type FieldErrors,
} from '../view-models/budgets';

interface BudgetsState {
  draft: BudgetDraft;
}

const listBody = h('div', { class: 'card-body' }, loading());
const formBody = h('div', { class: 'card-body' });
const formTitle = h('h2');
const formStatus = h('div', { class: 'form-status', role: 'status' });

startPage<BudgetsState>({
  page: 'budgets',
  state: (saved) => ({ draft: reviveDraft(saved?.draft) }),
  refreshOn: (method, params) =>
    method === 'usage/recorded' ||
    method === 'budget/alert' ||
    (method === 'store/changed' && ['budget', 'store', '*'].includes((params as { domain?: string }).domain ?? '')),
  layout: (p) => {
    const formCard = h('section', { class: 'card', 'data-section': 'budget-form' }, formTitle, formStatus, formBody);
    p.main.append(
      h('div', { class: 'wide' }, card('budgets', 'Budgets', listBody)),
      h('div', { class: 'wide' }, formCard),
    );
    renderForm(p);
  },
  load: async (p) => {
    let res: BudgetStatusRequest.Result;
    try {
      res = await call(p.bridge, 'budget/status', {});
    } catch (e) {
      return fill(listBody, 'error', errorBanner(e, 'budgets'));
    }
    renderList(p, res.budgets);
  },
});

const STATE_ICONS = { ok: 'pass', warning: 'warning', exceeded: 'error' } as const;

function renderList(p: Page<BudgetsState>, budgets: BudgetStatus[]): void {
  if (!budgets.length)
    return fill(
      listBody,
      'ready',
      empty('No budgets yet. Create one below: calls over it are refused before they are sent.'),
    );
  fill(
    listBody,
    'ready',
    table(
      [
        { key: 'scope', label: 'Scope', cell: (b) => h('span', { class: 'mono' }, formatScope(b.scope)) },
        { key: 'period', label: 'Period', cell: (b) => b.period },
        {
          key: 'spent',
          label: 'Spent',
          numeric: true,
          cell: (b) => h('span', { 'data-figure': 'spent', 'data-value': b.spentUsd }, formatUsd(b.spentUsd)),
        },
        {
          key: 'limit',
          label: 'Limit',
          numeric: true,
          cell: (b) => h('span', { 'data-figure': 'limit', 'data-value': b.limitUsd }, formatUsd(b.limitUsd)),
        },
        {
          key: 'percent',
          label: 'Used',
          cell: (b) =>
            h(
              'div',
              { class: 'used' },
              h('span', { 'data-figure': 'percent', 'data-value': b.percentUsed }, formatPercent(b.percentUsed)),
              meter(b.percentUsed / 100, b.state),
            ),
        },
        {
          key: 'state',
          label: 'State',
          cell: (b) =>
            h(
              'span',
              { class: `state state-${b.state}`, 'data-figure': 'state' },
              h('vscode-icon', { name: STATE_ICONS[b.state] }),
              b.state,
            ),
        },
        {
          key: 'action',
          label: 'When over',
          cell: (b) =>
            b.action === 'downgrade'
              ? `downgrade to ${b.downgradeTo ?? '?'}`
              : b.action === 'fit'
                ? `fit (≥ ${b.minTokens ?? DEFAULT_FIT_MIN_TOKENS} tokens)`
                : b.action,
        },
        { key: 'ends', label: 'Period ends', cell: (b) => formatDateTime(b.periodEnd) },
        {
          key: 'actions',
          label: '',
          cell: (b) =>
            h(
              'span',
              { class: 'actions' },
              button('Edit', () => editBudget(p, b), { icon: 'edit', secondary: true, testid: 'edit' }),
              confirmButton(
                'Delete',
                `Delete this ${b.period} budget?`,
                async () => {
                  try {
                    await call(p.bridge, 'budget/delete', { id: b.id });
                    if (p.state.draft.id === b.id) resetForm(p);
                  } catch (e) {
                    replace(formStatus, errorBanner(e, 'the deletion'));
                  }
                  await p.reload();
                },
                { icon: 'trash', testid: 'delete' },
              ),
            ),
        },
      ],
      budgets,
      (b) => ({ 'data-budget-id': b.id, 'data-scope': b.scope, 'data-period': b.period }),
    ),
  );
}

function editBudget(p: Page<BudgetsState>, b: BudgetStatus): void {
  p.save({ draft: draftFromBudget(b) });
  replace(formStatus);
  renderForm(p);
  formBody.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function resetForm(p: Page<BudgetsState>): void {
  p.save({ draft: reviveDraft(undefined) });
  renderForm(p);
}

function renderForm(p: Page<BudgetsState>): void {
  const draft = { ...p.state.draft };
  formTitle.textContent = draft.id ? 'Edit budget' : 'New budget';
  const saveDraft = debounce(() => p.save({ draft: { ...draft } }), 200);
  const update = (patch: Partial<BudgetDraft>) => {
    Object.assign(draft, patch);
    saveDraft();
    toggle();
  };
  const scopeId = field(
    'scopeId',
    'Scope id',
    textfield(draft.scopeId, (v) => update({ scopeId: v }), { placeholder: 'e.g. ops' }),
  );
  const downgrade = field(
    'downgradeTo',
    'Downgrade to model',
    textfield(draft.downgradeTo, (v) => update({ downgradeTo: v }), { placeholder: 'e.g. openai/gpt-4o-mini' }),
  );
  const minTokens = field(
    'minTokens',
    'Lower max_tokens down to',
    textfield(draft.minTokens, (v) => update({ minTokens: v }), { placeholder: '16' }),
    'a call needing fewer completion tokens than this to fit is refused',
  );
  const toggle = () => {
    scopeId.hidden = draft.scopeKind === 'global';
    downgrade.hidden = draft.action !== 'downgrade';
    minTokens.hidden = draft.action !== 'fit';
  };
  const form = h(
    'form',
    {
      class: 'form',
      novalidate: true,
      'on:submit': (e: Event) => {
        e.preventDefault();
        void submit(p, draft, form);
      },
    },
    field(
      'scopeKind',
      'Applies to',
      select(
        SCOPE_KINDS.map((k) => ({ value: k, label: k === 'global' ? 'everything (global)' : k })),
        draft.scopeKind,
        (v) => update({ scopeKind: v }),
      ),
    ),
    scopeId,
    field(
      'period',
      'Period',
      select(
        PERIODS.map((v) => ({ value: v, label: v })),
        draft.period,
        (v) => update({ period: v }),
      ),
    ),
    field(
      'limit',
      'Limit (USD)',
      textfield(draft.limit, (v) => update({ limit: v }), { placeholder: 'e.g. 25' }),
    ),
    field(
      'thresholds',
      'Alert at (% of limit)',
      textfield(draft.thresholds, (v) => update({ thresholds: v }), { placeholder: '50, 80, 100' }),
      'empty: keep the current ones (50, 80, 100 for a new budget)',
    ),
    field(
      'action',
      'When over the limit',
      select(
        ACTIONS.map((a) => ({
          value: a,
          label: ACTION_LABELS[a],
        })),
        draft.action,
        (v) => update({ action: v }),
      ),
    ),
    downgrade,
    minTokens,
    h(
      'div',
      { class: 'form-actions' },
      button(draft.id ? 'Save changes' : 'Create budget', () => form.requestSubmit(), { icon: 'save', testid: 'save' }),
      draft.id ? button('Cancel', () => resetForm(p), { secondary: true }) : null,
      h('div', { class: 'field-error', role: 'alert', 'data-error-for': 'form' }),
    ),
  );
  toggle();
  replace(formBody, form);
}

async function submit(p: Page<BudgetsState>, draft: BudgetDraft, form: HTMLElement): Promise<void> {
  replace(formStatus);
  const { params, errors } = validateDraft(draft);
  if (!params) return void showErrors(form, errors);
  showErrors(form, {});
  try {
    const res = await call(p.bridge, 'budget/set', params);
    replace(
      formStatus,
      banner(
        'info',
        `${res.created ? 'Created' : 'Saved'} the ${res.budget.period} budget of ${formatScope(res.budget.scope)}: ${formatUsd(res.budget.limitUsd)}.`,
      ),
    );
    resetForm(p);
  } catch (e) {
    const error: FieldErrors =
      e instanceof BridgeError ? { [fieldOfServerError(e.code, e.data)]: e.message } : { form: String(e) };
    p.save({ draft: { ...draft } });
    showErrors(form, error);
  }
  await p.reload();
}
