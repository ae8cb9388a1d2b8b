/**
 * How much garbage the daemon's heap may hold. V8 lets the old generation grow to several times what is live
 * before collecting it, a policy for short programs: a gateway that serves calls for weeks would keep that slack
 * as resident memory, growing with the calls it has served though what it holds (the ledger's columns) grows by
 * about a hundred bytes a call. Growing by half of what is live bounds the slack; marking a heap of tens of MB is
 * a few milliseconds, done concurrently.
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function boundHeapGrowth(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
