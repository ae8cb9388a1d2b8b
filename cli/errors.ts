/**
 * Exit codes that mean something to a script, and the one place errors are printed: `crew: <message>` on
 * stderr, plus `{error:{code,message,data}}` on stdout with --json so a pipeline can still parse the answer.
 */
import { ErrorCodes } from '../protocol';
import type { BudgetExceededData } from '../protocol';
import { ClientError } from './client/connection';
import { money, type Colors } from './output';

export const ExitCode = {
  Ok: 0,
  Error: 1,
  /** Bad command line (or params the server rejected as invalid). */
  Usage: 2,
  /** A budget refused the call (BudgetExceeded, 1001). */
  BudgetRefused: 3,
  /** Interrupted by Ctrl-C (128 + SIGINT). */
  Interrupted: 130,
} as const;

/** A command-line mistake the CLI itself detects after commander parsed the arguments. */
export class UsageError extends Error {}

/** A failure already explained on stdout (doctor, store verify): only the exit code is left to set. */
export class QuietFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Error,
  ) {
    super(message);
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return ExitCode.Usage;
  if (e instanceof ClientError) {
    if (e.code === ErrorCodes.BudgetExceeded) return ExitCode.BudgetRefused;
    if (e.code === ErrorCodes.InvalidParams) return ExitCode.Usage;
    if (e.code === ErrorCodes.RequestCancelled) return ExitCode.Interrupted;
  }
  return ExitCode.Error;
}

export interface ErrorJson {
  error: { code: number | string | null; message: string; data: unknown };
}

export function errorJson(e: unknown): ErrorJson {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ClientError) return { error: { code: e.code ?? null, message, data: e.data ?? null } };
  if (e instanceof UsageError) return { error: { code: 'usage', message, data: null } };
  return { error: { code: null, message, data: null } };
}

/** The human lines for an error: the message, then what the data says a person can do about it. */
export function describeError(e: unknown, c: Colors): string {
  const message = e instanceof Error ? e.message : String(e);
  const lines = [`${c.red('crew:')} ${message}`];
  if (e instanceof ClientError && e.code === ErrorCodes.BudgetExceeded && e.data) {
    const d = e.data as BudgetExceededData;
    lines.push(
      `  refused by budget ${d.scope} (${d.period}, id ${d.budgetId})`,
      `  limit ${money(d.limitUsd)} · spent ${money(d.spentUsd)} · reserved ${money(d.reservedUsd)} · this call needs up to ${money(d.requestedUsd)}`,
    );
    if (d.periodEnd) lines.push(`  the period resets at ${d.periodEnd}`);
    lines.push('  hint: lower --max-tokens, pick a cheaper model, or raise the limit (crew budget set …)');
  }
  return lines.join('\n');
}
