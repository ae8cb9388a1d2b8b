/**
 * Test clients for crew-server, one per transport, behind one interface (`RpcClient`):
 *  - stdio and socket: vscode-jsonrpc over a pair of streams (the child's pipes, or a net.Socket); cancellation is
 *    a real `$/cancelRequest` sent by a CancellationTokenSource;
 *  - HTTP: `POST /rpc` with fetch and the bearer token; notifications come from a `GET /events` SSE reader;
 *    cancellation closes the HTTP request.
 * Every notification a client receives (including `$/progress`) lands in its `NotificationLog`, which tests wait on.
 */
import type { Readable, Writable } from 'node:stream';
import {
  CancellationTokenSource,
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';

export type Transport = 'stdio' | 'socket' | 'http';

/** A JSON-RPC error answer, as the client received it. */
export class RpcFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcFailure';
  }
}

/** The HTTP client gave up on a request itself (its AbortSignal fired): no answer can be seen. */
export class ClientAborted extends Error {
  constructor() {
    super('the client aborted the HTTP request');
    this.name = 'ClientAborted';
  }
}

export interface RequestOptions {
  /** Cancels the request: `$/cancelRequest` on stdio/socket, closing the request on HTTP. */
  signal?: AbortSignal;
}

export interface Notification {
  method: string;
  params: unknown;
}

/** Records notifications and lets tests wait for one (a signal, bounded by a timeout). */
export class NotificationLog {
  readonly items: Notification[] = [];
  private waiters: { test: (n: Notification) => boolean; resolve: (n: Notification) => void }[] = [];

  push(n: Notification): void {
    this.items.push(n);
    const ready = this.waiters.filter((w) => w.test(n));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(n);
  }

  of<T = unknown>(method: string, pred: (p: T) => boolean = () => true): T[] {
    return this.items.filter((n) => n.method === method && pred(n.params as T)).map((n) => n.params as T);
  }

  clear(): void {
    this.items.length = 0;
  }

  /** The first notification (already received or still to come) of `method` matching `pred`. */
  waitFor<T = unknown>(method: string, pred: (p: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    const test = (n: Notification) => n.method === method && pred(n.params as T);
    const seen = this.items.find(test);
    if (seen) return Promise.resolve(seen.params as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const got = this.items.map((n) => n.method).join(', ') || 'none';
        reject(new Error(`no "${method}" notification matching the test within ${timeoutMs} ms (received: ${got})`));
      }, timeoutMs);
      const waiter = {
        test,
        resolve: (n: Notification) => {
          clearTimeout(timer);
          resolve(n.params as T);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once `count` notifications of `method` matching `pred` have been received. */
  async waitForCount<T = unknown>(
    method: string,
    count: number,
    pred: (p: T) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.of<T>(method, pred);
      if (got.length >= count) return got;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`expected ${count} "${method}" notifications within ${timeoutMs} ms, got ${got.length}`);
      // Wait for the next matching one (a signal), then count again.
      const before = got.length;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`expected ${count} "${method}" notifications within ${timeoutMs} ms, got ${before}`));
        }, left);
        const waiter = {
          test: (n: Notification) => n.method === method && pred(n.params as T),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        this.waiters.push(waiter);
      });
    }
  }
}

export interface RpcClient {
  readonly transport: Transport;
  readonly notifications: NotificationLog;
  /** Sends a request; `params` undefined sends none. Rejects with RpcFailure for an error answer. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<R = any>(method: string, params?: unknown, opts?: RequestOptions): Promise<R>;
  close(): Promise<void>;
}

/** vscode-jsonrpc over two streams (stdio pipes or a socket). */
export class StreamRpcClient implements RpcClient {
  readonly notifications = new NotificationLog();
  private readonly conn: MessageConnection;
  private closed = false;
  private lost = false;

  constructor(
    readonly transport: Transport,
    input: Readable,
    output: Writable,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.conn = createMessageConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
    this.conn.onNotification((method, params) => this.notifications.push({ method, params }));
    // vscode-jsonrpc routes `$/progress` to progress handlers; tokens nobody registered arrive here.
    this.conn.onUnhandledProgress((p) => this.notifications.push({ method: '$/progress', params: p }));
    this.conn.onError(() => undefined);
    // The peer closed: fail pending requests instead of leaving them unanswered.
    this.conn.onClose(() => {
      this.lost = true;
      this.conn.dispose();
    });
    this.conn.listen();
  }

