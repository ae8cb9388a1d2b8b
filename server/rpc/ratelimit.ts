/** A token bucket per client: a client over its rate gets a RateLimited error with when to retry, never a drop. */
import type { Clock } from '../clock';

export interface RateLimitConfig {
  /** Sustained requests per second; 0 disables the limit. */
  perSecond: number;
  /** Burst size. */
  burst: number;
}

/** Keys are authenticated principals (a handful); this bounds the map even if that ever stops being true. */
const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly config: RateLimitConfig,
    private readonly clock: Clock,
  ) {}

  /** Takes one token for `client`; returns 0 if allowed, else milliseconds until a token is free. */
  take(client: string): number {
    if (this.config.perSecond <= 0) return 0;
    const now = this.clock.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      b = { tokens: this.config.burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.config.burst, b.tokens + ((now - b.at) / 1000) * this.config.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.config.perSecond) * 1000);
  }

  /** Buckets that have refilled are the same as no bucket: drop them; if none has, drop the oldest half. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.config.perSecond >= this.config.burst) this.buckets.delete(key);
    if (this.buckets.size < MAX_BUCKETS) return;
    let drop = this.buckets.size / 2;
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  forget(client: string): void {
    this.buckets.delete(client);
  }
}
