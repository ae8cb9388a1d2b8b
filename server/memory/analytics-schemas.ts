/**
 * Params schemas of the analytics, clusters and duplicates methods (protocol/analytics.ts), spread into
 * server/rpc/schemas.ts's table. Strict like the rest: an unknown field is refused, not ignored.
 */
import { z } from 'zod';
import type { ANALYTICS_METHODS } from '../../protocol/analytics';

const id = z.string().min(1).max(200);
const progressToken = z.union([z.string().max(200), z.number().int()]).optional();
/** The access store keeps 400 days of daily aggregates; a longer window would only add empty days. */
const days = z.number().int().min(1).max(400).optional();
/** k-means beyond 100 topics is no longer a summary a person reads; it also bounds the k-selection's work. */
const kValue = z.number().int().max(100);

export const analyticsSchemas: Record<keyof typeof ANALYTICS_METHODS, z.ZodType> = {
  'analytics/summary': z.strictObject({ crew: id.optional(), days }),
  'analytics/insights': z.strictObject({ crew: id.optional(), days }),
  'analytics/recommendations': z.strictObject({
    crew: id.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  'clusters/compute': z
    .strictObject({
      crew: id,
      k: kValue.min(1).optional(),
      kMin: kValue.min(2).optional(),
      kMax: kValue.min(2).optional(),
      progressToken,
    })
    .refine((p) => p.kMin === undefined || p.kMax === undefined || p.kMin <= p.kMax, {
      message: 'must be ≥ kMin',
      path: ['kMax'],
    }),
  'clusters/list': z.strictObject({ crew: id.optional() }),
  'memory/duplicates': z.strictObject({
    crew: id.optional(),
    // 0 would make every pair a duplicate; the library needs (0, 1].
    threshold: z.number().gt(0).max(1).optional(),
    progressToken,
  }),
  'memory/merge': z.strictObject({
    keepId: id,
    mergeIds: z.array(id).min(1).max(1000),
    // As memory/update: the service checks the size in bytes with a message naming the limit.
    content: z.string().min(1).max(1_000_000).optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
    importance: z.number().min(0).max(1).optional(),
  }),
};
