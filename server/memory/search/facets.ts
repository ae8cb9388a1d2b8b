/**
 * Which memory slots carry each crew / agent / kind / tag, so a filter becomes one bitset before the search
 * starts and costs a bit test per row during it. A posting starts as a Set (tags are mostly rare: a bitset per
 * rare tag over 100,000 slots would be 12.5 KB each) and becomes a Bitset once it is big enough that the Set
 * costs more memory than the bits.
 */
import { Bitset } from './bitset';

/** A facet value or any of several (OR). `null` means "not set" (e.g. memories of no crew). */
export type FacetMatch = string | null | readonly (string | null)[];

export interface FacetFilter {
  crew?: FacetMatch;
  agent?: FacetMatch;
  kind?: FacetMatch;
  /** Every listed tag must be present (AND). */
  tags?: readonly string[];
}

export interface FacetValues {
  crew: string | null;
  agent: string | null;
  kind: string;
  tags: readonly string[];
}

/** Past this many members a posting switches to a bitset (a Set entry costs ~20 bytes, a bit 1/8). */
const BITSET_FROM = 1024;

class Posting {
  private set: Set<number> | null = new Set();
  private bits: Bitset | null = null;
  size = 0;

  add(slot: number): void {
    if (this.set) {
      if (this.set.has(slot)) return;
      this.set.add(slot);
      if (this.set.size >= BITSET_FROM) {
        this.bits = new Bitset();
        for (const s of this.set) this.bits.add(s);
        this.set = null;
      }
    } else {
      if (this.bits!.has(slot)) return;
      this.bits!.add(slot);
    }
    this.size++;
  }

  delete(slot: number): void {
    if (this.set) {
      if (this.set.delete(slot)) this.size--;
    } else if (this.bits!.has(slot)) {
      this.bits!.delete(slot);
      this.size--;
    }
  }

  orInto(target: Bitset): void {
    if (this.bits) target.or(this.bits);
    else for (const s of this.set!) target.add(s);
  }
}

type Field = 'crew' | 'agent' | 'kind' | 'tag';

export class FacetIndex {
  private readonly postings: Record<Field, Map<string | null, Posting>> = {
    crew: new Map(),
    agent: new Map(),
    kind: new Map(),
    tag: new Map(),
  };

  add(slot: number, v: FacetValues): void {
    this.post('crew', v.crew, slot);
    this.post('agent', v.agent, slot);
    this.post('kind', v.kind, slot);
    for (const t of new Set(v.tags)) this.post('tag', t, slot);
  }

  remove(slot: number, v: FacetValues): void {
    this.unpost('crew', v.crew, slot);
    this.unpost('agent', v.agent, slot);
    this.unpost('kind', v.kind, slot);
    for (const t of new Set(v.tags)) this.unpost('tag', t, slot);
  }

  /** The slots a filter allows, or undefined when it constrains nothing. */
  allowed(filter: FacetFilter, universe: number): Bitset | undefined {
    let result: Bitset | undefined;
    const narrow = (b: Bitset): void => {
      result = result ? result.and(b) : b;
    };
    for (const field of ['crew', 'agent', 'kind'] as const) {
      const want = filter[field];
      if (want === undefined) continue;
      const b = new Bitset(universe);
      for (const value of Array.isArray(want) ? (want as readonly (string | null)[]) : [want as string | null]) {
        this.postings[field].get(value)?.orInto(b);
      }
      narrow(b);
    }
    // Rarest tag first: the intersection is then as small as it will get after one step.
    const tags = [...new Set(filter.tags ?? [])].sort(
      (a, b) => (this.postings.tag.get(a)?.size ?? 0) - (this.postings.tag.get(b)?.size ?? 0),
    );
    for (const t of tags) {
      const b = new Bitset(universe);
      this.postings.tag.get(t)?.orInto(b);
      narrow(b);
    }
    return result;
  }

  private post(field: Field, value: string | null, slot: number): void {
    let p = this.postings[field].get(value);
    if (!p) this.postings[field].set(value, (p = new Posting()));
    p.add(slot);
  }

  private unpost(field: Field, value: string | null, slot: number): void {
    const p = this.postings[field].get(value);
    if (!p) return;
    p.delete(slot);
    if (p.size === 0) this.postings[field].delete(value);
  }
}
