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

export function memoryUri(id: string, crew: string): vscode.Uri {
  return vscode.Uri.from({ scheme: MEMORY_SCHEME, path: `/${crew}/${id}.md` });
}

export function runUri(id: string, crew: string): vscode.Uri {
  return vscode.Uri.from({ scheme: RUN_SCHEME, path: `/${crew}/${id}.md` });
}

const idOf = (uri: vscode.Uri) => uri.path.split('/').pop()!.replace(/\.md$/, '');

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
