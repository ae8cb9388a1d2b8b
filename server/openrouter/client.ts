/**
 * Our thin wrapper over the `openai` SDK pointed at OpenRouter (or any OpenAI-compatible base URL). The SDK's own
 * retries are off: we retry 429/5xx/connection failures ourselves, honouring Retry-After, and only before a
 * stream has produced anything (a retried stream would bill twice).
 */
import { StringDecoder } from 'node:string_decoder';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionChunk, ChatCompletion } from 'openai/resources/chat/completions';
import { ErrorCodes } from '../../protocol';
import type { ChatMessage } from '../../protocol';
import type { Clock } from '../clock';
import { DomainError } from '../errors';
import { mapUpstreamError, UpstreamError } from './errors';
import { keepAliveFetch } from './http-fetch';
import { requestStream, requestWhole, TimeoutError, type WholeResponse } from './http1-pool';
import { SseReader } from './sse';

export { DEFAULT_OPENROUTER_BASE_URL as DEFAULT_BASE_URL } from '../../protocol';

export interface UpstreamConfig {
  baseUrl: string;
  apiKey: string | undefined;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  maxRetries: number;
  /** Longest Retry-After we are willing to wait inside one call; longer ones fail with retryAfterMs in data. */
  maxRetryWaitMs: number;
  appUrl: string;
  appTitle: string;
}

export interface ChatRequest {
  model: string;
  /**
   * A fallback chain, `model` first (OpenRouter's `models`): OpenRouter tries each in order until one answers, and
   * names it in the response's `model` (ChatOutcome.model). Absent: `model` alone.
   */
  models?: readonly string[];
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  stream: boolean;
  /** Send the first (system) message with a `cache_control` breakpoint on it. */
  cacheSystemPrompt?: boolean;
}

export interface ChatOutcome {
  content: string;
  finishReason: string | null;
  /** The model that answered, as OpenRouter names it (the request's `model` when it did not say). */
  model: string;
  generationId: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** `usage.cost` as OpenRouter sent it; undefined when absent. */
  cost: number | undefined;
}

export interface GenerationInfo {
  totalCost: number;
}

export interface KeyInfo {
  label: string | null;
  limit: number | null;
  limitRemaining: number | null;
  usage: number;
  /** Usage in the current UTC day, week (from Monday) and month; null when OpenRouter did not say. */
  usageDaily: number | null;
  usageWeekly: number | null;
  usageMonthly: number | null;
  isFreeTier: boolean;
}

