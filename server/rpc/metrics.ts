/** Requests, errors and latency percentiles per method; a bounded ring of recent samples per method. */
import type { MethodMetrics, ServerMetrics } from '../../protocol';

const SAMPLES = 2048;

class MethodStats {
  requests = 0;
  errors = 0;
  private readonly samples = new Float64Array(SAMPLES);
  private n = 0;
  record(ms: number, failed: boolean): void {
    this.requests++;
    if (failed) this.errors++;
    this.samples[this.n++ % SAMPLES] = ms;
  }
  percentiles(): { p50: number; p99: number } {
    const count = Math.min(this.n, SAMPLES);
    if (count === 0) return { p50: 0, p99: 0 };
    const sorted = Array.from(this.samples.subarray(0, count)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))]!;
    return { p50: round(at(0.5)), p99: round(at(0.99)) };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

export class Metrics {
  private readonly methods = new Map<string, MethodStats>();
  constructor(private readonly startedAt: number) {}

  record(method: string, ms: number, failed: boolean): void {
    let s = this.methods.get(method);
    if (!s) {
      s = new MethodStats();
      this.methods.set(method, s);
    }
    s.record(ms, failed);
  }

  snapshot(now: number): ServerMetrics.Result {
    const methods: MethodMetrics[] = [...this.methods.entries()]
      .map(([method, s]) => {
        const { p50, p99 } = s.percentiles();
        return { method, requests: s.requests, errors: s.errors, p50Ms: p50, p99Ms: p99 };
      })
      .sort((a, b) => a.method.localeCompare(b.method));
    return {
      uptimeMs: now - this.startedAt,
      requests: methods.reduce((n, m) => n + m.requests, 0),
      errors: methods.reduce((n, m) => n + m.errors, 0),
      methods,
    };
  }
}
