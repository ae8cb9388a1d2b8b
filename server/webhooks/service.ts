/**
 * Webhook subscriptions: registered through webhook/register (or budget/configureAlerts for budget alerts), kept
 * in the store, and fed from the domain events `budget.alert` and `run.finished`. Every matching subscription gets
 * its own delivery (id, signature), sent in the background by the outbox: publishing an event never waits on a
 * receiver. On a shared store the outbox is the store's queue, so each delivery goes out once for the team.
 */
import { randomUUID } from 'node:crypto';
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
import { isAlertHook, requestFor, toSubscription, toWebhook, wants, type EventData } from './subscriptions';

/** Each subscription costs a request per event; past this many, something registers without unregistering. */
export const MAX_WEBHOOKS = 100;

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
}

export class WebhookService {
  private readonly outbox: DeliveryOutbox;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly deps: WebhookServiceDeps) {
    const common = {
      sender: deps.sender ?? fetchWebhookSender,
      log: deps.log,
      retryDelaysMs: deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
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

  async list(): Promise<WebhookSubscription[]> {
    return (await this.deps.repo.webhooks()).map(toSubscription);
  }

  /** budget/configureAlerts {webhookUrl}: a hook for budget alerts, of one budget or all. */
  async addAlertHook(url: string, budgetId: string | null): Promise<void> {
    await this.add({ id: randomUUID(), url, budgetId, createdAt: this.now() });
  }

  /** What budget/configureAlerts and budget/alerts list: the hooks registered through them. */
  async alertHooks(): Promise<Webhook[]> {
    return (await this.deps.repo.webhooks()).filter(isAlertHook).map(toWebhook);
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
    if ((await this.deps.repo.webhooks()).length >= MAX_WEBHOOKS)
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
      if (!wants(r, event, data)) continue;
      const delivery = { id: randomUUID(), event, at, data } as WebhookDelivery;
      this.outbox.send(requestFor(r, delivery), `${event} delivery ${delivery.id}`, delivery.id);
    }
  }
}
