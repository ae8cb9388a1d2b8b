/**
 * The dashboards' bridge without a browser: the VS Code postMessage protocol (ready, requests matched to responses
 * by id, server errors kept whole, notifications, state, commands) against a fake acquireVsCodeApi, and the HTTP
 * bridge (JSON-RPC bodies on POST /rpc with the bearer token, SSE notifications, the token taken from the URL
 * fragment and removed from the address bar, sessionStorage state) against a fake fetch and EventSource. Also the
 * message guards the extension relies on, and the notification-driven refresh scheduling.
 */
import assert from 'node:assert/strict';
import {
  BridgeError,
  createBridge,
  errorField,
  HttpBridge,
  RECONNECTED,
  UNREACHABLE,
  VsCodeBridge,
  type BridgeEnv,
  type EventSourceLike,
} from '../../webviews/src/bridge';
import { isHostToWebview, isWebviewToHost, PAGE_COMMANDS } from '../../webviews/src/messages';
import { Refresher, type Timers } from '../../webviews/src/refresh';

class FakeStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

class FakeEventSource implements EventSourceLike {
  static all: FakeEventSource[] = [];
  readonly listeners = new Map<string, ((ev: { data?: unknown }) => void)[]>();
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, l: (ev: { data?: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close(): void {
    this.closed = true;
  }
  emit(type: string, data?: string): void {
    for (const l of this.listeners.get(type) ?? []) l({ data });
  }
}

interface FetchCall {
  url: string;
  init: { method: string; headers: Record<string, string>; body: string };
}

function env(over: Partial<BridgeEnv> & { hash?: string } = {}) {
  const posted: unknown[] = [];
  let state: unknown;
  let onMessage: ((ev: { data: unknown }) => void) | undefined;
  const calls: FetchCall[] = [];
  const replaced: string[] = [];
  const assigned: string[] = [];
  let reply: (c: FetchCall) => Promise<{ status: number; text(): Promise<string> }> = async () => ({
    status: 200,
    text: async () => '{"jsonrpc":"2.0","id":1,"result":null}',
  });
  const e: BridgeEnv = {
    addEventListener: (_t, l) => (onMessage = l),
    fetch: (url, init) => {
      const c = { url, init };
      calls.push(c);
      return reply(c);
    },
    EventSource: FakeEventSource,
    sessionStorage: new FakeStorage(),
    location: {
      hash: over.hash ?? '',
      pathname: '/dashboard/costs',
      search: '',
      assign: (u) => void assigned.push(u),
    },
    history: { replaceState: (_d, _u, url) => void replaced.push(url ?? '') },
    ...over,
  };
  return {
    env: e,
    posted,
    calls,
    replaced,
    assigned,
    vscode: {
      postMessage: (m: unknown) => void posted.push(m),
      getState: () => state,
      setState: (s: unknown) => void (state = s),
    },
    host: (data: unknown) => onMessage!({ data }),
    reply: (fn: typeof reply) => (reply = fn),
  };
}

const json = (status: number, body: unknown) => async () => ({ status, text: async () => JSON.stringify(body) });

describe('webviews: bridge', () => {
  beforeEach(() => (FakeEventSource.all = []));

  describe('inside VS Code (postMessage)', () => {
    function vs() {
      const t = env();
      t.env.acquireVsCodeApi = () => t.vscode;
      const bridge = createBridge('budgets', t.env);
      return { ...t, bridge };
    }

    it('is chosen when acquireVsCodeApi exists, and says ready with its page first', () => {
      const t = vs();
      assert.ok(t.bridge instanceof VsCodeBridge);
      assert.equal(t.bridge.host, 'vscode');
      assert.deepEqual(t.posted, [{ type: 'ready', page: 'budgets' }]);
    });

    it('matches responses to requests by id, in any order, and keeps server errors whole', async () => {
      const t = vs();
      const a = t.bridge.request('budget/status', {});
      const b = t.bridge.request('budget/set', { scope: 'global' });
      const [ra, rb] = t.posted.slice(1) as { id: number; method: string; params: unknown; type: string }[];
      assert.deepEqual(ra, { type: 'request', id: ra!.id, method: 'budget/status', params: {} });
      assert.equal(rb!.method, 'budget/set');
      assert.notEqual(ra.id, rb!.id);
      t.host({ type: 'response', id: 999, result: 'nobody asked' });
      t.host({
        type: 'response',
        id: rb!.id,
        error: { code: -32602, message: 'invalid params: limitUsd: required', data: { field: 'limitUsd' } },
      });
      t.host({ type: 'response', id: ra.id, result: { budgets: [] } });
      assert.deepEqual(await a, { budgets: [] });
      const err = await b.then(
        () => assert.fail('should have failed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BridgeError);
      assert.equal(err.code, -32602);
      assert.equal(err.message, 'invalid params: limitUsd: required');
      assert.deepEqual(err.data, { field: 'limitUsd' });
      assert.equal(errorField(err), 'limitUsd');
    });

    it('passes notifications to the subscribers of that method until they unsubscribe; ignores foreign messages', () => {
      const t = vs();
      const got: unknown[] = [];
      const off = t.bridge.onNotification('usage/recorded', (p) => got.push(p));
      t.bridge.onNotification('budget/alert', () => got.push('alert'));
      t.host({ type: 'notification', method: 'usage/recorded', params: { id: 1 } });
      t.host({ something: 'from VS Code itself' });
      t.host({ type: 'response', id: 'not a number' });
      off();
      t.host({ type: 'notification', method: 'usage/recorded', params: { id: 2 } });
      t.host({ type: 'notification', method: 'budget/alert', params: {} });
      assert.deepEqual(got, [{ id: 1 }, 'alert']);
    });

    it('keeps state through the VS Code API and posts commands', () => {
      const t = vs();
      assert.equal(t.bridge.getState(), undefined);
      t.bridge.setState({ draft: { limit: '5' } });
      assert.deepEqual(t.bridge.getState(), { draft: { limit: '5' } });
      t.bridge.command('openrouterCrew.openMemory', [{ id: 'm1', crew: 'ops' }]);
      t.bridge.command(PAGE_COMMANDS.costs);
      assert.deepEqual(t.posted.slice(1), [
        { type: 'command', command: 'openrouterCrew.openMemory', args: [{ id: 'm1', crew: 'ops' }] },
        { type: 'command', command: 'openrouterCrew.openCostsDashboard' },
      ]);
    });
  });

  describe('in a browser (HTTP)', () => {
    it('takes the token from the fragment, keeps it for the tab and removes it from the address bar', () => {
      const t = env({ hash: '#token=s3cret' });
      const bridge = createBridge('costs', t.env);
      assert.ok(bridge instanceof HttpBridge);
      assert.equal(bridge.host, 'browser');
      assert.ok(bridge.signedIn);
      assert.deepEqual(t.replaced, ['/dashboard/costs']);
      // The next page of the tab has no fragment and still signs in.
      const next = new HttpBridge('budgets', { ...t.env, location: { ...t.env.location, hash: '' } });
      assert.ok(next.signedIn);
    });

    it('sends JSON-RPC 2.0 bodies to POST /rpc with the bearer token and returns the result', async () => {
      const t = env({ hash: '#token=s3cret' });
      t.reply(json(200, { jsonrpc: '2.0', id: 1, result: { total: { costUsd: 1.5 } } }));
      const bridge = createBridge('costs', t.env);
      assert.deepEqual(await bridge.request('cost/report', { by: 'model' }), { total: { costUsd: 1.5 } });
      await bridge.request('server/info');
      const [first, second] = t.calls;
      assert.equal(first!.url, '../rpc', 'relative to the page, so a path prefix (a proxy) is kept');
      assert.equal(first!.init.method, 'POST');
      assert.equal(first!.init.headers.authorization, 'Bearer s3cret');
      assert.equal(first!.init.headers['content-type'], 'application/json');
      const body = JSON.parse(first!.init.body) as { id: number };
      assert.deepEqual(body, { jsonrpc: '2.0', id: body.id, method: 'cost/report', params: { by: 'model' } });
      assert.ok(!('params' in (JSON.parse(second!.init.body) as object)), 'no params: none sent');
    });

    it('rejects with the server error (code, message, data), 401 as Unauthorized, no answer as unreachable', async () => {
      const t = env({ hash: '#token=s3cret' });
      const bridge = createBridge('budgets', t.env);
      t.reply(
        json(200, {
          jsonrpc: '2.0',
          id: 1,
          error: { code: -32602, message: 'invalid params: scope: bad', data: { field: 'scope' } },
        }),
      );
      const e1 = (await bridge.request('budget/set', {}).catch((e: unknown) => e)) as BridgeError;
      assert.deepEqual([e1.code, e1.message, e1.data], [-32602, 'invalid params: scope: bad', { field: 'scope' }]);
      t.reply(json(401, { jsonrpc: '2.0', id: null, error: { code: 1005, message: 'missing or wrong bearer token' } }));
      const e2 = (await bridge.request('budget/status', {}).catch((e: unknown) => e)) as BridgeError;
      assert.deepEqual([e2.code, e2.message], [1005, 'missing or wrong bearer token']);
      t.reply(async () => {
        throw new TypeError('Failed to fetch');
      });
      const e3 = (await bridge.request('budget/status', {}).catch((e: unknown) => e)) as BridgeError;
      assert.equal(e3.code, UNREACHABLE);
      assert.match(e3.message, /not reachable: Failed to fetch/);
    });

    it('without a token, asks for the link instead of calling the server', async () => {
      const t = env();
      const bridge = new HttpBridge('archive', t.env);
      assert.ok(!bridge.signedIn);
      const e = (await bridge.request('archive/list', {}).catch((x: unknown) => x)) as BridgeError;
      assert.equal(e.code, 1005);
      assert.match(e.message, /crew dashboard/);
      assert.equal(t.calls.length, 0);
      bridge.onNotification('usage/recorded', () => undefined);
      assert.equal(FakeEventSource.all.length, 0);
    });

    it('opens one event stream with the token and dispatches events by name; a reconnect asks for a re-read', () => {
      const t = env({ hash: '#token=a b' });
      const bridge = createBridge('costs', t.env);
      const got: unknown[] = [];
      bridge.onNotification('usage/recorded', (p) => got.push(['usage', p]));
      bridge.onNotification('budget/alert', (p) => got.push(['alert', p]));
      bridge.onNotification(RECONNECTED, () => got.push('reconnected'));
      assert.equal(FakeEventSource.all.length, 1);
      const es = FakeEventSource.all[0]!;
      assert.equal(es.url, '../events?token=a%20b');
      es.emit('open');
      es.emit('usage/recorded', '{"id":7}');
      es.emit('budget/alert', 'not json');
      es.emit('error');
      es.emit('open');
      assert.deepEqual(got, [['usage', { id: 7 }], 'reconnected']);
    });

    it('keeps page state in sessionStorage per page; dashboard commands navigate, others do nothing', () => {
      const t = env({ hash: '#token=x' });
      const costs = createBridge('costs', t.env);
      costs.setState({ days: 7 });
      assert.deepEqual(costs.getState(), { days: 7 });
      assert.equal(new HttpBridge('budgets', t.env).getState(), undefined);
      costs.command(PAGE_COMMANDS.archive);
      costs.command('openrouterCrew.openMemory', [{ id: 'm', crew: 'c' }]);
      assert.deepEqual(t.assigned, ['archive']);
    });
  });

  describe('message guards (shared with the extension)', () => {
    it('accept the protocol and nothing else', () => {
      assert.ok(isHostToWebview({ type: 'response', id: 1, result: 3 }));
      assert.ok(isHostToWebview({ type: 'response', id: 1, error: { code: 1, message: 'x' } }));
      assert.ok(isHostToWebview({ type: 'notification', method: 'usage/recorded', params: {} }));
      assert.ok(!isHostToWebview({ type: 'response', id: 1, error: { message: 'no code' } }));
      assert.ok(!isHostToWebview({ type: 'request', id: 1, method: 'x' }));
      assert.ok(!isHostToWebview(null));
      assert.ok(isWebviewToHost({ type: 'ready', page: 'costs' }));
      assert.ok(!isWebviewToHost({ type: 'ready', page: 'settings' }));
      assert.ok(isWebviewToHost({ type: 'request', id: 2, method: 'budget/status', params: {} }));
      assert.ok(isWebviewToHost({ type: 'command', command: 'openrouterCrew.openMemory', args: [{ id: 'm' }] }));
      assert.ok(!isWebviewToHost({ type: 'command', command: 'workbench.action.terminal.new' }));
    });
  });
});

describe('webviews: refresh on notifications', () => {
  class ManualTimers implements Timers {
    private next = 1;
    readonly pending = new Map<number, () => void>();
    setTimeout(cb: () => void): unknown {
      const id = this.next++;
      this.pending.set(id, cb);
      return id;
    }
    clearTimeout(handle: unknown): void {
      this.pending.delete(handle as number);
    }
    fire(): void {
      const cbs = [...this.pending.values()];
      this.pending.clear();
      for (const cb of cbs) cb();
    }
  }

  it('a burst of notifications makes one re-read', async () => {
    const timers = new ManualTimers();
    let loads = 0;
    const r = new Refresher(async () => void loads++, 250, timers);
    for (let i = 0; i < 5; i++) r.schedule();
    assert.equal(timers.pending.size, 1);
    timers.fire();
    await r.now();
    assert.equal(loads, 2, 'the scheduled read, then the explicit one');
  });

  it('a re-read asked for during one runs once more afterwards, and a failure does not stop the next', async () => {
    let release!: () => void;
    let loads = 0;
    const r = new Refresher(async () => {
      loads++;
      if (loads === 1) await new Promise<void>((res) => (release = res));
      if (loads === 2) throw new Error('server gone');
    });
    const first = r.now();
    const second = r.now();
    const third = r.now();
    release();
    await Promise.all([first, second, third]);
    assert.equal(loads, 2, 'the reads asked for during the first ran as one');
    await r.now();
    assert.equal(loads, 3);
  });
});
