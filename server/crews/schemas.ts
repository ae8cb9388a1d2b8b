/**
 * Params schemas of the crew methods (protocol/crews.ts), spread into server/rpc/schemas.ts's table. Strict like
 * the rest: an unknown field is refused, not ignored. Name uniqueness and model ids are the service's checks.
 */
import { z } from 'zod';
import type { CREW_METHODS } from '../../protocol/crews';
import { MAX_AGENTS } from './service';

const name = z.string().min(1).max(100);
const ref = z.string().min(1).max(200);
const description = z.string().max(2_000);

const agent = z.strictObject({
  name,
  model: z.string().min(1).max(200),
  role: z.string().max(200).optional(),
  systemPrompt: z.string().max(20_000).optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  budget: z
    .strictObject({
      limitUsd: z.number().finite().min(0).max(1e9),
      period: z.enum(['daily', 'weekly', 'monthly', 'total']),
    })
    .nullable()
    .optional(),
  promptCache: z.boolean().optional(),
});
const agents = z.array(agent).max(MAX_AGENTS);

export const crewSchemas: Record<keyof typeof CREW_METHODS, z.ZodType> = {
  'crew/create': z.strictObject({ name, description: description.optional(), agents: agents.optional() }),
  'crew/update': z.strictObject({
    crew: ref,
    name: name.optional(),
    description: description.optional(),
    agents: agents.optional(),
    addAgent: agent.optional(),
    removeAgent: name.optional(),
  }),
  'crew/delete': z.strictObject({ crew: ref }),
  'crew/list': z.union([z.strictObject({}), z.undefined(), z.null()]),
  'crew/get': z.strictObject({ crew: ref }),
  'crew/token': z.strictObject({ crew: ref, action: z.enum(['create', 'rotate', 'revoke', 'show']).optional() }),
};
