/**
 * What the OpenRouter Crew node does for one resource/operation: the JSON-RPC method it calls, how it builds that
 * method's params from the item's parameters, and how it maps the result into output items. The parameters' UI lives
 * beside it in each resource file, as n8n's own nodes keep it (literal INodeProperties, so n8n's lint rules read them).
 */
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

export interface Operation<P extends object = object, R = unknown> {
  method: string;
  params(ctx: IExecuteFunctions, itemIndex: number): P;
  /** One output item per entry of a list result; one item for a single record or report. */
  output(result: R): IDataObject[];
  timeoutMs?(ctx: IExecuteFunctions, itemIndex: number): number;
}

/** A resource's operations by their `operation` value. */
export type Operations = Record<string, Operation>;

/** Types an operation against its protocol Params/Result and stores it with the others. */
export function operation<P extends object, R>(op: Operation<P, R>): Operation {
  return op;
}

/** Protocol records are plain JSON: this states it to n8n's IDataObject. */
export function items<T extends object>(list: readonly T[]): IDataObject[] {
  return list.map((entry) => ({ ...entry }) as IDataObject);
}

export function item<T extends object>(record: T): IDataObject[] {
  return [{ ...record } as IDataObject];
}
