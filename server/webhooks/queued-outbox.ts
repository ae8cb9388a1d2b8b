/**
 * Webhook deliveries through a queue the store shares between instances (on PostgreSQL: a table). Publishing
 * writes the delivery there; every instance's pump claims what is due (one instance per delivery, for a lease),
 * sends it, and removes it when answered 2xx or given up, or puts it back with the next retry's time. So a
 * delivery goes out once however many instances run, and one raised by an instance that stops (or dies) is sent
 * by the others.
 */
import type { Logger } from '../log';
import type { QueuedDelivery, WebhookDeliveryQueue } from '../store/repositories';
import {
  attemptOnce,
  urlForLog,
  type DeliveryOutbox,
  type OutcomeListener,
  type WebhookRequest,
  type WebhookSender,
} from './delivery';

/** How long a claim lasts: longer than an attempt (5 s timeout) with room to spare. */
const CLAIM_LEASE_MS = 30_000;
/** How often a pump looks for due retries and deliveries another instance left. */
const POLL_MS = 1_000;
const CLAIM_BATCH = 16;

export interface QueuedOutboxOptions {
  queue: WebhookDeliveryQueue;
  sender: WebhookSender;
  log: Logger;
  retryDelaysMs: number[];
  timeoutMs?: number;
  pollMs?: number;
  onOutcome?: OutcomeListener;
}

export class QueuedOutbox implements DeliveryOutbox {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private pumping: Promise<void> | undefined;
  private again = false;
  /** The queue could not be read last time (said once per outage, not once per poll). */
  private unreadable = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: QueuedOutboxOptions) {
    this.timer = setInterval(() => this.pump(), opts.pollMs ?? POLL_MS);
    this.timer.unref();
    this.pump();
  }

  track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  send(request: WebhookRequest, what: string, id: string, subscriptionId: string): void {
    const { url, body, headers } = request;
    this.track(
      this.opts.queue.enqueue([{ id, url, body, headers, what, attempt: 0, subscriptionId }]).then(
        () => this.pump(),
        (e: Error) =>
          this.opts.log.error(`webhook ${urlForLog(request.url)}: ${what} could not be queued: ${e.message}`),
      ),
    );
  }

  /** Claims and sends what is due until nothing is; one pass at a time (a call meanwhile asks for another). */
  private pump(): void {
    if (this.stopping.signal.aborted) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    const run = (async () => {
      do {
        this.again = false;
        for (;;) {
          const claimed = await this.opts.queue.claim(CLAIM_BATCH, CLAIM_LEASE_MS);
          if (!claimed.length) break;
          await Promise.all(claimed.map((d) => this.attempt(d)));
          if (this.stopping.signal.aborted) return;
        }
      } while (this.again && !this.stopping.signal.aborted);
      if (this.unreadable) this.opts.log.info('webhook deliveries: the queue can be read again');
      this.unreadable = false;
    })()
      .catch((e: Error) => {
        if (!this.unreadable) this.opts.log.warn(`webhook deliveries: the queue could not be read: ${e.message}`);
        this.unreadable = true;
      })
      .finally(() => (this.pumping = undefined));
    this.pumping = run;
    this.track(run);
  }

  private async attempt(d: QueuedDelivery): Promise<void> {
    const { queue, sender, log, retryDelaysMs, timeoutMs = 5_000, onOutcome } = this.opts;
    const failure = await attemptOnce(sender, d, this.stopping.signal, timeoutMs);
    // Stopping mid-send: the claim runs out and another instance (or the next start) sends it again.
    if (failure !== null && this.stopping.signal.aborted) return;
    if (failure === null) {
      await queue.remove(d.id);
      if (d.subscriptionId) await onOutcome?.(d.subscriptionId, null);
      return;
    }
    const delay = retryDelaysMs[d.attempt];
    if (delay !== undefined) {
      log.debug(`webhook ${urlForLog(d.url)}: ${d.what} ${failure}; retrying in ${delay} ms`);
      await queue.retryLater(d.id, delay, failure);
      // Looked for again when it is due (other instances find it on their next poll).
      setTimeout(() => this.pump(), delay).unref();
      return;
    }
    log.warn(`webhook ${urlForLog(d.url)} gave up on ${d.what} (${d.attempt + 1} attempt(s)); last: ${failure}`);
    await queue.remove(d.id);
    if (d.subscriptionId) await onOutcome?.(d.subscriptionId, failure);
  }

  /** Waits until nothing is in flight here and the queue is empty, at most `timeoutMs`. */
  async drain(timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.inFlight.size && (await this.opts.queue.size().catch(() => 0)) === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops pumping; sends in flight get `timeoutMs`, then are abandoned to their claim's end (others resend). */
  async close(timeoutMs = 2_000): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size && Date.now() < deadline)
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 50))]);
    this.stopping.abort();
  }
}
