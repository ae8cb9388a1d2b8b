/**
 * Params schemas of `cost/verify` and `cost/verification` (protocol/verify.ts), spread into server/rpc/schemas.ts's
 * table. Strict like the rest: an unknown field is refused, not ignored.
 */
import { z } from 'zod';
import type { VERIFY_METHODS } from '../../protocol/verify';

const iso = z.string().min(1).max(64);

export const verifySchemas: Record<keyof typeof VERIFY_METHODS, z.ZodType> = {
  'cost/verify': z.strictObject({
    from: iso.optional(),
    to: iso.optional(),
    fix: z.boolean().optional(),
    /** USD per call; 0 counts every difference, however small. */
    threshold: z.number().finite().min(0).max(1000).optional(),
  }),
  'cost/verification': z.union([z.strictObject({}), z.undefined(), z.null()]),
};
