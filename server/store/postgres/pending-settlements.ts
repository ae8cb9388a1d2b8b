/**
 * Calls that were answered upstream while the team database was away: OpenRouter has billed them, so they must
 * reach the shared ledger, whatever happens next. Each is written durably to the data directory before it is
 * retried, and crossed out once the database has it; a start replays what a crash left. The settle key makes a
 * replay of a settlement that did commit (its acknowledgement lost) find the row instead of writing a twin.
 */
import { promises as fsp } from 'node:fs';
import type { CallScope } from '../../costs/gate';
import { writeDurably } from '../durable-file';
import type { NewLedgerRow } from '../repositories';

export interface PendingSettlement {
  key: string;
  reservationId: string | null;
  call: CallScope;
  row: NewLedgerRow;
}

export class PendingSettlements {
  private readonly open = new Map<string, PendingSettlement>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  /** What a previous run left unsettled. */
  async load(): Promise<PendingSettlement[]> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const list = JSON.parse(text) as PendingSettlement[];
    for (const p of list) this.open.set(p.key, p);
    return list;
  }

  /** Resolves once `p` is on disk. */
  add(p: PendingSettlement): Promise<void> {
    this.open.set(p.key, p);
    return this.save();
  }

  done(key: string): Promise<void> {
    if (!this.open.delete(key)) return Promise.resolve();
    return this.save();
  }

  get size(): number {
    return this.open.size;
  }

  private save(): Promise<void> {
    // One write at a time, each of the whole (small) list: the file is always one complete JSON document.
    const next = this.writing.then(() => writeDurably(this.file, JSON.stringify([...this.open.values()])));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
