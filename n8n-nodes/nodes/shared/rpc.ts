/**
 * JSON-RPC 2.0 over crew-server's HTTP transport: `POST <server>/rpc` with `{jsonrpc, id, method, params}`. The bearer
 * token is added by n8n from the credential (`authenticate` in OpenRouterCrewApi), so the request goes through
 * `httpRequestWithAuthentication` and the token never passes through node code. JSON-RPC errors become n8n errors that
 * carry the server's own message: the caller's mistakes (bad params, a method this server lacks) as
 * NodeOperationError, everything the server refused or failed at as NodeApiError.
 */
import type {
  IExecuteFunctions,
  IHookFunctions,
  IHttpRequestOptions,
  IPollFunctions,
  IWebhookFunctions,
  JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import { ErrorCodes } from './protocol.generated';

export const CREDENTIAL_TYPE = 'openRouterCrewApi';

export interface CrewCredentials {
  url: string;
  token: string;
}

export type RpcContext = IExecuteFunctions | IHookFunctions | IPollFunctions | IWebhookFunctions;

/** A JSON-RPC error object as the server sends it. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

interface RpcReply {
  jsonrpc: '2.0';
  id: number | string | null;
  result?: unknown;
  error?: RpcErrorObject;
}

export interface CallOptions {
  /** The input item the call is for: errors name it, and n8n resolves the credential for it. */
  itemIndex?: number;
  /** Milliseconds before n8n gives up waiting (a crew run can take minutes). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Mistakes in what the node sent, not failures of the server. */
const CALLER_ERRORS: readonly number[] = [
  ErrorCodes.InvalidParams,
  ErrorCodes.InvalidRequest,
  ErrorCodes.MethodNotFound,
];

let lastId = 0;

/** The credential's server URL without a trailing slash; refuses the `<port>` placeholder with what to do. */
export function serverUrl(ctx: RpcContext, url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  if (/<port>/i.test(trimmed) || !/^https?:\/\/[^/]+/i.test(trimmed))
    throw new NodeOperationError(
      ctx.getNode(),
      `The OpenRouter Crew credential's Server URL "${url}" is not a server address`,
      {
        description:
          'Use http://127.0.0.1:<port> with the HTTP port that `crew server status` shows (it stays the same when the daemon restarts).',
      },
    );
  return trimmed;
}

export function buildRequest(base: string, method: string, params: object | undefined, timeoutMs: number) {
  const body: { jsonrpc: '2.0'; id: number; method: string; params?: object } = {
    jsonrpc: '2.0',
    id: ++lastId,
    method,
  };
  if (params !== undefined) body.params = params;
  return {
    method: 'POST',
    url: `${base}/rpc`,
    // The server's audit log and metrics name the client by this header.
    headers: { 'x-crew-client': 'n8n/openrouter-crew' },
    body,
    json: true,
    timeout: timeoutMs,
  } satisfies IHttpRequestOptions;
}

/** Calls `method` and returns its result, or throws a NodeApiError / NodeOperationError with the server's message. */
export async function callRpc<R>(ctx: RpcContext, method: string, params?: object, opts: CallOptions = {}): Promise<R> {
  const credentials = await ctx.getCredentials<CrewCredentials>(CREDENTIAL_TYPE, opts.itemIndex);
  const base = serverUrl(ctx, credentials.url);
  const request = buildRequest(base, method, params, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let reply: RpcReply;
  try {
    reply = (await ctx.helpers.httpRequestWithAuthentication.call(ctx, CREDENTIAL_TYPE, request)) as RpcReply;
  } catch (error) {
    throw transportError(ctx, error, base, method, opts.itemIndex);
  }
  if (reply?.error) throw rpcError(ctx, reply.error, method, opts.itemIndex);
  if (!reply || !('result' in reply))
    throw new NodeApiError(ctx.getNode(), (reply ?? {}) as unknown as JsonObject, {
      message: `${base}/rpc answered ${method} with something that is not a JSON-RPC reply`,
      itemIndex: opts.itemIndex,
    });
  return reply.result as R;
}

/** The n8n error for a JSON-RPC error reply. */
export function rpcError(
  ctx: RpcContext,
  error: RpcErrorObject,
  method: string,
  itemIndex?: number,
): NodeApiError | NodeOperationError {
  const description = describe(error, method);
  const mapped = CALLER_ERRORS.includes(error.code)
    ? new NodeOperationError(ctx.getNode(), error.message, { description, itemIndex })
    : new NodeApiError(ctx.getNode(), { ...error } as JsonObject, {
        message: error.message,
        description,
        // n8n shows this code beside the message; the JSON-RPC code says more than the HTTP status it came with.
        httpCode: String(error.code),
        itemIndex,
      });
  // Kept for "Continue On Fail" items and error workflows, which can then act on e.g. BudgetExceeded's figures.
  mapped.context.rpcCode = error.code;
  if (error.data !== undefined) mapped.context.rpcData = error.data;
  return mapped;
}

function describe(error: RpcErrorObject, method: string): string {
  const field = (error.data as { field?: unknown } | undefined)?.field;
  const parts = [`${method} failed with JSON-RPC error ${error.code}`];
  if (typeof field === 'string') parts.push(`field: ${field}`);
  if (error.data !== undefined) parts.push(`data: ${JSON.stringify(error.data)}`);
  return parts.join('; ');
}

/**
 * n8n throws a NodeApiError for a non-2xx answer or no answer at all. The server's 401 (wrong token) carries a
 * JSON-RPC error whose message says where the right token comes from: surface it.
 */
function transportError(
  ctx: RpcContext,
  error: unknown,
  base: string,
  method: string,
  itemIndex?: number,
): NodeApiError | NodeOperationError {
  const rpc = jsonRpcErrorIn(error);
  if (rpc) return rpcError(ctx, rpc, method, itemIndex);
  // n8n puts an HTTP status in httpCode, or a network error's code (ECONNREFUSED…) when nothing answered.
  const code = (error as { httpCode?: string | null }).httpCode ?? undefined;
  const status = code && /^\d{3}$/.test(code) ? code : undefined;
  const message = (error as Error).message ?? String(error);
  if (status)
    return new NodeApiError(
      ctx.getNode(),
      { message },
      {
        message: `crew-server at ${base} answered ${method} with HTTP ${status}: ${message}`,
        httpCode: status,
        itemIndex,
      },
    );
  // The code stays out of the message: n8n would replace a message naming ECONNREFUSED with its own generic one.
  return new NodeApiError(
    ctx.getNode(),
    { message },
    {
      message: `crew-server did not answer at ${base}/rpc: ${message}`,
      description:
        `${code ? `${code}. ` : ''}Is the daemon running, and is the port in the credential its HTTP port? ` +
        '`crew server status` shows both.',
      itemIndex,
    },
  );
}

/** A JSON-RPC error body inside what n8n threw (its NodeApiError keeps the response body in context.data). */
function jsonRpcErrorIn(error: unknown): RpcErrorObject | undefined {
  const e = error as {
    context?: { data?: unknown };
    response?: { data?: unknown };
    cause?: { response?: { data?: unknown } };
  };
  for (const body of [e?.context?.data, e?.response?.data, e?.cause?.response?.data]) {
    const rpc = (body as { error?: unknown } | undefined)?.error as Partial<RpcErrorObject> | undefined;
    if (rpc && typeof rpc.code === 'number' && typeof rpc.message === 'string')
      return { code: rpc.code, message: rpc.message, data: rpc.data };
  }
  return undefined;
}
