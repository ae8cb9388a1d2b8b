/**
 * A growable set of small non-negative integers (memory slots) as 32-bit words. Filters are built as bitsets so a
 * crew or tag filter costs one bit test per row in the vector scan, not a map lookup.
 */
export class Bitset {
  private w: Uint32Array;

  constructor(bits = 0) {
    this.w = new Uint32Array(Math.max(1, Math.ceil(bits / 32)));
  }

  /** The words, for tight loops (`(words[i >>> 5] >>> (i & 31)) & 1`); bits past the end are unset. */
  get words(): Uint32Array {
    return this.w;
  }

  has(i: number): boolean {
    const word = i >>> 5;
    return i >= 0 && word < this.w.length && ((this.w[word]! >>> (i & 31)) & 1) === 1;
  }

  add(i: number): void {
    const word = i >>> 5;
    if (word >= this.w.length) this.grow(word + 1);
    this.w[word]! |= 1 << (i & 31);
  }

  delete(i: number): void {
    const word = i >>> 5;
    if (word < this.w.length) this.w[word]! &= ~(1 << (i & 31));
  }

  /** Number of members (a popcount over the words; callers cache it per query). */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.w.length; i++) n += popcount(this.w[i]!);
    return n;
  }

  /** this |= other */
  or(other: Bitset): this {
    const o = other.w;
    if (o.length > this.w.length) this.grow(o.length);
    for (let i = 0; i < o.length; i++) this.w[i]! |= o[i]!;
    return this;
  }

  /** this &= other */
  and(other: Bitset): this {
    const o = other.w;
    const n = Math.min(o.length, this.w.length);
    for (let i = 0; i < n; i++) this.w[i]! &= o[i]!;
    this.w.fill(0, n);
    return this;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.w.length; i++) {
      let x = this.w[i]!;
      while (x !== 0) {
        const low = x & -x;
        yield i * 32 + 31 - Math.clz32(low);
        x ^= low;
      }
    }
  }

  private grow(words: number): void {
    const next = new Uint32Array(Math.max(words, this.w.length * 2));
    next.set(this.w);
    this.w = next;
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
