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
import { RpcError } from '../rpc/errors';
import {
  GatewayError,
  handleGateway,
  sendGatewayError,
  type GatewayCrew,
  type GatewayDeps,
} from '../gateway/openai-compat';
import { readBody } from './body';
import { defaultDashboardDir, serveDashboard } from './dashboard';

interface JsonRpcRequest {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
  /** Where the built dashboards are (default: dist/webviews beside the server bundle). */
  dashboardDir?: string;
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

const rpcError = (id: unknown, code: number, message: string, data?: unknown) => ({
  jsonrpc: '2.0',
  id: id ?? null,
  error: data === undefined ? { code, message } : { code, message, data },
});

export async function listenHttp(
  opts: HttpOptions,
  router: Router,
  hub: NotificationHub,
  gateway?: GatewayDeps,
): Promise<http.Server> {
  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (url.pathname === '/health' && req.method === 'GET') return send(res, 200, { ok: true });
    // Static pages hold no data, so no token; every /rpc and /events call they make needs one.
    if (url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/'))
      return serveDashboard(req, res, url.pathname, opts.dashboardDir ?? defaultDashboardDir());
    const authorized =
      tokenMatches(bearer, opts.token) ||
      (url.pathname === '/events' && tokenMatches(url.searchParams.get('token') ?? undefined, opts.token));
    if (gateway && url.pathname.startsWith('/v1/')) {
      if (authorized) return handleGateway(req, res, gateway);
      let crew: GatewayCrew | undefined;
      try {
        crew = bearer && gateway.crewTokens ? await gateway.crewTokens.authenticate(bearer) : undefined;
      } catch (e) {
        return sendGatewayError(res, e);
      }
      if (crew) return handleGateway(req, res, gateway, crew);
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
    if (url.pathname !== '/rpc' && url.pathname !== '/events')
      return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    if (!authorized) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(
        res,
        401,
        rpcError(
          null,
          ErrorCodes.Unauthorized,
          'missing or wrong bearer token: use the token shown by "crew server token" ' +
            "(a crew's gateway token is only valid for /v1)",
        ),
      );
    }
    const declared = String(req.headers['x-crew-client'] ?? 'http');
    const client: ClientInfo = { kind: declared.split('/')[0] || 'http', id: `http:${declared}`, transport: 'http' };
    if (url.pathname === '/events') return events(req, res);
    if (req.method !== 'POST') return send(res, 405, rpcError(null, ErrorCodes.InvalidRequest, 'use POST /rpc'));
    let text: string;
    try {
      text = await readBody(req);
    } catch (e) {
      return send(res, 413, rpcError(null, ErrorCodes.InvalidRequest, (e as Error).message));
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return send(res, 200, rpcError(null, ErrorCodes.ParseError, 'the body is not valid JSON'));
    }
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const one = async (r: JsonRpcRequest) => {
      if (typeof r !== 'object' || r === null || r.jsonrpc !== '2.0' || typeof r.method !== 'string')
        return rpcError(
          r?.id,
          ErrorCodes.InvalidRequest,
          'not a JSON-RPC 2.0 request (need jsonrpc "2.0" and a method)',
        );
      const progressToken = (r.params as { progressToken?: string | number } | undefined)?.progressToken;
      try {
        const result = await router.dispatch(r.method, r.params, {
          client,
          signal: controller.signal,
          progress: (value) => {
            if (progressToken !== undefined) hub.broadcast('$/progress', { token: progressToken, value });
          },
        });
        return { jsonrpc: '2.0', id: r.id ?? null, result: result ?? null };
      } catch (e) {
        const err = e as RpcError;
        return rpcError(r.id, err.code, err.message, err.data);
      }
    };
    if (Array.isArray(body)) {
      if (body.length === 0 || body.length > 100)
        return send(res, 200, rpcError(null, ErrorCodes.InvalidRequest, 'a batch holds 1 to 100 requests'));
      const out = await Promise.all(body.map((r) => one(r as JsonRpcRequest)));
      const replies = out.filter((_, i) => (body[i] as JsonRpcRequest)?.id !== undefined);
      if (!replies.length) return void res.writeHead(204).end();
      return send(res, 200, replies);
    }
    const reply = await one(body as JsonRpcRequest);
    if (
      (body as JsonRpcRequest).id === undefined &&
      !('error' in reply && reply.error.code === ErrorCodes.InvalidRequest)
    )
      return void res.writeHead(204).end();
    if (!res.destroyed) send(res, 200, reply);
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

export { RpcError };
