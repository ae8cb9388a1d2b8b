/** Periods as the server counts them (UTC). */

/** The first instant of the current UTC month, as the server's periods count it. */
export function monthStart(now: number): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
}
