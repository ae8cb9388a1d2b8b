/**
 * HTTP on 127.0.0.1: `POST /rpc` takes a JSON-RPC request (or batch) and answers it; `GET /events` streams
 * notifications as Server-Sent Events. Both require the bearer token (EventSource cannot set headers, so
 * /events also takes `?token=`). A client that disconnects mid-request cancels it. With gateway deps, `/v1/*` is
 * the OpenAI-compatible gateway (server/gateway/openai-compat.ts), behind the same token or a crew's own gateway
 * token (server/crews/tokens.ts), which is worth nothing on `/rpc` and `/events`. `/dashboard/*` serves the
 * dashboards' static pages without a token (./dashboard.ts).
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes } from '../../protocol';
import type { NotificationHub } from '../rpc/hub';
import type { ClientInfo, Router } from '../rpc/router';
import { errorReply, checkEnvelope, parseMessage } from '../rpc/envelope';
import type { RpcError } from '../rpc/errors';
import type { Logger } from '../log';
import {
  GatewayError,
  handleGateway,
  sendGatewayError,
  type GatewayCrew,
  type GatewayDeps,
} from '../gateway/openai-compat';
import { crewPrincipal, SERVER_PRINCIPAL } from '../rpc/principal';
import { BodyTooLarge, readBody } from './body';
import { allowedHosts, hostAllowed, hostName } from './hosts';
import { defaultDashboardDir, serveDashboard } from './dashboard';

const MAX_BATCH = 100;

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
  /** Where the built dashboards are (default: dist/webviews beside the server bundle). */
  dashboardDir?: string;
  /** Where a handler's unexpected failure is logged (the request still gets its 500). */
  log?: Logger;
  /** Host names accepted besides loopback and the bound address (a proxy that passes the outer Host on). */
  allowHosts?: readonly string[];
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Path and query of a request target, or undefined when it is not one a client of ours would send. */
export function requestTarget(raw: string | undefined): { pathname: string; query: URLSearchParams } | undefined {
  const target = raw ?? '/';
  // Origin-form only ("/path?query"); absolute-form ("http://host/…") is for proxies, and we are not one.
  if (!target.startsWith('/')) return undefined;
  const q = target.indexOf('?');
  return {
    pathname: q < 0 ? target : target.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)),
  };
}

/** The declared client (X-Crew-Client), bounded: recorded as said, never trusted. */
function declaredClient(req: http.IncomingMessage): string {
  const v = req.headers['x-crew-client'];
  const s = (Array.isArray(v) ? v[0] : v) ?? '';
  return s.replace(/[^\x20-\x7e]/g, '').slice(0, 100) || 'http';
}

