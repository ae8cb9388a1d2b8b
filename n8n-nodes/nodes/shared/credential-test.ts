/**
 * The OpenRouter Crew API credential's test: `server/health` on the server's /rpc with the bearer token. It is a
 * function (the node's `methods.credentialTest`, named by `testedBy`) rather than the credential's declarative `test`
 * request, because n8n answers a refused declarative test with its own words ("Unauthorized"), while the server says
 * what is wrong and what to do ("use the token shown by `crew server token`"): the function passes that on.
 */
import type {
  ICredentialDataDecryptedObject,
  ICredentialsDecrypted,
  ICredentialTestFunctions,
  INodeCredentialTestResult,
} from 'n8n-workflow';
import { ServerHealth } from './protocol.generated';

export const CREDENTIAL_TEST = 'openRouterCrewApiTest';

/** What the legacy request helper gives with `resolveWithFullResponse` and `simple: false`. */
export interface HealthResponse {
  statusCode: number;
  body: unknown;
}

const WHERE_FROM = '`crew server status` shows the HTTP port, `crew server token` the token.';

/** The credential's Server URL as a base URL, or the reason it is not one. */
export function baseUrlOf(url: unknown): { base: string } | { error: string } {
  const trimmed = typeof url === 'string' ? url.trim().replace(/\/+$/, '') : '';
  if (!trimmed || /<port>/i.test(trimmed) || !/^https?:\/\/[^/]+/i.test(trimmed))
    return {
      error: `Server URL "${typeof url === 'string' ? url : ''}" is not a server address: use http://127.0.0.1:<port>. ${WHERE_FROM}`,
    };
  return { base: trimmed };
}

/** The test's verdict on the server's answer, in the server's own words when it refused. */
export function verdict(base: string, response: HealthResponse): INodeCredentialTestResult {
  const body = response.body as { result?: ServerHealth.Result; error?: { message?: unknown } } | undefined;
  if (typeof body?.error?.message === 'string') return { status: 'Error', message: body.error.message };
  if (response.statusCode < 200 || response.statusCode > 299 || !body?.result)
    return {
      status: 'Error',
      message: `${base}/rpc answered HTTP ${response.statusCode} without a JSON-RPC reply: is this crew-server's HTTP port? ${WHERE_FROM}`,
    };
  if (!body.result.ok || body.result.store !== 'ok')
    return { status: 'Error', message: `crew-server at ${base} answered, but its store check failed: see its log` };
  return { status: 'OK', message: `Connected to crew-server at ${base}` };
}

export async function testCredential(
  this: ICredentialTestFunctions,
  credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
  const data: ICredentialDataDecryptedObject = credential.data ?? {};
  const url = baseUrlOf(data.url);
  if ('error' in url) return { status: 'Error', message: url.error };
  // The legacy helper is typed `any`; with resolveWithFullResponse and simple: false it is a HealthResponse.
  let response: HealthResponse;
  try {
    response = (await this.helpers.request({
      method: 'POST',
      uri: `${url.base}/rpc`,
      headers: {
        Authorization: `Bearer ${typeof data.token === 'string' ? data.token : ''}`,
        'x-crew-client': 'n8n/openrouter-crew',
      },
      body: { jsonrpc: '2.0', id: 1, method: ServerHealth.method },
      json: true,
      // Every answer comes back, so a refusal's JSON-RPC error (with the server's explanation) can be read.
      simple: false,
      resolveWithFullResponse: true,
      timeout: 10_000,
    })) as HealthResponse;
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string }; message?: string };
    const why = e.cause?.code ?? e.code ?? e.message ?? String(error);
    return {
      status: 'Error',
      message: `crew-server did not answer at ${url.base}/rpc (${why}): is the daemon running, and is the port in the Server URL its HTTP port? ${WHERE_FROM}`,
    };
  }
  return verdict(url.base, response);
}
