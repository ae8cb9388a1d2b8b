/** The one error type that crosses the wire: a code from protocol/errors, a message for people, data for programs. */
import { ErrorCodes } from '../../protocol';
import type {
  BudgetExceededData,
  InvalidParamsData,
  NotFoundData,
  RateLimitedData,
  UnknownModelData,
  UpstreamErrorData,
} from '../../protocol';

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: object,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const errors = {
  invalidParams: (message: string, data: InvalidParamsData) => new RpcError(ErrorCodes.InvalidParams, message, data),
  notFound: (entity: string, id: string) =>
    new RpcError(ErrorCodes.NotFound, `${entity} "${id}" not found`, { entity, id } satisfies NotFoundData),
  budgetExceeded: (message: string, data: BudgetExceededData) => new RpcError(ErrorCodes.BudgetExceeded, message, data),
  unknownModel: (model: string, suggestions: string[]) =>
    new RpcError(
      ErrorCodes.UnknownModel,
      `unknown model "${model}"${suggestions.length ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(', ')}?` : ''}`,
      { model, suggestions } satisfies UnknownModelData,
    ),
  rateLimited: (data: RateLimitedData) =>
    new RpcError(
      ErrorCodes.RateLimited,
      `rate limit of ${data.limitPerSecond} requests/s for this client exceeded; retry in ${data.retryAfterMs} ms`,
      data,
    ),
  upstream: (code: number, message: string, data: UpstreamErrorData) => new RpcError(code, message, data),
  cancelled: () => new RpcError(ErrorCodes.RequestCancelled, 'request cancelled'),
  conflict: (message: string) => new RpcError(ErrorCodes.Conflict, message),
};
