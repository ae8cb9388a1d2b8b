/**
 * Re-reading a page's data after server notifications, without polling: notifications in a burst (a crew run
 * records a call per step) schedule one re-read after a short quiet period, and a re-read asked for while one is
 * running runs once more when it ends, so the last change is always shown.
 */

export interface Timers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

export class Refresher {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly load: () => Promise<void>,
    private readonly quietMs = 250,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Re-read once things are quiet for `quietMs`. */
  schedule(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.now();
    }, this.quietMs);
  }

  /** Re-read now (or right after the read in progress); resolves when the data on screen is fresh. */
  now(): Promise<void> {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          // A failed read shows its error on the page (the load renders it); the next notification tries again.
          await this.load().catch(() => undefined);
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}

/** A function that runs `fn` once calls stop for `ms` (for saving form drafts as they are typed). */
export function debounce<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
  timers: Timers = realTimers,
): (...args: A) => void {
  let handle: unknown;
  return (...args: A) => {
    if (handle !== undefined) timers.clearTimeout(handle);
    handle = timers.setTimeout(() => {
      handle = undefined;
      fn(...args);
    }, ms);
  };
}
