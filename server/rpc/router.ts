/**
 * The one method table behind every transport. A request passes, in order: method lookup, the client's rate
 * limit, schema validation, the handler; then metrics, and for mutating methods the audit log. Transports only
 * frame messages and build a RequestContext.
 */
import { ErrorCodes, METHODS } from '../../protocol';
import type { MethodName } from '../../protocol';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { AuditLog } from './audit';
import { summarize } from './audit';
import { errors } from '../errors';
import { RpcError, toRpcError } from './errors';
import type { Metrics } from './metrics';
import type { RateLimiter } from './ratelimit';
import { describeIssues, schemas } from './schemas';

export interface ClientInfo {
  /**
   * `cli`, `vscode`, `n8n`, `browser`, … as the client *declared* it (server/hello, or X-Crew-Client over HTTP);
   * `unknown` until then. Recorded, never trusted.
   */
  kind: string;
  /** The connection (socket/stdio), or `http`. */
  id: string;
  transport: 'stdio' | 'socket' | 'http' | 'in-process';
  /** Who was authenticated (server/rpc/principal.ts): rate limits and the audit log are keyed on it. */
  principal: string;
  /** What the client said it is, verbatim (bounded), for the audit log. */
  declared?: string;
  name?: string;
}

export interface RequestContext {
  client: ClientInfo;
  signal: AbortSignal;
  /** Sends `$/progress` for the request's progressToken; a no-op without one. */
  progress(value: unknown): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (params: any, ctx: RequestContext) => unknown;

export class Router {
  private readonly handlers = new Map<string, Handler>();

  constructor(
    private readonly deps: {
      clock: Clock;
      metrics: Metrics;
      audit: AuditLog;
      limiter: RateLimiter;
      log: Logger;
      /** After each successful mutating call (the app turns it into `store/changed`). */
      onChanged?: (method: string) => void;
    },
  ) {}

  register(method: MethodName, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  /** Methods in the protocol that have no handler: a wiring bug, checked at start-up and in tests. */
  missing(): string[] {
    return Object.keys(METHODS).filter((m) => !this.handlers.has(m));
  }

  async dispatch(method: string, rawParams: unknown, ctx: RequestContext): Promise<unknown> {
    const handler = this.handlers.get(method);
    if (!handler) throw new RpcError(ErrorCodes.MethodNotFound, `unknown method "${method}"`);
    const spec = METHODS[method as MethodName];
    const started = performance.now();
    let failed: RpcError | undefined;
    try {
      const wait = this.deps.limiter.take(ctx.client.principal);
      if (wait > 0)
        throw errors.rateLimited({ retryAfterMs: wait, limitPerSecond: this.deps.limiter.config.perSecond });
      const parsed = schemas[method as MethodName].safeParse(rawParams ?? undefined);
      let params: unknown;
      if (parsed.success) params = parsed.data;
      else {
        // Params-less calls of object-taking methods: treat a missing params as {}.
        const retry =
          rawParams === undefined || rawParams === null ? schemas[method as MethodName].safeParse({}) : parsed;
        if (!retry.success) {
          const d = describeIssues(retry.error);
          throw errors.invalidParams(`${method}: ${d.message}`, { field: d.field, issues: d.issues });
        }
        params = retry.data;
      }
      return await handler(params, ctx);
    } catch (e) {
      failed = toRpcError(e, this.deps.log, method);
      throw failed;
    } finally {
      this.account(method, rawParams, ctx, started, failed, spec.mutating);
    }
  }

  /** Metrics, audit and change notices of one call; never throws (it runs in `finally`). */
  private account(
    method: string,
    rawParams: unknown,
    ctx: RequestContext,
    started: number,
    failed: RpcError | undefined,
    mutating: boolean,
  ): void {
    try {
      const ms = performance.now() - started;
      this.deps.metrics.record(method, ms, failed !== undefined);
      if (mutating) {
        this.deps.audit.record({
          at: new Date(this.deps.clock.now()).toISOString(),
          principal: ctx.client.principal,
          clientKind: ctx.client.kind,
          clientId: ctx.client.id,
          declaredClient: ctx.client.declared ?? ctx.client.name ?? null,
          method,
          summary: summarize(method, rawParams),
          outcome: failed ? 'error' : 'ok',
          errorCode: failed?.code ?? null,
          durationMs: Math.round(ms * 1000) / 1000,
        });
        if (!failed) this.deps.onChanged?.(method);
      }
    } catch (e) {
      this.deps.log.error(`accounting for ${method} failed: ${(e as Error)?.stack ?? String(e)}`);
    }
  }
}
