/**
 * The model-id pattern over realistic JSON, YAML, TypeScript and Python: ids in string literals are found with their
 * exact offsets; paths, URLs, MIME types, `a/b/c`, scoped packages and interpolated strings are not.
 */
import assert from 'node:assert/strict';
import { findModelIds, isModelIdShape, partialModelIdAt } from '../../server/lsp/model-id';
import { AGENT_PY, AGENT_TS, CREW_JSON, CREW_YAML } from './lsp-fixtures';

const ids = (text: string) => findModelIds(text).map((m) => m.id);

describe('lsp: the model-id pattern', () => {
  it('finds the ids of a JSON crew config and nothing else (paths, URLs, MIME types, dates stay out)', () => {
    assert.deepEqual(ids(CREW_JSON), [
      // eslint rules have the shape; the catalog (not the pattern) says they are no model.
      'react/jsx-key',
      'import/no-unresolved',
      'openai/gpt-4o-mini',
      'openai/gpt-4o-mino',
      'openai/gpt-3.5-turbo-0613',
      'anthropc/claude-sonnet-4',
      'openai/gpt-4o:nitro',
      'meta-llama/llama-3.3-70b-instruct:free',
      'docs/guide',
    ]);
  });

  it('gives offsets that cut exactly the id out of the text, quotes excluded', () => {
    for (const m of findModelIds(CREW_JSON)) {
      assert.equal(CREW_JSON.slice(m.start, m.end), m.id);
      assert.match(CREW_JSON[m.start - 1]!, /["'`]/);
      assert.equal(CREW_JSON[m.end], CREW_JSON[m.start - 1]);
    }
    const nitro = findModelIds(CREW_JSON).find((m) => m.id === 'openai/gpt-4o:nitro')!;
    assert.equal(nitro.provider, 'openai');
    assert.equal(nitro.variant, 'nitro');
  });

  it('reads YAML in double and single quotes; MIME types stay out', () => {
    assert.deepEqual(ids(CREW_YAML), [
      'google/gemini-2.5-flash',
      'deepseek/deepseek-chat',
      'anthropic/claude-opus-4',
      // Shaped like ids: only the catalog can tell (lsp-features.test.ts shows they are never flagged).
      'build/reports',
      'library/node',
    ]);
  });

  it('reads unquoted YAML values and .env lines, with offsets, before a comment; not in other languages', () => {
    const yaml = [
      'agents:',
      '  writer:',
      '    model: anthropic/claude-3.5-haiku   # cheap and quick',
      '    fallbacks:',
      '      - openai/gpt-4o-mini',
      '      - "openai/gpt-4o"',
      '  embedder: openai/text-embedding-3-small',
      '  note: openai/gpt-4o is what we used',
      '  type: text/plain',
      '  site: https://openrouter.ai/openai/gpt-4o',
    ].join('\n');
    const found = findModelIds(yaml, 'yaml');
    assert.deepEqual(
      found.map((m) => m.id),
      ['anthropic/claude-3.5-haiku', 'openai/gpt-4o-mini', 'openai/gpt-4o', 'openai/text-embedding-3-small'],
    );
    for (const m of found) assert.equal(yaml.slice(m.start, m.end), m.id);
    assert.deepEqual(
      findModelIds('MODEL=openai/gpt-4o:free\nEMBEDDER = openai/text-embedding-3-small ; comment\n', 'dotenv').map(
        (m) => [m.id, m.variant],
      ),
      [
        ['openai/gpt-4o:free', 'free'],
        ['openai/text-embedding-3-small', null],
      ],
    );
    // TypeScript: `a/b` unquoted is a division, never an id.
    assert.deepEqual(findModelIds('const model = openai/gpt4;', 'typescript'), []);
  });

  it('reads TypeScript quotes and template literals, not imports, URLs or interpolations', () => {
    assert.deepEqual(ids(AGENT_TS), ['openai/gpt-4o', 'anthropic/claude-sonnet-4']);
  });

  it("reads Python strings with f/r prefixes, not paths, f-string fields or an apostrophe's pair", () => {
    assert.deepEqual(ids(AGENT_PY), ['mistralai/mistral-small', 'openai/gpt-4o-mini', 'perplexity/sonar']);
  });

  it('accepts real OpenRouter id shapes and refuses look-alikes', () => {
    for (const good of [
      'anthropic/claude-3.5-haiku:beta',
      'mistralai/mistral-7b-instruct-v0.3',
      'openai/gpt-4o-2024-08-06',
      '01-ai/yi-large',
      'x-ai/grok-2-1212',
      'qwen/qwen2.5-vl-72b-instruct',
      'google/gemini-2.5-flash-preview-05-20:thinking',
      'openrouter/auto',
    ])
      assert.ok(isModelIdShape(good), good);
    for (const bad of [
      'src/index.ts',
      'config/agents.json',
      'https://openrouter.ai/api',
      'a/b/c',
      'text/plain',
      'application/json',
      'image/png',
      '@types/node',
      'OpenAI/GPT-4o',
      'openai/',
      '/openai/gpt-4o',
      'openai/gpt-4o ',
      '12/2024',
      'openai/gpt..4o',
      'node_modules/foo',
      'openai/gpt-4o:',
    ])
      assert.ok(!isModelIdShape(bad), bad);
  });

  it('does not take a quote glued to a word for an opening quote, nor an escaped one', () => {
    assert.deepEqual(ids(`it's don't/won't`), []);
    assert.deepEqual(ids(String.raw`"say \"openai/gpt-4o\" twice"`), []);
    assert.deepEqual(ids(`"openai/gpt-4o"s`), []);
  });
});

describe('lsp: the partial id at the cursor', () => {
  it('is what was typed after an opening quote, with the id characters after the cursor in its range', () => {
    const line = '    { "name": "critic", "model": "openai/gpt-4o" },';
    const at = line.indexOf('gpt') + 3;
    assert.deepEqual(partialModelIdAt(line, at), {
      typed: 'openai/gpt',
      start: line.indexOf('openai'),
      end: line.indexOf('gpt-4o') + 'gpt-4o'.length,
      lead: '    { "name": "critic", "model": ',
    });
  });

  it('is empty right after an opening quote (an auto-closed one after the cursor included)', () => {
    const line = 'model = ""';
    assert.deepEqual(partialModelIdAt(line, line.length - 1), { typed: '', start: 9, end: 9, lead: 'model = ' });
  });

  it('is null after a closing quote, outside strings, and over text that cannot start an id', () => {
    assert.equal(partialModelIdAt('"name"', 6), null);
    assert.equal(partialModelIdAt('x = ""', 6), null);
    assert.equal(partialModelIdAt('model: openai/gpt', 17), null);
    assert.equal(partialModelIdAt('"Hello world', 12), null);
    assert.equal(partialModelIdAt('"https://', 9), null);
  });
});
