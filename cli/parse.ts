/**
 * Option-value parsers for commander. They throw InvalidArgumentError, which commander reports as
 * `crew: option '--x <n>' argument 'y' is invalid. …` and main.ts turns into exit code 2.
 */
import { InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535)
    throw new InvalidArgumentError('expected a port number 0–65535 (0 = any free port)');
  return n;
}

export function usd(value: string): number {
  const n = Number(value.trim().replace(/^\$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected an amount in USD ≥ 0, e.g. 5 or 0.25');
  return n;
}

export function thresholds(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim().replace(/%$/, ''));
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n <= 0))
    throw new InvalidArgumentError('expected percentages separated by commas, e.g. 50,80,100');
  return nums;
}

export function weekday(value: string): number {
  const n = Number(value);
  if (!/^[0-6]$/.test(value.trim())) throw new InvalidArgumentError('expected 0 (Sunday) … 6 (Saturday)');
  return n;
}

export function isoDate(value: string): string {
  if (Number.isNaN(Date.parse(value)))
    throw new InvalidArgumentError('expected an ISO date or date-time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z');
  return value;
}

/** For repeatable options (`--tag a --tag b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
