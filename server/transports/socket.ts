/** The daemon's unix socket (named pipe on Windows), created 0600 so only this user can talk to it. */
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import type { NotificationHub } from '../rpc/hub';
import type { Router } from '../rpc/router';
import { serveSocket } from './jsonrpc';

export async function listenSocket(path: string, router: Router, hub: NotificationHub): Promise<net.Server> {
  if (process.platform !== 'win32') await fsp.rm(path, { force: true });
  const server = net.createServer((socket) => void serveSocket(socket, router, hub));
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  if (process.platform !== 'win32') await fsp.chmod(path, 0o600);
  return server;
}
