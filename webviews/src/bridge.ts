/**
 * How a page talks to crew-server. One interface, two implementations chosen at startup:
 *  - inside a VS Code webview (`acquireVsCodeApi` exists): the typed postMessage protocol of messages.ts, with the
 *    extension host forwarding requests to its server connection;
 *  - in a plain browser (served by the server's HTTP port): JSON-RPC 2.0 bodies on `POST /rpc` with the bearer token,
 *    notifications from `GET /events` (Server-Sent Events, `event:` = method), state in sessionStorage. The token
 *    arrives in the URL fragment (`#token=…`, never sent to a server), is kept in sessionStorage and removed from
 *    the address bar.
 * Both reject with a BridgeError that keeps the server's code, message and data.
 *
 * The browser globals are injected (BridgeEnv), so the protocol handling is unit-tested without a browser.
 */
import {
  isHostToWebview,
  PAGE_COMMANDS,
  type DashboardPage,
  type RequestMessage,
  type WebviewCommand,
  type WebviewToHost,
} from './messages';

export interface Bridge {
  /** `vscode` inside a webview, `browser` over HTTP: some actions (open a memory) exist only in VS Code. */
  readonly host: 'vscode' | 'browser';
  request<R>(method: string, params?: unknown): Promise<R>;
  /** Returns the unsubscribe function. */
  onNotification(method: string, cb: (params: unknown) => void): () => void;
  getState<T>(): T | undefined;
  setState<T>(s: T): void;
  command(name: WebviewCommand, args?: unknown[]): void;
}

/**
 * Not a server notification: the bridge lost the server and got it back, so notifications may have been missed and
 * a page should read its data again.
 */
export const RECONNECTED = 'bridge/reconnected';

/** The server could not be reached at all (a JSON-RPC "implementation-defined server error" code). */
export const UNREACHABLE = -32099;
const UNAUTHORIZED = 1005;

export class BridgeError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

// ── the browser globals a bridge uses ──

export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

export interface EventSourceLike {
  addEventListener(type: string, listener: (ev: { data?: unknown }) => void): void;
  close(): void;
}

export interface FetchResponseLike {
  status: number;
  text(): Promise<string>;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface BridgeEnv {
  acquireVsCodeApi?: () => VsCodeApi;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  fetch(
    url: string,
    init: { method: string; headers: Record<string, string>; body: string },
  ): Promise<FetchResponseLike>;
  EventSource: new (url: string) => EventSourceLike;
  sessionStorage: StorageLike;
  location: { hash: string; pathname: string; search: string; assign(url: string): void };
  history: { replaceState(data: unknown, unused: string, url?: string): void };
}

export function createBridge(page: DashboardPage, env: BridgeEnv): Bridge {
  return typeof env.acquireVsCodeApi === 'function' ? new VsCodeBridge(page, env) : new HttpBridge(page, env);
}

/** Listeners per method, shared by both bridges. */
class Listeners {
  private readonly byMethod = new Map<string, Set<(params: unknown) => void>>();

  add(method: string, cb: (params: unknown) => void): { first: boolean; remove: () => void } {
    let set = this.byMethod.get(method);
    const first = !set;
    if (!set) this.byMethod.set(method, (set = new Set()));
    set.add(cb);
    return { first, remove: () => void set.delete(cb) };
  }

  emit(method: string, params: unknown): void {
    for (const cb of this.byMethod.get(method) ?? []) {
      try {
        cb(params);
      } catch (e) {
        // One page handler failing must not stop the others from hearing about the change.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

export class VsCodeBridge implements Bridge {
  readonly host = 'vscode';
  private readonly api: VsCodeApi;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: BridgeError) => void }>();
  private readonly listeners = new Listeners();
  private nextId = 1;

  constructor(page: DashboardPage, env: BridgeEnv) {
    // acquireVsCodeApi may be called only once per page load.
    this.api = env.acquireVsCodeApi!();
    env.addEventListener('message', (ev) => this.receive(ev.data));
    this.post({ type: 'ready', page });
  }

  private post(message: WebviewToHost): void {
    this.api.postMessage(message);
  }

  private receive(message: unknown): void {
    if (!isHostToWebview(message)) return;
    switch (message.type) {
      case 'response': {
        const waiter = this.pending.get(message.id);
        if (!waiter) return;
        this.pending.delete(message.id);
        if (message.error)
          waiter.reject(new BridgeError(message.error.code, message.error.message, message.error.data));
        else waiter.resolve(message.result);
        return;
      }
      case 'notification':
        return this.listeners.emit(message.method, message.params);
    }
  }

  request<R>(method: string, params?: unknown): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      const message: RequestMessage = { type: 'request', id, method, params };
      this.post(message);
    });
  }