export async function listenHttp(
  opts: HttpOptions,
  router: Router,
  hub: NotificationHub,
  gateway?: GatewayDeps,
): Promise<http.Server> {
  const hosts = allowedHosts(opts.host, opts.allowHosts);
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A bug of ours, not the caller's: log it, answer it, keep serving.
      opts.log?.error(
        `HTTP ${req.method} ${String(req.url).slice(0, 200)} failed: ${(e as Error)?.stack ?? String(e)}`,
      );
      if (!res.headersSent) send(res, 500, errorReply(null, ErrorCodes.InternalError, 'internal error'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 still says "Host: evil.example".
    if (!hostAllowed(req.headers.host, hosts))
      return send(res, 403, {
        error:
          `Host "${String(req.headers.host).slice(0, 100)}" is not this server; use http://127.0.0.1:<port>, or ` +
          `start crew-server with --allow-host ${hostName(String(req.headers.host)).slice(0, 100)} (CREW_ALLOWED_HOSTS) ` +
          'if a proxy you trust forwards that name',
      });
    const target = requestTarget(req.url);
    if (!target) return send(res, 400, { error: 'the request target must be a path ("/rpc", "/v1/…")' });
    const { pathname, query } = target;
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (pathname === '/health' && req.method === 'GET') return send(res, 200, { ok: true });
    // Static pages hold no data, so no token; every /rpc and /events call they make needs one.
    if (pathname === '/dashboard' || pathname.startsWith('/dashboard/'))
      return serveDashboard(req, res, pathname, opts.dashboardDir ?? defaultDashboardDir());
    const authorized =
      tokenMatches(bearer, opts.token) ||
      (pathname === '/events' && tokenMatches(query.get('token') ?? undefined, opts.token));
    if (gateway && pathname.startsWith('/v1/')) {
      if (authorized) return handleGateway(req, res, gateway, SERVER_PRINCIPAL);
      let crew: GatewayCrew | undefined;
      try {
        crew = bearer && gateway.crewTokens ? await gateway.crewTokens.authenticate(bearer) : undefined;
      } catch (e) {
        return sendGatewayError(res, e);
      }
      if (crew) return handleGateway(req, res, gateway, crewPrincipal(crew), crew);
      res.setHeader('www-authenticate', 'Bearer');
      return sendGatewayError(
        res,
        new GatewayError(
          401,
          'missing, wrong or revoked bearer token: use the token shown by "crew server token", ' +
            'or a crew\'s token from "crew crew token <crew>", as the API key',
          'invalid_request_error',
          'invalid_api_key',
        ),
      );
    }
    if (pathname !== '/rpc' && pathname !== '/events')
      return send(res, 404, { error: `no route ${req.method} ${pathname.slice(0, 200)}` });
    if (!authorized) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(
        res,
        401,
        errorReply(
          null,
          ErrorCodes.Unauthorized,
          'missing or wrong bearer token: use the token shown by "crew server token" ' +
            "(a crew's gateway token is only valid for /v1)",
        ),
      );
    }
    const declared = declaredClient(req);
    const client: ClientInfo = {
      kind: declared.split('/')[0] || 'http',
      id: 'http',
      transport: 'http',
      principal: SERVER_PRINCIPAL,
      declared,
    };
    if (pathname === '/events') return events(req, res);
    if (req.method !== 'POST')
      return send(res, 405, errorReply(null, ErrorCodes.InvalidRequest, 'use POST /rpc'), { allow: 'POST' });
    let text: string;
    try {
      text = await readBody(req);
    } catch (e) {
      if (e instanceof BodyTooLarge) return send(res, 413, errorReply(null, ErrorCodes.InvalidRequest, e.message));
      throw e;
    }
    const parsed = parseMessage(text);
    if ('reply' in parsed) return send(res, 200, parsed.reply);
    const body = parsed.value;
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    /** One entry's answer, or undefined for a valid notification (which gets none). */
    const one = async (entry: unknown): Promise<object | undefined> => {
      const env = checkEnvelope(entry);
      if (env.kind === 'invalid') return env.reply;
      if (env.kind === 'response')
        return errorReply(null, ErrorCodes.InvalidRequest, 'a response is not a request (nothing here asked)');
      const progressToken = (env.params as { progressToken?: unknown } | undefined)?.progressToken;
      try {
        const result = await router.dispatch(env.method, env.params, {
          client,
          signal: controller.signal,
          progress: (value) => {
            if (typeof progressToken === 'string' || typeof progressToken === 'number')
              hub.broadcast('$/progress', { token: progressToken, value });
          },
        });
        return env.kind === 'request' ? { jsonrpc: '2.0', id: env.id, result: result ?? null } : undefined;
      } catch (e) {
        const err = e as RpcError;
        return env.kind === 'request' ? errorReply(env.id, err.code, err.message, err.data) : undefined;
      }
    };
    if (Array.isArray(body)) {
      if (body.length === 0 || body.length > MAX_BATCH)
        return send(res, 200, errorReply(null, ErrorCodes.InvalidRequest, `a batch holds 1 to ${MAX_BATCH} requests`));
      const replies = (await Promise.all(body.map(one))).filter((r) => r !== undefined);
      if (!replies.length) return void res.writeHead(204).end();
      return send(res, 200, replies);
    }
    const reply = await one(body);
    if (reply === undefined) return void res.writeHead(204).end();
    send(res, 200, reply);
  }

  function events(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`: connected ${randomUUID()}\n\n`);
    const unsubscribe = hub.add({
      notify: (method, params) => res.write(`event: ${method}\ndata: ${JSON.stringify(params)}\n\n`),
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      unsubscribe();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
