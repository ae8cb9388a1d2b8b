/**
 * A ceiling: a budget scope of one piece of work (a run's `maxCostUsd`), held by the process doing that work. Every
 * call of the work reserves its worst case on the ceiling as well as on the gate's budgets, and counts its real cost
 * here when it settles, so the work's spending never passes the ceiling. A run's steps are all made by the server
 * that runs it, so the ceiling needs no store and no other instance: it lives as long as the run.
 *
 * A ceiling fits calls as a `fit` budget does (a worst case is the model's whole completion limit, hundreds of times
 * what a step costs), and refuses below its floor: the work stops before the call that would cross it.
 */
import { DEFAULT_FIT_MIN_TOKENS } from '../../protocol';
import type { GateBudget } from './gate';

export class Ceiling {
  private spent = 0n;
  private reserved = 0n;

  constructor(
    /** What the ceiling is called in refusals and warnings, e.g. `run:<id>`. */
    readonly scope: string,
    readonly limit: bigint,
    /** The fewest completion tokens a call is lowered to before it is refused. */
    readonly minTokens = DEFAULT_FIT_MIN_TOKENS,
  ) {}

  /** Takes `amount` from the room, or nothing when it does not fit. Synchronous: no call can slip in between. */
  hold(amount: bigint): boolean {
    if (this.spent + this.reserved + amount > this.limit) return false;
    this.reserved += amount;
    return true;
  }

  release(amount: bigint): void {
    this.reserved -= amount;
  }

  /** A held call finished: its hold becomes what it really cost. */
  settle(held: bigint, actual: bigint): void {
    this.reserved -= held;
    this.spent += actual;
  }

  /** What may still be reserved. */
  remaining(): bigint {
    const left = this.limit - this.spent - this.reserved;
    return left > 0n ? left : 0n;
  }

  /** The ceiling's figures as a gate budget's, for the refusal and the fit arithmetic. */
  figures(): GateBudget {
    return {
      id: this.scope,
      limit: this.limit,
      spent: this.spent,
      reserved: this.reserved,
      periodStart: null,
      periodEnd: null,
    };
  }
}
