/**
 * Params schemas of `cost/recommendations` and `cost/applyRecommendation` (protocol/recommendations.ts), spread
 * into server/rpc/schemas.ts's table. Strict like the rest: an unknown field is refused, not ignored.
 */
import { z } from 'zod';
import type { RECOMMENDATION_METHODS } from '../../protocol/recommendations';

const windowDays = z.number().int().min(1).max(365);

export const recommendationSchemas: Record<keyof typeof RECOMMENDATION_METHODS, z.ZodType> = {
  'cost/recommendations': z.strictObject({
    windowDays: windowDays.optional(),
    crew: z.string().min(1).max(200).optional(),
    minSavingsUsd: z.number().finite().min(0).max(1e9).optional(),
  }),
  'cost/applyRecommendation': z.strictObject({
    id: z.string().min(1).max(200),
    windowDays: windowDays.optional(),
    dryRun: z.boolean().optional(),
  }),
};
