/**
 * Small building blocks shared by the pages: cards, figures, banners, form fields, an inline confirmation, and a
 * table that becomes stacked cards on a narrow window. Controls are @vscode-elements components, so they follow the
 * VS Code theme; everything is built with `h` (text as text).
 */
import { BridgeError } from './bridge';
import { h, replace, type Child } from './dom';

/** A titled card. `id` names it for tests and for its `data-state` (loading, ready, error). */
export function card(id: string, title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card', 'data-section': id, 'data-state': 'loading', 'aria-busy': 'true' }, [
    h('h2', null, title),
    ...children,
  ]);
}

/** Marks a card ready (or failed) and fills its body. */
export function fill(body: HTMLElement, state: 'ready' | 'error', ...children: Child[]): void {
  replace(body, ...children);
  const section = body.closest('section');
  section?.setAttribute('data-state', state);
  section?.removeAttribute('aria-busy');
}

export function loading(label = 'Loading…'): HTMLElement {
  return h('div', { class: 'loading' }, h('vscode-progress-ring', { 'aria-label': label }), h('span', null, label));
}

/** A big figure with its label; `value` is the raw server number, kept for tests and tooltips. */
export function figure(id: string, label: string, text: string, value?: number, note?: string): HTMLElement {
  return h(
    'div',
    { class: 'figure', 'data-figure': id, 'data-value': value },
    h('div', { class: 'figure-value' }, text),
    h('div', { class: 'figure-label' }, label),
    note ? h('div', { class: 'figure-note' }, note) : null,
  );
}

