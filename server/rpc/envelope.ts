/**
 * The JSON-RPC 2.0 envelope, checked before anything reads a message, the same way on every transport: bounded
 * nesting (so no later JSON.stringify, schema walk or audit summary can exhaust the stack), an `id` that is a
 * string, a number or null, a `method` that is a string. What fails gets an error object with `id: null` (the id
 * cannot be trusted), never an exception.
 */
import { ErrorCodes } from '../../protocol';

/** Deeper than any params of ours (the deepest is a few levels); far below what would exhaust the stack. */
export const MAX_DEPTH = 64;

export interface ErrorReply {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data?: unknown };
}

export const errorReply = (id: string | number | null, code: number, message: string, data?: unknown): ErrorReply => ({
  jsonrpc: '2.0',
  id,
  error: data === undefined ? { code, message } : { code, message, data },
});

/**
 * The deepest nesting of arrays and objects in a JSON text, counted without parsing (strings skipped), stopping
 * as soon as `max` is passed: linear, no recursion, so a hostile text of a million `[` costs one pass.
 */
export function nestingExceeds(text: string, max = MAX_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, honouring backslash escapes.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

/** Parses a message body: the value, or the error reply that answers it (parse error, too deep). */
export function parseMessage(text: string): { value: unknown } | { reply: ErrorReply } {
  if (nestingExceeds(text))
    return {
      reply: errorReply(null, ErrorCodes.InvalidRequest, `the message nests deeper than ${MAX_DEPTH} levels`),
    };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { reply: errorReply(null, ErrorCodes.ParseError, 'the body is not valid JSON') };
  }
}

export type Envelope =
  | { kind: 'request'; id: string | number | null; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown }
  /** A reply to a request the server sent (LSP's server-to-client requests); only the streams carry these. */
  | { kind: 'response' }
  | { kind: 'invalid'; reply: ErrorReply };

const validId = (id: unknown): id is string | number | null =>
  id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/** Classifies one parsed message (one entry of a batch). */
export function checkEnvelope(m: unknown): Envelope {
  const invalid = (message: string): Envelope => ({
    kind: 'invalid',
    reply: errorReply(null, ErrorCodes.InvalidRequest, message),
  });
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    return invalid(`not a JSON-RPC 2.0 request: expected an object, got ${describe(m)}`);
  const r = m as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  if ('id' in r && r.id !== undefined && !validId(r.id))
    return invalid(`"id" must be a string, a number or null, not ${describe(r.id)}`);
  if (r.jsonrpc !== '2.0') return invalid('not a JSON-RPC 2.0 request: "jsonrpc" must be "2.0"');
  if (r.method === undefined && r.id !== undefined && ('result' in r || 'error' in r)) return { kind: 'response' };
  if (typeof r.method !== 'string')
    return {
      kind: 'invalid',
      reply: errorReply(
        (r.id as string | number | null | undefined) ?? null,
        ErrorCodes.InvalidRequest,
        `not a JSON-RPC 2.0 request: "method" must be a string, not ${describe(r.method)}`,
      ),
    };
  if (r.params !== undefined && r.params !== null && typeof r.params !== 'object')
    return {
      kind: 'invalid',
      reply: errorReply(
        (r.id as string | number | null | undefined) ?? null,
        ErrorCodes.InvalidRequest,
        `"params" must be an object or an array, not ${describe(r.params)}`,
      ),
    };
  if (r.id === undefined) return { kind: 'notification', method: r.method, params: r.params };
  return { kind: 'request', id: r.id as string | number | null, method: r.method, params: r.params };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (v === undefined) return 'nothing';
  return `a ${typeof v}`;
}
