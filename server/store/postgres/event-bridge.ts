/**
 * One team, one stream of events: what an instance tells its own clients (budget alerts, spend recorded, store
 * changes, run progress, memory changes) also goes out on `crew_events` (NOTIFY), and every other instance on the
 * database tells its clients too. Only client notifications cross: webhooks and alerts are raised once, by the
 * instance where they happened.
 */
import type { Logger } from '../../log';
import type { PgDatabase } from './db';

export const EVENTS_CHANNEL = 'crew_events';
/** NOTIFY payloads must stay under 8000 bytes; a bigger notification (a long streamed delta) stays local. */
const MAX_PAYLOAD = 7_800;

export class PgEventBridge {
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /** Starts delivering other instances' notifications to `deliver`. */
  async start(deliver: (method: string, params: unknown) => void): Promise<void> {
    this.unlisten = await this.db.listen(EVENTS_CHANNEL, {
      notify: (payload) => {
        try {
          const m = JSON.parse(payload) as { instance: string; method: string; params: unknown };
          if (m.instance !== this.instanceId) deliver(m.method, m.params);
        } catch (e) {
          this.log.warn(`ignored a malformed ${EVENTS_CHANNEL} notification: ${(e as Error).message}`);
        }
      },
    });
  }

  /** Sends one of this instance's notifications to the others (best effort: clients re-read state on reconnect). */
  send(method: string, params: unknown): void {
    const payload = JSON.stringify({ instance: this.instanceId, method, params });
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) return;
    this.db
      .notify(EVENTS_CHANNEL, payload)
      .catch((e: Error) => this.log.warn(`could not share ${method} with the other instances: ${e.message}`));
  }

  stop(): void {
    this.unlisten?.();
  }
}
