/**
 * Hover text, completion filtering, diagnostics and quick fixes over realistic documents, with the real catalog
 * code over the fake OpenRouter's model list and a manual clock.
 */
import assert from 'node:assert/strict';
import { CodeActionKind, CompletionItemTag, DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ManualClock } from '../../server/clock';
import { quickFixes, wantsQuickFixes } from '../../server/lsp/code-actions';
import { completeModelIds } from '../../server/lsp/completion';
import {
  DEPRECATED_MODEL,
  findModelProblems,
  toDiagnostic,
  UNKNOWN_MODEL,
  type ModelDiagnosticData,
} from '../../server/lsp/diagnostics';
import { hoverMarkdown } from '../../server/lsp/hover';
import { ModelIndex, withinDistance } from '../../server/lsp/model-index';
import { LedgerSpend, type ModelSpend } from '../../server/lsp/spend';
import type { LedgerFilter } from '../../server/store/repositories';
import { CHAT_MODELS } from '../fixtures/fake-openrouter';
import { AGENT_PY, AGENT_TS, CREW_JSON, CREW_YAML, fakeCatalog, model } from './lsp-fixtures';

const JUNE_15 = Date.UTC(2025, 5, 15, 12);
const doc = (text: string, languageId = 'json') => TextDocument.create('file:///work/crew.json', languageId, 1, text);

