/**
 * Long computations share the server's one thread with every client. A Pacer lets them run in slices: callers
 * `await pace.tick()` at natural boundaries (a chunk of points, a Lloyd iteration, a k), and the pacer yields to
 * the event loop once a slice has run for `sliceMs`. Yielding is also what makes cancellation work at all — an
 * AbortSignal only flips when its abort() runs, which cannot happen while a synchronous loop holds the thread.
 * Wall time here decides only *when* we yield, never a result, so results stay deterministic.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ErrorCodes } from '../../../protocol';
import { DomainError } from '../../errors';

/**
 * Thrown when the caller's signal aborts. It is an DomainError with LSP's RequestCancelled code, so it reaches
 * clients as a cancellation without mapping, and is named `AbortError` like the DOM's, so generic
 * `e.name === 'AbortError'` checks recognise it too.
 */
export class ClusteringCancelled extends DomainError {
  constructor(what: string, reason?: unknown) {
    super(ErrorCodes.RequestCancelled, `${what} cancelled`);
    this.name = 'AbortError';
    if (reason !== undefined) this.cause = reason;
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ClusteringCancelled(what, signal.reason);
}

export class Pacer {
  private sliceStart = performance.now();

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
    private readonly sliceMs = 10,
  ) {}

  /** Throws if aborted; yields to the event loop when the current slice has run long enough. */
  async tick(): Promise<void> {
    throwIfAborted(this.signal, this.what);
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    await yieldToLoop();
    this.sliceStart = performance.now();
    throwIfAborted(this.signal, this.what);
  }
}
