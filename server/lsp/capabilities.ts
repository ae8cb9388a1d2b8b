/** What this server tells a client it can do, in answer to `initialize`. */
import { CodeActionKind, TextDocumentSyncKind, type ServerCapabilities } from 'vscode-languageserver-protocol';

/** A quote opens a string that may become a model id; `/` ends its provider part. */
export const COMPLETION_TRIGGERS = ['"', "'", '/'];

export function serverCapabilities(): ServerCapabilities {
  return {
    textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
    hoverProvider: true,
    completionProvider: { triggerCharacters: COMPLETION_TRIGGERS, resolveProvider: false },
    codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
  };
}