  onNotification(method: string, cb: (params: unknown) => void): () => void {
    return this.listeners.add(method, cb).remove;
  }

  getState<T>(): T | undefined {
    return (this.api.getState() as T | null | undefined) ?? undefined;
  }

  setState<T>(s: T): void {
    this.api.setState(s);
  }

  command(name: WebviewCommand, args?: unknown[]): void {
    this.post(args === undefined ? { type: 'command', command: name } : { type: 'command', command: name, args });
  }
}

const TOKEN_KEY = 'crew.dashboard.token';

export class HttpBridge implements Bridge {
  readonly host = 'browser';
  private readonly token: string | undefined;
  private readonly listeners = new Listeners();
  private events: EventSourceLike | undefined;
  private nextId = 1;

  constructor(
    private readonly page: DashboardPage,
    private readonly env: BridgeEnv,
  ) {
    this.token = takeToken(env);
  }

  /** Whether a token was found (in the URL fragment, or kept from earlier in this tab). */
  get signedIn(): boolean {
    return this.token !== undefined;
  }

  private get stateKey(): string {
    return `crew.dashboard.${this.page}.state`;
  }

  async request<R>(method: string, params?: unknown): Promise<R> {
    if (!this.token) throw noToken();
    const id = this.nextId++;
    let status: number;
    let text: string;
    try {
      // Relative to the page (/dashboard/<page>), so a proxy that serves the server under a path prefix works.
      const res = await this.env.fetch('../rpc', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${this.token}`,
          'x-crew-client': `browser/dashboard-${this.page}`,
        },
        body: JSON.stringify(
          params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params },
        ),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      throw new BridgeError(UNREACHABLE, `crew-server is not reachable: ${(e as Error).message}`);
    }
    let body: { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    const error = body?.error;
    if (error && typeof error.code === 'number')
      throw new BridgeError(error.code, typeof error.message === 'string' ? error.message : 'error', error.data);
    if (status === 401) throw noToken();
    if (status !== 200 || !body || !('result' in body))
      throw new BridgeError(UNREACHABLE, `crew-server answered HTTP ${status} without a JSON-RPC result`);
    return body.result as R;
  }

  onNotification(method: string, cb: (params: unknown) => void): () => void {
    const { first, remove } = this.listeners.add(method, cb);
    if (this.token) {
      const events = this.openEvents();
      if (first && method !== RECONNECTED)
        events.addEventListener(method, (ev) => {
          let params: unknown;
          try {
            params = JSON.parse(String(ev.data));
          } catch {
            return;
          }
          this.listeners.emit(method, params);
        });
    }
    return remove;
  }

  /** One stream per page; EventSource reconnects by itself, and a reopen after an error means a re-read. */
  private openEvents(): EventSourceLike {
    if (this.events) return this.events;
    const events = new this.env.EventSource(`../events?token=${encodeURIComponent(this.token!)}`);
    let lost = false;
    events.addEventListener('error', () => (lost = true));
    events.addEventListener('open', () => {
      if (!lost) return;
      lost = false;
      this.listeners.emit(RECONNECTED, undefined);
    });
    this.events = events;
    return events;
  }

  getState<T>(): T | undefined {
    const raw = this.env.sessionStorage.getItem(this.stateKey);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return undefined;
    }
  }

  setState<T>(s: T): void {
    this.env.sessionStorage.setItem(this.stateKey, JSON.stringify(s));
  }

  command(name: WebviewCommand): void {
    const page = (Object.keys(PAGE_COMMANDS) as DashboardPage[]).find((p) => PAGE_COMMANDS[p] === name);
    // The token is in sessionStorage, so the next page of this tab signs in without it in the URL.
    if (page) this.env.location.assign(page);
  }
}

/** The token from `#token=…` (kept, then removed from the address bar), or the one kept earlier in this tab. */
function takeToken(env: BridgeEnv): string | undefined {
  const fromHash = new URLSearchParams(env.location.hash.replace(/^#/, '')).get('token');
  if (fromHash) {
    env.sessionStorage.setItem(TOKEN_KEY, fromHash);
    env.history.replaceState(null, '', env.location.pathname + env.location.search);
    return fromHash;
  }
  return env.sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

function noToken(): BridgeError {
  return new BridgeError(
    UNAUTHORIZED,
    'this page needs the server\'s token: open it with the link that "crew dashboard" prints',
  );
}

/** The form field a server error names (InvalidParams' `data.field`), if any. */
export function errorField(e: unknown): string | undefined {
  if (!(e instanceof BridgeError)) return undefined;
  const data = e.data as { field?: unknown } | undefined;
  return typeof data?.field === 'string' ? data.field : undefined;
}
