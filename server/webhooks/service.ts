/**
 * Webhook subscriptions: registered through webhook/register (or budget/configureAlerts for budget alerts), kept
 * in the store, and fed from the domain events `budget.alert` and `run.finished`. Every matching subscription gets
 * its own delivery (id, signature), sent in the background by the outbox: publishing an event never waits on a
 * receiver. On a shared store the outbox is the store's queue, so each delivery goes out once for the team.
 */
import { randomUUID } from 'node:crypto';
import { WEBHOOK_EXPIRY } from '../../protocol';
import type { Webhook, WebhookDelivery, WebhookEvent, WebhookRegister, WebhookSubscription } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import { errors } from '../errors';
import type { WebhookRecord, WebhookRepository } from '../store/repositories';
import {
  DEFAULT_RETRY_DELAYS_MS,
  fetchWebhookSender,
  Outbox,
  urlForLog,
  type DeliveryOutbox,
  type Sleep,
  type WebhookSender,
} from './delivery';
import { QueuedOutbox } from './queued-outbox';
import type { WebhookDeliveryQueue } from '../store/repositories';
import { isAlertHook, isExpired, requestFor, toSubscription, toWebhook, wants, type EventData } from './subscriptions';

/** Each subscription costs a request per event; past this many, something registers without unregistering. */

/** How much of a failed delivery's error a subscription keeps (a receiver's answer can be any size). */
const MAX_FAILURE_TEXT = 500;
export const MAX_WEBHOOKS = 100;
/** Expired subscriptions kept for webhook/list to show (the newest); older ones are removed. */
export const MAX_EXPIRED_WEBHOOKS = 20;

export interface WebhookExpiry {
  /** Given-up deliveries in a row… */
  failures: number;
  /** …the first of them at least this long ago. */
  afterMs: number;
}

export interface WebhookServiceDeps {
  repo: WebhookRepository;
  events: EventBus;
  clock: Clock;
  log: Logger;
  sender?: WebhookSender;
  /** Waits before each retry (default 1 s, 5 s, 15 s); tests pass short or empty lists. */
  retryDelaysMs?: number[];
  /** Tests make retries instant and record their delays. */
  sleep?: Sleep;
  /** A queue shared with other instances (PostgreSQL): deliveries go through it, each sent once by one of them. */
  queue?: WebhookDeliveryQueue;
  /** When a subscription whose deliveries keep failing expires (default WEBHOOK_EXPIRY). */
  expiry?: WebhookExpiry;
}

