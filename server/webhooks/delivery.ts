/**
 * Getting one webhook body to one URL: POST it, and retry in the background with growing delays until a 2xx or
 * the last delay, then give up with a log line. Nothing here knows about events or subscriptions (service.ts).
 */
import type { Logger } from '../log';

export interface WebhookRequest {
  url: string;
  /** The exact bytes to send: a signature is computed over them. */
  body: string;
  headers: Record<string, string>;
}

export interface WebhookSender {
  /** The HTTP status; throws when no answer came (refused, reset, timed out, aborted). */
  post(request: WebhookRequest, signal: AbortSignal): Promise<number>;
}

export const fetchWebhookSender: WebhookSender = {
  post: async (request, signal) => {
    const res = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'openrouter-crew', ...request.headers },
      body: request.body,
      // A redirect would resend a signed body to wherever the receiver points (and turn it into a GET on 301/302).
      redirect: 'manual',
      signal,
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  },
};

/** Resolves after `ms`, or at once when `signal` aborts; never keeps the process alive. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export interface OutboxOptions {
  sender: WebhookSender;
  log: Logger;
  /** Wait before each retry; its length is the number of retries. */
  retryDelaysMs: number[];
  /** Per attempt. */
  timeoutMs?: number;
  sleep?: Sleep;
  /** Told how each delivery to a subscription ended: null when it got through, else what its last attempt got. */
  onOutcome?: OutcomeListener;
}

/** How a delivery to subscription `subscriptionId` ended; must not reject (service.ts logs its own failures). */
export type OutcomeListener = (subscriptionId: string, failure: string | null) => Promise<void>;

export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 15_000];

/** What a log line may say about a URL: no credentials, no query (tokens tend to live there). */
export function urlForLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Where WebhookService hands its deliveries: kept in memory (Outbox) or in a shared queue (./queued-outbox.ts). */
export interface DeliveryOutbox {
  /** Starts `work` in the background and tracks it, so drain and close see it; `work` must not reject. */
  track(work: Promise<void>): void;
  /**
   * Sends `request` until it is answered 2xx or the retries run out. `what` names the delivery in the log; the
   * outcome is reported for `subscriptionId`.
   */
  send(request: WebhookRequest, what: string, id: string, subscriptionId: string): void;
  drain(timeoutMs?: number): Promise<void>;
  close(timeoutMs?: number): Promise<void>;
}

/** Deliveries in flight, each retried on its own; `close` waits for them within a bound and abandons the rest. */
export class Outbox implements DeliveryOutbox {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly opts: OutboxOptions) {}

  get pending(): number {
    return this.inFlight.size;
  }

  /** Starts `work` in the background and tracks it, so drain and close see it; `work` must not reject. */
  track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Sends `request` until it is answered 2xx or the retries run out. `what` names the delivery in the log. */
  send(request: WebhookRequest, what: string, _id: string, subscriptionId: string): void {
    this.track(this.attempts(request, what, subscriptionId));
  }

  private async attempts(request: WebhookRequest, what: string, subscriptionId: string): Promise<void> {
    const { sender, log, retryDelaysMs, timeoutMs = 5_000, sleep = timerSleep, onOutcome } = this.opts;
    const signal = this.stopping.signal;
    for (let attempt = 0; ; attempt++) {
      const failure = await attemptOnce(sender, request, signal, timeoutMs);
      if (failure === null) return onOutcome?.(subscriptionId, null);
      const delay = retryDelaysMs[attempt];
      if (delay !== undefined && !signal.aborted) {
        log.debug(`webhook ${urlForLog(request.url)}: ${what} ${failure}; retrying in ${delay} ms`);
        await sleep(delay, signal);
        if (!signal.aborted) continue;
      }
      const why = signal.aborted ? 'the server is stopping' : `${attempt + 1} attempt(s)`;
      log.warn(`webhook ${urlForLog(request.url)} gave up on ${what} (${why}); last: ${failure}`);
      // Cut short by a shutdown, it says nothing about the receiver.
      if (!signal.aborted) await onOutcome?.(subscriptionId, failure);
      return;
    }
  }

  /** Waits for everything in flight, at most `timeoutMs`. */
  async drain(timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Again while work remains: a fan-out in flight adds the sends it starts.
    while (this.inFlight.size) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  /** For shutdown: drain within `timeoutMs`, then abort what is left (each logs that it gave up). */
  async close(timeoutMs = 2_000): Promise<void> {
    await this.drain(timeoutMs);
    if (!this.inFlight.size) return;
    this.stopping.abort();
    // A sender that ignores the abort must not hold the shutdown either.
    await this.drain(500);
  }
}

/** One POST of `request`: null when answered 2xx, else what went wrong. */
export async function attemptOnce(
  sender: WebhookSender,
  request: WebhookRequest,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<string | null> {
  try {
    const status = await sender.post(request, AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
    return status >= 200 && status < 300 ? null : `answered ${status}`;
  } catch (e) {
    return describe(e);
  }
}

function describe(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  if (err?.name === 'AbortError') return 'aborted';
  const cause = err?.cause?.code ?? err?.cause?.message;
  return cause ? `${err.message} (${cause})` : String(err?.message ?? e);
}
