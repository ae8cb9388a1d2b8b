/**
 * Mocha-level helpers: a fake OpenRouter per describe, a real server per describe (shared by its tests), the
 * same cases over every transport, and bounded condition waits.
 */
import { startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import type { RpcClient, Transport } from './rpc';
import { removeTempDir, startServer, type ServerOptions, type ServerProcess } from './server';

export const TRANSPORTS: readonly Transport[] = ['stdio', 'socket', 'http'];

/** Runs the cases `fn` declares once per transport, each in its own describe. */
export function forEachTransport(fn: (transport: Transport) => void): void {
  for (const t of TRANSPORTS) describe(`over ${t}`, () => fn(t));
}

export interface FakeHandle {
  fake: FakeOpenRouter;
}

/** A fake OpenRouter for this describe; its behaviour is reset after each test. */
export function useFake(): FakeHandle {
  const h = {} as FakeHandle;
  before(async () => {
    h.fake = await startFakeOpenRouter({ port: 0 });
  });
  afterEach(() => h.fake?.behave({}));
  after(async () => {
    await h.fake?.close();
  });
  return h;
}

export interface ServerHandle {
  server: ServerProcess;
  client: RpcClient;
}

/**
 * A real server for this describe (started in `before`, stopped with SIGTERM in `after`, data dir removed).
 * `opts` is a function so it can use values (the fake's url) known only once other hooks ran.
 */
export function useServer(opts: () => ServerOptions): ServerHandle {
  const h = {} as ServerHandle;
  before(async function () {
    this.timeout(30_000);
    Object.assign(h, await startServer(opts()));
  });
  after(async function () {
    this.timeout(30_000);
    if (!h.server) return;
    const exit = await h.server.stop();
    await removeTempDir(h.server.dataDir);
    if (exit.code !== 0)
      throw new Error(`crew-server exited with ${exit.code ?? exit.signal} on SIGTERM:\n${h.server.stderr}`);
  });
  return h;
}

/**
 * Waits until `probe` returns a truthy value (re-checked every `intervalMs`), bounded by `timeoutMs`. For state
 * that only changes as a side effect elsewhere (a background reconcile, a peer noticing a closed socket).
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A fresh promise with its resolver, for tests that wait on a callback. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Picodollars (1e-12 USD) of a decimal string, exactly; for comparing costs without float error. */
export function pico(decimal: string | number): bigint {
  const text = typeof decimal === 'number' ? String(decimal) : decimal;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = m[2] ?? '';
  const exp = Number(m[3] ?? 0) - frac.length + 12;
  const digits = BigInt((m[1] ?? '0') + frac);
  if (exp >= 0) return digits * 10n ** BigInt(exp);
  const div = 10n ** BigInt(-exp);
  if (digits % div !== 0n) throw new Error(`${text} has more than 12 decimals`);
  return digits / div;
}

export const USER = (content: string) => [{ role: 'user' as const, content }];

/** The exact decimal text of a picodollar amount ("0.0000105"). */
export function decimal(p: bigint): string {
  const neg = p < 0n;
  const abs = neg ? -p : p;
  const frac = (abs % 10n ** 12n).toString().padStart(12, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / 10n ** 12n}${frac ? '.' + frac : ''}`;
}

/** A picodollar amount as a JSON number of USD (exact when it has few significant digits). */
export function usd(p: bigint): number {
  return Number(decimal(p));
}
