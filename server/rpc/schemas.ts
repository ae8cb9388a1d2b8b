/**
 * One zod schema per method's params. Every request is checked against its schema before a handler runs, so
 * handlers can trust their input; unknown fields are refused too (a typo must not silently do nothing).
 * Sizes are bounded here: message counts and lengths, list sizes, page sizes.
 */
import { z } from 'zod';
import { CORRECTION_TAG_PREFIX, FIT_TAG_PREFIX, MAX_FALLBACK_CHAIN, type MethodName } from '../../protocol';
import { analyticsSchemas } from '../memory/analytics-schemas';
import { archiveSchemas } from '../memory/archive/schemas';
import { forecastSchemas } from '../costs/forecast-schemas';
import { crewSchemas } from '../crews/schemas';
import { runSchemas } from '../runs/schemas';
import { recommendationSchemas } from '../costs/recommendation-schemas';
import { webhookSchemas, webhookUrl } from '../webhooks/schemas';
import { verifySchemas } from '../costs/verify-schemas';

const MAX_CONTENT = 1_000_000;
const id = z.string().min(1).max(200);
const usd = z.number().finite().min(0).max(1e9);
const iso = z.string().min(1).max(64);
const thresholds = z.array(z.number().gt(0).max(1000)).min(1).max(20);
const scope = z.string().min(1).max(300);
const progressToken = z.union([z.string().max(200), z.number().int()]).optional();
const none = z.union([z.strictObject({}), z.undefined(), z.null()]);

const kind = z.enum(['fact', 'insight', 'lesson', 'result', 'note']);
const tags = z.array(z.string().min(1).max(100)).max(50);
/** A call's tag as a caller may give it: the server's own ledger tags (a fit, a correction) are not the caller's. */
const callerTag = z
  .string()
  .min(1)
  .max(100)
  .refine((t) => !t.startsWith(FIT_TAG_PREFIX) && !t.startsWith(CORRECTION_TAG_PREFIX), {
    message: `tags starting with "${FIT_TAG_PREFIX}" or "${CORRECTION_TAG_PREFIX}" are the server's own`,
  });
// The service checks content size in bytes with a message naming the limit; this only stops absurd bodies early.
const content = z.string().min(1).max(1_000_000);
const ranking = {
  weights: z
    .strictObject({
      relevance: z.number().min(0).max(100).optional(),
      recency: z.number().min(0).max(100).optional(),
      importance: z.number().min(0).max(100).optional(),
      frequency: z.number().min(0).max(100).optional(),
    })
    .optional(),
  vectorShare: z.number().min(0).max(1).optional(),
  halfLifeDays: z.number().gt(0).max(36_500).optional(),
};
const memoryFilter = {
  crew: id.optional(),
  agent: id.optional(),
  kinds: z.array(kind).max(5).optional(),
  tags: tags.optional(),
};

const message = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(MAX_CONTENT),
  name: z.string().max(200).optional(),
});

