/**
 * An LSP client for tests: vscode-languageserver-protocol's client-side types over a vscode-jsonrpc connection on
 * the server's stdio pipes or a socket, as vscode-languageclient would connect. The same connection also speaks
 * our own methods (`request`). Published diagnostics land in a NotificationLog that tests wait on.
 */
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import {
  createMessageConnection,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  type InitializeResult,
  type MessageConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node';
import { NotificationLog } from './rpc';

export class LspClient {
  readonly conn: MessageConnection;
  readonly notifications = new NotificationLog();

  constructor(
    input: Readable,
    output: Writable,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.conn = createMessageConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
    this.conn.onNotification((method, params) => this.notifications.push({ method, params }));
    this.conn.onError(() => undefined);
    this.conn.listen();
  }

  /** A client on the daemon's unix socket (a connection of its own, beside any other client's). */
  static async overSocket(socketPath: string): Promise<LspClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    return new LspClient(socket, socket, () => socket.end());
  }

  /** `initialize` then `initialized`, as a client does before anything else. */
  async initialize(name = 'mocha-lsp'): Promise<InitializeResult> {
    const result = await this.conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: null,
      clientInfo: { name, version: '1.0.0' },
      capabilities: {
        textDocument: {
          synchronization: { dynamicRegistration: false },
          publishDiagnostics: { relatedInformation: false, versionSupport: true, dataSupport: true },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          completion: { completionItem: { snippetSupport: false } },
          codeAction: { dataSupport: true, isPreferredSupport: true },
        },
      },
    });
    await this.conn.sendNotification(InitializedNotification.type, {});
    return result;
  }

  /** The first `textDocument/publishDiagnostics` (already received or to come) that passes `pred`. */
  diagnostics(pred: (p: PublishDiagnosticsParams) => boolean, timeoutMs = 10_000): Promise<PublishDiagnosticsParams> {
    return this.notifications.waitFor<PublishDiagnosticsParams>(PublishDiagnosticsNotification.method, pred, timeoutMs);
  }

  /** One of our own methods, on the same connection. */
  async request<R>(method: string, params?: unknown): Promise<R> {
    const result: unknown = await (params === undefined
      ? this.conn.sendRequest(method)
      : this.conn.sendRequest(method, params));
    return result as R;
  }

  close(): void {
    this.conn.dispose();
    this.onClose();
  }
}
