/**
 * The extension's connection to crew-server: a `vscode-languageclient` LanguageClient over the data directory's
 * daemon socket (the daemon the CLI uses too), started detached with VS Code's own Node when none runs. The
 * server is also the language server for model ids, so the same connection carries LSP and our protocol.
 *
 * State (starting / ready / error with a reason) is driven by the client's state and the server's `server/status`
 * notification; notifications fan out to subscribers that outlive restarts; the API key from SecretStorage is
 * handed over after every connect (in memory: `server/setApiKey`).
 */
import net from 'node:net';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  ProgressType,
  State,
  type LanguageClientOptions,
  type StreamInfo,
} from 'vscode-languageclient/node';
import {
  NOTIFICATIONS,
  PROTOCOL_VERSION,
  ServerHello,
  ServerSetApiKey,
  ServerStatusNotification,
  type ServerInfo,
} from '../protocol';
import { dataDirPaths } from '../protocol/node';
import { readDiscovery, startDaemon } from '../cli/client/connection';
import type { ApiKeyStore } from './api-key';
import { LogTail } from './log-tail';
import { readSettings } from './settings';

export type ServerState =
  { state: 'starting'; reason: null } | { state: 'ready'; reason: null } | { state: 'error'; reason: string };

/** Languages whose files may mention model ids (the server decides what in them is one). */
const DOCUMENT_LANGUAGES = [
  'json',
  'jsonc',
  'yaml',
  'toml',
  'typescript',
  'typescriptreact',
  'javascript',
  'javascriptreact',
  'python',
  'go',
  'rust',
  'java',
  'csharp',
  'ruby',
  'php',
  'shellscript',
  'dotenv',
  'properties',
  'ini',
];

