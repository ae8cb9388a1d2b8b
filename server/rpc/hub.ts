/** Fans server→client notifications out to every connected client (socket/stdio connections and SSE streams). */
export interface Subscriber {
  notify(method: string, params: unknown): void;
}

export class NotificationHub {
  private readonly subscribers = new Set<Subscriber>();

  add(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  broadcast(method: string, params: unknown): void {
    for (const s of this.subscribers) {
      try {
        s.notify(method, params);
      } catch {
        // A subscriber that cannot take a notification (closed socket) is removed by its transport.
      }
    }
  }

  get size(): number {
    return this.subscribers.size;
  }
}
