/**
 * A dashboard's webview HTML, made from the very page the server serves to browsers (dist/webviews/<page>.html):
 * its Content-Security-Policy is replaced by the webview's (nonce-only scripts, resources from the extension's
 * own folder), its asset URLs are mapped to webview URIs, and every script gets the nonce. One page, two hosts.
 */

export interface WebviewHost {
  /** `webview.cspSource`. */
  cspSource: string;
  /** Maps a file of dist/webviews (e.g. `costs.js`, `codicon.ttf`) to its webview URI. */
  assetUri(file: string): string;
  nonce: string;
}

const ASSET =
  /(\b(?:src|href)=)(["'])(?:\.\/|\/dashboard\/assets\/|assets\/)?([\w.-]+\.(?:js|css|ttf|woff2?|svg|png))\2/g;

export function webviewHtml(page: string, host: WebviewHost): string {
  const csp = [
    "default-src 'none'",
    `img-src ${host.cspSource} data:`,
    `style-src ${host.cspSource}`,
    `font-src ${host.cspSource}`,
    `script-src 'nonce-${host.nonce}'`,
  ].join('; ');
  let html = page.replace(/<meta\s+http-equiv=["']Content-Security-Policy["'][^>]*>/i, '');
  html = html.replace(/<head>/i, `<head>\n<meta http-equiv="Content-Security-Policy" content="${csp}">`);
  html = html.replace(ASSET, (_m, attr: string, q: string, file: string) => `${attr}${q}${host.assetUri(file)}${q}`);
  html = html.replace(/<script\b(?![^>]*\bnonce=)/gi, `<script nonce="${host.nonce}"`);
  return html;
}

/** 32 characters of base64 from a CSPRNG: unguessable per page load. */
export function makeNonce(random: (n: number) => Uint8Array): string {
  return Buffer.from(random(24))
    .toString('base64')
    .replace(/[+/=]/g, (c) => (c === '+' ? '-' : c === '/' ? '_' : ''));
}