describe('lsp: language features', () => {
  const clock = new ManualClock(JUNE_15);
  let index: ModelIndex;
  before(async () => {
    ({ index } = await fakeCatalog(clock));
  });

  describe('diagnostics', () => {
    it('flag an unknown id, a provider typo and a deprecated id in a JSON config, and nothing else', () => {
      const d = doc(CREW_JSON);
      const diags = findModelProblems(CREW_JSON, index, clock.now()).map((p) => toDiagnostic(p, d));
      assert.deepEqual(
        diags.map((x) => [d.getText(x.range), x.code, x.severity]),
        [
          ['openai/gpt-4o-mino', UNKNOWN_MODEL, DiagnosticSeverity.Warning],
          ['openai/gpt-3.5-turbo-0613', DEPRECATED_MODEL, DiagnosticSeverity.Warning],
          ['anthropc/claude-sonnet-4', UNKNOWN_MODEL, DiagnosticSeverity.Warning],
        ],
      );
      const [unknown, deprecated, typo] = diags as [(typeof diags)[0], (typeof diags)[0], (typeof diags)[0]];
      assert.equal(
        unknown.message,
        'Unknown OpenRouter model "openai/gpt-4o-mino": not in the model catalog. ' +
          'Did you mean "openai/gpt-4o-mini" or "openai/gpt-4o"?',
      );
      assert.deepEqual(unknown.data, {
        id: 'openai/gpt-4o-mino',
        replacement: 'openai/gpt-4o-mini',
        suggestions: ['openai/gpt-4o-mini', 'openai/gpt-4o'],
      } satisfies ModelDiagnosticData);
      assert.equal((typo.data as ModelDiagnosticData).replacement, 'anthropic/claude-sonnet-4');
      assert.match(deprecated.message as string, /"openai\/gpt-3\.5-turbo-0613" is deprecated: retired on 2025-01-31/);
      assert.deepEqual(deprecated.tags, [DiagnosticTag.Deprecated]);
      assert.equal((deprecated.data as ModelDiagnosticData).expirationDate, '2025-01-31');
      assert.equal((deprecated.data as ModelDiagnosticData).replacement, 'openai/gpt-4o-mini');
    });

    it('name at most three close matches', () => {
      const text = '{ "model": "anthropic/claude-3-5-sonnet" }';
      const [p] = findModelProblems(text, index, clock.now());
      const data = toDiagnostic(p!, doc(text)).data as ModelDiagnosticData;
      assert.equal(data.suggestions.length, 3);
      assert.ok(
        data.suggestions.every((s) => index.get(s)),
        'every suggestion is a catalog id',
      );
    });

    it('call a deprecated id informational before its date, a warning once it has passed', () => {
      const text = '"openai/gpt-3.5-turbo-0613"';
      const before = toDiagnostic(findModelProblems(text, index, Date.UTC(2025, 0, 1))[0]!, doc(text));
      assert.equal(before.severity, DiagnosticSeverity.Information);
      assert.match(before.message as string, /to be retired on 2025-01-31/);
      const after = toDiagnostic(findModelProblems(text, index, Date.UTC(2025, 1, 1))[0]!, doc(text));
      assert.equal(after.severity, DiagnosticSeverity.Warning);
    });

    it('leave YAML, TypeScript and Python with known ids, paths, URLs and rule names alone', () => {
      for (const text of [CREW_YAML, AGENT_TS, AGENT_PY])
        assert.deepEqual(findModelProblems(text, index, clock.now()), [], text.slice(0, 30));
    });

    it('take ids of unknown providers for models only when they are a typo of a catalog id', () => {
      const ref = (id: string) => index.refersToModel({ id, provider: id.split('/')[0]! });
      assert.ok(ref('openai/gpt-5-turbo'), 'a known provider');
      assert.ok(ref('anthropc/claude-sonnet-4'), 'one edit from a catalog id');
      assert.ok(!ref('react/jsx-key'));
      assert.ok(!ref('build/reports'));
      assert.ok(!ref('library/node'));
      assert.ok(!ref('docs/guide'));
    });

    it('publish nothing for an empty catalog rather than call every id unknown', () => {
      const empty = new ModelIndex([], null, () => []);
      assert.deepEqual(findModelProblems(CREW_JSON, empty, clock.now()), []);
    });

    it('name a deprecated snapshot’s base model as its successor when the catalog has it', () => {
      const base = model(index, 'openai/gpt-4o');
      const snapshot = { ...base, id: 'openai/gpt-4o-2024-05-13', expirationDate: '2025-03-01' };
      const own = new ModelIndex([base, snapshot, model(index, 'openai/gpt-4o-mini')], null, () => []);
      assert.equal(own.successor('openai/gpt-4o-2024-05-13'), 'openai/gpt-4o');
      const [p] = findModelProblems('"openai/gpt-4o-2024-05-13"', own, clock.now());
      assert.equal(p?.kind === 'deprecated' && p.replacement, 'openai/gpt-4o');
    });

    it('distance check stops early and agrees with the edit distance', () => {
      assert.ok(withinDistance('anthropc/claude-sonnet-4', 'anthropic/claude-sonnet-4', 1));
      assert.ok(!withinDistance('openai/gpt-4o', 'openai/gpt-4o-mini', 2));
      assert.ok(withinDistance('kitten', 'sitting', 3) && !withinDistance('kitten', 'sitting', 2));
    });
  });

  describe('quick fixes', () => {
    const apply = (text: string, edit: { range: { start: unknown; end: unknown }; newText: string }) => {
      const d = doc(text);
      return TextDocument.applyEdits(d, [edit as Parameters<typeof TextDocument.applyEdits>[1][0]]);
    };

    it('replace an unknown id with each close match, the closest preferred', () => {
      const d = doc(CREW_JSON);
      const problems = findModelProblems(CREW_JSON, index, clock.now());
      const at = d.positionAt(CREW_JSON.indexOf('gpt-4o-mino'));
      const actions = quickFixes(d, problems, { start: at, end: at });
      assert.deepEqual(
        actions.map((a) => [a.title, a.kind, a.isPreferred]),
        [
          ['Replace with openai/gpt-4o-mini', CodeActionKind.QuickFix, true],
          ['Replace with openai/gpt-4o', CodeActionKind.QuickFix, false],
        ],
      );
      assert.equal(actions[0]!.diagnostics?.[0]?.code, UNKNOWN_MODEL);
      const fixed = apply(CREW_JSON, actions[0]!.edit!.changes![d.uri]![0]!);
      assert.match(fixed, /"name": "critic", "model": "openai\/gpt-4o-mini" }/);
      assert.deepEqual(
        findModelProblems(fixed, index, clock.now()).map((p) => p.match.id),
        ['openai/gpt-3.5-turbo-0613', 'anthropc/claude-sonnet-4'],
        'the fixed id is no longer a problem',
      );
    });

    it('replace a deprecated id with its successor, and offer nothing away from a problem', () => {
      const d = doc(CREW_JSON);
      const problems = findModelProblems(CREW_JSON, index, clock.now());
      const line = d.positionAt(CREW_JSON.indexOf('gpt-3.5-turbo-0613')).line;
      const whole = { start: { line, character: 0 }, end: { line, character: 80 } };
      const [fix, ...rest] = quickFixes(d, problems, whole);
      assert.equal(rest.length, 0);
      assert.equal(fix!.title, 'Replace with openai/gpt-4o-mini');
      assert.equal(fix!.diagnostics?.[0]?.code, DEPRECATED_MODEL);
      const quiet = d.positionAt(CREW_JSON.indexOf('"homepage"'));
      assert.deepEqual(quickFixes(d, problems, { start: quiet, end: quiet }), []);
    });

    it('are offered only when the client asks for quick fixes', () => {
      assert.ok(wantsQuickFixes(undefined));
      assert.ok(wantsQuickFixes([CodeActionKind.QuickFix]));
      assert.ok(!wantsQuickFixes([CodeActionKind.Refactor]));
      assert.ok(!wantsQuickFixes([CodeActionKind.SourceOrganizeImports]));
    });
  });

  describe('completion', () => {
    const complete = (line: string, character = line.length, explicit = false) =>
      completeModelIds(index, { line, lineNumber: 7, character, explicit, now: clock.now() });

    it('after a provider and "/", offers that provider’s ids replacing what was typed', () => {
      const line = '    { "name": "critic", "model": "anthropic/';
      const list = complete(line)!;
      const expected = CHAT_MODELS.filter((m) => m.id.startsWith('anthropic/')).map((m) => m.id);
      assert.deepEqual(list.items.map((i) => i.label).sort(), expected.sort());
      const item = list.items.find((i) => i.label === 'anthropic/claude-sonnet-4')!;
      assert.deepEqual(item.textEdit, {
        range: { start: { line: 7, character: line.indexOf('anthropic/') }, end: { line: 7, character: line.length } },
        newText: 'anthropic/claude-sonnet-4',
      });
      assert.equal(item.detail, '$3.00 / $15.00 per 1M tokens (prompt / completion)');
      assert.match((item.documentation as { value: string }).value, /Context length: 200,000 tokens/);
    });

    it('narrows by the typed prefix and replaces the whole id when the cursor is inside one', () => {
      const line = '"model": "openai/gpt-4o-mini",';
      const list = complete(line, line.indexOf('-4o') + 3)!;
      assert.deepEqual(list.items.map((i) => i.label).sort(), ['openai/gpt-4o', 'openai/gpt-4o-mini']);
      assert.deepEqual(list.items[0]!.textEdit && 'range' in list.items[0]!.textEdit && list.items[0]!.textEdit.range, {
        start: { line: 7, character: 10 },
        end: { line: 7, character: 28 },
      });
    });

    it('on a bare quote, offers every id only where the line is about a model', () => {
      assert.equal(complete('"model": "')!.items.length, CHAT_MODELS.length);
      assert.equal(complete('client.create(model="')!.items.length, CHAT_MODELS.length);
      assert.equal(complete('"name": "'), null);
      assert.equal(complete('"name": "', undefined, true)!.items.length, CHAT_MODELS.length, 'unless asked for');
    });

    it('offers nothing after a path-like or unknown provider, or outside a string', () => {
      assert.equal(complete('"main": "src/'), null);
      assert.equal(complete('"homepage": "https:/'), null);
      assert.equal(complete('model: openai/'), null);
    });

    it('finds a model by its name without the provider when asked', () => {
      const list = complete('const m = "gpt-4o', undefined, true)!;
      assert.deepEqual(list.items.map((i) => i.label).sort(), ['openai/gpt-4o', 'openai/gpt-4o-mini']);
    });

    it('keeps deprecated ids last and struck through', () => {
      const list = complete('"model": "openai/')!;
      const old = list.items.find((i) => i.label === 'openai/gpt-3.5-turbo-0613')!;
      assert.deepEqual(old.tags, [CompletionItemTag.Deprecated]);
      const sorted = [...list.items].sort((a, b) => a.sortText!.localeCompare(b.sortText!));
      assert.equal(sorted.at(-1)!.label, 'openai/gpt-3.5-turbo-0613');
    });
  });

  describe('hover', () => {
    const spend: ModelSpend = {
      monthStart: Date.UTC(2025, 5, 1),
      month: { calls: 3, costPico: 1_234_567n },
      allTime: { calls: 41, costPico: 2_500_000_000_000n },
    };

    it('shows exact prices per million tokens, context, max completion and the spend by period', () => {
      const text = hoverMarkdown({ model: model(index, 'openai/gpt-4o-mini'), routing: null }, spend, clock.now());
      assert.equal(
        text,
        [
          '**OpenAI: GPT-4o-mini** `openai/gpt-4o-mini`',
          '',
          '- Prompt: $0.15 per 1M tokens',
          '- Completion: $0.60 per 1M tokens',
          '- Context length: 128,000 tokens',
          '- Max completion: 16,384 tokens',
          '',
          '**Spend in this data directory**',
          '',
          '- This month (since 2025-06-01 UTC): $0.000001234567 over 3 calls',
          '- All time: $2.50 over 41 calls',
        ].join('\n'),
      );
    });

    it('keeps many-decimal prices exact, shows a per-request fee, a missing maximum and no calls', () => {
      const none = { ...spend, month: { calls: 0, costPico: 0n }, allTime: { calls: 0, costPico: 0n } };
      const nemo = hoverMarkdown({ model: model(index, 'mistralai/mistral-nemo'), routing: null }, none, clock.now());
      assert.match(nemo, /- Prompt: \$0\.0375 per 1M tokens/);
      assert.match(nemo, /All time: no calls/);
      const sonar = hoverMarkdown({ model: model(index, 'perplexity/sonar'), routing: null }, none, clock.now());
      assert.match(sonar, /- Per request: \$0\.005\n/);
      assert.match(sonar, /- Max completion: not stated/);
    });

    it('says when a model is retired, and what a routing suffix means', () => {
      const old = model(index, 'openai/gpt-3.5-turbo-0613');
      assert.match(
        hoverMarkdown({ model: old, routing: null }, spend, clock.now()),
        /⚠ Deprecated: retired on 2025-01-31/,
      );
      const nitro = hoverMarkdown({ model: model(index, 'openai/gpt-4o'), routing: 'nitro' }, spend, clock.now());
      assert.match(nitro, /`openai\/gpt-4o:nitro`/);
      assert.match(nitro, /prices are those of `openai\/gpt-4o`/);
    });

    it('reads spend from the ledger for this model: this calendar month (UTC) and all time', async () => {
      const asked: LedgerFilter[] = [];
      const ledger = {
        aggregate: async (filter: LedgerFilter) => {
          asked.push(filter);
          return filter.from === undefined
            ? [
                {
                  key: 'm',
                  calls: 5,
                  promptTokens: 0,
                  completionTokens: 0,
                  cachedTokens: 0,
                  reasoningTokens: 0,
                  costPico: 9n,
                  estimatedPico: 0n,
                  errors: 0,
                },
              ]
            : [];
        },
      };
      const s = await new LedgerSpend(ledger, clock).spendOn('openai/gpt-4o-mini');
      assert.deepEqual(asked, [
        { model: 'openai/gpt-4o-mini', from: Date.UTC(2025, 5, 1) },
        { model: 'openai/gpt-4o-mini' },
      ]);
      assert.deepEqual(s, {
        monthStart: Date.UTC(2025, 5, 1),
        month: { calls: 0, costPico: 0n },
        allTime: { calls: 5, costPico: 9n },
      });
    });
  });
});
