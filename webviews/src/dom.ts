/**
 * A tiny element builder. Text always goes in as text (never as HTML), so server strings such as memory previews
 * cannot inject markup; styles are set through the CSSOM, which the pages' CSP (no inline styles) allows.
 */

export type Child = Node | string | number | null | undefined | false | Child[];

/**
 * Props: `class`; `on:<event>` listeners; `.<prop>` element properties (e.g. `.value`, `.checked`); `style:<name>`
 * CSS properties and custom properties; anything else an attribute (`true` → present, `false`/undefined → absent).
 */
export type Props = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement;
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on:')) el.addEventListener(key.slice(3), value as EventListener);
    else if (key.startsWith('.')) (el as unknown as Record<string, unknown>)[key.slice(1)] = value;
    else if (key === 'class') el.className = text(value);
    else if (key.startsWith('style:')) el.style.setProperty(key.slice(6), text(value));
    else el.setAttribute(key, value === true ? '' : text(value));
  }
  append(el, children);
  return el;
}

/** Attribute and style values are strings, numbers or booleans; anything else is a mistake worth seeing. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TypeError(`not an attribute value: ${typeof value}`);
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
