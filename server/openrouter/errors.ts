/** Turns what the upstream (or the network) did into an DomainError with a code a client can act on. */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ErrorCodes } from '../../protocol';
import type { UpstreamErrorData } from '../../protocol';
import { redact } from '../log';
import { DomainError } from '../errors';

/** What a failed call had produced before it failed, so the ledger can still record it. */
export interface PartialOutcome {
  content: string;
  completionTokens: number;
  generationId: string | null;
  /** The model that was answering, when the stream had named it (with fallbacks, the chain's one that answered). */
  model?: string | null;
}

export class UpstreamError extends DomainError {
  partial: PartialOutcome | undefined;
  constructor(
    code: number,
    message: string,
    readonly info: UpstreamErrorData,
  ) {
    super(code, redact(message), { ...info, upstreamMessage: redact(info.upstreamMessage) });
  }
  get retryable(): boolean {
    return this.code === ErrorCodes.UpstreamRateLimited || this.code === ErrorCodes.UpstreamUnavailable;
  }
}

/** Retry-After as milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return Math.max(0, date - now);
  return undefined;
}

function upstreamMessage(e: { error?: unknown; message: string }): string {
  const body = e.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string') return body.message;
  return e.message;
}

export function mapUpstreamError(e: unknown, now: number): DomainError {
  if (e instanceof DomainError) return e;
  if (e instanceof APIUserAbortError) return new DomainError(ErrorCodes.RequestCancelled, 'request cancelled');
  if (e instanceof APIConnectionTimeoutError)
    return new UpstreamError(ErrorCodes.UpstreamTimeout, 'OpenRouter did not answer in time', {
      status: null,
      upstreamMessage: 'timeout',
    });
  if (e instanceof APIError) {
    const msg = upstreamMessage(e);
    const status = (e.status as number | undefined) ?? null;
    const headers = e.headers as Headers | undefined;
    const retryAfterMs = parseRetryAfter(headers?.get('retry-after'), now);
    const data: UpstreamErrorData = { status, upstreamMessage: msg };
    if (retryAfterMs !== undefined) data.retryAfterMs = retryAfterMs;
    switch (status) {
      case undefined:
      case null:
        // By class, not by name: a bundler renames classes, and a failed connection then read as a broken stream.
        if (e instanceof APIConnectionError)
          return new UpstreamError(ErrorCodes.UpstreamUnavailable, `cannot reach OpenRouter: ${msg}`, data);
        return new UpstreamError(ErrorCodes.UpstreamStreamError, `OpenRouter failed mid-stream: ${msg}`, data);
      case 400:
        return new UpstreamError(ErrorCodes.UpstreamBadRequest, `OpenRouter rejected the request: ${msg}`, data);
      case 401:
        return new UpstreamError(
          ErrorCodes.UpstreamUnauthorized,
          `OpenRouter did not accept the API key (401): ${msg}. Check OPENROUTER_API_KEY.`,
          data,
        );
      case 402:
        return new UpstreamError(
          ErrorCodes.UpstreamPaymentRequired,
          `OpenRouter refused the call for lack of credits (402): ${msg}. Add credits to the OpenRouter account.`,
          data,
        );
      case 403:
        return new UpstreamError(
          ErrorCodes.UpstreamForbidden,
          `OpenRouter refused the call (403: a key or workspace limit, or moderation): ${msg}`,
          data,
        );
      case 408:
        return new UpstreamError(ErrorCodes.UpstreamTimeout, `OpenRouter timed out (408): ${msg}`, data);
      case 429:
        return new UpstreamError(
          ErrorCodes.UpstreamRateLimited,
          `OpenRouter rate-limited the call (429)${retryAfterMs !== undefined ? `; retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}: ${msg}`,
          data,
        );
      default:
        if (status >= 500)
          return new UpstreamError(
            ErrorCodes.UpstreamUnavailable,
            `OpenRouter is unavailable (${status}): ${msg}`,
            data,
          );
        return new UpstreamError(ErrorCodes.UpstreamBadRequest, `OpenRouter answered ${status}: ${msg}`, data);
    }
  }
  const err = e as Error;
  return new UpstreamError(ErrorCodes.UpstreamUnavailable, `cannot reach OpenRouter: ${err?.message ?? String(e)}`, {
    status: null,
    upstreamMessage: err?.message ?? String(e),
  });
}
