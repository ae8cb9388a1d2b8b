/**
 * The typed postMessage protocol between a dashboard webview and the VS Code extension host: a union per direction,
 * switched on `type`. The extension imports this file, so it imports nothing.
 *
 * A request carries a JSON-RPC method and params; the host forwards it to crew-server unchanged and answers with
 * the same id: `result`, or `error` with the server's code, message and data untouched (InvalidParams names
 * `data.field`). Notifications are the server's own (method and params as sent).
 */

export const DASHBOARD_PAGES = ['costs', 'budgets', 'analytics', 'archive'] as const;
export type DashboardPage = (typeof DASHBOARD_PAGES)[number];

export const PAGE_TITLES: Record<DashboardPage, string> = {
  costs: 'Costs',
  budgets: 'Budgets',
  analytics: 'Analytics',
  archive: 'Archive',
};

/**
 * VS Code commands a page may ask the host to run (`{type: 'command'}`); the host should run only these.
 * In the browser, the open-dashboard commands navigate and the rest are not offered.
 */
export const PAGE_COMMANDS = {
  costs: 'openrouterCrew.openCostsDashboard',
  budgets: 'openrouterCrew.openBudgetsDashboard',
  analytics: 'openrouterCrew.openAnalyticsDashboard',
  archive: 'openrouterCrew.openArchiveDashboard',
} as const satisfies Record<DashboardPage, string>;
export const WEBVIEW_COMMANDS = [
  ...Object.values(PAGE_COMMANDS),
  /** args: [{ id, crew }] of the memory */
  'openrouterCrew.openMemory',
] as const;
export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

// ── webview → host ──

/** Sent once the page has set up its listeners: the host may send notifications from then on. */
export interface ReadyMessage {
  type: 'ready';
  page: DashboardPage;
}
export interface RequestMessage {
  type: 'request';
  /** Unique per page load; the response carries it back. */
  id: number;
  method: string;
  params: unknown;
}
export interface CommandMessage {
  type: 'command';
  command: WebviewCommand;
  args?: unknown[];
}
export type WebviewToHost = ReadyMessage | RequestMessage | CommandMessage;

// ── host → webview ──

export interface ResponseMessage {
  type: 'response';
  id: number;
  result?: unknown;
  error?: RpcErrorBody;
}
export interface NotificationMessage {
  type: 'notification';
  method: string;
  params: unknown;
}
export type HostToWebview = ResponseMessage | NotificationMessage;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

/** Whether a posted message is one of ours (a webview also receives messages from VS Code itself). */
export function isHostToWebview(x: unknown): x is HostToWebview {
  if (!isObject(x)) return false;
  if (x.type === 'response')
    return (
      typeof x.id === 'number' &&
      (x.error === undefined ||
        (isObject(x.error) && typeof x.error.code === 'number' && typeof x.error.message === 'string'))
    );
  if (x.type === 'notification') return typeof x.method === 'string';
  return false;
}

export function isWebviewToHost(x: unknown): x is WebviewToHost {
  if (!isObject(x)) return false;
  switch (x.type) {
    case 'ready':
      return (DASHBOARD_PAGES as readonly unknown[]).includes(x.page);
    case 'request':
      return typeof x.id === 'number' && typeof x.method === 'string';
    case 'command':
      return (
        (WEBVIEW_COMMANDS as readonly unknown[]).includes(x.command) && (x.args === undefined || Array.isArray(x.args))
      );
    default:
      return false;
  }
}
