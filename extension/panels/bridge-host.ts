/**
 * The extension side of a dashboard's bridge (webviews/src/messages.ts is the contract): a webview asks for a
 * method of our protocol and gets the server's answer or error as is; server notifications are passed on. Only
 * methods a dashboard needs are forwarded — a webview is web content, and must not reach the rest (shutdown,
 * restore a backup, set the API key). Plain logic, no `vscode` import, so it is tested without VS Code.
 */

export type ToHost =
  | { type: 'ready'; page?: string }
  | { type: 'request'; id: number; method: string; params?: unknown }
  | { type: 'command'; command: string; args?: unknown[] };

export type ToWebview =
  | { type: 'response'; id: number; result?: unknown; error?: { code: number; message: string; data?: unknown } }
  | { type: 'notification'; method: string; params: unknown };

/** What the four dashboards read and do. */
export const DASHBOARD_METHODS = new Set([
  'server/info',
  'models/list',
  'ledger/list',
  'cost/report',
  'cost/forecast',
  'cost/anomalies',
  'cost/recommendations',
  'cost/applyRecommendation',
  'budget/status',
  'budget/set',
  'budget/delete',
  'budget/alerts',
  'budget/configureAlerts',
  'crew/list',
  'crew/get',
  'crew/runs',
  'memory/get',
  'memory/list',
  'memory/search',
  'analytics/summary',
  'analytics/insights',
  'analytics/recommendations',
  'clusters/list',
  'clusters/compute',
  'archive/list',
  'archive/create',
  'archive/restore',
  'archive/delete',
  'memory/merge',
  'memory/update',
]);

/** Notifications a dashboard refreshes on. */
export const DASHBOARD_NOTIFICATIONS = [
  'usage/recorded',
  'budget/alert',
  'memory/changed',
  'crew/runProgress',
  'store/changed',
];

/** VS Code commands a dashboard may run (its buttons that leave the page: open a memory, raise a budget…). */
export const DASHBOARD_COMMANDS = /^openrouterCrew\.[A-Za-z]+$/;

export interface HostDeps {
  request(method: string, params: unknown): Promise<unknown>;
  post(message: ToWebview): void;
  executeCommand(command: string, args: unknown[]): void;
  log(line: string): void;
}

export async function handleWebviewMessage(raw: unknown, deps: HostDeps): Promise<void> {
  const m = raw as Partial<ToHost> | null;
  if (typeof m !== 'object' || m === null || typeof m.type !== 'string') return deps.log('ignored a malformed message');
  switch (m.type) {
    case 'ready':
      return;
    case 'command': {
      const cmd = (m as { command?: unknown }).command;
      if (typeof cmd !== 'string' || !DASHBOARD_COMMANDS.test(cmd)) return deps.log(`refused command ${String(cmd)}`);
      const args = (m as { args?: unknown }).args;
      return deps.executeCommand(cmd, Array.isArray(args) ? args : []);
    }
    case 'request': {
      const { id, method, params } = m as { id?: unknown; method?: unknown; params?: unknown };
      if (typeof id !== 'number') return deps.log('ignored a request without an id');
      if (typeof method !== 'string' || !DASHBOARD_METHODS.has(method))
        return deps.post({
          type: 'response',
          id,
          error: { code: -32601, message: `a dashboard may not call ${String(method)}` },
        });
      try {
        deps.post({ type: 'response', id, result: await deps.request(method, params ?? {}) });
      } catch (e) {
        const err = e as { code?: unknown; message?: unknown; data?: unknown };
        deps.post({
          type: 'response',
          id,
          error: {
            code: typeof err.code === 'number' ? err.code : -32603,
            message: typeof err.message === 'string' ? err.message : String(e),
            ...(err.data !== undefined ? { data: err.data } : {}),
          },
        });
      }
      return;
    }
    default:
      deps.log(`ignored a message of type ${String(m.type)}`);
  }
}