export function banner(kind: 'error' | 'info' | 'warning', ...children: Child[]): HTMLElement {
  const icon = kind === 'error' ? 'error' : kind === 'warning' ? 'warning' : 'info';
  return h(
    'div',
    { class: `banner banner-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('vscode-icon', { name: icon }),
    h('div', null, ...children),
  );
}

/** An error as a banner: the server's message, and its code for reference. */
export function errorBanner(e: unknown, what: string): HTMLElement {
  const message = e instanceof Error ? e.message : String(e);
  const code = e instanceof BridgeError ? ` (code ${e.code})` : '';
  return banner('error', `Could not load ${what}: ${message}${code}`);
}

export function empty(text: string): HTMLElement {
  return h('p', { class: 'empty' }, text);
}

export function button(
  label: string,
  onClick: () => void,
  opts: { icon?: string; secondary?: boolean; testid?: string; disabled?: boolean; title?: string } = {},
): HTMLElement {
  return h(
    'vscode-button',
    {
      icon: opts.icon,
      secondary: opts.secondary,
      disabled: opts.disabled,
      title: opts.title,
      'data-testid': opts.testid,
      'on:click': () => {
        if (!(opts.disabled ?? false)) onClick();
      },
    },
    label,
  );
}

/**
 * A destructive action asked twice, inline: webviews cannot open `confirm()` dialogs, and an inline question also
 * works the same in a browser.
 */
export function confirmButton(
  label: string,
  question: string,
  onConfirm: () => Promise<void> | void,
  opts: { icon?: string; testid?: string } = {},
): HTMLElement {
  const slot = h('span', { class: 'confirm' });
  const idle = () => replace(slot, button(label, ask, { icon: opts.icon, secondary: true, testid: opts.testid }));
  const ask = () =>
    replace(
      slot,
      h('span', { class: 'confirm-question' }, question),
      button(
        'Yes',
        () => {
          replace(slot, loading('Working…'));
          void Promise.resolve(onConfirm()).finally(idle);
        },
        { testid: opts.testid ? `${opts.testid}-yes` : undefined },
      ),
      button('Cancel', idle, { secondary: true }),
    );
  idle();
  return slot;
}

/** A labelled form control with a place for its error; `field` names it for the error mapping and tests. */
export function field(name: string, label: string, control: HTMLElement, help?: string): HTMLElement {
  const id = `field-${name}`;
  control.id = id;
  return h(
    'div',
    { class: 'field', 'data-field': name },
    h('vscode-label', { for: id }, label),
    control,
    help ? h('div', { class: 'field-help' }, help) : null,
    h('div', { class: 'field-error', role: 'alert', 'data-error-for': name }),
  );
}

/** Shows (or clears) the error of each field in `form`; returns whether any was shown. */
export function showErrors(form: HTMLElement, errors: Partial<Record<string, string>>): boolean {
  let any = false;
  for (const slot of form.querySelectorAll<HTMLElement>('[data-error-for]')) {
    const name = slot.dataset.errorFor!;
    const message = errors[name];
    slot.textContent = message ?? '';
    const control = form.querySelector(`[data-field="${name}"] > :not(vscode-label):not(div)`);
    if (control) (control as HTMLElement & { invalid?: boolean }).invalid = Boolean(message);
    if (message) any = true;
  }
  return any;
}

export function textfield(
  value: string,
  onInput: (v: string) => void,
  opts: { placeholder?: string; type?: string } = {},
) {
  return h('vscode-textfield', {
    '.value': value,
    placeholder: opts.placeholder,
    type: opts.type,
    'on:input': (e: Event) => onInput((e.target as HTMLInputElement).value),
  });
}

export function select<T extends string>(
  options: readonly { value: T; label: string }[],
  value: T,
  onChange: (v: T) => void,
): HTMLElement {
  return h(
    'vscode-single-select',
    { 'on:change': (e: Event) => onChange((e.target as HTMLSelectElement).value as T) },
    options.map((o) => h('vscode-option', { value: o.value, selected: o.value === value }, o.label)),
  );
}

export function checkbox(label: string, checked: boolean, onChange: (v: boolean) => void): HTMLElement {
  return h('vscode-checkbox', {
    label,
    '.checked': checked,
    'on:change': (e: Event) => onChange((e.target as HTMLInputElement).checked),
  });
}

export interface Column<R> {
  key: string;
  label: string;
  cell: (row: R) => Child;
  /** Right-aligned (numbers). */
  numeric?: boolean;
  /** Clicking the header asks for this sort; `sorted` marks the current one. */
  sort?: { onSort: () => void; sorted?: 'asc' | 'desc' };
}

/**
 * A table; below 640 px each row becomes a card with the column names beside the values (CSS, via `data-label`).
 */
export function table<R>(columns: Column<R>[], rows: R[], rowAttrs?: (r: R) => Record<string, unknown>): HTMLElement {
  const head = h(
    'tr',
    null,
    columns.map((c) =>
      h(
        'th',
        {
          scope: 'col',
          class: c.numeric ? 'num' : undefined,
          'aria-sort': c.sort?.sorted ? (c.sort.sorted === 'asc' ? 'ascending' : 'descending') : undefined,
        },
        c.sort
          ? h(
              'button',
              { class: 'sort', type: 'button', 'data-sort': c.key, 'on:click': c.sort.onSort },
              c.label,
              c.sort.sorted
                ? h('vscode-icon', { name: c.sort.sorted === 'asc' ? 'arrow-up' : 'arrow-down', size: 12 })
                : null,
            )
          : c.label,
      ),
    ),
  );
  const body = rows.map((r) =>
    h(
      'tr',
      rowAttrs?.(r) ?? null,
      columns.map((c) => h('td', { 'data-label': c.label, class: c.numeric ? 'num' : undefined }, c.cell(r))),
    ),
  );
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'responsive' }, h('thead', null, head), h('tbody', null, body)),
  );
}

/** A horizontal meter (percent of a limit, or a bar length 0 … 1). */
export function meter(fraction: number, kind: 'ok' | 'warning' | 'exceeded' | 'plain' = 'plain'): HTMLElement {
  const bar = h('div', {
    class: `meter-bar meter-${kind}`,
    'style:width': `${Math.max(0, Math.min(1, fraction)) * 100}%`,
  });
  return h('div', { class: 'meter', 'aria-hidden': 'true' }, bar);
}
