/**
 * A `fetch` for the openai SDK built on node:http(s) with keep-alive agents. Node's global fetch (undici) costs
 * several times more CPU per call than a plain keep-alive request, and on two cores that alone would cap the
 * gateway below its throughput goal. Bodies stream (SSE works), and the abort signal reaches the socket.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }),
};

type FetchInput = string | URL | { url: string };

export function keepAliveFetch(input: FetchInput, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const protocol = url.protocol as 'http:' | 'https:';
  if (protocol !== 'http:' && protocol !== 'https:')
    return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))
    return Promise.reject(new TypeError('keepAliveFetch sends string or byte bodies only'));
  if (typeof body === 'string' || body instanceof Uint8Array)
    headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const send = protocol === 'https:' ? https.request : http.request;
    const req = send(
      url,
      { method: init.method ?? 'GET', agent: agents[protocol], headers, signal: init.signal ?? undefined },
      (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        const status = res.statusCode ?? 502;
        const nullBody = status === 204 || status === 304 || init.method === 'HEAD';
        resolve(
          new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage ?? '',
            headers: h,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}
