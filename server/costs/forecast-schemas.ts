/**
 * Params schemas of `cost/forecast` and `cost/anomalies` (protocol/forecast.ts), spread into server/rpc/schemas.ts's
 * table. Strict like the rest: an unknown field is refused, not ignored. Missing params reach the handlers as `{}`
 * (the router retries a params-less call with an empty object).
 */
import { z } from 'zod';
import type { FORECAST_METHODS } from '../../protocol/forecast';

const id = z.string().min(1).max(200);
const scope = z.string().min(1).max(300);

export const forecastSchemas: Record<keyof typeof FORECAST_METHODS, z.ZodType> = {
  'cost/forecast': z.strictObject({ budgetId: id.optional(), scope: scope.optional() }),
  'cost/anomalies': z.strictObject({
    granularity: z.enum(['day', 'hour']).optional(),
    /** Hour buckets cost one ledger sum each, so their look-back is shorter. */
    days: z.number().int().min(1).max(90).optional(),
    /** A robust z-score; below 1 nearly every bucket would be "far above" its baseline. */
    threshold: z.number().finite().min(1).max(100).optional(),
    crew: id.optional(),
    agent: id.optional(),
    model: id.optional(),
  }),
};
