/**
 * In-memory budget, alert, crew and crew-token repositories for unit tests of the services (the file-backed ones
 * are tested on their own; these keep service tests about the services).
 */
import type { BudgetAlert, Webhook } from '../../protocol';
import type {
  AlertRepository,
  BudgetRecord,
  BudgetRepository,
  CrewRecord,
  CrewRepository,
  CrewTokenRecord,
  CrewTokenRepository,
} from '../../server/store/repositories';

export class MemoryBudgets implements BudgetRepository {
  readonly rows = new Map<string, BudgetRecord>();
  async list() {
    return [...this.rows.values()].map((b) => ({ ...b }));
  }
  async get(id: string) {
    const b = this.rows.get(id);
    return b && { ...b };
  }
  async put(b: BudgetRecord) {
    this.rows.set(b.id, { ...b });
  }
  async putMany(bs: BudgetRecord[]) {
    for (const b of bs) this.rows.set(b.id, { ...b });
  }
  async delete(id: string) {
    return this.rows.delete(id);
  }
}

export class MemoryAlerts implements AlertRepository {
  readonly fired = new Set<string>();
  readonly history: BudgetAlert[] = [];
  readonly hooks: Webhook[] = [];
  async markFired(key: string) {
    if (this.fired.has(key)) return false;
    this.fired.add(key);
    return true;
  }
  async firedKeys() {
    return [...this.fired];
  }
  async append(a: BudgetAlert) {
    this.history.push(a);
  }
  async list({ budgetId, limit }: { budgetId?: string; limit: number }) {
    return this.history
      .filter((a) => !budgetId || a.budgetId === budgetId)
      .slice(-limit)
      .reverse();
  }
  async webhooks() {
    return [...this.hooks];
  }
  async addWebhook(h: Webhook) {
    this.hooks.push(h);
  }
  async removeWebhook(id: string) {
    const i = this.hooks.findIndex((h) => h.id === id);
    if (i < 0) return false;
    this.hooks.splice(i, 1);
    return true;
  }
  // Delivery outcomes are the webhook tests' business (test/unit/webhooks.test.ts, test/contract).
  async deliveryGivenUp() {
    return undefined;
  }
  async deliveryDelivered() {}
  async expireWebhook() {
    return false;
  }
}

export class MemoryCrews implements CrewRepository {
  readonly rows = new Map<string, CrewRecord>();
  async list() {
    return [...this.rows.values()].map((c) => structuredClone(c));
  }
  async get(id: string) {
    const c = this.rows.get(id);
    return c && structuredClone(c);
  }
  async put(c: CrewRecord) {
    this.rows.set(c.id, structuredClone(c));
  }
  async delete(id: string) {
    return this.rows.delete(id);
  }
}

/** Crew tokens by crew id; `failWrites` makes the next writes throw, as a full disk would. */
export class MemoryCrewTokens implements CrewTokenRepository {
  readonly rows = new Map<string, CrewTokenRecord>();
  failWrites = false;
  async list() {
    return [...this.rows.values()].map((t) => ({ ...t }));
  }
  async get(crewId: string) {
    const t = this.rows.get(crewId);
    return t && { ...t };
  }
  async put(t: CrewTokenRecord) {
    if (this.failWrites) throw new Error('ENOSPC: no space left on device');
    this.rows.set(t.crewId, { ...t });
  }
  async delete(crewId: string) {
    if (this.failWrites) throw new Error('ENOSPC: no space left on device');
    return this.rows.delete(crewId);
  }
}
