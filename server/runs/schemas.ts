/**
 * Params schemas of the run methods (protocol/runs.ts), spread into server/rpc/schemas.ts's table. Strict like the
 * rest: an unknown field is refused, not ignored.
 */
import { z } from 'zod';
import type { RUN_METHODS } from '../../protocol/runs';

const ref = z.string().min(1).max(200);
const status = z.enum(['running', 'completed', 'failed', 'cancelled', 'budget_exceeded']);

export const MAX_TASK_CHARS = 100_000;
export const MAX_STEPS = 20;

/** A ceiling: positive (a run that may spend nothing cannot run) and at most a million dollars. */
const maxCostUsd = z.number().positive('maxCostUsd: a ceiling must be above 0').max(1_000_000).optional();

/** What a run is given, shared by `crew/run` and `crew/estimate`. */
const runShape = {
  crew: ref,
  task: z.string().trim().min(1, 'the task is empty').max(MAX_TASK_CHARS),
  process: z.enum(['sequential', 'manager']).optional(),
  lead: z.string().min(1).max(100).optional(),
  maxSteps: z.number().int().min(1).max(MAX_STEPS).optional(),
  memoryTokens: z.number().int().min(0).max(100_000).optional(),
  maxCostUsd,
};

export const runSchemas: Record<keyof typeof RUN_METHODS, z.ZodType> = {
  'crew/run': z.strictObject({
    ...runShape,
    stream: z.boolean().optional(),
    saveResult: z.boolean().optional(),
    tellRemaining: z.boolean().optional(),
    progressToken: z.union([z.string().max(200), z.number().int()]).optional(),
  }),
  'crew/estimate': z.strictObject(runShape),
  'crew/runs': z.strictObject({
    runId: ref.optional(),
    crew: ref.optional(),
    status: status.optional(),
    limit: z.number().int().min(1).max(200).optional(),
    before: z.string().min(1).max(64).optional(),
  }),
  'crew/cancelRun': z.strictObject({ runId: ref }),
};
