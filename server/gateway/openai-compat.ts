/**
 * The OpenAI-compatible gateway on the HTTP port: `POST /v1/chat/completions` (plain or SSE stream) and
 * `GET /v1/models` (+ `/v1/models/{id}`), so any OpenAI client (the `openai` SDK, LangChain, CrewAI) pointed at
 * `http://127.0.0.1:<port>/v1` gets the budget gate, the ledger and alerts. Every call goes through
 * `ChatService.complete` exactly like `chat/complete` over JSON-RPC.
 *
 * A body's `models` (OpenRouter's fallback list; `model` may then be left out) is one call through the gate: the
 * whole chain is reserved and the call settles to the model that answered, which the response (and every streamed
 * chunk) names in `model`.
 *
 * A streamed answer is OpenRouter's stream byte for byte (its chunks, comments and final usage chunk with
 * `usage.cost`, whatever `stream_options` asked), with the ledger row's id in the `x-crew-ledger-id` trailer.
 *
 * Attribution comes from headers: `X-Crew-Id` → crew, `X-Agent-Id` → agent, `X-Run-Id` → tag `run:<id>`.
 * A per-crew token (`crew/token`, server/crews/tokens.ts) used as the API key instead of the server token pins the
 * crew: crew = the crew's name, agent = `<crew name>/<X-Agent-Id>` (the crew's own spelling when it has an agent of
 * that name, case-insensitive; a header already prefixed `<crew name>/` is not prefixed twice) — the attribution
 * of the crew's own runs, so its agents' budgets cover these calls too. An `X-Crew-Id` naming any other crew is a
 * 403 `crew_mismatch`: such a caller may not spend as anyone else.
 * Errors are OpenAI-shaped bodies `{error: {message, type, code, param}}` with the status a client expects:
 * a budget refusal is 402 `budget_exceeded`, an unknown model 404 `model_not_found`, bad input 400 naming the
 * field, and upstream failures keep the upstream's status (429 with Retry-After).
 * The caller authenticates before this runs (see transports/http.ts).
 */
import type http from 'node:http';
import type { BudgetExceededData, ChatComplete, ChatMessage, ModelsList, UpstreamErrorData } from '../../protocol';
import { crewAgentId, ErrorCodes, MAX_FALLBACK_CHAIN } from '../../protocol';
import type { Clock } from '../clock';
import type { CallContext } from '../costs/chat';
import { DomainError } from '../errors';
import { MAX_DEPTH, nestingExceeds } from '../rpc/envelope';
import { BodyTooLarge, readBody } from '../transports/body';

export interface GatewayDeps {
  /** `principal`: who authenticated, for the audit log. */
  chat: { complete(p: ChatComplete.Params, ctx?: CallContext, principal?: string): Promise<ChatComplete.Result> };
  catalog: { list(p?: ModelsList.Params): Promise<ModelsList.Result> };
  clock: Clock;
  /** The per-client rate limiter (milliseconds to wait, 0 when allowed); none = unlimited. */
  limiter?: { take(client: string): number; readonly config: { perSecond: number } };
  /** Per-crew tokens: the crew a bearer token belongs to, if it is one; none = only the server token works. */
  crewTokens?: { authenticate(token: string): Promise<GatewayCrew | undefined> };
}

/** The crew a per-crew token belongs to, as it is now. */
export interface GatewayCrew {
  id: string;
  name: string;
  agents: readonly { name: string }[];
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null; [extra: string]: unknown };
}

/** An error on its way to the client: HTTP status, OpenAI-style body, extra headers. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param, ...this.extra } };
  }
}

const invalid = (param: string, message: string) =>
  new GatewayError(400, message, 'invalid_request_error', 'invalid_value', param);

/** The max_tokens a `fit` budget lowered the call to (absent when it went as asked). */
const MAX_TOKENS_HEADER = 'x-crew-max-tokens';
const MAX_ID = 200;
const MAX_CONTENT = 1_000_000;
const MAX_MESSAGES = 1000;
const ROLES: Record<string, ChatMessage['role']> = {
  system: 'system',
  // Newer OpenAI clients send "developer" for system instructions.
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
};

/** The OpenAI request body as ChatComplete params (attribution added by the caller). Unknown fields are ignored. */
export /**
 * A message's text: a string, or an array of `{type: 'text', text}` parts (LangChain and others send those),
 * joined as OpenAI joins them; undefined for anything else (images, audio, tool calls).
 */
function textContent(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  let text = '';
  for (const part of content as unknown[]) {
    const p = part as { type?: unknown; text?: unknown } | null;
    if (typeof p !== 'object' || p === null || p.type !== 'text' || typeof p.text !== 'string') return undefined;
    text += p.text;
  }
  return text;
}

