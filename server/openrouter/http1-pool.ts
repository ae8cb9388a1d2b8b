/**
 * HTTP/1.1 requests whose answer is read whole, over keep-alive sockets of our own (plain or TLS). This is the
 * transport of every non-streamed completion, and on two cores node:http's client (ClientRequest, the Agent, header
 * validation, the parser's JS glue, abort-signal plumbing) cost more CPU than the gate and the ledger together.
 * Here a request is one string written to an idle socket and the answer is framed by Content-Length or chunked
 * encoding as it arrives. A POST is never sent twice: a reused socket that fails is the caller's connection error,
 * as with node:http.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface WholeResponse {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  text: string;
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Sockets idle longer than this are closed: servers drop idle keep-alive connections (Node's default is 5 s). */
const IDLE_MS = 4_000;
/** Idle sockets kept per origin; more in flight than this open and close their own. */
const MAX_IDLE = 256;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;
const MAX_BODY = 64 * 1024 * 1024;

interface Idle {
  socket: net.Socket;
  /** When it stops being worth trying: the server may have closed it by then. */
  until: number;
}

const pools = new Map<string, Idle[]>();

function origin(url: URL): { key: string; host: string; port: number; secure: boolean } {
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { key: `${url.protocol}//${host}:${port}`, host, port, secure };
}

function takeIdle(key: string, now: number): net.Socket | undefined {
  const idle = pools.get(key);
  while (idle?.length) {
    const s = idle.pop()!;
    if (!s.socket.destroyed && s.socket.readable && now < s.until) return s.socket;
    s.socket.destroy();
  }
  return undefined;
}

/** The server may close an idle socket at any time: one that ends or fails while parked is dropped. */
function onParkedEnd(this: net.Socket): void {
  this.destroy();
}

/** `keepAliveMs`: the server's own idle limit when it sent one (`Keep-Alive: timeout=5`). */
function park(key: string, socket: net.Socket, keepAliveMs: number | undefined): void {
  let idle = pools.get(key);
  if (!idle) pools.set(key, (idle = []));
  if (idle.length >= MAX_IDLE) return void socket.destroy();
  socket.removeAllListeners('data');
  socket.removeAllListeners('error');
  socket.removeAllListeners('close');
  socket.removeAllListeners('end');
  socket.on('error', onParkedEnd);
  socket.on('end', onParkedEnd);
  // A second short of the server's limit, as node:http's agent does, so a request never races the server's close.
  const lifetime = keepAliveMs === undefined ? IDLE_MS : Math.min(IDLE_MS, keepAliveMs - 1_000);
  if (lifetime <= 0) return void socket.destroy();
  idle.push({ socket, until: Date.now() + lifetime });
}

function connect(o: ReturnType<typeof origin>): net.Socket {
  const socket = o.secure
    ? tls.connect({
        host: o.host,
        port: o.port,
        servername: net.isIP(o.host) ? undefined : o.host,
        ALPNProtocols: ['http/1.1'],
      })
    : net.connect({ host: o.host, port: o.port });
  socket.setNoDelay(true);
  return socket;
}

const forbidden = /[\r\n]/;

