/** The documents one client has open: full text on open, then incremental edits (TextDocumentSyncKind.Incremental). */
import type { DidChangeTextDocumentParams, DidOpenTextDocumentParams, Position } from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';

export class DocumentStore {
  private readonly docs = new Map<string, TextDocument>();

  open(p: DidOpenTextDocumentParams): TextDocument {
    const { uri, languageId, version, text } = p.textDocument;
    const doc = TextDocument.create(uri, languageId, version, text);
    this.docs.set(uri, doc);
    return doc;
  }

  /** Applies the edits; undefined for a document that is not open (a client bug, ignored). */
  change(p: DidChangeTextDocumentParams): TextDocument | undefined {
    const doc = this.docs.get(p.textDocument.uri);
    if (!doc) return undefined;
    // update() edits in place and returns the same object: a pending check compares versions, not identities.
    return TextDocument.update(doc, p.contentChanges, p.textDocument.version);
  }

  close(uri: string): boolean {
    return this.docs.delete(uri);
  }

  get(uri: string): TextDocument | undefined {
    return this.docs.get(uri);
  }

  uris(): string[] {
    return [...this.docs.keys()];
  }

  clear(): void {
    this.docs.clear();
  }
}

/** One line's text without its line break: model ids never span lines, so hover and completion read only this. */
export function lineAt(doc: TextDocument, line: number): string {
  return doc.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } }).replace(/\r?\n$/, '');
}

/** Offsets of whole lines `from`…`to` (inclusive) in the document. */
export function lineSpan(doc: TextDocument, from: Position, to: Position): { start: number; end: number } {
  return {
    start: doc.offsetAt({ line: from.line, character: 0 }),
    end: doc.offsetAt({ line: to.line + 1, character: 0 }),
  };
}
