/**
 * The extension side of a dashboard's bridge (webviews/src/messages.ts is the contract): a webview asks for a
 * method of our protocol and gets the server's answer or error as is; server notifications are passed on. Only
 * methods a dashboard needs are forwarded — a webview is web content, and must not reach the rest (shutdown,
 * restore a backup, set the API key). Plain logic, no `vscode` import, so it is tested without VS Code.
 */
import { isWebviewToHost, type HostToWebview } from '../../webviews/src/messages';

export type { HostToWebview as ToWebview } from '../../webviews/src/messages';

/** What the four dashboards read and do. */
export const DASHBOARD_METHODS = new Set([
  'server/info',
  'models/list',
  'ledger/list',
  'cost/report',
  'cost/forecast',
  'cost/anomalies',
  'cost/verification',
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

export interface HostDeps {
  request(method: string, params: unknown): Promise<unknown>;
  post(message: HostToWebview): void;
  executeCommand(command: string, args: unknown[]): void;
  log(line: string): void;
}

export async function handleWebviewMessage(raw: unknown, deps: HostDeps): Promise<void> {
  // The commands a page may run are listed with the message contract (WEBVIEW_COMMANDS); anything else is refused.
  if (!isWebviewToHost(raw)) return deps.log(`ignored a message that is not a dashboard's: ${describe(raw)}`);
  switch (raw.type) {
    case 'ready':
      return;
    case 'command':
      return deps.executeCommand(raw.command, raw.args ?? []);
    case 'request': {
      const { id, method, params } = raw;
      if (!DASHBOARD_METHODS.has(method))
        return deps.post({
          type: 'response',
          id,
          error: { code: -32601, message: `a dashboard may not call ${method}` },
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
  }
}

function describe(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
