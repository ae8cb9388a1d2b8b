/**
 * The protocol's version. Major: incompatible change (a client refuses a server of another major).
 * Minor: additive (new methods or optional fields); a client may use them only when the server's minor ≥ its own.
 */
export const PROTOCOL_VERSION = '1.9.0';

export function parseVersion(v: string): { major: number; minor: number; patch: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/**
 * Why a client speaking `client` cannot talk to a server speaking `server`, naming which side to update;
 * undefined when they are compatible.
 */
export function incompatibility(client: string, server: string): string | undefined {
  const c = parseVersion(client);
  const s = parseVersion(server);
  if (!c || !s) return `unreadable protocol version (client ${client}, server ${server})`;
  if (s.major > c.major)
    return `crew-server speaks protocol ${server} but this client speaks ${client}: update this client (npm i -g openrouter-crew, or update the extension)`;
  if (s.major < c.major || s.minor < c.minor)
    return `crew-server speaks protocol ${server} but this client needs ${client}: restart the server from the newer version (crew server stop, then run the command again)`;
  return undefined;
}
