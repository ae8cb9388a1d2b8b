/**
 * Reading node parameters into JSON-RPC params. The server validates strictly (an unknown or empty field is an
 * error naming it), so optional fields the user left empty are left out rather than sent as "" or 0.
 */
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

/** A comma- or newline-separated list as an array, blanks dropped. */
export function splitList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  if (typeof value !== 'string') return [];
  return value
    .split(/[,\n]/)
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * The object without the keys whose value is undefined, null, "" or an empty array. Call it with the protocol's
 * Params type (`compact<BudgetSet.Params>({…})`) so that a field the protocol does not define is a type error.
 */
export function compact<T extends object>(obj: T): T {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj) as [keyof T, unknown][]) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v as T[keyof T];
  }
  return out as T;
}

/** A string parameter, trimmed; undefined when empty. */
export function optionalString(ctx: IExecuteFunctions, name: string, itemIndex: number): string | undefined {
  const v = text(ctx.getNodeParameter(name, itemIndex, ''));
  return v === '' ? undefined : v;
}

/** A required string parameter, trimmed (an expression may give a number: an ID, a name). */
export function requiredString(ctx: IExecuteFunctions, name: string, itemIndex: number): string {
  return text(ctx.getNodeParameter(name, itemIndex));
}

function text(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** A collection parameter (Options, Filters, Additional Fields): only the fields the user added. */
export function collection(ctx: IExecuteFunctions, name: string, itemIndex: number): IDataObject {
  return ctx.getNodeParameter(name, itemIndex, {}) as IDataObject;
}

/** A date picked in n8n ("2026-03-01T00:00:00", in the workflow's time zone, or a Luxon DateTime from an expression) as ISO. */
export function isoTime(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'object' && typeof (value as { toISO?: unknown }).toISO === 'function')
    return (value as { toISO(): string }).toISO();
  return typeof value === 'string' ? value : undefined;
}
