/**
 * Archive: the archives (archive/list) with count, size, ratio and date, sorted and filtered in the page; a policy
 * previewed with a dry run (archive/create with dryRun: exactly what would move) and then run; restore and delete
 * with confirmation. Sort, filter and the policy draft are kept in the page state.
 */
import '../styles/base.css';
import type { Archive, ArchiveCreate, ArchiveList } from '../../../protocol';
import { call } from '../api';
import { BridgeError } from '../bridge';
import {
  banner,
  button,
  card,
  checkbox,
  confirmButton,
  empty,
  errorBanner,
  field,
  figure,
  fill,
  loading,
  select,
  showErrors,
  table,
  textfield,
  type Column,
} from '../components';
import { h, replace } from '../dom';
import { counted, formatBytes, formatCount, formatDateTime, formatRatio } from '../../../protocol/format';
import { startPage, type Page } from '../page';
import { debounce } from '../refresh';
import {
  DEFAULT_SORT,
  filterArchives,
  KINDS,
  nextSort,
  policyFieldOf,
  revivePolicy,
  SORT_CHOICES,
  SORT_KEYS,
  sortArchives,
  sortValue,
  STATES,
  validatePolicy,
  type ArchiveFilter,
  type ArchiveSort,
  type PolicyDraft,
} from '../view-models/archive';

interface ArchiveState {
  sort: ArchiveSort;
  filter: ArchiveFilter;
  policy: PolicyDraft;
}

const listBody = h('div', { class: 'card-body' }, loading());
const filterBar = h('div', { class: 'toolbar' });
const statusSlot = h('div', { role: 'status' });
const previewBody = h('div', { class: 'card-body' });
const policyForm = h('form', { class: 'form', novalidate: true });
let archives: Archive[] = [];

startPage<ArchiveState>({
  page: 'archive',
  state: (saved) => ({
    sort:
      saved?.sort && SORT_KEYS.includes(saved.sort.key) && (saved.sort.dir === 'asc' || saved.sort.dir === 'desc')
        ? saved.sort
        : DEFAULT_SORT,
    filter: {
      text: typeof saved?.filter?.text === 'string' ? saved.filter.text : '',
      state: STATES.includes(saved?.filter?.state as Archive['state']) ? saved!.filter!.state : '',
    },
    policy: revivePolicy(saved?.policy),
  }),
  refreshOn: (method, params) => {
    if (method === 'memory/changed')
      return ['archived', 'restored'].includes((params as { change?: string }).change ?? '');
    const domain = (params as { domain?: string }).domain ?? '';
    return method === 'store/changed' && ['archive', 'store', 'cost', '*'].includes(domain);
  },
  layout: (p) => {
    p.main.append(
      h('div', { class: 'wide' }, card('archives', 'Archives', statusSlot, filterBar, listBody)),
      h(
        'div',
        { class: 'wide' },
        h(
          'section',
          { class: 'card', 'data-section': 'policy' },
          h('h2', null, 'Preview an archive policy'),
          h(
            'p',
            { class: 'card-sub' },
            'A dry run lists exactly which memories would move; nothing changes until you archive them.',
          ),
          policyForm,
          previewBody,
        ),
      ),
    );
    renderFilter(p);
    renderPolicyForm(p);
  },
  load: async (p) => {
    let res: ArchiveList.Result;
    try {
      res = await call(p.bridge, 'archive/list', {});
    } catch (e) {
      return fill(listBody, 'error', errorBanner(e, 'archives'));
    }
    archives = res.archives;
    renderList(p);
  },
});

let sortPicker: HTMLElement | undefined;

function renderSortPicker(p: Page<ArchiveState>): HTMLElement {
  const current = sortValue(p.state.sort);
  // A sort picked by a column header that is not in the list still shows as itself.
  const choices = SORT_CHOICES.some((c) => c.value === current)
    ? SORT_CHOICES
    : [...SORT_CHOICES, { value: current, label: `${p.state.sort.key} ${p.state.sort.dir}`, sort: p.state.sort }];
  const picker = select(
    choices.map((c) => ({ value: c.value, label: `sort: ${c.label}` })),
    current,
    (v) => {
      const choice = choices.find((c) => c.value === v);
      if (!choice) return;
      p.save({ sort: choice.sort });
      renderList(p);
    },
  );
  picker.setAttribute('data-testid', 'sort');
  return picker;
}

function renderFilter(p: Page<ArchiveState>): void {
  const saveText = debounce((text: string) => {
    p.save({ filter: { ...p.state.filter, text } });
    renderList(p);
  }, 150);
  replace(
    filterBar,
    Object.assign(textfield(p.state.filter.text, saveText, { placeholder: 'Filter by crew or id', type: 'search' }), {
      id: 'archive-filter',
    }),
    select(
      [{ value: '', label: 'every state' }, ...STATES.map((s) => ({ value: s, label: s }))],
      p.state.filter.state,
      (state) => {
        p.save({ filter: { ...p.state.filter, state } });
        renderList(p);
      },
    ),
    (sortPicker = renderSortPicker(p)),
  );
}

