/**
 * Params schemas of the webhook methods (protocol/webhooks.ts), spread into server/rpc/schemas.ts's table. Strict
 * like the rest: an unknown field is refused, not ignored. `webhookUrl` is shared with `budget/configureAlerts`.
 */
import { z } from 'zod';
import { WEBHOOK_EVENTS, type WEBHOOK_METHODS, type WebhookEvent } from '../../protocol/webhooks';

const id = z.string().min(1).max(200);

/**
 * http or https, any host: n8n's webhook URLs are `http://localhost:5678/webhook/…`, so plain http and loopback are
 * what a user of this local server expects. Credentials in the URL are refused here because fetch refuses them at
 * delivery time, which would only show up later as a delivery given up in the log.
 */
export const webhookUrl = z
  .string()
  .max(2000)
  .superRefine((text, ctx) => {
    const url = /^\S+$/.test(text) && URL.canParse(text) ? new URL(text) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
      ctx.addIssue({ code: 'custom', message: 'expected an http(s) URL' });
    else if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'a URL with credentials cannot be called; sign with "secret" instead' });
  });

const events = z
  .array(z.enum(WEBHOOK_EVENTS as [WebhookEvent, ...WebhookEvent[]]))
  .min(1, 'expected at least one event')
  .max(20)
  .transform((list) => [...new Set(list)]);

export const webhookSchemas: Record<keyof typeof WEBHOOK_METHODS, z.ZodType> = {
  'webhook/register': z
    .strictObject({
      url: webhookUrl,
      events,
      budgetId: id.optional(),
      crew: z.string().trim().min(1).max(100).optional(),
      description: z.string().max(200).optional(),
      secret: z.string().min(8).max(200).optional(),
    })
    .superRefine((p, ctx) => {
      // A budget filter on a subscription that gets no alerts would silently match nothing.
      if (p.budgetId !== undefined && !p.events.includes('budget.alert'))
        ctx.addIssue({
          code: 'custom',
          path: ['budgetId'],
          message: 'filters budget.alert deliveries only; add that event or drop the filter',
        });
    }),
  'webhook/unregister': z.strictObject({ id }),
  'webhook/list': z.union([z.strictObject({}), z.undefined(), z.null()]),
};
