/** What "the same content" means for exact-duplicate detection: Unicode NFC, case and whitespace folded. */
import { createHash } from 'node:crypto';

export function normalizeContent(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
}

export function contentHash(text: string): string {
  return createHash('sha256').update(normalizeContent(text)).digest('hex');
}
