/**
 * One client's language-server session on one connection. The daemon is shared (the CLI, other windows), so the
 * LSP lifecycle lives here, per connection: `shutdown` and `exit` end this session only; the connection stays up
 * for our own methods, and a later `initialize` may start a new session on it. The process is never stopped.
 *
 *   waiting ──initialize──▶ running ──shutdown──▶ shut down ──exit──▶ waiting
 *
 * Requests other than `initialize` answer ServerNotInitialized while waiting and InvalidRequest once shut down, as
 * LSP asks; notifications in those states are dropped.
 */
import {
  CodeActionRequest,
  CompletionRequest,
  CompletionTriggerKind,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ErrorCodes,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  MarkupKind,
  PublishDiagnosticsNotification,
  ResponseError,
  ShutdownRequest,
  type CodeAction,
  type CodeActionParams,
  type CompletionList,
  type CompletionParams,
  type Disposable,
  type Hover,
  type HoverParams,
  type InitializeParams,
  type InitializeResult,
  type MessageConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { quickFixes, wantsQuickFixes } from './code-actions';
import { completeModelIds } from './completion';
import { findModelProblems, toDiagnostic } from './diagnostics';
import { DocumentStore, lineAt, lineSpan } from './documents';
import { hoverMarkdown } from './hover';
import { findModelIds } from './model-id';
import type { ModelIndex } from './model-index';
import { serverCapabilities } from './capabilities';
import type { SpendSource } from './spend';

/** What a session needs; LanguageServer hands the same to every connection. */
export interface SessionDeps {
  models: {
    current(): Promise<ModelIndex | null>;
    onDidChange(listener: (index: ModelIndex) => void): () => void;
  };
  spend: SpendSource;
  clock: Clock;
  log: Logger;
  serverInfo: { name: string; version: string };
  /** Quiet time after the last edit before a document is checked again. */
  debounceMs: number;
  /** Documents longer than this (UTF-16 units) are not checked: a minified bundle is no place for a model id. */
  maxDocumentLength: number;
}

type State = 'waiting' | 'running' | 'shutdown';

export class LspSession implements Disposable {
  private state: State = 'waiting';
  private readonly docs = new DocumentStore();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly handlers: Disposable[];
  private stopWatchingCatalog: (() => void) | undefined;
  private disposed = false;

  constructor(
    private readonly conn: MessageConnection,
    private readonly deps: SessionDeps,
    private readonly clientId: string,
  ) {
    // Specific handlers: vscode-jsonrpc prefers them to the star handler that serves our own method table.
    this.handlers = [
      conn.onRequest(InitializeRequest.type, (p) => this.initialize(p)),
      conn.onNotification(InitializedNotification.type, () => undefined),
      conn.onRequest(ShutdownRequest.type, () => this.shutdown()),
      conn.onNotification(ExitNotification.type, () => this.end('exit')),
      conn.onNotification(DidOpenTextDocumentNotification.type, (p) => {
        if (this.state === 'running') this.schedule(this.docs.open(p).uri);
      }),
      conn.onNotification(DidChangeTextDocumentNotification.type, (p) => {
        if (this.state === 'running' && this.docs.change(p)) this.schedule(p.textDocument.uri);
      }),
      conn.onNotification(DidCloseTextDocumentNotification.type, (p) => {
        if (this.state === 'running') this.close(p.textDocument.uri);
      }),
      conn.onRequest(HoverRequest.type, (p) => this.whenRunning(() => this.hover(p))),
      conn.onRequest(CompletionRequest.type, (p) => this.whenRunning(() => this.complete(p))),
      conn.onRequest(CodeActionRequest.type, (p) => this.whenRunning(() => this.codeActions(p))),
    ];
  }

  private initialize(p: InitializeParams): InitializeResult {
    if (this.state !== 'waiting')
      throw new ResponseError(ErrorCodes.InvalidRequest, 'initialize was already called on this connection');
    this.state = 'running';
    this.stopWatchingCatalog = this.deps.models.onDidChange(() => this.docs.uris().forEach((u) => this.schedule(u)));
    const who = p.clientInfo ? `${p.clientInfo.name} ${p.clientInfo.version ?? ''}`.trim() : 'a client';
    this.deps.log.info(`language server: session started for ${who} (${this.clientId})`);
    return { capabilities: serverCapabilities(), serverInfo: this.deps.serverInfo };
  }

  /** Answered with a `null` result (vscode-jsonrpc sends undefined as null). */
  private shutdown(): void {
    if (this.state === 'waiting') throw notInitialized();
    this.state = 'shutdown';
    this.clearTimers();
  }

  /** Ends the session (exit, or the connection went away); never the process, which other clients share. */
  private end(why: 'exit' | 'closed'): void {
    if (this.state !== 'waiting') this.deps.log.info(`language server: session ended by ${why} (${this.clientId})`);
    this.state = 'waiting';
    this.clearTimers();
    this.docs.clear();
    this.stopWatchingCatalog?.();
    this.stopWatchingCatalog = undefined;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.end('closed');
    for (const h of this.handlers) h.dispose();
  }

  private async whenRunning<T>(answer: () => Promise<T>): Promise<T> {
    if (this.state === 'waiting') throw notInitialized();
    if (this.state === 'shutdown')
      throw new ResponseError(ErrorCodes.InvalidRequest, 'this language server session was shut down');
    return answer();
  }

  // ── diagnostics ──────────────────────────────────────────────────────

  private schedule(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        this.publish(uri).catch((e: Error) => this.deps.log.warn(`language server: checking ${uri}: ${e.message}`));
      }, this.deps.debounceMs),
    );
  }

  private async publish(uri: string): Promise<void> {
    const doc = this.docs.get(uri);
    if (!doc) return;
    const version = doc.version;
    const index = await this.deps.models.current();
    // No catalog: say nothing rather than call every id unknown. Edited or closed meanwhile: its own check follows.
    if (!index || this.state !== 'running' || this.docs.get(uri) !== doc || doc.version !== version) return;
    const text = doc.getText();
    const diagnostics =
      text.length > this.deps.maxDocumentLength
        ? []
        : findModelProblems(text, index, this.deps.clock.now(), 0, doc.languageId).map((p) => toDiagnostic(p, doc));
    this.send({ uri, version, diagnostics });
  }

  private close(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    // A closed document keeps no diagnostics of ours in the client's Problems view.
    if (this.docs.close(uri)) this.send({ uri, diagnostics: [] });
  }

  private send(params: PublishDiagnosticsParams): void {
    this.conn.sendNotification(PublishDiagnosticsNotification.type, params).catch(() => undefined);
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ── requests ─────────────────────────────────────────────────────────

  private async hover(p: HoverParams): Promise<Hover | null> {
    const doc = this.docs.get(p.textDocument.uri);
    if (!doc) return null;
    const { line, character } = p.position;
    const match = findModelIds(lineAt(doc, line), doc.languageId).find(
      (m) => m.start <= character && character <= m.end,
    );
    if (!match) return null;
    const found = (await this.deps.models.current())?.lookup(match);
    if (!found) return null;
    const now = this.deps.clock.now();
    return {
      contents: {
        kind: MarkupKind.Markdown,
        value: hoverMarkdown(found, await this.deps.spend.spendOn(found.model.id), now),
      },
      range: { start: { line, character: match.start }, end: { line, character: match.end } },
    };
  }

  private async complete(p: CompletionParams): Promise<CompletionList | null> {
    const doc = this.docs.get(p.textDocument.uri);
    if (!doc) return null;
    const index = await this.deps.models.current();
    if (!index) return null;
    return completeModelIds(index, {
      line: lineAt(doc, p.position.line),
      lineNumber: p.position.line,
      character: p.position.character,
      explicit: (p.context?.triggerKind ?? CompletionTriggerKind.Invoked) === CompletionTriggerKind.Invoked,
      now: this.deps.clock.now(),
    });
  }

  private async codeActions(p: CodeActionParams): Promise<CodeAction[]> {
    const doc = this.docs.get(p.textDocument.uri);
    if (!doc || !wantsQuickFixes(p.context.only)) return [];
    const index = await this.deps.models.current();
    if (!index) return [];
    // Clients ask on every cursor move: read only the lines of the range.
    const span = lineSpan(doc, p.range.start, p.range.end);
    const text = doc.getText().slice(span.start, span.end);
    return quickFixes(doc, findModelProblems(text, index, this.deps.clock.now(), span.start, doc.languageId), p.range);
  }
}

function notInitialized(): ResponseError<void> {
  return new ResponseError(ErrorCodes.ServerNotInitialized, 'the language server session is not initialized');
}
