/**
 * Read-only documents: a memory (`crew-memory:` URIs) and a run's result (`crew-run:` URIs), read from the server
 * each time they are opened (custom schemes are read-only in VS Code, so nothing can be edited by mistake).
 */
import * as vscode from 'vscode';
import type { CrewRuns, MemoryGet } from '../protocol';
import { memoryDocument } from './model/memories';
import { runDocument } from './model/runs';
import type { CrewServer } from './server';

export const MEMORY_SCHEME = 'crew-memory';
export const RUN_SCHEME = 'crew-run';

/**
 * A document's URI: its path is what the tab shows (`<crew>/<first words>.md`, not an id), its query the id the
 * content is read by.
 */
function docUri(scheme: string, id: string, crew: string, title: string | undefined): vscode.Uri {
  return vscode.Uri.from({
    scheme,
    path: `/${crew}/${tabTitle(title) || id}.md`,
    query: `id=${encodeURIComponent(id)}`,
  });
}

export function memoryUri(id: string, crew: string, content?: string): vscode.Uri {
  return docUri(MEMORY_SCHEME, id, crew, content);
}

export function runUri(id: string, crew: string, task?: string): vscode.Uri {
  return docUri(RUN_SCHEME, id, crew, task);
}

/** The first words of a text, as a file name: one line, no slashes, at most 48 characters. */
export function tabTitle(text: string | undefined): string {
  const line =
    (text ?? '')
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? '';
  const clean = line
    .replace(/[\\/:*?"<>|#%]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length <= 48 ? clean : `${clean.slice(0, 47).trimEnd()}…`;
}

const idOf = (uri: vscode.Uri) =>
  new URLSearchParams(uri.query).get('id') ?? uri.path.split('/').pop()!.replace(/\.md$/, '');

/** A run reads best rendered: it opens as a Markdown preview (the source stays a click away). */
export async function showRun(uri: vscode.Uri): Promise<void> {
  try {
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch {
    await vscode.window.showTextDocument(uri, { preview: true });
  }
}

export class CrewDocuments implements vscode.TextDocumentContentProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  constructor(private readonly server: CrewServer) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    try {
      if (uri.scheme === MEMORY_SCHEME) {
        const { memory } = await this.server.request<MemoryGet.Result>('memory/get', { id: idOf(uri) });
        return memoryDocument(memory);
      }
      const { runs } = await this.server.request<CrewRuns.Result>('crew/runs', { runId: idOf(uri) });
      return runDocument(runs[0]!);
    } catch (e) {
      return `Could not read ${uri.toString()}: ${(e as Error).message}\n`;
    }
  }

  /** Re-reads an open memory document after it changed on the server. */
  changed(uri: vscode.Uri): void {
    this.emitter.fire(uri);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