export class WebhookService {
  private readonly outbox: DeliveryOutbox;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly deps: WebhookServiceDeps) {
    const common = {
      sender: deps.sender ?? fetchWebhookSender,
      log: deps.log,
      retryDelaysMs: deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      onOutcome: (id: string, failure: string | null) => this.outcome(id, failure),
    };
    this.outbox = deps.queue
      ? new QueuedOutbox({ ...common, queue: deps.queue })
      : new Outbox({ ...common, sleep: deps.sleep });
    this.unsubscribe = [
      deps.events.subscribe('budget.alert', (alert) => this.publish('budget.alert', alert)),
      deps.events.subscribe('run.finished', (run) => this.publish('run.finished', run)),
    ];
  }

  async register(p: WebhookRegister.Params): Promise<WebhookSubscription> {
    const events = [...new Set(p.events)];
    const record: WebhookRecord = {
      id: randomUUID(),
      url: p.url,
      events,
      budgetId: p.budgetId ?? null,
      crew: p.crew ?? null,
      description: p.description ?? '',
      secret: p.secret ?? null,
      createdAt: this.now(),
    };
    await this.add(record);
    this.deps.log.info(`webhook ${record.id} registered: ${urlForLog(record.url)} for ${events.join(', ')}`);
    return toSubscription(record);
  }

  /** Any subscription, whichever method registered it. */
  async unregister(id: string): Promise<{ deleted: true; id: string }> {
    if (!(await this.remove(id))) throw errors.notFound('webhook', id);
    return { deleted: true, id };
  }

  /** The live subscriptions, and those expired (newest first). */
  async list(): Promise<{ webhooks: WebhookSubscription[]; expired: WebhookSubscription[] }> {
    const all = await this.deps.repo.webhooks();
    return {
      webhooks: all.filter((r) => !isExpired(r)).map(toSubscription),
      expired: newestExpiredFirst(all).map(toSubscription),
    };
  }

  /** budget/configureAlerts {webhookUrl}: a hook for budget alerts, of one budget or all. */
  async addAlertHook(url: string, budgetId: string | null): Promise<void> {
    await this.add({ id: randomUUID(), url, budgetId, createdAt: this.now() });
  }

  /** What budget/configureAlerts and budget/alerts list: the hooks registered through them. */
  async alertHooks(): Promise<Webhook[]> {
    return (await this.deps.repo.webhooks()).filter((r) => isAlertHook(r) && !isExpired(r)).map(toWebhook);
  }

  async remove(id: string): Promise<boolean> {
    return this.deps.repo.removeWebhook(id);
  }

  /** For tests: wait for deliveries in flight (retries included), at most `timeoutMs`. */
  drain(timeoutMs?: number): Promise<void> {
    return this.outbox.drain(timeoutMs);
  }

  /** For shutdown: no new deliveries; those in flight get `timeoutMs` to finish, then are abandoned (logged). */
  async close(timeoutMs?: number): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.outbox.close(timeoutMs);
  }

  private async add(record: WebhookRecord): Promise<void> {
    if ((await this.deps.repo.webhooks()).filter((r) => !isExpired(r)).length >= MAX_WEBHOOKS)
      throw errors.conflict(
        `there are already ${MAX_WEBHOOKS} webhooks; unregister one first (webhook/list shows them)`,
      );
    await this.deps.repo.addWebhook(record);
  }

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  /** An event listener: it must neither throw into the publisher nor make it wait. */
  private publish<E extends WebhookEvent>(event: E, data: EventData[E]): void {
    // A copy now: the publisher may change its object after this returns, and every retry must send the same body.
    const snapshot = structuredClone(data);
    const at = this.now();
    this.outbox.track(
      this.fanOut(event, snapshot, at).catch((e: Error) =>
        this.deps.log.error(`webhook deliveries of ${event} could not start: ${e.message}`),
      ),
    );
  }

  private async fanOut<E extends WebhookEvent>(event: E, data: EventData[E], at: string): Promise<void> {
    for (const r of await this.deps.repo.webhooks()) {
      if (isExpired(r) || !wants(r, event, data)) continue;
      const delivery = { id: randomUUID(), event, at, data } as WebhookDelivery;
      this.outbox.send(requestFor(r, delivery), `${event} delivery ${delivery.id}`, delivery.id, r.id);
    }
  }

  /**
   * Counts how a delivery to subscription `id` ended; one given up after too many others, over too long, expires it:
   * a receiver that stays gone (an n8n workflow unpublished while its credential could not reach this server) would
   * otherwise be sent every event, retries and all, for ever.
   */
  private async outcome(id: string, failure: string | null): Promise<void> {
    const { repo, log } = this.deps;
    try {
      if (failure === null) return await repo.deliveryDelivered(id);
      const at = this.now();
      // The receiver's error text is whatever it answered: stored bounded.
      const r = await repo.deliveryGivenUp(id, at, failure.slice(0, MAX_FAILURE_TEXT));
      if (!r || isExpired(r) || !r.failures) return;
      const { failures, afterMs } = this.deps.expiry ?? WEBHOOK_EXPIRY;
      const since = Date.parse(r.failingSince ?? at);
      if (r.failures < failures || this.deps.clock.now() - since < afterMs) return;
      if (!(await repo.expireWebhook(id, at))) return;
      log.warn(
        `webhook ${id} (${urlForLog(r.url)}${r.description ? `, ${r.description}` : ''}) expired: ${r.failures} ` +
          `deliveries in a row given up since ${r.failingSince} (last: ${failure}). It gets nothing more; ` +
          'webhook/list shows it under "expired". Register it again when its receiver is back (an n8n trigger ' +
          'does when its workflow is published again or n8n restarts).',
      );
      await this.pruneExpired();
    } catch (e) {
      log.error(`webhook ${id}: could not record how a delivery ended: ${(e as Error).message}`);
    }
  }

  private async pruneExpired(): Promise<void> {
    const stale = newestExpiredFirst(await this.deps.repo.webhooks()).slice(MAX_EXPIRED_WEBHOOKS);
    for (const r of stale) await this.deps.repo.removeWebhook(r.id);
  }
}

function newestExpiredFirst(records: WebhookRecord[]): WebhookRecord[] {
  return records.filter(isExpired).sort((a, b) => b.expiredAt!.localeCompare(a.expiredAt!));
}
