/**
 * Hand-made n8n contexts for the n8n nodes' unit tests (n8n publishes no test harness; the recipe in
 * ../shared/recipes/n8n-e2e calls a node's methods with a plain object standing in for n8n's context). What n8n
 * itself would do is done the way n8n does it: parameters fall back to the default of the property displayed for the
 * item's resource/operation, the credential's `authenticate` block puts the bearer token on each request, and a
 * non-2xx answer or a refused connection is thrown as the NodeApiError n8n-core throws (response body kept).
 *
 * The crew-server end is `RpcRecorder`: it records every JSON-RPC call and answers from a function the test gives.
 */
import assert from 'node:assert/strict';
import type {
  IDataObject,
  IExecuteFunctions,
  IHookFunctions,
  IHttpRequestOptions,
  INode,
  INodeExecutionData,
  INodeProperties,
  INodeType,
  IPollFunctions,
  IWebhookFunctions,
} from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';
import { OpenRouterCrewApi } from '../../n8n-nodes/credentials/OpenRouterCrewApi.credentials';

// Loading n8n-workflow sets BigInt.prototype.toJSON for n8n's own serialisation. The other unit tests share this
// process and check what JSON does with a bigint (the archive codec refuses one), so it is undone here; the nodes
// never serialise a bigint.
delete (BigInt.prototype as { toJSON?: unknown }).toJSON;

export const CREDENTIALS = { url: 'http://127.0.0.1:8787', token: 'crew-token-for-n8n-tests' };

export interface RpcCall {
  method: string;
  params: unknown;
  request: IHttpRequestOptions;
}

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** What the server does with one call. */
export type RpcAnswer =
  | { result: unknown }
  | { error: RpcErrorBody }
  /** An HTTP error status with a body (the server answers 401 with a JSON-RPC error). */
  | { status: number; body: unknown }
  /** Nothing listens: n8n gets ECONNREFUSED. */
  | { refused: true };

/** The credential's generic `authenticate` applied as n8n's credentials helper does (`={{$credentials.x}}`). */
function authenticate(options: IHttpRequestOptions, credentials: IDataObject): IHttpRequestOptions {
  const auth = new OpenRouterCrewApi().authenticate;
  const resolve = (template: unknown) =>
    String(template)
      .replace(/^=/, '')
      .replace(/\{\{\s*\$credentials\.(\w+)\s*\}\}/g, (_, k: string) => (credentials[k] as string | undefined) ?? '');
  const headers: IDataObject = { ...(options.headers ?? {}) };
  for (const [k, v] of Object.entries(auth.properties.headers ?? {})) headers[k] = resolve(v);
  return { ...options, headers };
}

export class RpcRecorder {
  readonly calls: RpcCall[] = [];
  credentials: IDataObject = { ...CREDENTIALS };

  constructor(private readonly answer: (method: string, params: unknown) => RpcAnswer) {}

  /** The methods called, in order. */
  get methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  last(): RpcCall {
    const call = this.calls.at(-1);
    assert.ok(call, 'no JSON-RPC call was made');
    return call;
  }

  /** The `helpers` and credential access every context gets. */
  bind(node: () => INode) {
    const getCredentials = async <T extends object>(type: string): Promise<T> => {
      assert.equal(type, 'openRouterCrewApi');
      return { ...this.credentials } as T;
    };
    const httpRequestWithAuthentication = async (credentialType: string, options: IHttpRequestOptions) => {
      assert.equal(credentialType, 'openRouterCrewApi');
      const request = authenticate(options, this.credentials);
      const body = request.body as { jsonrpc: string; id: number; method: string; params?: unknown };
      assert.equal(request.method, 'POST');
      assert.equal(request.json, true);
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(typeof body.id, 'number');
      this.calls.push({ method: body.method, params: body.params, request });
      const answer = this.answer(body.method, body.params);
      if ('refused' in answer) {
        const cause = Object.assign(new Error(`connect ECONNREFUSED ${new URL(request.url).host}`), {
          code: 'ECONNREFUSED',
        });
        throw new NodeApiError(node(), cause as never);
      }
      if ('status' in answer) {
        const cause = Object.assign(new Error(`Request failed with status code ${answer.status}`), {
          response: { status: answer.status, data: answer.body },
        });
        throw new NodeApiError(node(), cause as never);
      }
      return { jsonrpc: '2.0', id: body.id, ...answer };
    };
    return { getCredentials, httpRequestWithAuthentication };
  }
}

/** Answers every call with `results[method]` (a function of the params, or a value). */
export function answering(results: Record<string, unknown>): (method: string) => RpcAnswer {
  return (method) => {
    assert.ok(method in results, `unexpected call to ${method}`);
    return { result: results[method] };
  };
}

function nodeOf(type: INodeType, name: string, parameters: IDataObject): INode {
  return {
    id: 'node-under-test',
    name,
    type: `n8n-nodes-openrouter-crew.${type.description.name}`,
    typeVersion: 1,
    position: [0, 0],
    parameters: parameters as INode['parameters'],
  };
}

/** Whether `prop` is shown for these parameters (its displayOptions.show all hold). */
function shown(prop: INodeProperties, params: IDataObject): boolean {
  const show = prop.displayOptions?.show ?? {};
  return Object.entries(show).every(([k, values]) => !values || values.some((v) => v === params[k]));
}

