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
}
