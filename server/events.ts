/** Domain events. Services publish; the rpc layer fans them out as notifications, SSE events and webhooks. */
import { EventEmitter } from 'node:events';
import type { BudgetAlert, LedgerEntry, Run, RunProgress, ServerStatusNotification } from '../protocol';

export interface DomainEvents {
  'usage.recorded': LedgerEntry;
  'budget.alert': BudgetAlert;
  'server.status': ServerStatusNotification.Params;
  'memory.reembed': { embedderId: string; done: number; total: number };
  'memory.changed': { ids: string[]; change: 'added' | 'updated' | 'deleted' | 'archived' | 'restored'; crew: string };
  'run.progress': RunProgress;
  /** A run ended (completed, failed, cancelled or stopped by a budget), as stored. */
  'run.finished': Run;
}

export class EventBus {
  private readonly emitter = new EventEmitter();
  constructor() {
    this.emitter.setMaxListeners(0);
  }
  publish<K extends keyof DomainEvents>(name: K, payload: DomainEvents[K]): void {
    this.emitter.emit(name, payload);
  }
  subscribe<K extends keyof DomainEvents>(name: K, listener: (payload: DomainEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