export const schemas: Record<MethodName, z.ZodType> = {
  'server/hello': z.strictObject({
    clientKind: z.string().min(1).max(50),
    clientName: z.string().max(200).optional(),
    clientVersion: z.string().max(50).optional(),
    protocolVersion: z.string().regex(/^\d+\.\d+\.\d+$/, 'expected a version like 1.0.0'),
  }),
  'server/health': none,
  'server/info': none,
  'server/metrics': none,
  'server/shutdown': none,
  'server/upstream': none,
  'server/setApiKey': z.strictObject({ apiKey: z.string().trim().min(8).max(500).nullable() }),
  'audit/list': z.strictObject({
    limit: z.number().int().min(1).max(10_000).optional(),
    method: z.string().max(100).optional(),
  }),
  'models/list': z.strictObject({ search: z.string().max(200).optional(), refresh: z.boolean().optional() }),
  'chat/complete': z.strictObject({
    model: id,
    models: z.array(id).min(1).max(MAX_FALLBACK_CHAIN).optional(),
    messages: z.array(message).min(1).max(1000),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    stream: z.boolean().optional(),
    cacheSystemPrompt: z.boolean().optional(),
    crew: id.optional(),
    agent: id.optional(),
    tags: z.array(callerTag).max(20).optional(),
    progressToken,
  }),
  'ledger/list': z.strictObject({
    limit: z.number().int().min(1).max(1000).optional(),
    before: z.number().int().min(1).optional(),
    crew: id.optional(),
    agent: id.optional(),
    model: id.optional(),
    status: z.enum(['ok', 'error', 'cancelled']).optional(),
  }),
  'cost/report': z.strictObject({
    by: z.enum(['crew', 'agent', 'model', 'day']).optional(),
    from: iso.optional(),
    to: iso.optional(),
    crew: id.optional(),
    agent: id.optional(),
    model: id.optional(),
    format: z.enum(['json', 'csv']).optional(),
    stack: z.enum(['crew', 'agent', 'model']).optional(),
  }),
  'budget/set': z.strictObject({
    id: id.optional(),
    scope,
    period: z.enum(['daily', 'weekly', 'monthly', 'total']),
    limitUsd: usd,
    action: z.enum(['block', 'warn', 'downgrade', 'fit']).optional(),
    downgradeTo: id.optional(),
    minTokens: z.number().int().min(1).max(1_000_000).optional(),
    thresholds: thresholds.optional(),
    weekStart: z.number().int().min(0).max(6).optional(),
  }),
  'budget/status': z.strictObject({ scope: scope.optional(), id: id.optional() }),
  'budget/delete': z.strictObject({ id }),
  'budget/configureAlerts': z.strictObject({
    budgetId: id.optional(),
    thresholds: thresholds.optional(),
    enabled: z.boolean().optional(),
    webhookUrl: webhookUrl.optional(),
    removeWebhook: id.optional(),
  }),
  'budget/alerts': z.strictObject({
    budgetId: id.optional(),
    limit: z.number().int().min(1).max(5000).optional(),
    since: iso.refine((t) => !Number.isNaN(Date.parse(t)), 'expected an ISO time').optional(),
  }),
  'store/verify': none,
  'store/backup': z.strictObject({ path: z.string().min(1).max(4096).optional() }),
  'store/restore': z.strictObject({ path: z.string().min(1).max(4096) }),
  'memory/add': z.strictObject({
    crew: id,
    agent: id.optional(),
    content,
    kind: kind.optional(),
    tags: tags.optional(),
    importance: z.number().min(0).max(1).optional(),
    pinned: z.boolean().optional(),
    expiresAt: iso.optional(),
  }),
  'memory/get': z.strictObject({ id }),
  'memory/update': z.strictObject({
    id,
    content: content.optional(),
    kind: kind.optional(),
    tags: tags.optional(),
    importance: z.number().min(0).max(1).optional(),
    pinned: z.boolean().optional(),
    expiresAt: iso.nullable().optional(),
    agent: id.nullable().optional(),
  }),
  'memory/delete': z.strictObject({ ids: z.array(id).min(1).max(10_000) }),
  'memory/list': z.strictObject({
    crew: id.optional(),
    agent: id.optional(),
    kind: kind.optional(),
    tag: z.string().min(1).max(100).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    offset: z.number().int().min(0).optional(),
  }),
  'memory/search': z.strictObject({
    query: z.string().min(1).max(10_000),
    ...memoryFilter,
    limit: z.number().int().min(1).max(1000).optional(),
    ...ranking,
  }),
  'memory/history': z.strictObject({ id }),
  'memory/context': z.strictObject({
    query: z.string().min(1).max(10_000),
    ...memoryFilter,
    maxTokens: z.number().int().min(1).max(2_000_000),
    limit: z.number().int().min(1).max(1000).optional(),
    ...ranking,
  }),
  'memory/embedder': z.strictObject({
    set: z
      .string()
      .regex(/^(local|hash|openrouter:\S+)$/, 'expected local, hash or openrouter:<model>')
      .optional(),
  }),
  ...analyticsSchemas,
  ...archiveSchemas,
  ...forecastSchemas,
  ...crewSchemas,
  ...runSchemas,
  ...recommendationSchemas,
  ...webhookSchemas,
  ...verifySchemas,
};

/** The dotted path of the first issue, and every issue, for InvalidParams messages and data. */
export function describeIssues(error: z.ZodError): {
  field: string;
  message: string;
  issues: { field: string; message: string }[];
} {
  const issues = error.issues.map((i) => {
    const field = i.path.length ? i.path.map(String).join('.') : '(params)';
    let message = i.message;
    if (i.code === 'unrecognized_keys') message = `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return { field, message };
  });
  const first = issues[0] ?? { field: '(params)', message: 'invalid' };
  return {
    field: first.field,
    message: `invalid params: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
    issues,
  };
}
