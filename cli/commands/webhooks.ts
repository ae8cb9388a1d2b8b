/**
 * `crew webhook add|list|remove`: subscriptions the server POSTs events to (budget alerts, finished runs), e.g. an
 * n8n Webhook node's URL. Ids may be abbreviated to a unique prefix (tables show the first 8 characters).
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  WEBHOOK_EVENTS,
  WebhookList,
  WebhookRegister,
  WebhookUnregister,
  type WebhookEvent,
  type WebhookSubscription,
} from '../../protocol';
import type { CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { UsageError } from '../errors';
import { when, type Column } from '../output';
import { resolveBudgetId } from './budget';
import { example } from './help';

const shortId = (id: string) => id.slice(0, 8);

/** `--event budget.alert --event run.finished`, or comma-separated. */
function eventList(value: string, previous: WebhookEvent[] | undefined): WebhookEvent[] {
  const events = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const bad = events.find((e) => !WEBHOOK_EVENTS.includes(e as WebhookEvent));
  if (bad !== undefined || events.length === 0)
    throw new InvalidArgumentError(`expected ${WEBHOOK_EVENTS.join(' or ')}`);
  return [...new Set([...(previous ?? []), ...(events as WebhookEvent[])])];
}

function columns(ctx: Context): Column<WebhookSubscription>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (w) => (list ? w.id : shortId(w.id)) },
    { key: 'url', header: 'URL' },
    { key: 'events', header: 'EVENTS' },
    { key: 'crew', header: 'CREW', text: (w) => w.crew ?? 'all' },
    {
      key: 'budgetId',
      header: 'BUDGET',
      text: (w) => (w.budgetId ? (list ? w.budgetId : shortId(w.budgetId)) : 'all'),
    },
    { key: 'signed', header: 'SIGNED', text: (w) => (w.signed ? 'yes' : 'no') },
    { key: 'expiredAt', header: 'DELIVERIES', text: deliveryState },
    { key: 'createdAt', header: 'CREATED', text: (w) => (list ? w.createdAt : when(w.createdAt)) },
    { key: 'description', header: 'DESCRIPTION', text: (w) => w.description || '—' },
  ];
}

/** Whether deliveries get through: failures in a row are shown, and an expired subscription says so. */
function deliveryState(w: WebhookSubscription): string {
  if (w.expiredAt) return `expired ${when(w.expiredAt)} after ${w.failures} failures (${w.lastFailure ?? '?'})`;
  return w.failures ? `${w.failures} failed in a row (${w.lastFailure ?? '?'})` : 'ok';
}

/** A full id passes through; a unique prefix becomes the full id; anything else goes to the server to refuse. */
async function resolveWebhookId(client: CrewClient, idOrPrefix: string): Promise<string> {
  const listed = await client.request<WebhookList.Result>(WebhookList.method, {});
  const webhooks = [...listed.webhooks, ...(listed.expired ?? [])];
  if (webhooks.some((w) => w.id === idOrPrefix)) return idOrPrefix;
  const matches = webhooks.filter((w) => w.id.startsWith(idOrPrefix));
  if (matches.length > 1)
    throw new UsageError(`webhook id "${idOrPrefix}" is ambiguous: ${matches.map((w) => w.id).join(', ')}`);
  return matches[0]?.id ?? idOrPrefix;
}

export function registerWebhooks(program: Command): void {
  const webhook = program
    .command('webhook')
    .description('webhooks: the server POSTs budget alerts and finished crew runs to a URL (e.g. an n8n workflow)')
    .addHelpText('after', example('crew webhook add http://localhost:5678/webhook/crew --event run.finished'));

  webhook
    .command('add')
    .description('subscribe a URL to events; each delivery is retried until answered 2xx')
    .argument('<url>', 'http(s) URL to POST to')
    .requiredOption('--event <event>', `${WEBHOOK_EVENTS.join(' | ')} (repeatable, or comma-separated)`, eventList)
    .option('--crew <name>', "only this crew's runs and the alerts of its budgets")
    .option('--budget <id>', "only this budget's alerts")
    .option('--secret <secret>', 'sign every delivery: X-Crew-Signature: sha256=<HMAC-SHA256 of the body>')
    .option('--description <text>', 'shown in lists')
    .addHelpText(
      'after',
      example(
        'crew webhook add http://localhost:5678/webhook/crew --event budget.alert --event run.finished --secret "$HOOK_SECRET"',
        'crew webhook add https://hooks.example.com/ops --event run.finished --crew ops',
      ),
    )
    .action(
      withContext(
        async (
          ctx,
          url: string,
          opts: { event: WebhookEvent[]; crew?: string; budget?: string; secret?: string; description?: string },
        ) => {
          if (!/^https?:\/\/./i.test(url)) throw new UsageError(`"${url}" is not an http(s) URL`);
          const client = await ctx.connect();
          const params: WebhookRegister.Params = { url, events: opts.event };
          if (opts.crew) params.crew = opts.crew;
          if (opts.budget) params.budgetId = await resolveBudgetId(client, opts.budget);
          if (opts.secret !== undefined) params.secret = opts.secret;
          if (opts.description !== undefined) params.description = opts.description;
          const w = await client.request<WebhookRegister.Result>(WebhookRegister.method, params);
          ctx.out.record(w, [
            ['id', w.id],
            ['url', w.url],
            ['events', w.events.join(', ')],
            ['crew', w.crew ?? 'all'],
            ['budget', w.budgetId ?? 'all'],
            ['signed', w.signed ? 'yes' : 'no'],
            ['description', w.description || '—'],
          ]);
        },
      ),
    );

  webhook
    .command('list')
    .description('every subscription, those added with `crew budget alert --webhook` included (never their secret)')
    .addHelpText('after', example('crew webhook list', 'crew webhook list --json'))
    .action(
      withContext(async (ctx) => {
        const client = await ctx.connect();
        const res = await client.request<WebhookList.Result>(WebhookList.method, {});
        // Expired ones (deliveries kept failing) stay listed until removed, so a silent receiver is noticed.
        ctx.out.records(res, columns(ctx), [...res.webhooks, ...(res.expired ?? [])], { empty: 'no webhooks yet' });
      }),
    );

  webhook
    .command('remove')
    .description('stop posting to a subscription')
    .argument('<id>', 'webhook id, or a unique prefix of it')
    .addHelpText('after', example('crew webhook remove 3f2a9c1e'))
    .action(
      withContext(async (ctx, idOrPrefix: string) => {
        const client = await ctx.connect();
        const id = await resolveWebhookId(client, idOrPrefix);
        const res = await client.request<WebhookUnregister.Result>(WebhookUnregister.method, {
          id,
        } satisfies WebhookUnregister.Params);
        if (ctx.out.json) ctx.out.printJson(res);
        else ctx.out.line(`removed webhook ${id}`);
      }),
    );
}