export class CrewServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private current: ServerState = { state: 'starting', reason: null };
  private readonly subscribers = new Map<string, Set<(params: unknown) => void>>();
  private log: LogTail | undefined;
  /** Set when the server said it is stopping (e.g. `crew server stop`): then we do not start it again by ourselves. */
  private stoppedByServer = false;
  info: ServerInfo.Result | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.OutputChannel,
    private readonly apiKey: ApiKeyStore,
  ) {}

  get state(): ServerState {
    return this.current;
  }

  private setState(s: ServerState): void {
    this.current = s;
    this.stateEmitter.fire(s);
  }

  /** Starts (or joins) the connection; resolves when ready or failed (the state says which). */
  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  async restart(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.stopClient();
    this.stoppedByServer = false;
    await this.start();
  }

  private async doStart(): Promise<void> {
    this.setState({ state: 'starting', reason: null });
    const settings = readSettings();
    const paths = dataDirPaths(settings.dataDir);
    this.log?.dispose();
    this.log = new LogTail(paths.log, this.output);
    const serverOptions = async (): Promise<StreamInfo> => {
      let d = await readDiscovery(paths.discovery);
      if (!d) {
        this.output.appendLine(`[extension] no crew-server runs for ${paths.dataDir}: starting one`);
        d = await startDaemon({
          dataDir: paths.dataDir,
          clientKind: 'vscode',
          serverScript: this.context.asAbsolutePath('dist/server.js'),
          serverArgs: settings.sandbox ? ['--sandbox'] : [],
          // VS Code's own Node: the Electron binary runs as plain Node with this set (harmless under Node).
          env: {
            ...process.env,
            ELECTRON_RUN_AS_NODE: '1',
            ...(settings.embedder ? { CREW_EMBEDDER: settings.embedder } : {}),
            // In the environment, not the arguments: a URL may hold a password, and arguments are public (ps).
            ...(settings.storeUrl ? { CREW_STORE_URL: settings.storeUrl } : {}),
          },
        });
      }
      if (!d.socket) throw new Error(`the crew-server for ${paths.dataDir} has no socket; restart it`);
      const socket = await connect(d.socket);
      return { reader: socket, writer: socket };
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      // The protocol trace goes to a channel of its own; ours carries the server's log.
      outputChannelName: 'OpenRouter Crew (language client)',
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          if (this.stoppedByServer) {
            this.setState({ state: 'error', reason: 'crew-server was stopped (crew server stop)' });
            return { action: CloseAction.DoNotRestart, handled: true };
          }
          this.setState({ state: 'starting', reason: null });
          return { action: CloseAction.Restart, handled: true };
        },
      },
      initializationFailedHandler: (e) => {
        this.setState({ state: 'error', reason: reasonOf(e) });
        return false;
      },
    };
    const client = new LanguageClient('openrouterCrew', 'OpenRouter Crew', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) void this.afterConnect(client);
      else if (e.newState === State.Starting && this.current.state === 'ready')
        this.setState({ state: 'starting', reason: null });
    });
    for (const method of NOTIFICATIONS) {
      if (method === '$/progress') continue;
      client.onNotification(method, (params: unknown) => this.fanOut(method, params));
    }
    try {
      await client.start();
    } catch (e) {
      if (this.current.state !== 'error') this.setState({ state: 'error', reason: reasonOf(e) });
    }
  }

  /** After every (re)connect: check the protocol, hand over the API key, then say we are ready. */
  private async afterConnect(client: LanguageClient): Promise<void> {
    try {
      const info = await client.sendRequest(ServerHello.type, {
        clientKind: 'vscode',
        clientName: 'OpenRouter Crew for VS Code',
        clientVersion: String((this.context.extension.packageJSON as { version?: string }).version ?? '0.0.0'),
        protocolVersion: PROTOCOL_VERSION,
      });
      this.info = info;
      const key = await this.apiKey.get();
      if (key && !info.upstream.sandbox) await client.sendRequest(ServerSetApiKey.type, { apiKey: key });
      this.stoppedByServer = false;
      this.setState({ state: 'ready', reason: null });
    } catch (e) {
      this.setState({ state: 'error', reason: reasonOf(e) });
    }
  }

  private fanOut(method: string, params: unknown): void {
    if (method === ServerStatusNotification.method) {
      const s = params as ServerStatusNotification.Params;
      if (s.state === 'stopping') this.stoppedByServer = true;
      if (s.state === 'error') this.setState({ state: 'error', reason: s.message ?? 'crew-server reported an error' });
    }
    for (const h of this.subscribers.get(method) ?? []) {
      try {
        h(params);
      } catch (e) {
        this.output.appendLine(`[extension] ${method} handler failed: ${reasonOf(e)}`);
      }
    }
  }

  /** Subscribes to a server notification; survives reconnects. */
  on(method: string, handler: (params: unknown) => void): vscode.Disposable {
    let set = this.subscribers.get(method);
    if (!set) this.subscribers.set(method, (set = new Set()));
    set.add(handler);
    return new vscode.Disposable(() => set.delete(handler));
  }

  /** A request of our protocol; fails with a clear message when the server is not ready. */
  async request<R>(method: string, params?: unknown, token?: vscode.CancellationToken): Promise<R> {
    const client = this.client;
    if (!client || this.current.state !== 'ready' || !client.isRunning())
      throw new Error(
        this.current.state === 'error'
          ? `crew-server is not running: ${this.current.reason}`
          : 'crew-server is still starting; try again in a moment',
      );
    return token ? client.sendRequest<R>(method, params ?? {}, token) : client.sendRequest<R>(method, params ?? {});
  }

  /** `$/progress` values for a token this client chose. */
  onProgress<P>(token: string, handler: (value: P) => void): vscode.Disposable {
    const client = this.client;
    if (!client) return new vscode.Disposable(() => undefined);
    return client.onProgress(new ProgressType<P>(), token, handler);
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.dispose(2000).catch(() => undefined);
  }

  dispose(): void {
    this.log?.dispose();
    void this.stopClient();
    this.stateEmitter.dispose();
  }
}

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', (e) => reject(new Error(`cannot connect to crew-server at ${socketPath}: ${e.message}`)));
  });
}

export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'message' in e) return String(e.message);
  return String(e);
}