function renderList(p: Page<ArchiveState>): void {
  const { sort, filter } = p.state;
  const shown = sortArchives(filterArchives(archives, filter), sort);
  if (!archives.length) return fill(listBody, 'ready', empty('No archives yet. Preview a policy below to make one.'));
  const sortable = (key: ArchiveSort['key']) => ({
    onSort: () => {
      p.save({ sort: nextSort(p.state.sort, key) });
      sortPicker?.replaceWith((sortPicker = renderSortPicker(p)));
      renderList(p);
    },
    sorted: sort.key === key ? sort.dir : undefined,
  });
  const columns: Column<Archive>[] = [
    { key: 'createdAt', label: 'Created', cell: (a) => formatDateTime(a.createdAt), sort: sortable('createdAt') },
    { key: 'crews', label: 'Crews', cell: (a) => a.crews.join(', '), sort: sortable('crews') },
    {
      key: 'count',
      label: 'Memories',
      numeric: true,
      cell: (a) => h('span', { 'data-figure': 'count', 'data-value': a.count }, formatCount(a.count)),
      sort: sortable('count'),
    },
    {
      key: 'bytesOut',
      label: 'Size',
      numeric: true,
      cell: (a) => h('span', { title: `${formatBytes(a.bytesIn)} before compression` }, formatBytes(a.bytesOut)),
      sort: sortable('bytesOut'),
    },
    { key: 'ratio', label: 'Ratio', numeric: true, cell: (a) => formatRatio(a.ratio), sort: sortable('ratio') },
    {
      key: 'state',
      label: 'State',
      cell: (a) =>
        a.restoredIds.length && a.state !== 'restored' ? `${a.state} (${a.restoredIds.length} restored)` : a.state,
      sort: sortable('state'),
    },
    {
      key: 'actions',
      label: '',
      cell: (a) =>
        h(
          'span',
          { class: 'actions' },
          a.state === 'restored'
            ? null
            : confirmButton(
                'Restore',
                `Bring back ${counted(a.count - a.restoredIds.length, 'memory', 'memories')}?`,
                () => restore(p, a),
                {
                  icon: 'history',
                  testid: 'restore',
                },
              ),
          confirmButton(
            'Delete',
            a.state === 'restored'
              ? 'Delete this archive file?'
              : 'Delete it? Memories not restored are gone for good.',
            () => remove(p, a),
            { icon: 'trash', testid: 'delete' },
          ),
        ),
    },
  ];
  fill(
    listBody,
    'ready',
    h(
      'p',
      { class: 'muted', 'data-figure': 'archives', 'data-value': shown.length },
      `${shown.length} of ${archives.length} archives`,
    ),
    shown.length
      ? table(columns, shown, (a) => ({ 'data-archive-id': a.id }))
      : empty('No archive matches the filter.'),
  );
}

async function restore(p: Page<ArchiveState>, a: Archive): Promise<void> {
  try {
    const res = await call(p.bridge, 'archive/restore', { archiveId: a.id });
    replace(
      statusSlot,
      banner(
        'info',
        `Restored ${counted(res.restored.length, 'memory', 'memories')}` +
          (res.skipped.length ? ` (${formatCount(res.skipped.length)} were already live)` : '') +
          (res.duplicates.length ? `; ${formatCount(res.duplicates.length)} duplicate content added since` : '') +
          '.',
      ),
    );
  } catch (e) {
    replace(statusSlot, errorBanner(e, 'the restore'));
  }
  await p.reload();
}

async function remove(p: Page<ArchiveState>, a: Archive): Promise<void> {
  try {
    const res = await call(p.bridge, 'archive/delete', { id: a.id });
    replace(
      statusSlot,
      banner(
        'info',
        `Deleted the archive${res.unrestored ? `; ${counted(res.unrestored, 'memory', 'memories')} in it ${res.unrestored === 1 ? 'is' : 'are'} gone` : ''}.`,
      ),
    );
  } catch (e) {
    replace(statusSlot, errorBanner(e, 'the deletion'));
  }
  await p.reload();
}

// ── policy preview ──

