/**
 * Memories written and moved from VS Code, as `crew memory add` and `crew archive create --ids` do in a terminal:
 * a memory is added from the editor's selection or typed text, and one from the Memory Browser is archived
 * (lossless, restorable) rather than only deleted.
 */
import * as vscode from 'vscode';
import type { ArchiveCreate, CrewList, Memory, MemoryAdd, MemoryKind } from '../protocol';
import { formatBytes, formatRatio } from '../protocol/format';
import { parseTags } from './model/memories';
import type { CrewServer } from './server';

const KINDS: { label: MemoryKind; description: string }[] = [
  { label: 'fact', description: 'something true about the work or the world' },
  { label: 'insight', description: 'an observation worth reusing' },
  { label: 'lesson', description: 'what went wrong or right, to do better' },
  { label: 'note', description: 'anything else' },
  { label: 'result', description: 'the outcome of a task' },
];

async function pickMemoryCrew(server: CrewServer): Promise<string | undefined> {
  const { crews } = await server.request<CrewList.Result>('crew/list');
  if (!crews.length)
    return (
      await vscode.window.showInputBox({
        title: 'Add a memory: which crew does it belong to?',
        prompt: 'No crews yet: memories still belong to a crew name, which a crew created later picks up.',
        validateInput: (v) => (v.trim() ? undefined : 'Name the crew'),
      })
    )?.trim();
  const pick = await vscode.window.showQuickPick(
    crews.map((c) => ({ label: c.name, description: c.description })),
    { title: 'Add a memory to which crew?' },
  );
  return pick?.label;
}

/** Adds a memory; the editor's selection, when there is one, is offered as its content. */
export async function addMemory(server: CrewServer, crewGiven?: string): Promise<Memory | undefined> {
  const crew = crewGiven ?? (await pickMemoryCrew(server));
  if (!crew) return undefined;
  const kind = await vscode.window.showQuickPick(KINDS, { title: `Memory of ${crew}: kind` });
  if (!kind) return undefined;
  const editor = vscode.window.activeTextEditor;
  const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
  const content = await vscode.window.showInputBox({
    title: `${crew} ${kind.label}: content`,
    value: selected,
    prompt: selected ? 'From the selection in the editor' : 'Tip: select text in an editor first to add it as is',
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'A memory needs content'),
  });
  if (!content) return undefined;
  const tags = await vscode.window.showInputBox({ title: 'Tags (optional; comma or space separated)' });
  if (tags === undefined) return undefined;
  const res = await server.request<MemoryAdd.Result>('memory/add', {
    crew,
    kind: kind.label,
    content,
    tags: parseTags(tags),
  } satisfies MemoryAdd.Params);
  void vscode.window.showInformationMessage(
    res.created
      ? `Memory added to ${crew}.`
      : `${crew} already has this memory (${res.duplicateOf ?? res.memory.id}); nothing was added.`,
  );
  return res.memory;
}

export async function archiveMemory(server: CrewServer, m: Memory): Promise<void> {
  const ok = await vscode.window.showInformationMessage(
    `Archive this memory of ${m.crew}? "${m.content.slice(0, 80)}" leaves search and context, and can be restored from the Archives view.`,
    { modal: true },
    'Archive',
  );
  if (ok !== 'Archive') return;
  const res = (await server.request<ArchiveCreate.Result>('archive/create', {
    ids: [m.id],
  })) as ArchiveCreate.CreatedResult;
  const a = res.archive;
  void vscode.window.showInformationMessage(
    a ? `Archived (${formatBytes(a.bytesOut)}, ${formatRatio(a.ratio)}).` : 'Nothing was archived: the memory is gone.',
  );
}
