/**
 * Problems with the model ids in a document: an id the catalog does not have (with its closest ids), and a
 * deprecated one (catalog `expirationDate`, with a successor when one can be named). Quick fixes are computed from
 * the same problems, so a fix always matches the diagnostic it repairs.
 */
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic, type Range } from 'vscode-languageserver-protocol';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ModelInfo } from '../../protocol';
import { retirement, retirementText, type Retirement } from './format';
import { findModelIds, type ModelIdMatch } from './model-id';
import type { ModelIndex } from './model-index';

export const DIAGNOSTIC_SOURCE = 'OpenRouter Crew';
export const UNKNOWN_MODEL = 'unknown-model';
export const DEPRECATED_MODEL = 'deprecated-model';

export type ModelProblem =
  | { kind: 'unknown'; match: ModelIdMatch; suggestions: string[] }
  | { kind: 'deprecated'; match: ModelIdMatch; model: ModelInfo; retirement: Retirement; replacement: string | null };

/** What a diagnostic carries for clients (and code actions): the replacement to offer first, and the others. */
export interface ModelDiagnosticData {
  id: string;
  replacement: string | null;
  suggestions: string[];
  expirationDate?: string;
}

/**
 * Problems in `text`; `offset` is where `text` starts in its document (a few lines scanned for a code action), and
 * `languageId` its language (some write model ids without quotes).
 */
export function findModelProblems(
  text: string,
  index: ModelIndex,
  now: number,
  offset = 0,
  languageId?: string,
): ModelProblem[] {
  const out: ModelProblem[] = [];
  for (const m of findModelIds(text, languageId)) {
    const match = { ...m, start: m.start + offset, end: m.end + offset };
    const found = index.lookup(match);
    if (found) {
      const r = retirement(found.model, now);
      if (!r) continue;
      const next = index.successor(found.model.id);
      const replacement = next && found.routing ? `${next}:${found.routing}` : next;
      out.push({ kind: 'deprecated', match, model: found.model, retirement: r, replacement });
    } else if (index.refersToModel(match)) {
      out.push({ kind: 'unknown', match, suggestions: index.suggestions(match.id) });
    }
  }
  return out;
}

export function replacementsOf(p: ModelProblem): string[] {
  if (p.kind === 'unknown') return p.suggestions;
  return p.replacement ? [p.replacement] : [];
}

export function rangeOf(p: ModelProblem, doc: TextDocument): Range {
  return { start: doc.positionAt(p.match.start), end: doc.positionAt(p.match.end) };
}

export function toDiagnostic(p: ModelProblem, doc: TextDocument): Diagnostic {
  const id = p.match.id;
  const replacements = replacementsOf(p);
  const data: ModelDiagnosticData = { id, replacement: replacements[0] ?? null, suggestions: replacements };
  const base = { range: rangeOf(p, doc), source: DIAGNOSTIC_SOURCE };
  if (p.kind === 'unknown') {
    const hint = replacements.length
      ? `Did you mean ${orList(replacements)}?`
      : 'No model in the catalog is close to it.';
    return {
      ...base,
      severity: DiagnosticSeverity.Warning,
      code: UNKNOWN_MODEL,
      message: `Unknown OpenRouter model "${id}": not in the model catalog. ${hint}`,
      data,
    };
  }
  data.expirationDate = p.retirement.date;
  const hint = p.replacement ? ` Consider "${p.replacement}".` : '';
  return {
    ...base,
    // Still callable until its date: worth knowing, not yet worth a warning.
    severity: p.retirement.past ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information,
    code: DEPRECATED_MODEL,
    tags: [DiagnosticTag.Deprecated],
    message: `OpenRouter model "${id}" is deprecated: ${retirementText(p.retirement)} (catalog expiration date).${hint}`,
    data,
  };
}

function orList(ids: string[]): string {
  const quoted = ids.map((i) => `"${i}"`);
  return quoted.length === 1 ? quoted[0]! : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)!}`;
}
