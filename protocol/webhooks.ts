/**
 * Webhook subscriptions (issue 6): the server POSTs events to a URL a client registered — how the n8n trigger node
 * starts workflows on budget alerts and finished crew runs (its `webhookMethods` register and unregister). One
 * namespace per method, as in methods.ts. The older `budget/configureAlerts {webhookUrl}` registers a
 * subscription to `budget.alert` only; both kinds are listed here.
 *
 * A delivery is `POST <url>` with a JSON `WebhookDelivery` body and the headers `X-Crew-Event` (the event),
 * `X-Crew-Delivery` (the delivery id, the same on every retry) and, when the subscription has a secret,
 * `X-Crew-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`. A 2xx answer is delivered;
 * anything else is retried in the background with growing delays, then given up (logged).
 *
 * A subscription whose deliveries keep being given up (a receiver that is gone: an n8n workflow unpublished while its
 * credential no longer reached the server, so its subscription was never removed) expires: after
 * `WEBHOOK_EXPIRY.failures` given-up deliveries in a row spanning at least `WEBHOOK_EXPIRY.afterMs`, the server stops
 * delivering to it, logs a warning, and `webhook/list` shows it under `expired` (until `webhook/unregister` removes
 * it). Live subscriptions show their failures in a row, so trouble is visible before that.
 *
 * `WEBHOOK_METHODS` is spread into `METHODS` so the router, the audit log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';
import type { BudgetAlert } from './types';
import type { Run } from './runs';

/**
 * `budget.alert`: every BudgetAlert (kind threshold, blocked, over_limit, downgraded, forecast, anomaly, ledger_drift — filter on
 * `data.kind`); `run.finished`: a crew run ended (any status: completed, failed, cancelled, budget_exceeded).
 */
export type WebhookEvent = 'budget.alert' | 'run.finished';
export const WEBHOOK_EVENTS: readonly WebhookEvent[] = ['budget.alert', 'run.finished'];

export interface WebhookSubscription {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** Only alerts of this budget (budget.alert); null: every budget. */
  budgetId: string | null;
  /** Only this crew's runs and alerts of its scopes (crew name); null: every crew. */
  crew: string | null;
  /** Free text shown in lists, e.g. "n8n: Budget Alert workflow". */
  description: string;
  /** Whether deliveries are signed (the secret itself is never returned). */
  signed: boolean;
  createdAt: string;
  /** Deliveries given up (each after its retries) in a row since the last one that got through; 0 when all is well. */
  failures: number;
  /** When the first of those was given up; null when `failures` is 0. */
  failingSince: string | null;
  /** What the last given-up attempt got, e.g. "answered 404"; null when `failures` is 0. */
  lastFailure: string | null;
  /** When the server stopped delivering to it because its deliveries kept failing; null while it is live. */
  expiredAt: string | null;
}

/** When a subscription expires (see the top of this file); a server can be started with other figures. */
export const WEBHOOK_EXPIRY = { failures: 5, afterMs: 24 * 60 * 60 * 1000 } as const;

export type WebhookDelivery =
  | { id: string; event: 'budget.alert'; at: string; data: BudgetAlert }
  | { id: string; event: 'run.finished'; at: string; data: Run };

// ── webhook/register ───────────────────────────────────────────────────

export namespace WebhookRegister {
  export const method = 'webhook/register';
  export interface Params {
    /** http(s) URL the server POSTs to. */
    url: string;
    /** At least one. */
    events: WebhookEvent[];
    budgetId?: string;
    crew?: string;
    description?: string;
    /** When given, every delivery carries X-Crew-Signature (HMAC-SHA256 of the body). */
    secret?: string;
  }
  export type Result = WebhookSubscription;
  export const type = new RequestType<Params, Result, void>(method);
}

// ── webhook/unregister ─────────────────────────────────────────────────

export namespace WebhookUnregister {
  export const method = 'webhook/unregister';
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
    id: string;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

// ── webhook/list ───────────────────────────────────────────────────────

export namespace WebhookList {
  export const method = 'webhook/list';
  export type Params = Record<string, never> | undefined;
  export interface Result {
    /** The live subscriptions, in registration order. */
    webhooks: WebhookSubscription[];
    /** Subscriptions the server expired (deliveries kept failing), newest first; the 20 most recent are kept. */
    expired: WebhookSubscription[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Spread into `METHODS` (methods.ts). */
export const WEBHOOK_METHODS = {
  [WebhookRegister.method]: { mutating: true },
  [WebhookUnregister.method]: { mutating: true },
  [WebhookList.method]: { mutating: false },
} as const satisfies Record<string, { mutating: boolean }>;