function parseChatBody(raw: unknown): { params: ChatComplete.Params } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid('(body)', 'the request body must be a JSON object');
  const b = raw as Record<string, unknown>;
  const models = fallbacksOf(b.models);
  // OpenRouter takes `models` alone too: its first model is the one tried first.
  const model = b.model === undefined || b.model === null ? models?.[0] : b.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > MAX_ID)
    throw invalid('model', `model: expected a model id (a string of 1 to ${MAX_ID} characters), or models`);
  if (!Array.isArray(b.messages) || b.messages.length === 0 || b.messages.length > MAX_MESSAGES)
    throw invalid('messages', `messages: expected an array of 1 to ${MAX_MESSAGES} messages`);
  const messages: ChatMessage[] = new Array<ChatMessage>(b.messages.length);
  for (let i = 0; i < b.messages.length; i++) {
    const m = b.messages[i] as Record<string, unknown> | null;
    if (typeof m !== 'object' || m === null) throw invalid(`messages.${i}`, `messages.${i}: expected an object`);
    const role = typeof m.role === 'string' ? ROLES[m.role] : undefined;
    if (!role)
      throw invalid(
        `messages.${i}.role`,
        `messages.${i}.role: ${JSON.stringify(m.role)} is not supported (system, developer, user or assistant)`,
      );
    const content = textContent(m.content);
    if (content === undefined)
      throw invalid(
        `messages.${i}.content`,
        `messages.${i}.content: only text is supported (a string, or text parts; no images, audio or tool calls)`,
      );
    if (content.length > MAX_CONTENT)
      throw invalid(`messages.${i}.content`, `messages.${i}.content: over ${MAX_CONTENT} characters`);
    const msg: ChatMessage = { role, content };
    if (typeof m.name === 'string' && m.name.length <= MAX_ID) msg.name = m.name;
    messages[i] = msg;
  }
  const params: ChatComplete.Params = { model, messages };
  if (models) params.models = models;
  const given = (v: unknown) => v !== undefined && v !== null;
  // max_completion_tokens is the current name; max_tokens the deprecated one. null means absent, as in OpenAI.
  const maxField = given(b.max_completion_tokens) ? 'max_completion_tokens' : 'max_tokens';
  const max = b[maxField];
  if (given(max)) {
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1_000_000)
      throw invalid(maxField, `${maxField}: expected an integer from 1 to 1000000`);
    params.maxTokens = max;
  }
  if (given(b.temperature)) {
    if (typeof b.temperature !== 'number' || !(b.temperature >= 0 && b.temperature <= 2))
      throw invalid('temperature', 'temperature: expected a number from 0 to 2');
    params.temperature = b.temperature;
  }
  if (given(b.stream)) {
    if (typeof b.stream !== 'boolean') throw invalid('stream', 'stream: expected a boolean');
    params.stream = b.stream;
  }
  return { params };
}

/** OpenRouter's `models` fallback list: model ids, tried in order; absent (or empty) when not given. */
function fallbacksOf(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (
    !Array.isArray(raw) ||
    raw.length > MAX_FALLBACK_CHAIN ||
    !raw.every((m) => typeof m === 'string' && m.length > 0 && m.length <= MAX_ID)
  )
    throw invalid('models', `models: expected a list of at most ${MAX_FALLBACK_CHAIN} model ids (OpenRouter's limit)`);
  return raw.length ? (raw as string[]) : undefined;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return undefined;
  if (s.length > MAX_ID) throw invalid(name, `header ${name}: over ${MAX_ID} characters`);
  return s;
}

/**
 * Crew, agent and run tag from the X-Crew-Id / X-Agent-Id / X-Run-Id headers; with a crew token (`caller`), the
 * crew is the token's and the agent is one of its own (see the top of this file).
 */
export function attribution(req: http.IncomingMessage, params: ChatComplete.Params, caller?: GatewayCrew): void {
  const crew = header(req, 'x-crew-id');
  const agent = header(req, 'x-agent-id');
  const run = header(req, 'x-run-id');
  if (caller) {
    if (crew && crew !== caller.id && crew.toLowerCase() !== caller.name.toLowerCase())
      throw new GatewayError(
        403,
        `this API key is the gateway token of crew "${caller.name}"; the X-Crew-Id header names "${crew}". ` +
          `Drop the header, or use crew "${crew}"'s own token`,
        'permission_error',
        'crew_mismatch',
        'x-crew-id',
      );
    params.crew = caller.name;
    if (agent) params.agent = crewAgentId(caller.name, agentOf(caller, agent));
  } else {
    if (crew) params.crew = crew;
    if (agent) params.agent = agent;
  }
  if (run) params.tags = [`run:${run}`];
}

function agentOf(caller: GatewayCrew, given: string): string {
  const prefix = `${caller.name.toLowerCase()}/`;
  const bare = given.toLowerCase().startsWith(prefix) ? given.slice(prefix.length) : given;
  const key = bare.toLowerCase();
  return caller.agents.find((a) => a.name.toLowerCase() === key)?.name ?? bare;
}

