/**
 * What every dashboard shares: the bridge, the header with the other dashboards, the page's saved UI state, and
 * re-reading on server notifications. A page gives its initial state, its layout and its `load`; `load` renders what
 * it read (and its own errors) into the layout.
 *
 * Signals for tests and for the extension: `body[data-loads]` counts finished loads; each card has
 * `data-state` = loading | ready | error; figures carry their raw server value in `data-value`.
 */
import './elements';
import type { ServerInfo } from '../../protocol';
import { BridgeError, createBridge, HttpBridge, RECONNECTED, type Bridge, type BridgeEnv } from './bridge';
import { banner } from './components';
import { h, replace } from './dom';
import { DASHBOARD_PAGES, PAGE_COMMANDS, PAGE_TITLES, type DashboardPage } from './messages';
import { Refresher } from './refresh';
import { onThemeChange } from './theme';

export interface Page<S> {
  readonly bridge: Bridge;
  readonly main: HTMLElement;
  readonly state: S;
  /** Updates the saved UI state (kept across hide/show in VS Code, and reloads of a browser tab). */
  save(patch: Partial<S>): void;
  /** Re-read now (after an action of the page's own). */
  reload(): Promise<void>;
}

export interface PageSpec<S> {
  page: DashboardPage;
  state: (saved: Partial<S> | undefined) => S;
  /** Whether a server notification may change what the page shows. */
  refreshOn: (method: string, params: unknown) => boolean;
  layout: (p: Page<S>) => void;
  load: (p: Page<S>) => Promise<void>;
  /** Redraw canvases with the new theme's colours. */
  onTheme?: (p: Page<S>) => void;
}

export const SERVER_NOTIFICATIONS = [
  'usage/recorded',
  'budget/alert',
  'memory/changed',
  'crew/runProgress',
  'store/changed',
] as const;

export function startPage<S extends object>(spec: PageSpec<S>): Page<S> {
  document.title = `${PAGE_TITLES[spec.page]} — OpenRouter Crew`;
  const bridge = createBridge(spec.page, browserEnv());
  const root = document.getElementById('app') ?? document.body;
  const notice = h('div', { class: 'notice' });
  const sandbox = h('span', { class: 'header-badges' });
  const main = h('main', { class: 'cards' });
  replace(root, header(spec.page, bridge, sandbox), notice, main);
  root.removeAttribute('aria-busy');

  let state = spec.state(bridge.getState<Partial<S>>());
  let loads = 0;
  const p: Page<S> = {
    bridge,
    main,
    get state() {
      return state;
    },
    save(patch) {
      state = { ...state, ...patch };
      bridge.setState(state);
    },
    reload: () => refresher.now(),
  };
  const refresher = new Refresher(async () => {
    try {
      await spec.load(p);
    } finally {
      document.body.dataset.loads = String(++loads);
    }
  });

  if (bridge instanceof HttpBridge && !bridge.signedIn) {
    replace(notice, tokenBanner());
    document.body.dataset.loads = '0';
    return p;
  }
  spec.layout(p);
  for (const method of SERVER_NOTIFICATIONS)
    bridge.onNotification(method, (params) => {
      if (spec.refreshOn(method, params)) refresher.schedule();
    });
  bridge.onNotification(RECONNECTED, () => refresher.schedule());
  if (spec.onTheme) onThemeChange(() => spec.onTheme!(p));
  void bridge.request<ServerInfo.Result>('server/info').then(
    (info) => {
      if (info.upstream.sandbox)
        replace(
          sandbox,
          h(
            'vscode-badge',
            { class: 'sandbox-badge', title: 'Calls go to the built-in fake OpenRouter' },
            'sandbox: simulated costs',
          ),
        );
    },
    (e: unknown) => {
      if (e instanceof BridgeError && e.code === 1005) replace(notice, tokenBanner());
    },
  );
  void refresher.now();
  return p;
}

function browserEnv(): BridgeEnv {
  const vscodeApi = (globalThis as { acquireVsCodeApi?: BridgeEnv['acquireVsCodeApi'] }).acquireVsCodeApi;
  return {
    ...(typeof vscodeApi === 'function' ? { acquireVsCodeApi: vscodeApi } : {}),
    addEventListener: (type, listener) => window.addEventListener(type, listener),
    fetch: (url, init) => fetch(url, init),
    EventSource,
    sessionStorage,
    location,
    history,
  };
}

function header(current: DashboardPage, bridge: Bridge, badges: HTMLElement): HTMLElement {
  return h(
    'header',
    { class: 'page-header' },
    h('h1', null, h('vscode-icon', { name: 'organization' }), ' OpenRouter Crew'),
    badges,
    h(
      'nav',
      { 'aria-label': 'Dashboards' },
      DASHBOARD_PAGES.map((page) =>
        h(
          'a',
          {
            href: bridge.host === 'browser' ? page : '#',
            'aria-current': page === current ? 'page' : undefined,
            'on:click': (e: Event) => {
              e.preventDefault();
              if (page !== current) bridge.command(PAGE_COMMANDS[page]);
            },
          },
          PAGE_TITLES[page],
        ),
      ),
    ),
  );
}

function tokenBanner(): HTMLElement {
  return banner(
    'warning',
    'This dashboard needs the server’s token. Open it with the link that ',
    h('code', null, 'crew dashboard'),
    ' prints (the token travels in the part after #, which is never sent to a server).',
  );
}

/** A server error that means "this server does not have that method (yet)". */
export function isNotAvailable(e: unknown): boolean {
  return e instanceof BridgeError && (e.code === -32601 || /not (available|implemented)( yet)?/i.test(e.message));
}
