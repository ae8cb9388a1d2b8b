/**
 * The Host header check against DNS rebinding: a page on any origin can make a browser send requests to
 * 127.0.0.1 under a name it controls, and the Host header is what still says which name that was. Only loopback
 * names, the address the server was asked to bind and the names the user allowed (--allow-host, for a proxy that
 * forwards the outer Host, as code-server's /proxy/<port>/ does) are accepted, with any port.
 */
import os from 'node:os';

const LOOPBACK = ['localhost', '127.0.0.1', '::1'];
const WILDCARD = ['0.0.0.0', '::', ''];

/** The host names this server answers to when bound to `bindHost`. */
export function allowedHosts(bindHost: string, extra: readonly string[] = []): Set<string> {
  const names = new Set(LOOPBACK);
  names.add(bindHost.toLowerCase());
  for (const name of extra) names.add(hostName(name));
  // Bound to every interface on purpose (--host 0.0.0.0): the machine's own addresses are its names too.
  if (WILDCARD.includes(bindHost))
    for (const list of Object.values(os.networkInterfaces()))
      for (const a of list ?? []) names.add(a.address.toLowerCase());
  return names;
}

/** The name in a Host header, without its port and IPv6 brackets; lower case. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** HTTP/1.0 clients may send no Host at all; browsers always send one, so no header is no rebinding. */
export function hostAllowed(header: string | undefined, allowed: Set<string>): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  return allowed.has(name) || name.endsWith('.localhost');
}
