/**
 * The error that crosses the wire. The router maps whatever a handler throws into one: a DomainError keeps its
 * code, message and data; anything else is an internal error, logged with its stack, its message redacted.
 */
import { ErrorCodes } from '../../protocol';
import { DomainError } from '../errors';
import type { Logger } from '../log';
import { redact } from '../log';

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

export function toRpcError(e: unknown, log: Logger, method: string): RpcError {
  if (e instanceof RpcError) return e;
  if (e instanceof DomainError) return new RpcError(e.code, e.message, e.data);
  const err = e as Error | undefined;
  log.error(`${method} failed: ${err?.stack ?? String(e)}`);
  return new RpcError(ErrorCodes.InternalError, redact(`internal error in ${method}: ${err?.message ?? String(e)}`));
}
