/**
 * The ledger held in memory as columns (typed arrays + string dictionaries), so a report over a million rows is
 * one tight loop with no per-row objects. Rows are appended in completion order, so `ts` is non-decreasing and
 * time ranges are found by binary search.
 *
 * A row's agent is held as its one id (`attributedAgent`: `<crew>/<agent>` when the row has a crew), whatever the
 * stored line says: rows written before every caller spelled it so (`crew chat --crew ops --agent researcher`
 * stored `researcher`) read, filter, group and budget as `ops/researcher`. The files are not rewritten for it.
 */
import { attributedAgent, type CallStatus } from '../../../protocol';
import { sumPico } from '../../costs/money';
import type {
  LedgerAggregate,
  LedgerFilter,
  LedgerGroupBy,
  LedgerRow,
  LedgerUsage,
  NewLedgerRow,
} from '../repositories';

const STATUSES: CallStatus[] = ['ok', 'error', 'cancelled'];
const NONE = 0;

class Dictionary {
  readonly values: string[] = [''];
  private readonly index = new Map<string, number>();
  /** 0 stands for "none". */
  id(value: string | null): number {
    if (value === null) return NONE;
    let id = this.index.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.index.set(value, id);
    }
    return id;
  }
  find(value: string): number | undefined {
    return this.index.get(value);
  }
  value(id: number): string | null {
    return id === NONE ? null : (this.values[id] ?? null);
  }
}

export class LedgerColumns {
  private capacity = 0;
  length = 0;
  private ts = new Float64Array(0);
  private cost = new Float64Array(0);
  private prompt = new Uint32Array(0);
  private completion = new Uint32Array(0);
  private cached = new Uint32Array(0);
  private reasoning = new Uint32Array(0);
  private latency = new Uint32Array(0);
  private model = new Uint32Array(0);
  private crew = new Uint32Array(0);
  private agent = new Uint32Array(0);
  private tags = new Uint32Array(0);
  /** bit 0-1 status, bit 2 estimated, bit 3 stream */
  private flags = new Uint8Array(0);
  private costText: string[] = [];
  private generation: (string | null)[] = [];
  /** Row ids are dense from `firstId`. */
  private firstId = 1;

  private readonly models = new Dictionary();
  private readonly crews = new Dictionary();
  private readonly agents = new Dictionary();
  private readonly tagSets = new Dictionary();

  /** (crew id → agent as spelled → agent id): the one-id spelling is worked out once per pair, not per row. */
  private readonly agentIds = new Map<number, Map<string | null, number>>();

  private agentId(crewId: number, crew: string | null, agent: string | null): number {
    let byAgent = this.agentIds.get(crewId);
    if (!byAgent) this.agentIds.set(crewId, (byAgent = new Map<string | null, number>()));
    let id = byAgent.get(agent);
    if (id === undefined) byAgent.set(agent, (id = this.agents.id(attributedAgent(crew, agent))));
    return id;
  }

  nextId(): number {
    return this.firstId + this.length;
  }

  /** Appends `row` stamped `ts` (the caller keeps time order). */
  push(row: NewLedgerRow & { id?: number }, ts: number): LedgerRow {
    if (this.length === this.capacity) this.grow();
    const i = this.length;
    const id = row.id ?? this.nextId();
    if (id !== this.nextId()) throw new Error(`ledger row id ${id} out of order (expected ${this.nextId()})`);
    this.ts[i] = ts;
    this.cost[i] = row.costPico;
    this.prompt[i] = row.promptTokens;
    this.completion[i] = row.completionTokens;
    this.cached[i] = row.cachedTokens;
    this.reasoning[i] = row.reasoningTokens;
    this.latency[i] = Math.max(0, Math.round(row.latencyMs));
    this.model[i] = this.models.id(row.model);
    const crew = this.crews.id(row.crew);
    this.crew[i] = crew;
    this.agent[i] = this.agentId(crew, row.crew, row.agent);
    this.tags[i] = row.tags.length ? this.tagSets.id(JSON.stringify(row.tags)) : NONE;
    this.flags[i] = STATUSES.indexOf(row.status) | (row.estimated ? 4 : 0) | (row.stream ? 8 : 0);
    this.costText[i] = row.cost;
    this.generation[i] = row.generationId;
    this.length++;
    // The row as stored (latency rounded, as get() and list() will return it), so what a caller is told now and
    // what it reads back later are the same.
    return this.row(i);
  }

  setCost(id: number, costPico: number, cost: string): boolean {
    const i = id - this.firstId;
    if (i < 0 || i >= this.length) return false;
    this.cost[i] = costPico;
    this.costText[i] = cost;
    this.flags[i] = (this.flags[i] ?? 0) & ~4;
    return true;
  }

  get(id: number): LedgerRow | undefined {
    const i = id - this.firstId;
    if (i < 0 || i >= this.length) return undefined;
    return this.row(i);
  }

