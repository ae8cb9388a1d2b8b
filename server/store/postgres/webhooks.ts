/**
 * Webhook subscriptions in crew_webhooks, in registration order (`seq`). As in the local store an id is not
 * unique and removing an id removes every record of it. Read from the database on every call: a webhook
 * registered on one instance is delivered to by every instance at once.
 */
import type { WebhookRecord, WebhookRepository } from '../repositories';
import type { PgDatabase } from './db';
import { translateWriteError } from './shared';

export class PgWebhookRepository implements WebhookRepository {
  constructor(private readonly db: PgDatabase) {}

  async webhooks(): Promise<WebhookRecord[]> {
    const rows = await this.db.query<{ record: WebhookRecord }>('select record from crew_webhooks order by seq');
    return rows.map((r) => r.record);
  }

  async addWebhook(hook: WebhookRecord): Promise<void> {
    try {
      await this.db.query('insert into crew_webhooks (id, record) values ($1, $2)', [hook.id, JSON.stringify(hook)]);
    } catch (e) {
      throw translateWriteError(e);
    }
  }

  async removeWebhook(id: string): Promise<boolean> {
    const rows = await this.db.query('delete from crew_webhooks where id = $1 returning seq', [id]);
    return rows.length > 0;
  }

  async deliveryGivenUp(id: string, at: string, failure: string): Promise<WebhookRecord | undefined> {
    // One statement: two instances giving up on deliveries at once both count.
    const rows = await this.db.query<{ record: WebhookRecord }>(
      `update crew_webhooks set record = record || jsonb_build_object(
         'failures', coalesce((record->>'failures')::int, 0) + 1,
         'failingSince', case when coalesce((record->>'failures')::int, 0) = 0 then to_jsonb($2::text)
                              else record->'failingSince' end,
         'lastFailure', to_jsonb($3::text))
       where id = $1 returning record`,
      [id, at, failure],
    );
    return rows[0]?.record;
  }

  async deliveryDelivered(id: string): Promise<void> {
    await this.db.query(
      `update crew_webhooks set record = record - 'failures' - 'failingSince' - 'lastFailure'
       where id = $1 and record ? 'failures'`,
      [id],
    );
  }

  async expireWebhook(id: string, at: string): Promise<boolean> {
    const rows = await this.db.query(
      `update crew_webhooks set record = record || jsonb_build_object('expiredAt', $2::text)
       where id = $1 and coalesce(record->>'expiredAt', '') = '' returning seq`,
      [id, at],
    );
    return rows.length > 0;
  }
}
