/**
 * The audit log: one JSON line per mutating call (who, what, when, outcome), appended to audit.log in the data
 * directory. Lines are batched (20 ms); the file is rotated once past a size so it cannot grow without bound.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { AuditEntry } from '../../protocol';
import { redact } from '../log';

const ROTATE_BYTES = 20 * 1024 * 1024;
const FLUSH_DELAY_MS = 20;

export class AuditLog {
  private pending: string[] = [];
  private flushing: Promise<void> | undefined;
  private recent: AuditEntry[] = [];
  private size = -1;
  /** Kept open between flushes: opening and closing the file per batch cost more than writing it. */
  private handle: FileHandle | undefined;

  constructor(readonly file: string | null) {}

  record(entry: AuditEntry): void {
    if (!this.file) {
      // Only a log without a file answers from memory. With one, entries held here would outlive the young
      // generation on a busy gateway and pile up as old-space garbage, growing the daemon's memory with its calls.
      this.recent.push(entry);
      if (this.recent.length > 2000) this.recent.splice(0, 1000);
      return;
    }
    this.pending.push(redact(JSON.stringify(entry)));
    // Lines gather for a few ms and go in one write: a write per tick cost a busy daemon more than the rest of
    // the audit (readers drain first, and the log is not a ledger: a crash may lose the last few ms of it).
    this.flushing ??= new Promise<void>((r) => setTimeout(r, FLUSH_DELAY_MS)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    const file = this.file!;
    try {
      while (this.pending.length) {
        const lines = this.pending.join('\n') + '\n';
        this.pending = [];
        if (this.size < 0)
          this.size = await fsp.stat(file).then(
            (s) => s.size,
            () => 0,
          );
        if (this.size > ROTATE_BYTES) {
          await this.closeHandle();
          await fsp.rename(file, `${file}.1`);
          this.size = 0;
        }
        this.handle ??= await fsp.open(file, 'a', 0o600);
        await this.handle.write(lines);
        this.size += Buffer.byteLength(lines);
      }
    } catch (e) {
      // A failed write (disk full, file removed) drops the handle; the next batch opens the file again.
      await this.closeHandle();
      throw e;
    } finally {
      this.flushing = undefined;
    }
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }

  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Writes what is pending and closes the file (at shutdown). */
  async close(): Promise<void> {
    await this.drain().catch(() => undefined);
    await this.closeHandle();
  }

  /** Newest first, from this run, then from the file. */
  async list(limit: number, method?: string): Promise<AuditEntry[]> {
    await this.drain();
    let entries: AuditEntry[];
    if (this.file) {
      const text = await fsp.readFile(this.file, 'utf8').catch(() => '');
      entries = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEntry);
    } else entries = this.recent;
    return entries
      .filter((e) => !method || e.method === method)
      .slice(-limit)
      .reverse();
  }
}

/** A short, secret-free summary of params for the audit log; never throws (it runs on every mutating call). */
export function summarize(method: string, params: unknown): string {
  try {
    return summarizeUnsafe(method, params);
  } catch {
    return '(params could not be summarised)';
  }
}

function summarizeUnsafe(method: string, params: unknown): string {
  if (params === undefined || params === null) return '';
  const p = params as Record<string, unknown>;
  if (method === 'chat/complete') {
    const msgs = Array.isArray(p.messages) ? p.messages.length : 0;
    return JSON.stringify({
      model: p.model,
      models: p.models,
      crew: p.crew,
      agent: p.agent,
      messages: msgs,
      maxTokens: p.maxTokens,
      stream: p.stream,
    });
  }
  // The key itself must never reach the audit log; whether one was set is what an auditor needs.
  if (method === 'server/setApiKey') return JSON.stringify({ apiKey: p.apiKey === null ? null : '…redacted' });
  let shown = params;
  if (method === 'webhook/register') {
    // A webhook's signing key is as secret as an API key; that deliveries are signed is what an auditor needs.
    // Params that are not an object (refused anyway) could hold it where no key names it.
    if (typeof params !== 'object' || Array.isArray(params)) return '(not an object)';
    if ('secret' in p) shown = { ...p, secret: '…redacted' };
  }
  const text = JSON.stringify(shown, (_key, value: unknown) =>
    typeof value === 'string' && URL_LIKE.test(value) ? redactUrl(value) : value,
  );
  return text.length > 500 ? text.slice(0, 500) + '…' : text;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A URL with the secrets it may carry removed: a password in its user info, and every query value (services such
 * as Slack or Discord put the credential of a webhook in its URL, often in `?token=`).
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.replace(/\?.*$/s, '?…redacted');
  }
  if (url.password) url.password = 'redacted';
  if (url.username && url.password) url.username = 'redacted';
  if (url.search) {
    const names = [...url.searchParams.keys()];
    url.search = names.map((n) => `${encodeURIComponent(n)}=redacted`).join('&');
  }
  return url.toString();
}
