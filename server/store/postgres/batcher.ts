/**
 * Group commit for the gate: while one batch is in the database, the requests that arrive wait and go together as
 * the next one. A call alone goes at once (no timer, no added latency); under load each transaction carries
 * every call that came during the previous one, so a hot budget row is locked and committed once per batch, not
 * once per call.
 *
 * A batch that fails because the database is away fails every request in it (each caller handles that as it
 * would alone). Any other failure is tried again one request at a time, so one bad request cannot fail the calls
 * it happened to travel with.
 */
export class Batcher<Req, Res> {
  private queue: { req: Req; resolve(r: Res): void; reject(e: unknown): void }[] = [];
  private running = false;

  constructor(
    private readonly run: (batch: Req[]) => Promise<Res[]>,
    private readonly isUnavailable: (e: unknown) => boolean,
    private readonly maxBatch = 256,
    /** A pause after each batch, so more gather for the next (for work whose delay costs nothing, such as events). */
    private readonly pauseMs = 0,
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const out = await this.run(batch.map((b) => b.req));
        batch.forEach((b, i) => b.resolve(out[i]!));
      } catch (e) {
        if (batch.length === 1 || this.isUnavailable(e)) batch.forEach((b) => b.reject(e));
        else await this.oneByOne(batch);
      }
      if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
    this.running = false;
  }

  private async oneByOne(batch: typeof this.queue): Promise<void> {
    for (const b of batch) {
      try {
        const [r] = await this.run([b.req]);
        b.resolve(r!);
      } catch (e) {
        b.reject(e);
      }
    }
  }
}
