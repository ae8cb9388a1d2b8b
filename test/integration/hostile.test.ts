/**
 * Hostile input over every transport: whatever arrives, the daemon answers it (an HTTP status or a JSON-RPC error)
 * and keeps serving; after each case `server/health` must still answer. The inputs are the ones that ended the
 * daemon before (a bare `//`, a body of `null`, an id nested 5,000 deep, …), then a seeded fuzzer of a few thousand
 * bodies.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ErrorCodes, METHODS } from '../../protocol';
import { launchServer, useFake, useServer, withTimeout, type ServerProcess } from '../helpers';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP request with full control of method, path, headers and body (bytes or chunks). */
function request(
  base: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer | Buffer[] },
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: opts.method ?? 'POST', path: opts.path, headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = opts.body;
    if (Array.isArray(body)) {
      // Chunked, written as the socket drains: a client still sending when the server answers.
      let i = 0;
      const pump = () => {
        while (i < body.length) if (!req.write(body[i++]!)) return void req.once('drain', pump);
        req.end();
      };
      pump();
    } else req.end(body);
  });
}

/** Raw bytes on a fresh TCP connection; resolves with everything the server sent before it closed (or 2 s). */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
    s.on('close', () => resolve(got));
    s.setTimeout(2_000, () => s.destroy());
    s.write(bytes);
  });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const deep = (n: number, open = '[', close = ']') => open.repeat(n) + close.repeat(n);

