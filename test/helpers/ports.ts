/** Free ports for the processes the tests start (PostgreSQL clusters, code-server, n8n). */
import net from 'node:net';

/** A free TCP port on 127.0.0.1 for a process a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