function renderPolicyForm(p: Page<ArchiveState>): void {
  const draft: PolicyDraft = { ...p.state.policy, kinds: [...p.state.policy.kinds] };
  const save = debounce(() => p.save({ policy: { ...draft, kinds: [...draft.kinds] } }), 200);
  const update = (patch: Partial<PolicyDraft>) => {
    Object.assign(draft, patch);
    save();
  };
  replace(
    policyForm,
    field(
      'crew',
      'Crew',
      textfield(draft.crew, (v) => update({ crew: v }), { placeholder: 'every crew' }),
    ),
    field(
      'olderThanDays',
      'Inactive for at least (days)',
      textfield(draft.olderThanDays, (v) => update({ olderThanDays: v }), { placeholder: 'e.g. 30' }),
    ),
    field(
      'belowScore',
      'Retention score below',
      textfield(draft.belowScore, (v) => update({ belowScore: v }), { placeholder: '0 … 1, e.g. 0.3' }),
      'recency, importance and use, 0 … 1',
    ),
    field(
      'kinds',
      'Kinds',
      h(
        'div',
        { class: 'checks' },
        KINDS.map((k) =>
          checkbox(k, draft.kinds.includes(k), (on) =>
            update({ kinds: on ? [...draft.kinds.filter((x) => x !== k), k] : draft.kinds.filter((x) => x !== k) }),
          ),
        ),
      ),
      'none ticked: every kind',
    ),
    field(
      'includePinned',
      'Pinned memories',
      checkbox('include pinned', draft.includePinned, (v) => update({ includePinned: v })),
    ),
    h(
      'div',
      { class: 'form-actions' },
      button('Preview (dry run)', () => policyForm.requestSubmit(), { icon: 'eye', testid: 'dry-run' }),
      h('div', { class: 'field-error', role: 'alert', 'data-error-for': 'form' }),
    ),
  );
  policyForm.onsubmit = (e) => {
    e.preventDefault();
    void preview(p, draft);
  };
}

async function preview(p: Page<ArchiveState>, draft: PolicyDraft): Promise<void> {
  const { policy, errors } = validatePolicy(draft);
  if (!policy) return void showErrors(policyForm, errors);
  showErrors(policyForm, {});
  replace(previewBody, loading('Selecting…'));
  let res: ArchiveCreate.Result;
  try {
    res = await call(p.bridge, 'archive/create', { policy, dryRun: true });
  } catch (e) {
    replace(previewBody);
    if (e instanceof BridgeError && e.code === -32602)
      return void showErrors(policyForm, { [policyFieldOf(e.data)]: e.message });
    return replace(previewBody, errorBanner(e, 'the preview'));
  }
  if (!res.dryRun) return;
  const { candidates, totals } = res;
  replace(
    previewBody,
    h(
      'div',
      { 'data-section': 'preview', 'data-state': 'ready' },
      h(
        'div',
        { class: 'figures' },
        figure('dry-count', 'Would be archived', formatCount(totals.count), totals.count),
        figure('dry-bytes', 'Size before compression', formatBytes(totals.bytes), totals.bytes),
        figure('dry-matched', 'Matched the policy', formatCount(totals.matched), totals.matched),
      ),
      candidates.length
        ? table(
            [
              { key: 'crew', label: 'Crew', cell: (c) => c.crew },
              { key: 'kind', label: 'Kind', cell: (c) => (c.pinned ? `${c.kind} (pinned)` : c.kind) },
              { key: 'preview', label: 'Memory', cell: (c) => h('span', { class: 'preview' }, c.preview) },
              { key: 'active', label: 'Last active', cell: (c) => formatDateTime(c.lastActiveAt) },
              { key: 'score', label: 'Score', numeric: true, cell: (c) => c.retentionScore.toFixed(3) },
              { key: 'bytes', label: 'Size', numeric: true, cell: (c) => formatBytes(c.bytes) },
            ],
            candidates.slice(0, 200),
            (c) => ({ 'data-candidate': c.id }),
          )
        : empty('Nothing matches this policy.'),
      candidates.length > 200 ? h('p', { class: 'muted' }, `… and ${formatCount(candidates.length - 200)} more`) : null,
      candidates.length
        ? h(
            'div',
            { class: 'form-actions' },
            confirmButton(
              `Archive ${counted(totals.count, 'memory', 'memories')}`,
              'Archive them now? They can be restored byte for byte.',
              () => runPolicy(p, policy),
              { icon: 'archive', testid: 'archive-now' },
            ),
          )
        : null,
    ),
  );
}

async function runPolicy(
  p: Page<ArchiveState>,
  policy: NonNullable<ReturnType<typeof validatePolicy>['policy']>,
): Promise<void> {
  try {
    const res = await call(p.bridge, 'archive/create', { policy });
    if (!res.dryRun)
      replace(
        previewBody,
        banner(
          'info',
          res.archive
            ? `Archived ${counted(res.ids.length, 'memory', 'memories')} (${formatBytes(res.archive.bytesOut)}, ${formatRatio(res.archive.ratio)}).` +
                (res.remaining ? ` ${formatCount(res.remaining)} more matched: run it again.` : '')
            : 'Nothing matched any more: no archive was written.',
        ),
      );
  } catch (e) {
    replace(previewBody, errorBanner(e, 'the archive'));
  }
  await p.reload();
}