/** A parameter's value as n8n gives it: the item's, else the default of the property shown for the item. */
function parameter(type: INodeType, params: IDataObject, name: string, fallback?: unknown): unknown {
  if (params[name] !== undefined) return params[name];
  const prop = type.description.properties.find((p) => p.name === name && shown(p, params));
  if (prop) return prop.default;
  if (fallback !== undefined) return fallback;
  throw new Error(`Could not get parameter "${name}"`);
}

const returnJsonArray = (data: IDataObject | IDataObject[]): INodeExecutionData[] =>
  (Array.isArray(data) ? data : [data]).map((json) => ({ json }));

export interface ExecuteOptions {
  /** One parameter set per input item (an object: the same for every item). */
  params: IDataObject | IDataObject[];
  items?: number;
  continueOnFail?: boolean;
}

/** An IExecuteFunctions for `type.execute`. */
export function executeContext(type: INodeType, rpc: RpcRecorder, opts: ExecuteOptions): IExecuteFunctions {
  const count = opts.items ?? (Array.isArray(opts.params) ? opts.params.length : 1);
  const paramsOf = (i: number): IDataObject => (Array.isArray(opts.params) ? opts.params[i]! : opts.params);
  const node = () => nodeOf(type, type.description.defaults.name ?? 'node', paramsOf(0));
  const { getCredentials, httpRequestWithAuthentication } = rpc.bind(node);
  const ctx = {
    getInputData: () => Array.from({ length: count }, (_, i) => ({ json: { item: i } })),
    getNodeParameter: (name: string, i: number, fallback?: unknown) => parameter(type, paramsOf(i), name, fallback),
    getNode: node,
    continueOnFail: () => opts.continueOnFail ?? false,
    getCredentials,
    helpers: { httpRequestWithAuthentication, returnJsonArray },
  };
  return ctx as unknown as IExecuteFunctions;
}

/** State n8n keeps per workflow: static data, the webhook URL, the workflow's name. */
export interface TriggerWorld {
  staticData: IDataObject;
  webhookUrl: string;
  workflow: { id: string; name: string; active: boolean };
}

export function triggerWorld(): TriggerWorld {
  return {
    staticData: {},
    webhookUrl: 'http://127.0.0.1:5678/webhook/3b0c7f0e-8f3e-4d7e-9d44-5a2b8f6f0c11/openrouter-crew',
    workflow: { id: 'wf1', name: 'Budget Alert', active: true },
  };
}

function triggerBase(type: INodeType, rpc: RpcRecorder, world: TriggerWorld, params: IDataObject) {
  const node = () => nodeOf(type, type.description.defaults.name ?? 'trigger', params);
  const { getCredentials, httpRequestWithAuthentication } = rpc.bind(node);
  return {
    getNode: node,
    getNodeParameter: (name: string, fallback?: unknown) => parameter(type, params, name, fallback),
    getWorkflowStaticData: (kind: string) => {
      assert.equal(kind, 'node');
      return world.staticData;
    },
    getWorkflow: () => world.workflow,
    getCredentials,
    helpers: { httpRequestWithAuthentication, returnJsonArray },
  };
}

/** An IHookFunctions for `webhookMethods.default.*`. */
export function hookContext(type: INodeType, rpc: RpcRecorder, world: TriggerWorld, params: IDataObject) {
  return {
    ...triggerBase(type, rpc, world, params),
    getNodeWebhookUrl: (name: string) => (name === 'default' ? world.webhookUrl : undefined),
    getWebhookName: () => 'default',
    getMode: () => 'trigger',
    getActivationMode: () => 'activate',
  } as unknown as IHookFunctions;
}

export interface WebhookRequest {
  /** The bytes as they arrived. */
  raw: string;
  headers: Record<string, string>;
}

/** An IWebhookFunctions for `webhook()`; `response` records what the node answered itself. */
export function webhookContext(
  type: INodeType,
  rpc: RpcRecorder,
  world: TriggerWorld,
  params: IDataObject,
  request: WebhookRequest,
) {
  const response: { status?: number; body?: unknown } = {};
  const ctx = {
    ...triggerBase(type, rpc, world, params),
    getRequestObject: () => ({ rawBody: Buffer.from(request.raw) }),
    getBodyData: () => JSON.parse(request.raw) as IDataObject,
    getHeaderData: () => Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
    getResponseObject: () => ({
      status(code: number) {
        response.status = code;
        return {
          json(body: unknown) {
            response.body = body;
          },
        };
      },
    }),
    getMode: () => 'webhook',
    getWebhookName: () => 'default',
  } as unknown as IWebhookFunctions;
  return { ctx, response };
}

/** An IPollFunctions for `poll()`. */
export function pollContext(
  type: INodeType,
  rpc: RpcRecorder,
  world: TriggerWorld,
  params: IDataObject,
  mode: 'trigger' | 'manual' = 'trigger',
): IPollFunctions {
  return {
    ...triggerBase(type, rpc, world, params),
    getMode: () => mode,
    getActivationMode: () => 'activate',
  } as unknown as IPollFunctions;
}
