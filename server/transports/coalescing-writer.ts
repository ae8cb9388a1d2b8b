/**
 * A JSON-RPC message writer that frames each message into one buffer and sends every message of a tick in one
 * write. vscode-jsonrpc's own writer sends the header and the body as two writes, one message at a time, each
 * waiting for the last: three messages per call (the answer and two notifications) were six system calls, each
 * waking the client. Order is kept; a message is written before the next tick ends.
 */
import type { Writable } from 'node:stream';
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

export class CoalescingMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private pending: Buffer[] = [];
  private waiting: { resolve(): void; reject(e: Error): void }[] = [];
  private scheduled = false;
  private errors = 0;

  constructor(private readonly output: Writable) {
    super();
    output.on('error', (e: Error) => this.fireError(e));
    output.on('close', () => this.fireClose());
  }

  write(msg: Message): Promise<void> {
    let body: Buffer;
    try {
      body = Buffer.from(JSON.stringify(msg), 'utf8');
    } catch (e) {
      this.fireError(e, msg, ++this.errors);
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.pending.push(Buffer.from(`Content-Length: ${body.byteLength}\r\n\r\n`, 'ascii'), body);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private flush(): void {
    this.scheduled = false;
    const chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const waiting = this.waiting;
    this.pending = [];
    this.waiting = [];
    if (this.output.destroyed || this.output.writableEnded) {
      const err = new Error('the connection is closed');
      for (const w of waiting) w.reject(err);
      return;
    }
    this.output.write(chunk, (e) => {
      if (e) {
        this.fireError(e, undefined, ++this.errors);
        for (const w of waiting) w.reject(e);
      } else for (const w of waiting) w.resolve();
    });
  }

  end(): void {
    if (this.pending.length) this.flush();
  }
}