const UPSTREAM_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout',
  429: 'rate_limit_error',
};

const UPSTREAM_CODES: Record<number, string> = {
  [ErrorCodes.UpstreamUnauthorized]: 'upstream_unauthorized',
  [ErrorCodes.UpstreamPaymentRequired]: 'upstream_payment_required',
  [ErrorCodes.UpstreamForbidden]: 'upstream_forbidden',
  [ErrorCodes.UpstreamRateLimited]: 'upstream_rate_limited',
  [ErrorCodes.UpstreamUnavailable]: 'upstream_unavailable',
  [ErrorCodes.UpstreamTimeout]: 'upstream_timeout',
  [ErrorCodes.UpstreamStreamError]: 'upstream_stream_error',
  [ErrorCodes.UpstreamBadRequest]: 'upstream_bad_request',
};

const retryAfter = (ms: number | undefined): Record<string, string> =>
  ms === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };

/** What went wrong, as the HTTP error an OpenAI client expects. */
export function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  if (!(e instanceof DomainError)) {
    return new GatewayError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', null);
  }
  switch (e.code) {
    case ErrorCodes.BudgetExceeded: {
      const d = e.data as BudgetExceededData;
      return new GatewayError(402, e.message, 'insufficient_quota', 'budget_exceeded', null, {}, { budget: d });
    }
    case ErrorCodes.UnknownModel:
      return new GatewayError(
        404,
        e.message,
        'invalid_request_error',
        'model_not_found',
        'model',
        {},
        {
          suggestions: (e.data as { suggestions?: string[] } | undefined)?.suggestions ?? [],
        },
      );
    case ErrorCodes.InvalidParams:
      return invalid((e.data as { field?: string } | undefined)?.field ?? '(body)', e.message);
    case ErrorCodes.RateLimited:
      return new GatewayError(
        429,
        e.message,
        'rate_limit_error',
        'rate_limit_exceeded',
        null,
        retryAfter((e.data as { retryAfterMs?: number } | undefined)?.retryAfterMs),
      );
    case ErrorCodes.RequestCancelled:
      return new GatewayError(499, e.message, 'request_cancelled', 'request_cancelled');
  }
  const code = UPSTREAM_CODES[e.code];
  if (code) {
    const info = e.data as UpstreamErrorData | undefined;
    const status = info?.status ?? (e.code === ErrorCodes.UpstreamTimeout ? 504 : 502);
    const type = UPSTREAM_TYPES[status] ?? (status >= 500 ? 'server_error' : 'upstream_error');
    return new GatewayError(status, e.message, type, code, null, retryAfter(info?.retryAfterMs));
  }
  return new GatewayError(500, e.message, 'server_error', null);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendGatewayError(res: http.ServerResponse, e: unknown): void {
  const g = toGatewayError(e);
  sendJson(res, g.status, g.body(), g.headers);
}

/** Handles one `/v1/*` request (already authenticated; `caller` when by a crew token). */
export async function handleGateway(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: GatewayDeps,
  /** Who authenticated (server/rpc/principal.ts): the rate-limit bucket is theirs alone. */
  principal: string,
  caller?: GatewayCrew,
): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  try {
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') throw notAllowed('POST', path);
      return await chatCompletions(req, res, deps, principal, caller);
    }
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (req.method !== 'GET') throw notAllowed('GET', path);
      return await models(res, deps, path === '/v1/models' ? null : modelIdOf(path.slice(11)));
    }
    throw new GatewayError(404, `no route ${req.method} ${path}`, 'invalid_request_error', 'unknown_url');
  } catch (e) {
    sendGatewayError(res, e);
  }
}

const notAllowed = (method: string, path: string) =>
  new GatewayError(405, `use ${method} ${path}`, 'invalid_request_error', 'method_not_allowed', null, {
    allow: method,
  });

/** The model id of `/v1/models/{id}` (ids hold a slash, so it may come escaped or not). */
function modelIdOf(escaped: string): string {
  try {
    return decodeURIComponent(escaped);
  } catch {
    throw invalid('model', `the model id in the path is not valid percent-encoding: "${escaped.slice(0, MAX_ID)}"`);
  }
}

async function models(res: http.ServerResponse, deps: GatewayDeps, id: string | null): Promise<void> {
  const list = await deps.catalog.list();
  const toModel = (m: ModelsList.Result['models'][number]) => ({
    id: m.id,
    object: 'model' as const,
    created: m.created ?? 0,
    owned_by: m.id.includes('/') ? m.id.slice(0, m.id.indexOf('/')) : 'openrouter',
    name: m.name,
    context_length: m.contextLength,
  });
  if (id === null) return sendJson(res, 200, { object: 'list', data: list.models.map(toModel) });
  const m = list.models.find((x) => x.id === id);
  if (!m) throw new GatewayError(404, `unknown model "${id}"`, 'invalid_request_error', 'model_not_found', 'model');
  sendJson(res, 200, toModel(m));
}

