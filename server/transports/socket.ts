/** The daemon's unix socket (named pipe on Windows), created 0600 so only this user can talk to it. */
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import type { NotificationHub } from '../rpc/hub';
import type { Router } from '../rpc/router';
import type { LanguageServer } from '../lsp/language-server';
import { serveSocket } from './jsonrpc';

const connections = new WeakMap<net.Server, Set<net.Socket>>();

export async function listenSocket(
  path: string,
  router: Router,
  hub: NotificationHub,
  languageServer?: LanguageServer,
): Promise<net.Server> {
  if (process.platform !== 'win32') await fsp.rm(path, { force: true });
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    void serveSocket(socket, router, hub, languageServer);
  });
  connections.set(server, open);
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

/**
 * Stops listening and ends every open connection: a connected client must not keep a stopping server alive.
 * Connections are ended gracefully (answers already sent still arrive, e.g. server/shutdown's own) and destroyed
 * if the peer has not closed within `graceMs`.
 */
export async function closeSocketServer(server: net.Server, graceMs = 1_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // vscode-jsonrpc writes a reply on a later tick than the handler that produced it: let queued replies out first.
  await new Promise((r) => setImmediate(r));
  const open = [...(connections.get(server) ?? [])];
  for (const socket of open) socket.end();
  const timer = setTimeout(() => open.forEach((socket) => socket.destroy()), graceMs);
  await closed;
  clearTimeout(timer);
}
