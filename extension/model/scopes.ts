/** Scope strings as the server writes them (see server/crews/agent-budgets.ts and protocol/runs.ts). */

/** A crew agent's own budget and ledger attribution: `agent:<crew>/<agent>`. */
export const agentScope = (crew: string, agent: string) => `agent:${crew}/${agent}`;

/** The first instant of the current UTC month, as the server's periods count it. */
export function monthStart(now: number): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
}
