/** Reading a bounded request body, shared by the HTTP transport and the OpenAI-compatible gateway. */
import type http from 'node:http';

export const MAX_BODY = 4 * 1024 * 1024;

/** How long a refused body may keep streaming in before the connection is cut. */
const DRAIN_MS = 5_000;

export class BodyTooLarge extends Error {}

/**
 * The body as text, at most `max` bytes. Over the limit (by Content-Length, or once the bytes pass it) it rejects
 * with BodyTooLarge and keeps the connection open, discarding what still arrives, so the caller's 413 reaches the
 * client: closing at once would make a client that is still sending see a reset instead of the answer.
 */
export function readBody(req: http.IncomingMessage, max = MAX_BODY): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      req.removeAllListeners('data');
      req.on('data', () => undefined);
      req.resume();
      // Node discards the rest once the answer is out and keeps the connection for the next request; a client
      // that keeps sending for longer is cut off.
      const timer = setTimeout(() => req.socket.destroy(), DRAIN_MS);
      timer.unref();
      req.socket.once('close', () => clearTimeout(timer));
      reject(new BodyTooLarge(`request body over ${max} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) return tooLarge();
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
