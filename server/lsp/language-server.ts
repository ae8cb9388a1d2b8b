/**
 * The language server: built once by app.ts from its dependencies, attached by the vscode-jsonrpc transports to
 * every connection (stdio, each socket client). Sessions share the model index; each has its own documents.
 */
import type { Disposable, MessageConnection } from 'vscode-languageserver-protocol';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { ModelIndexSource, type CatalogView, type ModelIndexSourceOptions } from './model-index';
import { LspSession, type SessionDeps } from './session';
import type { SpendSource } from './spend';

export interface LanguageServerDeps {
  catalog: CatalogView;
  spend: SpendSource;
  clock: Clock;
  log: Logger;
  serverInfo: { name: string; version: string };
  debounceMs?: number;
  maxDocumentLength?: number;
  index?: ModelIndexSourceOptions;
}

export class LanguageServer {
  private readonly deps: SessionDeps;

  constructor(d: LanguageServerDeps) {
    this.deps = {
      models: new ModelIndexSource(d.catalog, d.clock, d.log, d.index),
      spend: d.spend,
      clock: d.clock,
      log: d.log,
      serverInfo: d.serverInfo,
      debounceMs: d.debounceMs ?? 200,
      maxDocumentLength: d.maxDocumentLength ?? 2_000_000,
    };
  }

  /** Registers the LSP handlers on a connection (before it listens); dispose when the connection closes. */
  attach(conn: MessageConnection, clientId: string): Disposable {
    return new LspSession(conn, this.deps, clientId);
  }
}
