/**
 * The message reader of the socket and stdio transports, in place of vscode-jsonrpc's StreamMessageReader, which
 * has no size limit (a 300 MB message is buffered whole) and scans the header block quadratically. This one bounds
 * the header block and the message size before buffering, and checks the JSON-RPC envelope (server/rpc/envelope.ts)
 * before the connection sees a message: what fails gets its error reply and the connection keeps serving. Only a
 * header block that cannot be framed (too long, no Content-Length) ends the connection, since nothing after it
 * can be trusted to start a message.
 */
import type { Readable } from 'node:stream';
import { AbstractMessageReader, type DataCallback, type Disposable, type Message } from 'vscode-jsonrpc/node';
import { ErrorCodes } from '../../protocol';
import { checkEnvelope, errorReply, parseMessage, type ErrorReply } from '../rpc/envelope';

/** Far above any real header block (Content-Length and Content-Type). */
export const MAX_HEADER_BYTES = 8 * 1024;
/** LSP documents are opened whole, so this is above the HTTP body limit. */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'ascii');

export interface GuardOptions {
  maxHeaderBytes?: number;
  maxMessageBytes?: number;
  /** Sends an error reply on the connection's writer. */
  reply(message: ErrorReply): void;
  /** The stream cannot be framed any more: reply sent, end the connection. */
  fatal(): void;
}

export class GuardedMessageReader extends AbstractMessageReader {
  private readonly maxHeader: number;
  private readonly maxMessage: number;
  private header: Buffer = Buffer.alloc(0);
  /** Bytes of the body still expected, collected in `chunks` (or discarded when `skipping`). */
  private remaining = -1;
  private skipping = false;
  private chunks: Buffer[] = [];
  private callback: DataCallback | undefined;
  private dead = false;

  constructor(
    private readonly input: Readable,
    private readonly opts: GuardOptions,
  ) {
    super();
    this.maxHeader = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
    this.maxMessage = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (e) {
        // A bug of ours must not end the process; the connection cannot be trusted after it.
        this.fireError(e);
        this.die(errorReply(null, ErrorCodes.InternalError, 'internal error reading the message'));
      }
    };
    const onError = (e: Error) => this.fireError(e);
    // 'end' and 'close' both come for one stream: the connection hears of it once.
    let closed = false;
    const onClose = () => {
      if (closed) return;
      closed = true;
      this.fireClose();
    };
    this.input.on('data', onData);
    this.input.on('error', onError);
    this.input.on('close', onClose);
    this.input.on('end', onClose);
    return {
      dispose: () => {
        this.input.off('data', onData);
        this.input.off('error', onError);
        this.input.off('close', onClose);
        this.input.off('end', onClose);
      },
    };
  }

  private onData(data: Buffer): void {
    let chunk = data;
    while (chunk.length > 0 && !this.dead) {
      if (this.remaining >= 0) chunk = this.takeBody(chunk);
      else chunk = this.takeHeader(chunk);
    }
  }

  private takeHeader(chunk: Buffer): Buffer {
    // Search only what is new (plus 3 bytes of overlap): linear however the header block arrives.
    const from = Math.max(0, this.header.length - 3);
    this.header = this.header.length ? Buffer.concat([this.header, chunk]) : chunk;
    const end = this.header.indexOf(CRLFCRLF, from);
    if (end < 0) {
      if (this.header.length > this.maxHeader)
        this.die(errorReply(null, ErrorCodes.InvalidRequest, `header block over ${this.maxHeader} bytes`));
      return Buffer.alloc(0);
    }
    if (end > this.maxHeader) {
      this.die(errorReply(null, ErrorCodes.InvalidRequest, `header block over ${this.maxHeader} bytes`));
      return Buffer.alloc(0);
    }
    const block = this.header.subarray(0, end).toString('latin1');
    const rest = this.header.subarray(end + 4);
    this.header = Buffer.alloc(0);
    let length: number | undefined;
    for (const line of block.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-length') {
        const value = line.slice(colon + 1).trim();
        if (/^\d{1,12}$/.test(value)) length = Number(value);
      }
    }
    if (length === undefined) {
      this.die(errorReply(null, ErrorCodes.InvalidRequest, 'a message needs a Content-Length header'));
      return Buffer.alloc(0);
    }
    this.remaining = length;
    this.skipping = length > this.maxMessage;
    if (this.skipping)
      this.opts.reply(
        errorReply(null, ErrorCodes.InvalidRequest, `message of ${length} bytes is over ${this.maxMessage} bytes`),
      );
    if (length === 0) this.finishBody();
    return rest;
  }

  private takeBody(chunk: Buffer): Buffer {
    const take = Math.min(this.remaining, chunk.length);
    if (!this.skipping) this.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    this.remaining -= take;
    if (this.remaining === 0) this.finishBody();
    return chunk.subarray(take);
  }

  private finishBody(): void {
    const chunks = this.chunks;
    const skipped = this.skipping;
    this.chunks = [];
    this.remaining = -1;
    this.skipping = false;
    if (skipped) return;
    const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    const parsed = parseMessage(text);
    if ('reply' in parsed) return this.opts.reply(parsed.reply);
    if (Array.isArray(parsed.value))
      return this.opts.reply(
        errorReply(
          null,
          ErrorCodes.InvalidRequest,
          'batches are not supported on this transport: send one message at a time (POST /rpc takes batches)',
        ),
      );
    const env = checkEnvelope(parsed.value);
    if (env.kind === 'invalid') return this.opts.reply(env.reply);
    // vscode-jsonrpc correlates requests by a string or number id; it would drop a request with id null unanswered.
    if (env.kind === 'request' && env.id === null)
      return this.opts.reply(
        errorReply(null, ErrorCodes.InvalidRequest, '"id" null cannot be answered here: use a string or a number'),
      );
    this.callback?.(parsed.value as Message);
  }

  private die(reply: ErrorReply): void {
    if (this.dead) return;
    this.dead = true;
    this.header = Buffer.alloc(0);
    this.chunks = [];
    this.opts.reply(reply);
    this.opts.fatal();
  }
}
