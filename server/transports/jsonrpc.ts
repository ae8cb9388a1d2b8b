/**
 * Serves the method table over a vscode-jsonrpc connection (stdio, or one accepted socket). Messages are framed
 * and their envelope checked by GuardedMessageReader (bounded sizes, valid ids) before the connection sees them.
 * Cancellation ($/cancelRequest) aborts the handler's signal, which reaches the upstream HTTP call.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex, Readable, Writable } from 'node:stream';
import { createMessageConnection, ResponseError, type MessageConnection } from 'vscode-jsonrpc/node';
import { ProgressNotification } from '../../protocol';
import type { NotificationHub } from '../rpc/hub';
import type { ClientInfo, Router } from '../rpc/router';
import type { RpcError } from '../rpc/errors';
import { connectionPrincipal } from '../rpc/principal';
import { CoalescingMessageWriter } from './coalescing-writer';
import { GuardedMessageReader } from './guarded-reader';
import type { LanguageServer } from '../lsp/language-server';

export function serveStreams(
  input: Readable,
  output: Writable,
  router: Router,
  hub: NotificationHub,
  transport: ClientInfo['transport'],
  languageServer?: LanguageServer,
  /** Ends the underlying stream once a reply is out: the input could not be framed any more. */
  end: () => void = () => output.end(),
): MessageConnection {
  const writer = new CoalescingMessageWriter(output);
  const reader = new GuardedMessageReader(input, {
    reply: (message) => void writer.write(message).catch(() => undefined),
    fatal: () => setImmediate(end),
  });
  const conn = createMessageConnection(reader, writer);
  const id = `${transport}:${randomUUID().slice(0, 8)}`;
  const client: ClientInfo = { kind: 'unknown', id, transport, principal: connectionPrincipal(id) };
  conn.onRequest(async (method, params, token) => {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    const progressToken = (params as { progressToken?: string | number } | undefined)?.progressToken;
    try {
      return await router.dispatch(method, params, {
        client,
        signal: controller.signal,
        progress: (value) => {
          if (progressToken !== undefined)
            void conn.sendNotification(ProgressNotification.type, { token: progressToken, value });
        },
      });
    } catch (e) {
      const err = e as RpcError;
      throw new ResponseError(err.code, err.message, err.data);
    } finally {
      sub.dispose();
    }
  });
  const unsubscribe = hub.add({
    notify: (method, params) => void conn.sendNotification(method, params).catch(() => undefined),
  });
  conn.onClose(() => unsubscribe());
  // LSP's own methods (initialize, textDocument/*) on the same connection; the star handler keeps everything else.
  const lsp = languageServer?.attach(conn, client.id);
  if (lsp) conn.onClose(() => lsp.dispose());
  conn.onError(() => undefined);
  conn.listen();
  return conn;
}

export function serveSocket(
  socket: Duplex,
  router: Router,
  hub: NotificationHub,
  languageServer?: LanguageServer,
): MessageConnection {
  const conn = serveStreams(socket, socket, router, hub, 'socket', languageServer, () => socket.end());
  socket.on('close', () => conn.dispose());
  socket.on('error', () => conn.dispose());
  return conn;
}
