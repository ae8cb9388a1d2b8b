/**
 * A plain reverse proxy in Node and nothing else: node:http in, a keep-alive node:http agent out, the body and the
 * answer passed through untouched. No budget, no ledger, no parsing. It is the floor for any gateway written in
 * Node on this machine: what our gateway costs beyond it is the cost of its guarantees.
 * Run in its own process (forked by bench/gateway.ts); sends {url} once it listens.
 */
import http from 'node:http';

const upstream = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

const server = http.createServer((req, res) => {
  const out = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      // /v1/chat/completions → <upstream path>/chat/completions, as a gateway maps its own prefix.
      path: upstream.pathname.replace(/\/$/, '') + (req.url ?? '/').replace(/^\/v1/, ''),
      method: req.method,
      headers: req.headers,
      agent,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(e.message);
  });
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.send?.({ url: `http://127.0.0.1:${port}` });
});
process.on('disconnect', () => process.exit(0));
