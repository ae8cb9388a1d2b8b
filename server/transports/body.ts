/** Reading a bounded request body, shared by the HTTP transport and the OpenAI-compatible gateway. */
import type http from 'node:http';

export const MAX_BODY = 4 * 1024 * 1024;

export class BodyTooLarge extends Error {}

export function readBody(req: http.IncomingMessage, max = MAX_BODY): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyTooLarge(`request body over ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
