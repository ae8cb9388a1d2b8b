import { strict as assert } from 'node:assert';
import net from 'node:net';
import { requestWhole, TimeoutError } from '../../server/openrouter/http1-pool';

/** A raw TCP server that answers each request head with `answer(requestText)`, written in the pieces given. */
async function rawServer(answer: (req: string, socket: net.Socket) => (string | Buffer)[] | null) {
  let connections = 0;
  const requests: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let buf = '';
    socket.on('data', (c) => {
      buf += c.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const req = buf.slice(0, end + 4 + length);
        buf = buf.slice(req.length);
        requests.push(req);
        const pieces = answer(req, socket);
        if (!pieces) return;
        void (async () => {
          for (const p of pieces) {
            socket.write(p);
            await new Promise((r) => setImmediate(r));
          }
        })();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: new URL(`http://127.0.0.1:${port}/api/v1/chat/completions`),
    requests,
    get connections() {
      return connections;
    },
    // Our pool keeps its sockets open: the server ends them, or close would wait for them.
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const socket of open) socket.destroy();
      }),
  };
}

const send = (url: URL, opts: { signal?: AbortSignal; timeoutMs?: number } = {}) =>
  requestWhole(url, 'POST', { authorization: 'Bearer k', 'content-type': 'application/json' }, '{"a":"é"}', {
    timeoutMs: opts.timeoutMs ?? 5000,
    signal: opts.signal,
  });

describe('requestWhole (keep-alive HTTP/1.1 over our own sockets)', () => {
  it('sends one well-formed request and reads a Content-Length answer split across packets, reusing the socket', async () => {
    const s = await rawServer(() => [
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Generation-Id: gen-1\r\nContent-Le',
      'ngth: 11\r\n\r\n{"ok":',
      'true}',
    ]);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await send(s.url);
        assert.equal(r.status, 200);
        assert.equal(r.text, '{"ok":true}');
        assert.equal(r.headers['x-generation-id'], 'gen-1');
      }
      assert.equal(s.connections, 1, 'one keep-alive connection carried all three');
      const req = s.requests[0]!;
      assert.match(req, /^POST \/api\/v1\/chat\/completions HTTP\/1\.1\r\n/);
      assert.match(req, /\r\nhost: 127\.0\.0\.1:\d+\r\n/);
      assert.match(req, /\r\nauthorization: Bearer k\r\n/);
      // The body's length in bytes, not characters.
      assert.match(req, /\r\ncontent-length: 10\r\n\r\n/);
      assert.ok(Buffer.from(req, 'latin1').toString('utf8').endsWith('\r\n\r\n{"a":"é"}'));
    } finally {
      await s.close();
    }
  });

  it('decodes a chunked answer (sizes in hex, extensions, trailers) after a 100 Continue', async () => {
    const s = await rawServer(() => [
      'HTTP/1.1 100 Continue\r\n\r\n',
      'HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nRetry-After: 2\r\n\r\n',
      'a;x=1\r\n{"error":{\r\n',
      '1',
      '2\r\n"message":"',
      'slow"}}\r\n0\r\nX-Trailer: 1\r\n\r\n',
    ]);
    try {
      const r = await send(s.url);
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '2');
      assert.equal(r.text, '{"error":{"message":"slow"}}');
      await send(s.url);
      assert.equal(s.connections, 1);
    } finally {
      await s.close();
    }
  });

  it('reads an answer framed by the end of the connection, and does not reuse that socket', async () => {
    const s = await rawServer((_req, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"whole":true}');
      return null;
    });
    try {
      assert.equal((await send(s.url)).text, '{"whole":true}');
      assert.equal((await send(s.url)).text, '{"whole":true}');
      assert.equal(s.connections, 2);
    } finally {
      await s.close();
    }
  });

  it('refuses chunked framing that does not add up', async () => {
    const s = await rawServer(() => ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n0\r\n\r\n']);
    try {
      await assert.rejects(send(s.url), /malformed chunk/);
    } finally {
      await s.close();
    }
  });

  it("keeps a socket no longer than a second short of the server's Keep-Alive timeout", async () => {
    const s = await rawServer(() => ['HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\n{}']);
    try {
      await send(s.url);
      await send(s.url);
      assert.equal(s.connections, 2, 'a server that closes idle sockets after 1 s gets a new connection');
    } finally {
      await s.close();
    }
  });

  it('fails (never resolves a partial answer) when the server closes mid-body', async () => {
    const s = await rawServer((_req, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut":');
      return null;
    });
    try {
      await assert.rejects(send(s.url), /closed before the answer was complete/);
    } finally {
      await s.close();
    }
  });

  it('times out, and rejects with the signal when aborted', async () => {
    const s = await rawServer(() => null);
    try {
      await assert.rejects(send(s.url, { timeoutMs: 50 }), (e: unknown) => e instanceof TimeoutError);
      const c = new AbortController();
      const p = send(s.url, { signal: c.signal });
      setTimeout(() => c.abort(new Error('stop')), 20);
      await assert.rejects(p, /stop/);
    } finally {
      await s.close();
    }
  });

  it('refuses a header value that would split the request', async () => {
    await assert.rejects(
      requestWhole(new URL('http://127.0.0.1:9/x'), 'POST', { 'x-title': 'a\r\nevil: 1' }, '', { timeoutMs: 100 }),
      /line break/,
    );
  });
});
