/**
 * `X-Crew-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body with the subscription's secret. Computed with the
 * Web Crypto API that Node provides as a global: the nodes import nothing but n8n-workflow.
 */
const encoder = new TextEncoder();

async function hmacKey(secret: string, usage: 'sign' | 'verify') {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

function bytes(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/** A fresh random secret for a subscription (64 hex characters). */
export function newSecret(): string {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The header value the server sends for `body`. */
export async function signature(secret: string, body: string | Uint8Array): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret, 'sign'), bytes(body)));
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Whether `header` is the signature of `body` (compared in constant time by Web Crypto's verify). */
export async function signatureMatches(
  secret: string,
  body: string | Uint8Array,
  header: string | string[] | undefined,
): Promise<boolean> {
  const value = (Array.isArray(header) ? header[0] : header)?.trim() ?? '';
  const hex = /^sha256=([0-9a-f]{64})$/i.exec(value)?.[1];
  if (!hex) return false;
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify('HMAC', await hmacKey(secret, 'verify'), mac, bytes(body));
}