  private row(i: number): LedgerRow {
    const flags = this.flags[i]!;
    const tagId = this.tags[i]!;
    return {
      id: this.firstId + i,
      ts: this.ts[i]!,
      model: this.models.value(this.model[i]!) ?? '',
      crew: this.crews.value(this.crew[i]!),
      agent: this.agents.value(this.agent[i]!),
      tags: tagId === NONE ? [] : (JSON.parse(this.tagSets.value(tagId)!) as string[]),
      promptTokens: this.prompt[i]!,
      completionTokens: this.completion[i]!,
      cachedTokens: this.cached[i]!,
      reasoningTokens: this.reasoning[i]!,
      costPico: this.cost[i]!,
      cost: this.costText[i]!,
      estimated: (flags & 4) !== 0,
      generationId: this.generation[i] ?? null,
      latencyMs: this.latency[i]!,
      status: STATUSES[flags & 3]!,
      stream: (flags & 8) !== 0,
    };
  }

  /** First index with ts >= t. */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private range(filter: LedgerFilter): [number, number] {
    const start = filter.from === undefined ? 0 : this.lowerBound(filter.from);
    const end = filter.to === undefined ? this.length : this.lowerBound(filter.to);
    return [start, Math.max(start, end)];
  }

  /** A predicate over row indexes for the dictionary filters; null when a filter names a value never seen. */
  private matcher(filter: LedgerFilter): ((i: number) => boolean) | null {
    const tests: ((i: number) => boolean)[] = [];
    for (const [key, dict, col] of [
      ['model', this.models, this.model],
      ['crew', this.crews, this.crew],
      ['agent', this.agents, this.agent],
    ] as const) {
      const wanted = filter[key];
      if (wanted === undefined) continue;
      const id = dict.find(wanted);
      if (id === undefined) return null;
      tests.push((i) => col[i] === id);
    }
    if (filter.status !== undefined) {
      const s = STATUSES.indexOf(filter.status);
      tests.push((i) => (this.flags[i]! & 3) === s);
    }
    if (tests.length === 0) return () => true;
    if (tests.length === 1) return tests[0]!;
    return (i) => tests.every((t) => t(i));
  }

  sumCost(filter: LedgerFilter): bigint {
    const match = this.matcher(filter);
    if (!match) return 0n;
    const [start, end] = this.range(filter);
    const cost = this.cost;
    let fast = 0;
    let big = 0n;
    for (let i = start; i < end; i++) {
      if (!match(i)) continue;
      // Checked before it is kept: a float sum past 2^53 may already be rounded (see sumPico).
      const next = fast + cost[i]!;
      if (next > Number.MAX_SAFE_INTEGER || next < -Number.MAX_SAFE_INTEGER) {
        big += BigInt(fast);
        fast = cost[i]!;
      } else fast = next;
    }
    return big + BigInt(fast);
  }

  aggregate(filter: LedgerFilter, by: LedgerGroupBy): LedgerAggregate[] {
    const match = this.matcher(filter);
    if (!match) return [];
    const [start, end] = this.range(filter);
    const keyOf = this.grouper(by);
    // Per group: cost kept as float sums of integers while safe (checked at the end) → exact.
    const groups = new Map<
      number,
      {
        calls: number;
        prompt: number;
        completion: number;
        cached: number;
        reasoning: number;
        cost: number[];
        est: number[];
        errors: number;
      }
    >();
    for (let i = start; i < end; i++) {
      if (!match(i)) continue;
      const k = keyOf(i);
      let g = groups.get(k);
      if (!g) {
        g = { calls: 0, prompt: 0, completion: 0, cached: 0, reasoning: 0, cost: [0], est: [0], errors: 0 };
        groups.set(k, g);
      }
      g.calls++;
      g.prompt += this.prompt[i]!;
      g.completion += this.completion[i]!;
      g.cached += this.cached[i]!;
      g.reasoning += this.reasoning[i]!;
      addExact(g.cost, this.cost[i]!);
      if (this.flags[i]! & 4) addExact(g.est, this.cost[i]!);
      if ((this.flags[i]! & 3) !== 0) g.errors++;
    }
    const label = this.labeller(by);
    return [...groups.entries()].map(([k, g]) => ({
      key: label(k),
      calls: g.calls,
      promptTokens: g.prompt,
      completionTokens: g.completion,
      cachedTokens: g.cached,
      reasoningTokens: g.reasoning,
      costPico: sumPico(g.cost),
      estimatedPico: sumPico(g.est),
      errors: g.errors,
    }));
  }