async function chatCompletions(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: GatewayDeps,
  principal: string,
  caller: GatewayCrew | undefined,
): Promise<void> {
  if (deps.limiter) {
    // One bucket per credential: one crew's agents cannot starve another crew, or the server token's callers.
    const wait = deps.limiter.take(`gateway:${principal}`);
    if (wait > 0)
      throw new GatewayError(
        429,
        `rate limit of ${deps.limiter.config.perSecond} requests/s exceeded; retry in ${wait} ms`,
        'rate_limit_error',
        'rate_limit_exceeded',
        null,
        retryAfter(wait),
      );
  }
  let text: string;
  try {
    text = await readBody(req);
  } catch (e) {
    if (e instanceof BodyTooLarge)
      throw new GatewayError(413, e.message, 'invalid_request_error', 'body_too_large', null);
    throw e;
  }
  if (nestingExceeds(text)) throw invalid('(body)', `the request body nests deeper than ${MAX_DEPTH} levels`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('(body)', 'the request body is not valid JSON');
  }
  const { params } = parseChatBody(raw);
  attribution(req, params, caller);

  // A client that goes away cancels the call (upstream aborted, reservation released).
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const created = Math.floor(deps.clock.now() / 1000);
  if (!params.stream) {
    const r = await deps.chat.complete(params, { signal: controller.signal }, principal);
    const id = r.generationId ?? `chatcmpl-crew-${r.ledgerId}`;
    sendJson(
      res,
      200,
      {
        id,
        object: 'chat.completion',
        created,
        model: r.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: r.content, refusal: null },
            finish_reason: r.finishReason ?? 'stop',
            logprobs: null,
          },
        ],
        usage: usage(r),
        crew: crewInfo(r),
      },
      crewHeaders(r),
    );
    return;
  }

  // Streaming: OpenRouter's bytes go to the client as they came (its ids, its model names, its usage chunk with
  // usage.cost, its comments), parsed beside for the ledger. Headers go out with the first byte, so a refusal before
  // it (budget, unknown model, upstream 4xx) still answers with its HTTP status; the ledger id is a trailer.
  // Known before the first byte (the reservation comes first), so a stream's headers can carry it too.
  let fitted: number | null = null;
  const start = () =>
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      trailer: 'x-crew-ledger-id',
      ...(fitted !== null ? { [MAX_TOKENS_HEADER]: String(fitted) } : {}),
    });
  let r: ChatComplete.Result;
  try {
    r = await deps.chat.complete(
      params,
      {
        signal: controller.signal,
        onFitted: (n) => (fitted = n),
        onRaw: (bytes) => {
          if (res.destroyed) return;
          if (!res.headersSent) start();
          res.write(bytes);
        },
      },
      principal,
    );
  } catch (e) {
    if (!res.headersSent) throw e;
    // Mid-stream: OpenAI clients read an `error` event and throw it (the first one, if OpenRouter sent its own).
    if (!res.destroyed) res.end(`data: ${JSON.stringify(toGatewayError(e).body())}\n\n`);
    return;
  }
  if (res.destroyed) return;
  if (!res.headersSent) start();
  res.addTrailers({ 'x-crew-ledger-id': String(r.ledgerId) });
  res.end();
}

function usage(r: ChatComplete.Result) {
  return {
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.promptTokens + r.usage.completionTokens,
    prompt_tokens_details: { cached_tokens: r.usage.cachedTokens },
    completion_tokens_details: { reasoning_tokens: r.usage.reasoningTokens },
    // OpenRouter's extra: the call's cost in USD, as recorded in the ledger (see crew.cost_estimated).
    cost: r.costUsd,
  };
}

function crewInfo(r: ChatComplete.Result) {
  return {
    ledger_id: r.ledgerId,
    cost: r.cost,
    cost_estimated: r.costEstimated,
    requested_model: r.requestedModel,
    downgraded_by: r.downgradedBy,
    fitted_max_tokens: r.fittedMaxTokens ?? null,
    warnings: r.warnings,
  };
}

function crewHeaders(r: ChatComplete.Result): Record<string, string> {
  const h: Record<string, string> = { 'x-crew-ledger-id': String(r.ledgerId), 'x-crew-cost': r.cost };
  if (r.downgradedBy) h['x-crew-downgraded-by'] = r.downgradedBy;
  if (r.fittedMaxTokens !== undefined && r.fittedMaxTokens !== null) h[MAX_TOKENS_HEADER] = String(r.fittedMaxTokens);
  return h;
}
