/**
 * What the domains throw: a code from protocol/errors, a message for people, data for programs. Domains know no
 * transport; the rpc layer (server/rpc/errors.ts) turns these into JSON-RPC errors, the gateway into HTTP ones.
 */
import { ErrorCodes } from '../protocol';
import type {
  BudgetExceededData,
  InvalidParamsData,
  NotFoundData,
  RateLimitedData,
  UnknownModelData,
  UpstreamErrorData,
} from '../protocol';

export class DomainError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: object,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const errors = {
  invalidParams: (message: string, data: InvalidParamsData) => new DomainError(ErrorCodes.InvalidParams, message, data),
  notFound: (entity: string, id: string) =>
    new DomainError(ErrorCodes.NotFound, `${entity} "${id}" not found`, { entity, id } satisfies NotFoundData),
  budgetExceeded: (message: string, data: BudgetExceededData) =>
    new DomainError(ErrorCodes.BudgetExceeded, message, data),
  unknownModel: (model: string, suggestions: string[]) =>
    new DomainError(
      ErrorCodes.UnknownModel,
      `unknown model "${model}"${suggestions.length ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(', ')}?` : ''}`,
      { model, suggestions } satisfies UnknownModelData,
    ),
  rateLimited: (data: RateLimitedData) =>
    new DomainError(
      ErrorCodes.RateLimited,
      `rate limit of ${data.limitPerSecond} requests/s for this client exceeded; retry in ${data.retryAfterMs} ms`,
      data,
    ),
  upstream: (code: number, message: string, data: UpstreamErrorData) => new DomainError(code, message, data),
  cancelled: () => new DomainError(ErrorCodes.RequestCancelled, 'request cancelled'),
  conflict: (message: string) => new DomainError(ErrorCodes.Conflict, message),
};
