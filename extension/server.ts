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
  ServerInfo,
  ServerSetApiKey,
  ServerShutdown,
  ServerStatusNotification,
} from '../protocol';
import { dataDirPaths, processAlive, waitForExit } from '../protocol/node';
import { readDiscovery, startDaemon } from '../cli/client/connection';
import type { ApiKeyStore } from './api-key';
import { LogTail } from './log-tail';
import { readSettings } from './settings';

/** How long a restart waits for the old daemon to finish its shutdown (it flushes the store first). */
const RESTART_TIMEOUT_MS = 15_000;
/** How often a window whose daemon was stopped looks for a new one (only while it has none). */
const NEW_DAEMON_POLL_MS = 1_000;

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
  /** Set while this window stops the daemon itself. */
  private restarting = false;
  private waiting: NodeJS.Timeout | undefined;
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

  /** Reconnects to whatever daemon runs for the settings' data directory (starting one when none does). */
  async restart(): Promise<void> {
    this.stopWaiting();
    await this.starting?.catch(() => undefined);
    await this.stopClient();
    this.stoppedByServer = false;
    await this.start();
  }

  /**
   * The clients attached to the daemon of the settings' data directory besides this window, or 0 when this window
   * is not connected to that daemon (then a restart disconnects nobody it can know of).
   */
  async otherClients(): Promise<number> {
    if (this.current.state !== 'ready' || !this.info) return 0;
    if (this.info.dataDir !== dataDirPaths(readSettings().dataDir).dataDir) return 0;
    const info = await this.request<ServerInfo.Result>(ServerInfo.method).catch(() => this.info);
    return Math.max(0, (info?.clients ?? 1) - 1);
  }

  /**
   * Stops the daemon of the settings' data directory, if one runs, and starts a new one with the settings: the
   * only way settings such as the sandbox switch reach a daemon, which keeps the mode it was started in.
   */
  async restartDaemon(): Promise<void> {
    if (await this.stopDaemon(true)) await this.start();
  }

  /** Stops the daemon of the settings' data directory; false (and the state says why) when it would not stop. */
  async stopDaemon(restarting = false): Promise<boolean> {
    await this.starting?.catch(() => undefined);
    this.stopWaiting();
    const paths = dataDirPaths(readSettings().dataDir);
    const running = await readDiscovery(paths.discovery);
    // Our own connection closing is expected now: neither an error to show nor a reason to reconnect at once.
    this.restarting = true;
    try {
      if (running) {
        this.output.appendLine(`[extension] stopping crew-server (pid ${running.pid}) for ${paths.dataDir}`);
        const connected = this.client?.isRunning() && this.info?.pid === running.pid;
        const asked = connected
          ? await this.client!.sendRequest(ServerShutdown.type, {}).then(
              () => true,
              () => false,
            )
          : false;
        if (!asked) process.kill(running.pid, 'SIGTERM');
        await this.stopClient();
        if (!(await waitForExit(running.pid, RESTART_TIMEOUT_MS)))
          throw new Error(
            `crew-server (pid ${running.pid}) did not stop within ${RESTART_TIMEOUT_MS / 1000} s; stop it with: kill ${running.pid}`,
          );
      } else await this.stopClient();
      this.stoppedByServer = false;
      if (restarting) this.setState({ state: 'starting', reason: null });
      else {
        this.setState({
          state: 'error',
          reason: 'crew-server was stopped from this window (Restart Server starts it)',
        });
        this.waitForNewDaemon();
      }
      return true;
    } catch (e) {
      this.setState({ state: 'error', reason: reasonOf(e) });
      return false;
    } finally {
      this.restarting = false;
    }
  }

  /**
   * After the daemon stopped on request (`crew server stop`, another window's restart), reconnects as soon as a
   * daemon runs for the data directory again, rather than staying disconnected from the one that replaced it.
   */
  private waitForNewDaemon(): void {
    this.stopWaiting();
    const discovery = dataDirPaths(readSettings().dataDir).discovery;
    this.waiting = setInterval(() => {
      void readDiscovery(discovery).then((d) => {
        if (!d || !this.waiting || !processAlive(d.pid)) return;
        this.stopWaiting();
        this.output.appendLine(`[extension] crew-server (pid ${d.pid}) runs again: reconnecting`);
        void this.restart();
      });
    }, NEW_DAEMON_POLL_MS);
  }

  private stopWaiting(): void {
    clearInterval(this.waiting);
    this.waiting = undefined;
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
          if (this.restarting) return { action: CloseAction.DoNotRestart, handled: true };
          if (this.stoppedByServer) {
            this.setState({ state: 'error', reason: 'crew-server was stopped (crew server stop)' });
            this.waitForNewDaemon();
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
    this.stopWaiting();
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