  async request<R>(method: string, params?: unknown, opts: RequestOptions = {}): Promise<R> {
    const cts = new CancellationTokenSource();
    const onAbort = () => cts.cancel();
    if (opts.signal?.aborted) cts.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The token is passed only when there is a signal: an `undefined` last argument would be sent as a param.
      const p =
        params === undefined
          ? opts.signal
            ? this.conn.sendRequest(method, cts.token)
            : this.conn.sendRequest(method)
          : opts.signal
            ? this.conn.sendRequest(method, params, cts.token)
            : this.conn.sendRequest(method, params);
      return (await p) as R;
    } catch (e) {
      if (this.lost)
        throw new Error(`the ${this.transport} connection to crew-server closed before it answered ${method}`, {
          cause: e,
        });
      if (e instanceof ResponseError) throw new RpcFailure(e.code, e.message, e.data);
      throw e;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn.dispose();
    this.onClose();
  }
}

/** `POST /rpc` + an SSE reader on `GET /events`. */
export class HttpRpcClient implements RpcClient {
  readonly transport = 'http' as const;
  readonly notifications = new NotificationLog();
  private nextId = 1;
  private readonly events = new AbortController();

  private constructor(
    readonly baseUrl: string,
    readonly token: string,
    /** Sent as `x-crew-client`; the server derives the client kind (before the `/`) and id from it. */
    readonly clientHeader: string,
  ) {}

  /** Connects and waits until the SSE stream is subscribed (its `: connected` comment arrived). */
  static async connect(baseUrl: string, token: string, clientHeader = 'test/http'): Promise<HttpRpcClient> {
    const c = new HttpRpcClient(baseUrl, token, clientHeader);
    await c.openEvents();
    return c;
  }

  private async openEvents(): Promise<void> {
    const res = await fetch(`${this.baseUrl}/events`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: this.events.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`GET /events answered ${res.status}`);
    let connected!: () => void;
    const ready = new Promise<void>((r) => (connected = r));
    void readSse(res.body, {
      onComment: (text) => {
        if (text.startsWith('connected')) connected();
      },
      onEvent: (event, data) => this.notifications.push({ method: event, params: JSON.parse(data) as unknown }),
    }).catch(() => undefined);
    await withTimeout(ready, 5_000, 'the SSE stream did not say it was connected');
  }

  async request<R>(method: string, params?: unknown, opts: RequestOptions = {}): Promise<R> {
    const body = { jsonrpc: '2.0', id: this.nextId++, method, ...(params === undefined ? {} : { params }) };
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}/rpc`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${this.token}`,
          'x-crew-client': this.clientHeader,
        },
        body: JSON.stringify(body),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      text = await res.text();
    } catch (e) {
      if (opts.signal?.aborted) throw new ClientAborted();
      throw e;
    }
    if (res.status !== 200) throw new Error(`POST /rpc answered HTTP ${res.status}: ${text}`);
    const reply = JSON.parse(text) as { result?: R; error?: { code: number; message: string; data?: unknown } };
    if (reply.error) throw new RpcFailure(reply.error.code, reply.error.message, reply.error.data);
    return reply.result as R;
  }

  async close(): Promise<void> {
    this.events.abort();
  }
}

/** Parses a Server-Sent Events body: `event:`/`data:` fields, comment lines (`:`), blank-line separated. */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  on: { onEvent: (event: string, data: string) => void; onComment?: (text: string) => void },
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) on.onComment?.(line.slice(1).trim());
        else if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) on.onEvent(event, data.join('\n'));
    }
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Expects `p` to reject with an RpcFailure and returns it (fails the test with what it got otherwise). */
export async function rpcError(p: Promise<unknown>, code?: number): Promise<RpcFailure> {
  let result: unknown;
  try {
    result = await p;
  } catch (e) {
    if (!(e instanceof RpcFailure)) throw new Error(`expected an RPC error answer, got ${String(e)}`, { cause: e });
    if (code !== undefined && e.code !== code)
      throw new Error(`expected RPC error ${code}, got ${e.code}: ${e.message} ${JSON.stringify(e.data)}`, {
        cause: e,
      });
    return e;
  }
  throw new Error(
    `expected an RPC error${code !== undefined ? ` ${code}` : ''}, got a result: ${JSON.stringify(result)}`,
  );
}
