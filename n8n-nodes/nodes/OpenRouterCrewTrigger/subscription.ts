/**
 * The trigger's webhook subscription with crew-server (n8n's `webhookMethods`): n8n calls `create` when the workflow
 * is activated (or a test listens), `delete` when it is deactivated, and `checkExists` before creating — also at every
 * n8n start for active workflows, so an existing subscription that still fits is kept with its secret. The
 * subscription's id and secret live in the node's static data; the secret signs every delivery.
 */
import type { IDataObject, IHookFunctions, IPollFunctions, IWebhookFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { ErrorCodes, WebhookList, WebhookRegister, WebhookUnregister } from '../shared/protocol.generated';
import type { WebhookSubscription } from '../shared/protocol.generated';
import { compact } from '../shared/params';
import { callRpc } from '../shared/rpc';
import { serverEvents, triggerSettings, wantsAlerts, type TriggerSettings } from './events';
import { newSecret } from './signature';

export const WEBHOOK_NAME = 'default';

/** What the node keeps in its static data between activations. */
export interface SubscriptionState {
  subscriptionId?: string;
  secret?: string;
}

export function settingsOf(ctx: IHookFunctions | IWebhookFunctions | IPollFunctions): TriggerSettings {
  return triggerSettings(ctx.getNodeParameter('events', []), ctx.getNodeParameter('options', {}) as IDataObject);
}

export function subscriptionState(ctx: IHookFunctions | IWebhookFunctions): SubscriptionState {
  return ctx.getWorkflowStaticData('node');
}

/** The params that register `url` for these settings. */
export function registration(url: string, s: TriggerSettings, secret: string, description: string) {
  return compact<WebhookRegister.Params>({
    url,
    events: serverEvents(s),
    secret,
    description: description.slice(0, 200),
    // The server refuses a budget filter on a subscription without budget alerts (it would match nothing).
    budgetId: wantsAlerts(s) ? s.budgetId : undefined,
    crew: s.crew,
  });
}

/** Whether the server's subscription is the one these settings would register at `url`. */
export function fits(sub: WebhookSubscription, url: string, s: TriggerSettings): boolean {
  const want = registration(url, s, '', '');
  const sameEvents = sub.events.length === want.events.length && want.events.every((e) => sub.events.includes(e));
  return (
    sub.url === url &&
    sub.signed &&
    sameEvents &&
    sub.budgetId === (want.budgetId ?? null) &&
    (sub.crew ?? '').toLowerCase() === (want.crew ?? '').toLowerCase()
  );
}

function webhookUrl(ctx: IHookFunctions): string {
  const url = ctx.getNodeWebhookUrl(WEBHOOK_NAME);
  if (!url) throw new NodeOperationError(ctx.getNode(), 'n8n gave this trigger no webhook URL');
  return url;
}

async function unregister(ctx: IHookFunctions, id: string): Promise<void> {
  try {
    await callRpc<WebhookUnregister.Result>(ctx, WebhookUnregister.method, { id } satisfies WebhookUnregister.Params);
  } catch (error) {
    // Already gone (removed by hand, or the server's data was reset): that is what delete wanted.
    if ((error as { context?: IDataObject }).context?.rpcCode !== ErrorCodes.NotFound) throw error;
  }
}

export async function checkExists(this: IHookFunctions): Promise<boolean> {
  const state = subscriptionState(this);
  if (!state.subscriptionId) return false;
  const { webhooks, expired = [] } = await callRpc<WebhookList.Result>(this, WebhookList.method);
  const sub = webhooks.find((w) => w.id === state.subscriptionId);
  if (sub && state.secret && fits(sub, webhookUrl(this), settingsOf(this))) return true;
  // Changed settings or a new n8n URL: replace it rather than leave a stale subscription delivering elsewhere. One the
  // server expired (its deliveries kept failing while this n8n was unreachable) is replaced too.
  const stale = sub ?? expired.find((w) => w.id === state.subscriptionId);
  if (stale) await unregister(this, stale.id);
  delete state.subscriptionId;
  delete state.secret;
  return false;
}

export async function create(this: IHookFunctions): Promise<boolean> {
  const s = settingsOf(this);
  if (s.events.length === 0) throw new NodeOperationError(this.getNode(), 'Choose at least one event');
  const workflow = this.getWorkflow();
  const secret = newSecret();
  const sub = await callRpc<WebhookRegister.Result>(
    this,
    WebhookRegister.method,
    registration(webhookUrl(this), s, secret, `n8n: ${workflow.name ?? workflow.id} / ${this.getNode().name}`),
  );
  const state = subscriptionState(this);
  state.subscriptionId = sub.id;
  state.secret = secret;
  return true;
}

// Named for n8n's webhookMethods key; `delete` is a reserved word for a function name.
export async function remove(this: IHookFunctions): Promise<boolean> {
  const state = subscriptionState(this);
  if (state.subscriptionId) await unregister(this, state.subscriptionId);
  delete state.subscriptionId;
  delete state.secret;
  return true;
}
