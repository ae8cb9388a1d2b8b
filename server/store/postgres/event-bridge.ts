/**
 * One team, one stream of events: what an instance tells its own clients (budget alerts, spend recorded, store
 * changes, run progress, memory changes) also goes out on `crew_events` (NOTIFY), and every other instance on the
 * database tells its clients too. Only client notifications cross: webhooks and alerts are raised once, by the
 * instance where they happened.
 *
 * Every call raises an event, so they travel in rounds (./batcher.ts): the events raised while one NOTIFY is in
 * flight (or in the short pause after it) go together in the next, several to a payload, `{"instance": …, "events": [{method, params}, …]}` (a
 * payload of one event, `{"instance", "method", "params"}`, from an instance of the first release, is read too).
 */
import type { Logger } from '../../log';
import { Batcher } from './batcher';
import type { PgDatabase } from './db';

export const EVENTS_CHANNEL = 'crew_events';
/** NOTIFY payloads must stay under 8000 bytes; a bigger notification (a long streamed delta) stays local. */
const MAX_PAYLOAD = 7_800;
/**
 * After a send, the next waits this long: under load that is a NOTIFY per 25 ms instead of one per call or two,
 * and the other instances' clients still hear of a call well within the second they are promised.
 */
const SEND_PAUSE_MS = 25;

interface Shared {
  instance: string;
  method?: string;
  params?: unknown;
  events?: { method: string; params: unknown }[];
}

export class PgEventBridge {
  private unlisten: (() => void) | undefined;
  private stopped = false;
  private readonly outbox: Batcher<string, undefined>;
  /** How a payload of this instance starts: its own notifications come back to it and are skipped unparsed. */
  private readonly ownPrefix: string;
  /** A payload's bytes around its events: the prefix (an ASCII id), `"events":[` and `]}`. */
  private readonly envelopeBytes: number;

  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {
    this.ownPrefix = `{"instance":${JSON.stringify(instanceId)},`;
    this.envelopeBytes = Buffer.byteLength(this.ownPrefix) + '"events":[]}'.length;
    this.outbox = new Batcher(
      async (events) => {
        await this.db.query('select pg_notify($1, p) from unnest($2::text[]) as p', [
          EVENTS_CHANNEL,
          this.pack(events),
        ]);
        return events.map(() => undefined);
      },
      () => true,
      256,
      SEND_PAUSE_MS,
    );
  }

  /** Events (JSON texts) packed into as few payloads as fit, in order. */
  private pack(events: string[]): string[] {
    const out: string[] = [];
    let current: string[] = [];
    let size = this.envelopeBytes;
    for (const e of events) {
      // Bytes, not characters: NOTIFY's limit is in bytes, and an event may hold any text.
      const bytes = Buffer.byteLength(e) + 1;
      if (current.length && size + bytes > MAX_PAYLOAD) {
        out.push(`${this.ownPrefix}"events":[${current.join(',')}]}`);
        current = [];
        size = this.envelopeBytes;
      }
      current.push(e);
      size += bytes;
    }
    if (current.length) out.push(`${this.ownPrefix}"events":[${current.join(',')}]}`);
    return out;
  }

  /** Starts delivering other instances' notifications to `deliver`. */
  async start(deliver: (method: string, params: unknown) => void): Promise<void> {
    this.unlisten = await this.db.listen(EVENTS_CHANNEL, {
      notify: (payload) => {
        if (payload.startsWith(this.ownPrefix)) return;
        try {
          const m = JSON.parse(payload) as Shared;
          if (m.instance === this.instanceId) return;
          if (Array.isArray(m.events)) for (const e of m.events) deliver(e.method, e.params);
          else if (typeof m.method === 'string') deliver(m.method, m.params);
        } catch (e) {
          this.log.warn(`ignored a malformed ${EVENTS_CHANNEL} notification: ${(e as Error).message}`);
        }
      },
    });
  }

  /** Sends one of this instance's notifications to the others (best effort: clients re-read state on reconnect). */
  send(method: string, params: unknown): void {
    if (this.stopped) return;
    const event = JSON.stringify({ method, params });
    if (Buffer.byteLength(event) + this.envelopeBytes > MAX_PAYLOAD) return;
    this.outbox.submit(event).catch((e: Error) => {
      if (!this.stopped) this.log.warn(`could not share ${method} with the other instances: ${e.message}`);
    });
  }

  stop(): void {
    this.stopped = true;
    this.unlisten?.();
  }
}
