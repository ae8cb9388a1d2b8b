/**
 * Params schemas of the archive methods, for server/rpc/schemas.ts to spread into its table
 * (`...archiveSchemas`). Kept here, beside the service, so the limits below and the service's own checks stay in
 * step; the service re-checks what it relies on, because schedules call it without going through the router.
 */
import { z } from 'zod';
import { MAX_POLICY_LIMIT, MAX_SCHEDULE_HOURS } from './service';

const id = z.string().min(1).max(200);
const kind = z.enum(['fact', 'insight', 'lesson', 'result', 'note']);
const progressToken = z.union([z.string().max(200), z.number().int()]).optional();
/** As many ids as one archive may hold. */
const ids = z.array(id).min(1).max(MAX_POLICY_LIMIT);

export const archivePolicySchema = z
  .strictObject({
    crew: id.optional(),
    olderThanDays: z.number().min(0).max(36_500).optional(),
    belowScore: z.number().gt(0).max(1).optional(),
    kinds: z.array(kind).min(1).max(5).optional(),
    includePinned: z.boolean().optional(),
    limit: z.number().int().min(1).max(MAX_POLICY_LIMIT).optional(),
  })
  .refine((p) => p.olderThanDays !== undefined || p.belowScore !== undefined, {
    message: 'needs olderThanDays or belowScore (a policy never means "everything")',
  });

export const archiveSchemas = {
  'archive/create': z
    .strictObject({
      ids: ids.optional(),
      policy: archivePolicySchema.optional(),
      dryRun: z.boolean().optional(),
      progressToken,
    })
    .refine((p) => (p.ids === undefined) !== (p.policy === undefined), {
      message: 'exactly one of ids and policy',
      path: ['ids'],
    }),
  'archive/restore': z.strictObject({ archiveId: id, ids: ids.optional(), progressToken }),
  'archive/list': z.strictObject({ crew: id.optional() }),
  'archive/delete': z.strictObject({ id }),
  'archive/schedule': z
    .strictObject({
      name: z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore')
        .optional(),
      policy: archivePolicySchema.optional(),
      everyHours: z.number().min(1).max(MAX_SCHEDULE_HOURS).optional(),
      clear: z.literal(true).optional(),
    })
    .refine((p) => !(p.clear && (p.policy !== undefined || p.everyHours !== undefined)), {
      message: 'clear goes alone (with name)',
      path: ['clear'],
    })
    .refine((p) => (p.policy === undefined) === (p.everyHours === undefined), {
      message: 'policy and everyHours go together',
      path: ['everyHours'],
    }),
} as const satisfies Record<string, z.ZodType>;
