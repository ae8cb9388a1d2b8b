/**
 * Completion of model ids inside a string that looks like the start of one. A bare opening quote offers ids only
 * where the line is about a model (`"model": "`, `model="`) or when the user asked (Ctrl+Space): otherwise every
 * `"` typed in a JSON file would pop up hundreds of ids. After a `/`, the provider must be in the catalog, so
 * `"src/` offers nothing.
 */
import {
  CompletionItemKind,
  CompletionItemTag,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Range,
} from 'vscode-languageserver-protocol';
import type { ModelInfo } from '../../protocol';
import { md, priceSummary, retirement, retirementText, tokens } from './format';
import { partialModelIdAt } from './model-id';
import type { ModelIndex } from './model-index';

export interface CompletionRequest {
  /** The line's text and the cursor in it (UTF-16 units, as LSP positions). */
  line: string;
  lineNumber: number;
  character: number;
  /** Invoked by the user rather than by a trigger character or typing. */
  explicit: boolean;
  now: number;
}

const ABOUT_A_MODEL = /model/i;

export function completeModelIds(index: ModelIndex, req: CompletionRequest): CompletionList | null {
  const partial = partialModelIdAt(req.line, req.character);
  if (!partial) return null;
  const { typed } = partial;
  const slash = typed.indexOf('/');
  if (slash >= 0) {
    if (!index.hasProvider(typed.slice(0, slash))) return null;
  } else if (!req.explicit && !ABOUT_A_MODEL.test(partial.lead)) return null;

  const ranked: { id: string; rank: number }[] = [];
  for (const id of index.ids) {
    if (id.startsWith(typed)) ranked.push({ id, rank: 0 });
    // `"gpt-4` finds `openai/gpt-4o`: people remember the model's name better than its provider slug.
    else if (slash < 0 && typed && id.slice(id.indexOf('/') + 1).startsWith(typed)) ranked.push({ id, rank: 1 });
  }
  if (!ranked.length) return null;
  const range: Range = {
    start: { line: req.lineNumber, character: partial.start },
    end: { line: req.lineNumber, character: partial.end },
  };
  const items = ranked.map(({ id, rank }) => item(index.get(id)!, rank, range, req.now));
  return { isIncomplete: false, items };
}

function item(m: ModelInfo, rank: number, range: Range, now: number): CompletionItem {
  const r = retirement(m, now);
  const docs = [
    `**${md(m.name)}**`,
    '',
    `Context length: ${tokens(m.contextLength)} · max completion: ${tokens(m.maxCompletionTokens)}`,
  ];
  if (r) docs.push('', `Deprecated: ${retirementText(r)}.`);
  return {
    label: m.id,
    kind: CompletionItemKind.Value,
    detail: priceSummary(m),
    documentation: { kind: MarkupKind.Markdown, value: docs.join('\n') },
    // Deprecated ids stay offered (a user may need one) but sink to the end, struck through.
    sortText: `${r ? 9 : rank}:${m.id}`,
    filterText: m.id,
    textEdit: { range, newText: m.id },
    ...(r ? { tags: [CompletionItemTag.Deprecated] } : {}),
  };
}