export interface Sleeper {
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realSleeper: Sleeper = {
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new DomainError(ErrorCodes.RequestCancelled, 'request cancelled'));
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(new DomainError(ErrorCodes.RequestCancelled, 'request cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * The messages with the first one, when it is a system message, sent as a text content part carrying
 * `cache_control: {type: 'ephemeral'}` (OpenRouter's syntax): a breakpoint caches everything up to it, so the
 * stable system prompt is cached even when later messages (memories, the task) change from call to call.
 */
export function withCacheBreakpoint(messages: readonly ChatMessage[]): OpenAI.Chat.ChatCompletionMessageParam[] {
  return messages.map((m, i) => {
    if (i !== 0 || m.role !== 'system') return m as OpenAI.Chat.ChatCompletionMessageParam;
    // cache_control is OpenRouter's extension of the OpenAI text part; the SDK passes unknown keys through.
    const part = { type: 'text' as const, text: m.content, cache_control: { type: 'ephemeral' as const } };
    return { role: 'system', content: [part], ...(m.name ? { name: m.name } : {}) };
  });
}

/** Each streamed piece of text, with the generation id and the model answering, as soon as they are known. */
export type OnDelta = (text: string, generationId: string | null, model: string) => void;

/** A chat completion's body as we send it: OpenAI's, plus OpenRouter's `models` fallback chain. */
type ChatBody = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming & { models?: readonly string[] };

interface OpenRouterUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  cost?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export class OpenRouterClient {
  private readonly sdk: OpenAI;
  /** Parsed on first use, then kept: it is on every call's path. */
  private completionsUrl: URL | undefined;

  constructor(
    readonly config: UpstreamConfig,
    private readonly clock: Clock,
    private readonly sleeper: Sleeper = realSleeper,
  ) {
    this.sdk = new OpenAI({
      baseURL: config.baseUrl,
      // The SDK insists on a key; without one, calls that need it fail upstream with 401, mapped clearly.
      apiKey: config.apiKey ?? 'no-key-configured',
      maxRetries: 0,
      timeout: config.timeoutMs,
      fetch: keepAliveFetch,
      defaultHeaders: {
        'HTTP-Referer': config.appUrl,
        'X-OpenRouter-Title': config.appTitle,
        'X-Title': config.appTitle,
      },
    });
  }

  /** Replaces the key for later calls (in memory only); undefined forgets it. */
  setApiKey(key: string | undefined): void {
    this.config.apiKey = key;
    this.sdk.apiKey = key ?? 'no-key-configured';
  }

  get keyConfigured(): boolean {
    return this.config.apiKey !== undefined;
  }

  private requireKey(): void {
    if (!this.config.apiKey)
      throw new UpstreamError(
        ErrorCodes.UpstreamUnauthorized,
        'no OpenRouter API key is configured: set OPENROUTER_API_KEY (or run crew-server --sandbox to try the product without an account)',
        { status: null, upstreamMessage: 'no key' },
      );
  }

  /** Runs `attempt` with retries on retryable upstream failures. */
  private async withRetries<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        const err = mapUpstreamError(e, this.clock.now());
        if (signal?.aborted) throw new DomainError(ErrorCodes.RequestCancelled, 'request cancelled');
        if (!(err instanceof UpstreamError) || !err.retryable || err.partial || n >= this.config.maxRetries) throw err;
        const wait = err.info.retryAfterMs ?? Math.min(8_000, 250 * 2 ** n) * (0.5 + Math.random() / 2);
        if (wait > this.config.maxRetryWaitMs) throw err;
        await this.sleeper.sleep(wait, signal);
      }
    }
  }

  async chat(
    req: ChatRequest,
    opts: { signal?: AbortSignal; onDelta?: OnDelta; onRaw?: (chunk: Buffer) => void } = {},
  ): Promise<ChatOutcome> {
    this.requireKey();
    const body: ChatBody = {
      model: req.model,
      messages: req.cacheSystemPrompt ? withCacheBreakpoint(req.messages) : req.messages,
      max_tokens: req.maxTokens,
      ...(req.models ? { models: req.models } : {}),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
    return this.withRetries(
      () => (req.stream ? this.streamOnce(body, opts) : this.completeOnce(body, opts.signal)),
      opts.signal,
    );
  }

  /**
   * A non-streamed completion, sent without the SDK: this is every gated call's hot path, and the SDK's request
   * building and web-stream plumbing cost more CPU than the rest of the call. Failures become the SDK's own error
   * classes, so they map (mapUpstreamError) exactly as the SDK's would.
   */
  private async completeOnce(body: ChatBody, signal: AbortSignal | undefined): Promise<ChatOutcome> {
    let res: WholeResponse;
    try {
      res = await requestWhole(this.completions(), 'POST', this.headers(), JSON.stringify(body), {
        signal,
        timeoutMs: this.config.timeoutMs,
      });
    } catch (e) {
      throw connectionFailure(e, signal);
    }
    if (res.status < 200 || res.status > 299) throw statusFailure(res);
    const json = safeJson(res.text);
    if (!json || typeof json !== 'object') throw new APIConnectionError({ message: 'OpenRouter answered no JSON' });
    const c = json as ChatCompletion;
    const usage = (c.usage ?? {}) as OpenRouterUsage;
    const generationHeader = res.headers['x-generation-id'];
    return outcome(
      c.choices?.[0]?.message?.content ?? '',
      c.choices?.[0]?.finish_reason ?? null,
      c.model ?? body.model,
      c.id ?? (typeof generationHeader === 'string' ? generationHeader : null),
      usage,
    );
  }

  /** Where completions go; a base URL that does not parse fails the call as a connection failure would. */
  private completions(): URL {
    return (this.completionsUrl ??= new URL(this.config.baseUrl.replace(/\/+$/, '') + '/chat/completions'));
  }

  /** The headers of a request sent without the SDK (the SDK sends the same ones). */
  private headers(accept = 'application/json'): Record<string, string> {
    return {
      authorization: `Bearer ${this.config.apiKey ?? 'no-key-configured'}`,
      'content-type': 'application/json',
      accept,
      'http-referer': this.config.appUrl,
      'x-openrouter-title': this.config.appTitle,
      'x-title': this.config.appTitle,
    };
  }

  /**
   * A streamed completion, also without the SDK: its web streams and per-chunk promises stood between OpenRouter's
   * first byte and the caller's. `onRaw` sees the answer's bytes exactly as they came (the gateway passes them on);
   * events are parsed beside it. Failures map as the SDK's would: an `error` event is an APIError without a status.
   */
  private async streamOnce(
    body: ChatBody,
    opts: { signal?: AbortSignal; onDelta?: OnDelta; onRaw?: (chunk: Buffer) => void },
  ): Promise<ChatOutcome> {
    let content = '';
    let deltas = 0;
    let finishReason: string | null = null;
    let usage: OpenRouterUsage | undefined;
    // Who answers is known from the first chunk that names it (with fallbacks, not necessarily body.model).
    let model: string | null = null;
    let generationId: string | null | undefined;
    let failure: unknown;
    const decoder = new StringDecoder('utf8');
    const events = new SseReader((data) => {
      if (failure !== undefined || data === '[DONE]') return;
      let chunk: ChatCompletionChunk & { error?: unknown };
      try {
        chunk = JSON.parse(data) as typeof chunk;
      } catch {
        failure = new APIError(
          undefined,
          { message: `an event that is not JSON: ${data.slice(0, 100)}` },
          undefined,
          undefined,
        );
        return;
      }
      if (chunk.error) {
        failure = new APIError(undefined, chunk.error, undefined, undefined);
        return;
      }
      generationId ??= chunk.id ?? null;
      if (chunk.model) model = chunk.model;
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content;
      if (text) {
        content += text;
        deltas++;
        opts.onDelta?.(text, generationId, model ?? body.model);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    });
    let res: Awaited<ReturnType<typeof requestStream>>;
    try {
      res = await requestStream(
        this.completions(),
        'POST',
        this.headers('text/event-stream'),
        JSON.stringify({ ...body, stream: true }),
        { signal: opts.signal, timeoutMs: this.config.timeoutMs },
        (bytes, head) => {
          if (generationId === undefined) generationId = head.headers['x-generation-id'] ?? undefined;
          opts.onRaw?.(bytes);
          events.push(decoder.write(bytes));
        },
      );
    } catch (e) {
      throw connectionFailure(e, opts.signal);
    }
    if (!('done' in res)) throw statusFailure(res);
    try {
      await res.done;
    } catch (e) {
      failure ??= connectionFailure(e, opts.signal);
    }
    if (failure === undefined && opts.signal?.aborted) failure = new APIUserAbortError();
    const partial = () => ({ content, completionTokens: deltas, generationId: generationId ?? null, model });
    if (failure !== undefined) {
      let err = mapUpstreamError(failure, this.clock.now());
      // The stream had started, so OpenRouter was reached (and may bill what it generated): a connection lost
      // now is a broken stream, not an unreachable upstream.
      if (err instanceof UpstreamError && err.code === ErrorCodes.UpstreamUnavailable)
        err = new UpstreamError(
          ErrorCodes.UpstreamStreamError,
          `OpenRouter's stream broke after ${deltas} chunk(s): ${err.info.upstreamMessage}`,
          err.info,
        );
      if (err instanceof UpstreamError || err.code === ErrorCodes.RequestCancelled) {
        (err as UpstreamError).partial = partial();
      }
      throw err;
    }
    if (!usage) {
      // The stream ended without its usage chunk: a cut connection. Bill what we saw, as an estimate.
      const err = new UpstreamError(ErrorCodes.UpstreamStreamError, 'OpenRouter closed the stream before it finished', {
        status: res.status,
        upstreamMessage: 'stream ended without usage',
      });
      err.partial = partial();
      throw err;
    }
    return outcome(content, finishReason, model ?? body.model, generationId ?? null, usage);
  }

  /** Raw model objects from GET /models (public; no key needed). */
  async listModels(signal?: AbortSignal): Promise<unknown[]> {
    return this.withRetries(async () => {
      const body = (await this.sdk.get('/models', { signal })) as { data?: unknown[] };
      if (!Array.isArray(body.data)) throw new Error('GET /models answered without a data list');
      return body.data;
    }, signal);
  }

  /** GET /generation; undefined while OpenRouter does not have it yet (404). */
  async generation(id: string, signal?: AbortSignal): Promise<GenerationInfo | undefined> {
    this.requireKey();
    try {
      const body = (await this.sdk.get('/generation', { query: { id }, signal })) as { data?: { total_cost?: number } };
      const cost = body.data?.total_cost;
      return typeof cost === 'number' ? { totalCost: cost } : undefined;
    } catch (e) {
      if (e instanceof OpenAI.NotFoundError) return undefined;
      throw mapUpstreamError(e, this.clock.now());
    }
  }

  /**
   * GET /generation with the retries every other call gets (429/5xx, honouring Retry-After): a verification of
   * thousands of calls must not give up on one hiccup, while the background reconciler simply tries again later.
   */
  generationRetried(id: string, signal?: AbortSignal): Promise<GenerationInfo | undefined> {
    return this.withRetries(() => this.generation(id, signal), signal);
  }

  /**
   * POST /embeddings; vectors in input order (OpenRouter may answer out of order), `usage.cost` and
   * `usage.prompt_tokens` when sent, the generation id (for reconcile).
   */
  async embeddings(
    model: string,
    input: string[],
    signal?: AbortSignal,
  ): Promise<{ vectors: number[][]; model: string; costUsd?: number; promptTokens?: number; generationId?: string }> {
    this.requireKey();
    return this.withRetries(async () => {
      // The SDK asks for base64 unless told otherwise; OpenRouter's models answer floats.
      const res = await this.sdk.embeddings.create({ model, input, encoding_format: 'float' }, { signal });
      const vectors: number[][] = new Array<number[]>(input.length);
      for (const d of res.data) vectors[d.index] = d.embedding;
      // `some` would skip the holes of a sparse array, so count explicitly.
      for (let i = 0; i < input.length; i++) {
        if (!vectors[i]) throw new Error(`OpenRouter returned no embedding for input ${i} of ${input.length}`);
      }
      const usage = res.usage as { cost?: unknown; prompt_tokens?: unknown } | undefined;
      const id = (res as { id?: unknown }).id;
      return {
        vectors,
        model: res.model ?? model,
        ...(typeof usage?.cost === 'number' ? { costUsd: usage.cost } : {}),
        ...(typeof usage?.prompt_tokens === 'number' ? { promptTokens: usage.prompt_tokens } : {}),
        ...(typeof id === 'string' ? { generationId: id } : {}),
      };
    }, signal);
  }

  /** Raw model objects from GET /embeddings/models (embedding models, with their prices; GET /models lists none). */
  async listEmbeddingModels(signal?: AbortSignal): Promise<unknown[]> {
    return this.withRetries(async () => {
      const body = (await this.sdk.get('/embeddings/models', { signal })) as { data?: unknown[] };
      if (!Array.isArray(body.data)) throw new Error('GET /embeddings/models answered without a data list');
      return body.data;
    }, signal);
  }

  async keyInfo(signal?: AbortSignal): Promise<KeyInfo> {
    this.requireKey();
    try {
      const body = (await this.sdk.get('/key', { signal })) as {
        data?: {
          label?: string;
          limit?: number | null;
          limit_remaining?: number | null;
          usage?: number;
          usage_daily?: number;
          usage_weekly?: number;
          usage_monthly?: number;
          is_free_tier?: boolean;
        };
      };
      const d = body.data ?? {};
      return {
        label: d.label ?? null,
        limit: d.limit ?? null,
        limitRemaining: d.limit_remaining ?? null,
        usage: d.usage ?? 0,
        usageDaily: typeof d.usage_daily === 'number' ? d.usage_daily : null,
        usageWeekly: typeof d.usage_weekly === 'number' ? d.usage_weekly : null,
        usageMonthly: typeof d.usage_monthly === 'number' ? d.usage_monthly : null,
        isFreeTier: d.is_free_tier ?? false,
      };
    } catch (e) {
      throw mapUpstreamError(e, this.clock.now());
    }
  }
}

/** A request that got no answer, as the SDK's error for it. */
function connectionFailure(e: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return new APIUserAbortError();
  if (e instanceof TimeoutError) return new APIConnectionTimeoutError();
  return new APIConnectionError({ cause: e as Error });
}

/** A non-2xx answer, as the SDK's error for its status (mapUpstreamError reads those). */
function statusFailure(res: WholeResponse): Error {
  const json = safeJson(res.text);
  const headers = new Headers();
  for (const k in res.headers) headers.set(k, res.headers[k]!);
  return APIError.generate(res.status, json as object | undefined, json === undefined ? res.text : undefined, headers);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function outcome(
  content: string,
  finishReason: string | null,
  model: string,
  generationId: string | null,
  u: OpenRouterUsage,
): ChatOutcome {
  return {
    content,
    finishReason,
    model,
    generationId,
    promptTokens: u.prompt_tokens ?? 0,
    completionTokens: u.completion_tokens ?? 0,
    cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
    cost: typeof u.cost === 'number' ? u.cost : undefined,
  };
}
