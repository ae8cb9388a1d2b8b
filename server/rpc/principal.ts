/**
 * Who is calling, as far as the server can tell: the credential that was checked, never a name the caller chose.
 * Rate limits, the audit log's principal and the gateway's buckets are keyed on it.
 */

/** The HTTP bearer token of `crew server token` (n8n, browsers, the gateway's full-access key). */
export const SERVER_PRINCIPAL = 'server-token';

/** A crew's own gateway token: one principal per crew, whichever of its agents is calling. */
export const crewPrincipal = (crew: { id: string }): string => `crew-token:${crew.id}`;

/** A socket or stdio connection: the local user, one principal per connection. */
export const connectionPrincipal = (connectionId: string): string => connectionId;