describe('hostile input over HTTP: every request is answered and the daemon keeps serving', function () {
  const f = useFake();
  const s = useServer(() => ({
    transport: 'http',
    upstreamUrl: f.fake.url,
    args: ['--rate-limit', '0', '--allow-host', 'devbox.example'],
  }));
  let base: string;
  let port: number;
  let auth: Record<string, string>;

  before(async () => {
    base = await s.server.httpBase();
    port = Number(new URL(base).port);
    auth = { authorization: `Bearer ${await s.server.token()}`, 'content-type': 'application/json' };
  });

  afterEach(async function () {
    // The point of every case: the process is alive and serving.
    assert.equal(s.server.child.exitCode, null, `crew-server exited:\n${s.server.stderr}`);
    const h = await request(base, {
      path: '/rpc',
      headers: auth,
      body: JSON.stringify({ jsonrpc: '2.0', id: 'health', method: 'server/health' }),
    });
    assert.equal(h.status, 200, h.text);
    assert.equal((JSON.parse(h.text) as { result: { ok: boolean } }).result.ok, true);
  });

  const rpc = async (body: string | Buffer) => {
    const a = await request(base, { path: '/rpc', headers: auth, body });
    return { status: a.status, json: a.text ? (JSON.parse(a.text) as unknown) : undefined };
  };

  it('odd request targets without a token: `//`, `http://[`, `*`, absolute-form, `%%`', async () => {
    assert.equal((await request(base, { method: 'GET', path: '//' })).status, 404);
    for (const target of ['http://[', '*', 'http://127.0.0.1/rpc', '/%%/..', '//rpc?%zz', '/rpc?token=%E0%A4%A']) {
      const got = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.match(got, /^HTTP\/1\.1 (400|401|404) /, `${target}: ${got.slice(0, 80)}`);
    }
    // The same from a page in a browser: an <img> of http://127.0.0.1:PORT// is just this GET.
    const img = await raw(
      port,
      `GET // HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: image/*\r\nConnection: close\r\n\r\n`,
    );
    assert.match(img, /^HTTP\/1\.1 404 /);
  });

  it('a body of null, 1, "x" or [] is an invalid request with id null', async () => {
    for (const body of ['null', '1', '"x"', 'true']) {
      const r = await rpc(body);
      assert.equal(r.status, 200);
      assert.deepEqual((r.json as { id: unknown }).id, null, body);
      assert.equal((r.json as { error: { code: number } }).error.code, ErrorCodes.InvalidRequest, body);
    }
    const empty = await rpc('[]');
    assert.equal((empty.json as { error: { code: number } }).error.code, ErrorCodes.InvalidRequest);
  });

  it('an id that is not a string, a number or null is -32600 with id null, however deep', async () => {
    for (const id of ['{"a":1}', '[1]', 'true', deep(5_000)]) {
      const r = await rpc(`{"jsonrpc":"2.0","id":${id},"method":"server/health"}`);
      const e = r.json as { id: unknown; error: { code: number; message: string } };
      assert.equal(e.id, null);
      assert.equal(e.error.code, ErrorCodes.InvalidRequest, e.error.message);
    }
    const ok = await rpc('{"jsonrpc":"2.0","id":null,"method":"server/health"}');
    assert.equal((ok.json as { id: unknown; result: { ok: boolean } }).result.ok, true);
  });

  it('nesting is bounded: deep params get -32600, params just inside the bound get -32602 naming the field and an audit line', async () => {
    const tooDeep = await rpc(`{"jsonrpc":"2.0","id":1,"method":"budget/set","params":{"scope":${deep(5_000)}}}`);
    assert.equal((tooDeep.json as { error: { code: number } }).error.code, ErrorCodes.InvalidRequest);
    const inside = await rpc(`{"jsonrpc":"2.0","id":2,"method":"budget/set","params":{"scope":${deep(60)}}}`);
    const e = (inside.json as { error: { code: number; data: { field: string } } }).error;
    assert.equal(e.code, ErrorCodes.InvalidParams);
    assert.ok(e.data.field.startsWith('scope'), e.data.field);
    const audit = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'audit/list', params: { limit: 5 } }));
    const entries = (audit.json as { result: { entries: { method: string; errorCode: number | null }[] } }).result
      .entries;
    assert.ok(
      entries.some((x) => x.method === 'budget/set' && x.errorCode === ErrorCodes.InvalidParams),
      JSON.stringify(entries),
    );
  });

  it('batches: every invalid entry gets its own error, valid notifications none, all-notifications 204', async () => {
    const one = await rpc('[null]');
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, [
      {
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCodes.InvalidRequest, message: 'not a JSON-RPC 2.0 request: expected an object, got null' },
      },
    ]);
    const mixed = await rpc(
      JSON.stringify([
        1,
        { jsonrpc: '2.0', method: 'server/health' },
        { jsonrpc: '2.0', id: 'a', method: 'server/health' },
        { jsonrpc: '2.0', id: { x: 1 }, method: 'server/health' },
        { jsonrpc: '2.0', id: 'b', method: 'no/such' },
      ]),
    );
    const replies = mixed.json as { id: unknown; error?: { code: number }; result?: unknown }[];
    assert.equal(replies.length, 4, JSON.stringify(replies));
    assert.deepEqual(
      replies.map((r) => [r.id, r.error?.code ?? 'ok']),
      [
        [null, ErrorCodes.InvalidRequest],
        ['a', 'ok'],
        [null, ErrorCodes.InvalidRequest],
        ['b', ErrorCodes.MethodNotFound],
      ],
    );
    const notes = await request(base, {
      path: '/rpc',
      headers: auth,
      body: JSON.stringify([{ jsonrpc: '2.0', method: 'server/health' }]),
    });
    assert.equal(notes.status, 204);
  });

  it('a body over the limit gets its 413 before the connection closes, by Content-Length or while still sending', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 0x20);
    const declared = await request(base, { path: '/rpc', headers: auth, body: big });
    assert.equal(declared.status, 413);
    assert.match(declared.text, /over 4194304 bytes/);
    const chunks = Array.from({ length: 96 }, () => Buffer.alloc(64 * 1024, 0x20));
    const streamed = await request(base, {
      path: '/rpc',
      headers: { ...auth, 'transfer-encoding': 'chunked' },
      body: chunks,
    });
    assert.equal(streamed.status, 413);
    const gateway = await request(base, {
      path: '/v1/chat/completions',
      headers: { ...auth, 'transfer-encoding': 'chunked' },
      body: chunks,
    });
    assert.equal(gateway.status, 413);
    assert.equal((JSON.parse(gateway.text) as { error: { code: string } }).error.code, 'body_too_large');
  });

  it('invalid UTF-8, a torn JSON text and a header block over the limit', async () => {
    const bad = await rpc(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    assert.equal((bad.json as { error: { code: number } }).error.code, ErrorCodes.ParseError);
    const torn = await rpc('{"jsonrpc":"2.0","id":1,"method":"server/hea');
    assert.equal((torn.json as { error: { code: number } }).error.code, ErrorCodes.ParseError);
    const headers = await raw(
      port,
      `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    assert.match(headers, /^HTTP\/1\.1 431 /);
  });

  it('/v1/models/<bad percent-encoding> is a 400 naming the model', async () => {
    const r = await request(base, { method: 'GET', path: '/v1/models/%E0%A4%A', headers: auth });
    assert.equal(r.status, 400, r.text);
    assert.equal((JSON.parse(r.text) as { error: { param: string } }).error.param, 'model');
  });

  it('the Host header is checked: loopback names pass, any other name (DNS rebinding) is refused', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST', 'app.localhost'])
      assert.equal(
        (
          await request(base, {
            path: '/rpc',
            headers: { ...auth, host },
            body: '{"jsonrpc":"2.0","id":1,"method":"server/health"}',
          })
        ).status,
        200,
        host,
      );
    for (const host of [`evil.example:${port}`, 'evil.example', '127.0.0.1.evil.example', '10.0.0.1']) {
      for (const path of ['/rpc', '/health', '/dashboard/costs', '/v1/models']) {
        const post = path === '/rpc';
        const r = await request(base, {
          method: post ? 'POST' : 'GET',
          path,
          headers: { ...auth, host },
          body: post ? '{}' : undefined,
        });
        assert.equal(r.status, 403, `${host} ${path}: ${r.status}`);
      }
    }
    // The refusal says how to let a trusted proxy's name in, and a name let in (--allow-host) passes.
    const refused = await request(base, { path: '/health', headers: { ...auth, host: 'evil.example:8080' } });
    assert.match(refused.text, /--allow-host evil\.example \(CREW_ALLOWED_HOSTS\)/);
    for (const host of ['devbox.example:8080', 'DEVBOX.example'])
      assert.equal(
        (
          await request(base, {
            path: '/rpc',
            headers: { ...auth, host },
            body: '{"jsonrpc":"2.0","id":1,"method":"server/health"}',
          })
        ).status,
        200,
        host,
      );
  });
});

/** A raw framed-message peer for the socket and stdio transports. */
class Framed {
  private buf = Buffer.alloc(0);
  private readonly waiters: ((m: unknown) => void)[] = [];
  private readonly queue: unknown[] = [];
  closed = false;

  constructor(
    input: Readable,
    private readonly output: Writable,
  ) {
    input.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString())?.[1]);
        if (this.buf.length < end + 4 + len) return;
        const msg = JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString('utf8')) as { id?: unknown };
        this.buf = this.buf.subarray(end + 4 + len);
        // Notifications (server status, store changes) are not answers.
        if (msg.id === undefined) continue;
        const w = this.waiters.shift();
        if (w) w(msg);
        else this.queue.push(msg);
      }
    });
    input.on('close', () => (this.closed = true));
  }

  send(body: string | Buffer): void {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    this.output.write(`Content-Length: ${b.length}\r\n\r\n`);
    this.output.write(b);
  }

  write(bytes: string | Buffer): void {
    this.output.write(bytes);
  }

  next(ms = 5_000): Promise<unknown> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(new Promise((r) => this.waiters.push(r)), ms, 'no message from the server');
  }

  async health(): Promise<void> {
    this.send(JSON.stringify({ jsonrpc: '2.0', id: 'health', method: 'server/health' }));
    const m = (await this.next()) as { id: string; result: { ok: boolean } };
    assert.equal(m.id, 'health');
    assert.equal(m.result.ok, true);
  }
}

async function socketPeer(server: ServerProcess): Promise<{ peer: Framed; socket: net.Socket }> {
  const d = await server.discovery();
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const sock = net.connect(d.socket!);
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
  return { peer: new Framed(socket, socket), socket };
}

/** The envelope cases shared by the socket and stdio: each is answered and the same connection keeps serving. */
async function envelopeCases(peer: Framed): Promise<void> {
  const expectInvalid = async (body: string, code: number = ErrorCodes.InvalidRequest) => {
    peer.send(body);
    const m = (await peer.next()) as { id: unknown; error: { code: number; message: string } };
    assert.equal(m.id, null, body.slice(0, 60));
    assert.equal(m.error.code, code, `${body.slice(0, 60)}: ${m.error.message}`);
    await peer.health();
  };
  await expectInvalid('null');
  await expectInvalid('1');
  await expectInvalid('[1, null]');
  await expectInvalid('{"jsonrpc":"2.0","method":"server/health","id":{"a":1}}');
  await expectInvalid(`{"jsonrpc":"2.0","method":"server/health","id":${deep(5_000)}}`);
  await expectInvalid(`{"jsonrpc":"2.0","method":"budget/set","id":4,"params":{"scope":${deep(5_000)}}}`);
  await expectInvalid('{"jsonrpc":"2.0","method":"server/health","id":null}');
  await expectInvalid('{"jsonrpc":"2.0","id":1,"method":"server/hea', ErrorCodes.ParseError);
  await expectInvalid(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1'), ErrorCodes.ParseError);
  // Deep params just inside the bound on a mutating method: a -32602 that names the field.
  peer.send(`{"jsonrpc":"2.0","method":"budget/set","id":5,"params":{"scope":${deep(60)}}}`);
  const m = (await peer.next()) as { id: number; error: { code: number; data: { field: string } } };
  assert.equal(m.id, 5);
  assert.equal(m.error.code, ErrorCodes.InvalidParams);
}

describe('hostile input over the socket: bounded frames, checked envelopes', function () {
  const s = useServer(() => ({
    transport: 'socket',
    upstreamUrl: 'http://127.0.0.1:9/api/v1',
    args: ['--rate-limit', '0'],
  }));

  afterEach(async () => {
    assert.equal(s.server.child.exitCode, null, `crew-server exited:\n${s.server.stderr}`);
    const { peer, socket } = await socketPeer(s.server);
    await peer.health();
    socket.destroy();
  });

  it('answers every malformed envelope and keeps the connection', async () => {
    const { peer, socket } = await socketPeer(s.server);
    await envelopeCases(peer);
    socket.destroy();
  });

  it('a message over the size limit is refused from its header alone (nothing buffered), and the connection goes on', async () => {
    const { peer, socket } = await socketPeer(s.server);
    peer.write(`Content-Length: ${300 * 1024 * 1024}\r\n\r\n`);
    const m = (await peer.next()) as { id: unknown; error: { code: number; message: string } };
    assert.equal(m.id, null);
    assert.match(m.error.message, /over \d+ bytes/);
    // The refused body is skipped as it arrives; a short one lets the next message through.
    socket.destroy();
    const small = await socketPeer(s.server);
    small.peer.write(`Content-Length: ${40 * 1024 * 1024}\r\n\r\n`);
    await small.peer.next();
    for (let i = 0; i < 40; i++) small.peer.write(Buffer.alloc(1024 * 1024, 0x20));
    await small.peer.health();
    small.socket.destroy();
  });

  it('a header block over 8 KiB (20 MB of header bytes) is refused at once and the connection closed', async () => {
    const { peer, socket } = await socketPeer(s.server);
    const started = Date.now();
    const line = Buffer.from(`X-Junk: ${'a'.repeat(1000)}\r\n`);
    let sent = 0;
    while (sent < 20 * 1024 * 1024 && !peer.closed && !socket.destroyed) {
      if (!socket.write(line)) await new Promise((r) => socket.once('drain', r).once('close', r));
      sent += line.length;
    }
    const m = (await peer.next()) as { error: { message: string } };
    assert.match(m.error.message, /header block over 8192 bytes/);
    await withTimeout(new Promise((r) => (socket.closed ? r(null) : socket.once('close', r))), 5_000, 'not closed');
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });
});

describe('hostile input over stdio: the same envelope checks', function () {
  it('answers every malformed envelope on the private server and keeps serving it', async () => {
    const server = await launchServer({ transport: 'stdio', upstreamUrl: 'http://127.0.0.1:9/api/v1' });
    try {
      await server.ready();
      const peer = new Framed(server.child.stdout!, server.child.stdin!);
      await envelopeCases(peer);
      assert.equal(server.child.exitCode, null);
    } finally {
      await server.stop();
    }
  });
});

function value(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 6 || r < 0.3) {
    const leaves = [
      null,
      true,
      -1,
      0,
      1e308,
      -0.5,
      2 ** 53 + 1,
      '',
      'anthropic/claude-3.5-haiku',
      '../outside-the-data-dir.gz',
      '\u0000\uffff\ud800',
      'x'.repeat(Math.floor(rand() * 3000)),
      'global',
      'crew:ops',
      'daily',
    ];
    return leaves[Math.floor(rand() * leaves.length)];
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth + 1));
  const keys = [
    'scope',
    'limitUsd',
    'period',
    'crew',
    'content',
    'ids',
    'path',
    'model',
    'messages',
    'id',
    'limit',
    'x',
  ];
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) o[keys[Math.floor(rand() * keys.length)]!] = value(rand, depth + 1);
  return o;
}

function body(rand: () => number): string {
  const msg = () => {
    const m: Record<string, unknown> = { jsonrpc: rand() < 0.9 ? '2.0' : value(rand, 5) };
    if (rand() < 0.85) m.id = rand() < 0.8 ? Math.floor(rand() * 1e6) : value(rand, 4);
    m.method = rand() < 0.9 ? FUZZ_METHODS[Math.floor(rand() * FUZZ_METHODS.length)] : value(rand, 5);
    if (rand() < 0.9) m.params = value(rand, 0);
    return m;
  };
  const r = rand();
  let text = r < 0.15 ? JSON.stringify(Array.from({ length: Math.floor(rand() * 6) }, msg)) : JSON.stringify(msg());
  if (rand() < 0.1) text = text.slice(0, Math.floor(rand() * text.length));
  if (rand() < 0.05) text = `${'['.repeat(Math.floor(rand() * 200))}${text}`;
  return text;
}

// Destructive on purpose (ends the daemon); everything else may be called with anything.
const FUZZ_METHODS = Object.keys(METHODS).filter((m) => m !== 'server/shutdown');

describe('hostile input: a seeded fuzzer of a few thousand bodies', function () {
  this.timeout(120_000);
  const f = useFake();
  const s = useServer(() => ({ transport: 'http', upstreamUrl: f.fake.url, args: ['--rate-limit', '0'] }));

  it('3,000 bodies: each answered with 200/204 and a well-formed JSON-RPC reply; the daemon never stops', async () => {
    const base = await s.server.httpBase();
    const auth = { authorization: `Bearer ${await s.server.token()}`, 'content-type': 'application/json' };
    const rand = mulberry32(0xc0ffee);
    const bodies = Array.from({ length: 3_000 }, () => body(rand));
    let next = 0;
    const worker = async () => {
      while (next < bodies.length) {
        const text = bodies[next++]!;
        const a = await request(base, { path: '/rpc', headers: auth, body: text });
        assert.ok(a.status === 200 || a.status === 204, `${a.status} for ${text.slice(0, 200)}: ${a.text}`);
        if (a.status === 204) continue;
        const reply = JSON.parse(a.text) as unknown;
        for (const r of Array.isArray(reply) ? reply : [reply]) {
          const x = r as {
            jsonrpc: string;
            id: unknown;
            result?: unknown;
            error?: { code: unknown; message: unknown };
          };
          assert.equal(x.jsonrpc, '2.0');
          assert.ok(x.id === null || typeof x.id === 'string' || typeof x.id === 'number', a.text);
          assert.ok(
            'result' in x || (typeof x.error?.code === 'number' && typeof x.error.message === 'string'),
            a.text,
          );
          if (x.error?.code === ErrorCodes.InternalError)
            assert.fail(`internal error for ${text.slice(0, 300)}: ${a.text}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.equal(s.server.child.exitCode, null, s.server.stderr);
    const h = await request(base, {
      path: '/rpc',
      headers: auth,
      body: '{"jsonrpc":"2.0","id":1,"method":"server/health"}',
    });
    assert.equal(h.status, 200);
    assert.doesNotMatch(s.server.stderr, /uncaught|unhandled/i);
    await fsp.access(s.server.paths.store);
  });

  it('1,500 frames on one socket connection: no internal error, and the connection still answers after them', async () => {
    const { peer, socket } = await socketPeer(s.server);
    const rand = mulberry32(0xbadf00d);
    for (let i = 0; i < 1_500; i++) peer.send(body(rand));
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: 'last', method: 'server/health' }));
    for (;;) {
      const m = (await peer.next(30_000)) as { id: unknown; error?: { code: number; message: string } };
      assert.notEqual(m.error?.code, ErrorCodes.InternalError, m.error?.message);
      if (m.id === 'last') break;
    }
    socket.destroy();
    assert.equal(s.server.child.exitCode, null, s.server.stderr);
    // Whatever a fuzzed store/backup asked for, nothing was written outside the data directory.
    await assert.rejects(fsp.access(path.resolve('../outside-the-data-dir.gz')));
  });
});
