/** Quick fixes for model-id problems: "Replace with <id>", the closest (or the successor) first and preferred. */
import { CodeActionKind, type CodeAction, type Range } from 'vscode-languageserver-protocol';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { rangeOf, replacementsOf, toDiagnostic, type ModelProblem } from './diagnostics';

/** Whether a client's `context.only` asks for quick fixes (no filter, `quickfix`, or a parent kind of it). */
export function wantsQuickFixes(only: string[] | undefined): boolean {
  return !only || only.some((k) => k === CodeActionKind.QuickFix || CodeActionKind.QuickFix.startsWith(`${k}.`));
}

export function quickFixes(doc: TextDocument, problems: ModelProblem[], range: Range): CodeAction[] {
  const from = doc.offsetAt(range.start);
  const to = doc.offsetAt(range.end);
  const out: CodeAction[] = [];
  for (const p of problems) {
    if (p.match.end < from || p.match.start > to) continue;
    const diagnostic = toDiagnostic(p, doc);
    replacementsOf(p).forEach((id, i) => {
      out.push({
        title: `Replace with ${id}`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [diagnostic],
        isPreferred: i === 0,
        edit: { changes: { [doc.uri]: [{ range: rangeOf(p, doc), newText: id }] } },
      });
    });
  }
  return out;
}
