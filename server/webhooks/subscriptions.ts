/**
 * Subscriptions as plain data: what a stored record looks like to clients, which events it wants, and the bytes
 * and headers one delivery to it carries. Pure functions, so matching and signing are tested without a server.
 */
import { createHmac } from 'node:crypto';
import type { BudgetAlert, Run, Webhook, WebhookDelivery, WebhookEvent, WebhookSubscription } from '../../protocol';
import type { WebhookRecord } from '../store/repositories';

export interface EventData {
  'budget.alert': BudgetAlert;
  'run.finished': Run;
}

/** A `budget/configureAlerts` hook: written without `events`, by that method or before webhook/register existed. */
export const isAlertHook = (r: WebhookRecord): boolean => r.events === undefined;

export const eventsOf = (r: WebhookRecord): WebhookEvent[] => r.events ?? ['budget.alert'];

export function toSubscription(r: WebhookRecord): WebhookSubscription {
  return {
    id: r.id,
    url: r.url,
    events: eventsOf(r),
    budgetId: r.budgetId ?? null,
    crew: r.crew ?? null,
    description: r.description ?? '',
    signed: Boolean(r.secret),
    createdAt: r.createdAt,
    failures: r.failures ?? 0,
    failingSince: r.failures ? (r.failingSince ?? null) : null,
    lastFailure: r.failures ? (r.lastFailure ?? null) : null,
    expiredAt: r.expiredAt ?? null,
  };
}

/** Whether deliveries stopped because they kept failing. */
export const isExpired = (r: WebhookRecord): boolean => Boolean(r.expiredAt);

/** The older shape budget/configureAlerts lists. */
export function toWebhook(r: WebhookRecord): Webhook {
  return { id: r.id, url: r.url, budgetId: r.budgetId ?? null, createdAt: r.createdAt };
}

/** The crew a budget scope belongs to (`crew:<name>`, `agent:<crew>/<agent>`); null for global, model, … scopes. */
export function crewOfScope(scope: string): string | null {
  if (scope.startsWith('crew:')) return scope.slice('crew:'.length) || null;
  const agent = /^agent:([^/]+)\/./.exec(scope);
  return agent ? agent[1]! : null;
}

// Crew names are unique regardless of case (crews/service.ts), so a filter matches them the same way.
const sameCrew = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

export function wants<E extends WebhookEvent>(r: WebhookRecord, event: E, data: EventData[E]): boolean {
  if (!eventsOf(r).includes(event)) return false;
  if (event === 'budget.alert') {
    const alert = data as BudgetAlert;
    if (r.budgetId && r.budgetId !== alert.budgetId) return false;
    if (r.crew) {
      const crew = crewOfScope(alert.scope);
      if (!crew || !sameCrew(crew, r.crew)) return false;
    }
    return true;
  }
  const run = data as Run;
  return !r.crew || sameCrew(run.crew, r.crew) || run.crewId === r.crew;
}

export const HEADER_EVENT = 'X-Crew-Event';
export const HEADER_DELIVERY = 'X-Crew-Delivery';
export const HEADER_SIGNATURE = 'X-Crew-Signature';

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The body and headers of `delivery` to `r`; the same on every retry, so a receiver can de-duplicate by id. */
export function requestFor(
  r: WebhookRecord,
  delivery: WebhookDelivery,
): { url: string; body: string; headers: Record<string, string> } {
  // configureAlerts hooks were POSTed `{type, alert}` before deliveries had a shape of their own; they keep
  // those fields beside the delivery's, so receivers written for either shape work.
  const payload =
    isAlertHook(r) && delivery.event === 'budget.alert'
      ? { ...delivery, type: delivery.event, alert: delivery.data }
      : delivery;
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { [HEADER_EVENT]: delivery.event, [HEADER_DELIVERY]: delivery.id };
  if (r.secret) headers[HEADER_SIGNATURE] = signature(r.secret, body);
  return { url: r.url, body, headers };
}