/** The request head and body as one string; a header that could split the request is refused. */
function serialize(url: URL, method: string, host: string, headers: Record<string, string>, body: string | undefined) {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (forbidden.test(value) || forbidden.test(name)) throw new TypeError(`header ${name} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  return head + '\r\n' + (body ?? '');
}

/**
 * Sends one request and resolves with the whole answer. Rejects with `TimeoutError` after `timeoutMs`, with the
 * signal's reason when aborted, and with the socket's error (or a plain Error when the server closed the
 * connection before the answer was complete); the caller maps those.
 */
export function requestWhole(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  opts: { signal?: AbortSignal; timeoutMs: number },
): Promise<WholeResponse> {
  return exchange(url, method, headers, body, opts);
}

/** An answer whose body comes as it arrives: its status and headers, and `done` once the body has ended. */
export interface StreamedResponse {
  status: number;
  headers: Record<string, string>;
  /** Settles when the body has ended (or failed: a cut connection, a timeout, the signal). */
  done: Promise<void>;
}

/**
 * Sends one request and resolves once the answer's head is in. A 2xx answer's body goes to `onBody` chunk by chunk
 * (de-chunked, as sent); any other answer is read whole and resolves as a WholeResponse, for the caller's error.
 * `timeoutMs` bounds the whole exchange, as it does for a non-streamed call.
 */
export function requestStream(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  opts: { signal?: AbortSignal; timeoutMs: number },
  /** Each piece of a 2xx answer's body, with the answer's head (already known when the first piece comes). */
  onBody: (chunk: Buffer, head: { status: number; headers: Record<string, string> }) => void,
): Promise<StreamedResponse | WholeResponse> {
  return new Promise((resolveHead, rejectHead) => {
    let headSeen = false;
    let bodyEnded!: () => void;
    let bodyFailed!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      bodyEnded = res;
      bodyFailed = rej;
    });
    // The caller awaits `done` only once the head has resolved; a failure before that is the head's.
    done.catch(() => undefined);
    let head!: { status: number; headers: Record<string, string> };
    exchange(url, method, headers, body, opts, (reader) => ({
      onHead(status) {
        if (status < 200 || status > 299) return false;
        headSeen = true;
        head = reader().statusAndHeaders;
        resolveHead({ ...head, done });
        return true;
      },
      // The head read once, not per chunk: a stream's chunks are many.
      onBody: (chunk) => onBody(chunk, head),
    })).then(
      (whole) => (headSeen ? bodyEnded() : resolveHead(whole)),
      (e: Error) => (headSeen ? bodyFailed(e) : rejectHead(e)),
    );
  });
}

function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  opts: { signal?: AbortSignal; timeoutMs: number },
  streamTo?: (reader: () => ResponseReader) => { onHead(status: number): boolean; onBody(chunk: Buffer): void },
): Promise<WholeResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const o = origin(url);
  const hostHeader = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  let text: string;
  try {
    text = serialize(url, method, hostHeader, headers, body);
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
  return new Promise<WholeResponse>((resolve, reject) => {
    const reused = takeIdle(o.key, Date.now());
    const socket = reused ?? connect(o);
    if (reused) {
      socket.off('error', onParkedEnd);
      socket.off('end', onParkedEnd);
    }
    const to = streamTo?.(() => reader);
    // A stream may run for as long as the model writes: the timeout bounds the wait for its head only.
    const sink = to && {
      onHead: (status: number) => {
        const streaming = to.onHead(status);
        if (streaming) clearTimeout(timer);
        return streaming;
      },
      onBody: (chunk: Buffer) => to.onBody(chunk),
    };
    const reader: ResponseReader = new ResponseReader(method === 'HEAD', sink);
    let settled = false;
    const done = (err: Error | null, res?: WholeResponse, keep = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      if (keep) park(o.key, socket, reader.keepAliveMs);
      else socket.destroy();
      resolve(res!);
    };
    const onAbort = () => done(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort);
    const timer = setTimeout(() => done(new TimeoutError(opts.timeoutMs)), opts.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      let out: ReturnType<ResponseReader['push']>;
      try {
        out = reader.push(chunk);
      } catch (e) {
        return done(e as Error);
      }
      if (out) done(null, out.response, out.reusable);
    });
    socket.on('end', () => {
      const res = reader.finishAtClose();
      if (res) done(null, res);
      else done(new Error('the connection closed before the answer was complete'));
    });
    socket.on('close', () => done(new Error('the connection closed before the answer was complete')));
    socket.on('error', (e) => done(e));
    socket.write(text);
  });
}

/** Frames one HTTP/1.1 response out of the bytes of a socket. */
class ResponseReader {
  private buf: Buffer | null = null;
  private status = 0;
  private headers: Record<string, string> = {};
  /** Bytes of body still expected with Content-Length; -1 chunked; -2 until the connection closes. */
  private length = -3;
  private body: Buffer[] = [];
  private bodySize = 0;
  private close = false;
  /** Chunked decoding: bytes left in the current chunk, or -1 when a size line is next. */
  private chunkLeft = -1;

  constructor(
    private readonly head: boolean,
    /** Takes the body's bytes as they arrive instead of gathering them (a 2xx answer's, for a stream). */
    private readonly stream?: { onHead(status: number): boolean; onBody(chunk: Buffer): void },
  ) {}

  /** Whether the body is going to `stream.onBody` (decided when the head arrives). */
  private streaming = false;

  /** The response once complete, with whether the socket may carry another request. */
  push(chunk: Buffer): { response: WholeResponse; reusable: boolean } | undefined {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.length === -3) {
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.buf.length > MAX_HEAD) throw new Error('the answer has a header block over 64 KiB');
        return undefined;
      }
      this.parseHead(this.buf.toString('latin1', 0, end));
      this.buf = this.buf.subarray(end + 4);
      if (this.length !== -3 && this.stream) this.streaming = this.stream.onHead(this.status);
    }
    if (this.length >= 0) {
      const take = Math.min(this.length, this.buf.length);
      if (take) this.keep(this.buf.subarray(0, take));
      this.length -= take;
      const extra = this.buf.length - take;
      this.buf = null;
      // Bytes past the answer were never asked for: the socket cannot be trusted with another request.
      return this.length === 0 ? { response: this.response(), reusable: !this.close && extra === 0 } : undefined;
    }
    if (this.length === -1) return this.dechunk();
    this.keep(this.buf);
    this.buf = null;
    return undefined;
  }

  /** A response framed by the end of the connection, complete now; undefined when it was cut short. */
  finishAtClose(): WholeResponse | undefined {
    return this.length === -2 ? this.response() : undefined;
  }

  private parseHead(block: string): void {
    // Scanned in place (no split, no regex): a head is parsed on every call.
    const first = block.indexOf('\r\n');
    const statusLine = first < 0 ? block : block.slice(0, first);
    const status = Number(statusLine.slice(9, 12));
    if (!statusLine.startsWith('HTTP/1.') || statusLine[8] !== ' ' || !(status >= 100 && status <= 999))
      throw new Error(`the answer does not start with an HTTP/1.x status line: ${statusLine.slice(0, 80)}`);
    const minor = statusLine[7];
    // 100 Continue and 103 Early Hints come before the real answer.
    if (status >= 100 && status < 200) return;
    // No prototype: a header named "constructor" or "__proto__" is just a header.
    const headers = Object.create(null) as Record<string, string>;
    for (let at = first < 0 ? block.length : first + 2; at < block.length;) {
      let eol = block.indexOf('\r\n', at);
      if (eol < 0) eol = block.length;
      const colon = block.indexOf(':', at);
      if (colon > at && colon < eol) {
        const name = block.slice(at, colon).trim().toLowerCase();
        const value = block.slice(colon + 1, eol).trim();
        const seen = headers[name];
        headers[name] = seen === undefined ? value : `${seen}, ${value}`;
      }
      at = eol + 2;
    }
    this.status = status;
    this.headers = headers;
    const connection = headers.connection?.toLowerCase() ?? '';
    this.close = minor === '0' ? !connection.includes('keep-alive') : connection.includes('close');
    const te = headers['transfer-encoding']?.toLowerCase();
    if (this.head || status === 204 || status === 304) this.length = 0;
    else if (te && te.includes('chunked')) this.length = -1;
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BODY)
        throw new Error(`the answer has an unusable Content-Length: ${headers['content-length']}`);
      this.length = n;
    } else {
      this.length = -2;
      this.close = true;
    }
  }

  private dechunk(): { response: WholeResponse; reusable: boolean } | undefined {
    let buf = this.buf!;
    for (;;) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, buf.length);
        this.keep(buf.subarray(0, take));
        this.chunkLeft -= take;
        buf = buf.subarray(take);
        if (this.chunkLeft > 0) break;
        this.chunkLeft = -2; // the CRLF after the chunk's data
      }
      if (this.chunkLeft === -2) {
        if (buf.length < 2) break;
        if (buf[0] !== 13 || buf[1] !== 10)
          throw new Error('the answer has a malformed chunk (no CRLF after its data)');
        buf = buf.subarray(2);
        this.chunkLeft = -1;
      }
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > MAX_HEAD) throw new Error('a chunk size line over 64 KiB');
        break;
      }
      const size = parseInt(buf.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error('the answer has a malformed chunk size');
      if (size === 0) {
        // The last chunk, then trailers up to an empty line.
        const end = buf.indexOf(CRLFCRLF, eol);
        if (end < 0) {
          if (buf.length - eol > MAX_HEAD) throw new Error('trailers over 64 KiB');
          break;
        }
        const extra = buf.length - (end + 4);
        this.buf = null;
        return { response: this.response(), reusable: !this.close && extra === 0 };
      }
      buf = buf.subarray(eol + 2);
      this.chunkLeft = size;
      if (this.bodySize + size > MAX_BODY) throw new Error('the answer is over 64 MiB');
    }
    this.buf = buf.length ? buf : null;
    return undefined;
  }

  private keep(b: Buffer): void {
    if (this.streaming) return void this.stream!.onBody(b);
    this.bodySize += b.length;
    if (this.bodySize > MAX_BODY) throw new Error('the answer is over 64 MiB');
    this.body.push(b);
  }

  /** The server's idle limit for this connection, from `Keep-Alive: timeout=<seconds>`. */
  get keepAliveMs(): number | undefined {
    const m = /(?:^|[\s,])timeout=(\d+)/i.exec(this.headers['keep-alive'] ?? '');
    return m ? Number(m[1]) * 1000 : undefined;
  }

  get statusAndHeaders(): { status: number; headers: Record<string, string> } {
    return { status: this.status, headers: this.headers };
  }

  private response(): WholeResponse {
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    return { status: this.status, headers: this.headers, text: body.toString('utf8') };
  }
}
