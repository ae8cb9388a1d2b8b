/** The webhook delivery queue on PostgreSQL (migrations/006, 007): claims with FOR UPDATE SKIP LOCKED and a lease. */
import type { QueuedDelivery, WebhookDeliveryQueue } from '../repositories';
import type { PgDatabase } from './db';

export class PgWebhookDeliveryQueue implements WebhookDeliveryQueue {
  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
  ) {}

  async enqueue(deliveries: QueuedDelivery[]): Promise<void> {
    if (!deliveries.length) return;
    await this.db.query(
      `insert into crew_webhook_deliveries (id, url, body, headers, what, attempt, subscription_id)
       select d->>'id', d->>'url', d->>'body', d->'headers', d->>'what', (d->>'attempt')::integer,
              d->>'subscriptionId'
       from jsonb_array_elements($1::jsonb) as d`,
      [JSON.stringify(deliveries)],
    );
  }

  async claim(limit: number, leaseMs: number): Promise<QueuedDelivery[]> {
    const rows = await this.db.query<QueuedDelivery>(
      `update crew_webhook_deliveries d
         set claimed_by = $1, claimed_until = now() + make_interval(secs => $3::double precision / 1000)
       where d.id in (
         select id from crew_webhook_deliveries
         where due_at <= now() and (claimed_until is null or claimed_until < now())
         order by due_at, created_at limit $2
         for update skip locked)
       returning d.id, d.url, d.body, d.headers, d.what, d.attempt, d.subscription_id as "subscriptionId"`,
      [this.instanceId, limit, leaseMs],
    );
    return rows;
  }

  async remove(id: string): Promise<void> {
    await this.db.query('delete from crew_webhook_deliveries where id = $1', [id]);
  }

  async retryLater(id: string, delayMs: number, failure: string): Promise<void> {
    await this.db.query(
      `update crew_webhook_deliveries
         set attempt = attempt + 1, due_at = now() + make_interval(secs => $2::double precision / 1000),
             claimed_by = null, claimed_until = null, last_failure = $3
       where id = $1`,
      [id, delayMs, failure],
    );
  }

  async size(): Promise<number> {
    const [r] = await this.db.query<{ n: number }>('select count(*)::int as n from crew_webhook_deliveries');
    return r!.n;
  }
}