  usage(filter: LedgerFilter): LedgerUsage[] {
    const match = this.matcher(filter);
    if (!match) return [];
    const [start, end] = this.range(filter);
    // One number per (crew, agent, model) from the dictionary ids, so the loop allocates nothing per row.
    const kc = this.crews.values.length;
    const ka = this.agents.values.length;
    const packed = kc * ka * this.models.values.length <= Number.MAX_SAFE_INTEGER;
    const groups = new Map<
      number | string,
      {
        i: number;
        calls: number;
        prompt: number;
        completion: number;
        cached: number;
        cost: number[];
        maxContext: number;
        maxCompletion: number;
      }
    >();
    for (let i = start; i < end; i++) {
      if (!match(i)) continue;
      const c = this.crew[i]!;
      const a = this.agent[i]!;
      const m = this.model[i]!;
      const k = packed ? (m * ka + a) * kc + c : `${m},${a},${c}`;
      let g = groups.get(k);
      if (!g) {
        g = { i, calls: 0, prompt: 0, completion: 0, cached: 0, cost: [0], maxContext: 0, maxCompletion: 0 };
        groups.set(k, g);
      }
      const p = this.prompt[i]!;
      const o = this.completion[i]!;
      g.calls++;
      g.prompt += p;
      g.completion += o;
      g.cached += this.cached[i]!;
      addExact(g.cost, this.cost[i]!);
      if (p + o > g.maxContext) g.maxContext = p + o;
      if (o > g.maxCompletion) g.maxCompletion = o;
    }
    return [...groups.values()].map((g) => ({
      crew: this.crews.value(this.crew[g.i]!),
      agent: this.agents.value(this.agent[g.i]!),
      model: this.models.value(this.model[g.i]!) ?? '',
      calls: g.calls,
      promptTokens: g.prompt,
      completionTokens: g.completion,
      cachedTokens: g.cached,
      costPico: sumPico(g.cost),
      maxContextTokens: g.maxContext,
      maxCompletionTokens: g.maxCompletion,
    }));
  }

  private grouper(by: LedgerGroupBy): (i: number) => number {
    switch (by) {
      case 'model':
        return (i) => this.model[i]!;
      case 'crew':
        return (i) => this.crew[i]!;
      case 'agent':
        return (i) => this.agent[i]!;
      case 'day':
        return (i) => Math.floor(this.ts[i]! / 86_400_000);
    }
  }

  private labeller(by: LedgerGroupBy): (k: number) => string {
    switch (by) {
      case 'model':
        return (k) => this.models.value(k) ?? '(none)';
      case 'crew':
        return (k) => this.crews.value(k) ?? '(none)';
      case 'agent':
        return (k) => this.agents.value(k) ?? '(none)';
      case 'day':
        return (k) => new Date(k * 86_400_000).toISOString().slice(0, 10);
    }
  }

  list(filter: LedgerFilter & { before?: number; limit: number }): { rows: LedgerRow[]; total: number } {
    const match = this.matcher(filter);
    if (!match) return { rows: [], total: 0 };
    const [start, rangeEnd] = this.range(filter);
    const end = filter.before === undefined ? rangeEnd : Math.min(rangeEnd, Math.max(0, filter.before - this.firstId));
    const rows: LedgerRow[] = [];
    let total = 0;
    for (let i = end - 1; i >= start; i--) {
      if (!match(i)) continue;
      total++;
      if (rows.length < filter.limit) rows.push(this.row(i));
    }
    return { rows, total };
  }

  estimated(limit: number): LedgerRow[] {
    const out: LedgerRow[] = [];
    for (let i = 0; i < this.length && out.length < limit; i++) {
      if (this.flags[i]! & 4 && this.generation[i]) out.push(this.row(i));
    }
    return out;
  }

  private grow(): void {
    const cap = Math.max(1024, this.capacity * 2);
    const grow = <A extends Float64Array | Uint32Array | Uint8Array>(a: A, make: new (n: number) => A): A => {
      const b = new make(cap);
      b.set(a);
      return b;
    };
    this.ts = grow(this.ts, Float64Array);
    this.cost = grow(this.cost, Float64Array);
    this.prompt = grow(this.prompt, Uint32Array);
    this.completion = grow(this.completion, Uint32Array);
    this.cached = grow(this.cached, Uint32Array);
    this.reasoning = grow(this.reasoning, Uint32Array);
    this.latency = grow(this.latency, Uint32Array);
    this.model = grow(this.model, Uint32Array);
    this.crew = grow(this.crew, Uint32Array);
    this.agent = grow(this.agent, Uint32Array);
    this.tags = grow(this.tags, Uint32Array);
    this.flags = grow(this.flags, Uint8Array);
    this.capacity = cap;
  }
}

/** Adds an integer to a two-limb float accumulator so the sum stays exact past 2^53 (resolved by sumPico). */
function addExact(acc: number[], v: number): void {
  const last = acc.length - 1;
  const s = acc[last]! + v;
  if (s > Number.MAX_SAFE_INTEGER) acc.push(v);
  else acc[last] = s;
}
