/**
 * crew-server as a language server: the real built server over stdio and over the daemon's socket, against the
 * fake OpenRouter, with an LSP client on a connection that also speaks our own methods. Diagnostics, hover (prices
 * equal to the catalog's, spend equal to the ledger's), completion and the quick fix; then shutdown + exit end
 * the session while the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import {
  CodeActionKind,
  CodeActionRequest,
  CompletionRequest,
  CompletionTriggerKind,
  DiagnosticSeverity,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ErrorCodes,
  ExitNotification,
  HoverRequest,
  ResponseError,
  ShutdownRequest,
  TextDocumentSyncKind,
  type CodeAction,
  type Diagnostic,
  type MarkupContent,
  type PublishDiagnosticsParams,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PROTOCOL_VERSION, type ChatComplete } from '../../protocol';
import { CHAT_MODELS, startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import { decimal, launchServer, pico, removeTempDir, startServer, USER, type RpcClient } from '../helpers';
import { LspClient } from '../helpers/lsp';
import type { ServerProcess } from '../helpers/server';

const URI = 'file:///work/crew/agents.json';
const TEXT = `{
  "crew": "research",
  "output": "reports/weekly.md",
  "agents": [
    { "name": "writer", "model": "openai/gpt-4o-mini" },
    { "name": "critic", "model": "openai/gpt-4o-mino" },
    { "name": "legacy", "model": "openai/gpt-3.5-turbo-0613" }
  ]
}
`;

/** How the hover writes an exact USD amount: the decimal, with at least two decimals. */
function usd(p: bigint): string {
  const [whole, frac = ''] = decimal(p).split('.');
  return `$${whole}.${frac.padEnd(2, '0')}`;
}

const catalogEntry = (id: string) => CHAT_MODELS.find((m) => m.id === id)!;

for (const transport of ['socket', 'stdio'] as const) {
  describe(`language server (${transport})`, function () {
    let fake: FakeOpenRouter;
    let server: ServerProcess;
    let first: RpcClient | undefined;
    let lsp: LspClient;
    let doc: TextDocument;
    const at = (needle: string, plus = 0) => doc.positionAt(doc.getText().indexOf(needle) + plus);
    /** Applies edits to the local copy and sends them as one incremental didChange. */
    const change = async (edits: TextEdit[]) => {
      const version = doc.version + 1;
      doc = TextDocument.create(URI, 'json', version, TextDocument.applyEdits(doc, edits));
      await lsp.conn.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri: URI, version },
        contentChanges: edits.map((e) => ({ range: e.range, text: e.newText })),
      });
      return version;
    };
    const published = (version: number): Promise<PublishDiagnosticsParams> =>
      lsp.diagnostics((p) => p.uri === URI && p.version === version);

    before(async function () {
      this.timeout(30_000);
      fake = await startFakeOpenRouter({ port: 0 });
      if (transport === 'socket') {
        ({ server, client: first } = await startServer({ transport, upstreamUrl: fake.url }));
        lsp = await LspClient.overSocket((await server.discovery()).socket!);
      } else {
        // The server's pipes are the one connection: the LSP client takes them (no other client exists).
        server = await launchServer({ transport, upstreamUrl: fake.url });
        lsp = new LspClient(server.child.stdout!, server.child.stdin!, () => server.child.stdin!.end());
        await server.ready();
      }
    });

    after(async function () {
      this.timeout(30_000);
      lsp?.close();
      if (server) {
        const exit = await server.stop();
        await removeTempDir(server.dataDir);
        assert.equal(exit.code, 0, server.stderr);
      }
      await fake?.close();
    });

    it('initializes as a language server on the connection that also serves our methods', async () => {
      const hello = await lsp.request<{ protocolVersion: string }>('server/hello', {
        clientKind: 'vscode',
        clientName: 'mocha-lsp',
        protocolVersion: PROTOCOL_VERSION,
      });
      assert.equal(hello.protocolVersion, PROTOCOL_VERSION);
      const init = await lsp.initialize();
      assert.equal(init.serverInfo?.name, 'crew-server');
      assert.deepEqual(init.capabilities.textDocumentSync, {
        openClose: true,
        change: TextDocumentSyncKind.Incremental,
      });
      assert.equal(init.capabilities.hoverProvider, true);
      assert.deepEqual(init.capabilities.completionProvider?.triggerCharacters, ['"', "'", '/']);
      assert.deepEqual(init.capabilities.codeActionProvider, { codeActionKinds: [CodeActionKind.QuickFix] });
    });

    it('publishes a warning for an unknown id and for a deprecated one, none for a known id', async () => {
      doc = TextDocument.create(URI, 'json', 1, TEXT);
      await lsp.conn.sendNotification(DidOpenTextDocumentNotification.type, {
        textDocument: { uri: URI, languageId: 'json', version: 1, text: TEXT },
      });
      const { diagnostics } = await published(1);
      assert.deepEqual(
        diagnostics.map((d) => [doc.getText(d.range), d.severity, d.code]),
        [
          ['openai/gpt-4o-mino', DiagnosticSeverity.Warning, 'unknown-model'],
          ['openai/gpt-3.5-turbo-0613', DiagnosticSeverity.Warning, 'deprecated-model'],
        ],
      );
      const [unknown, deprecated] = diagnostics as [Diagnostic, Diagnostic];
      assert.match(unknown.message as string, /Did you mean "openai\/gpt-4o-mini"/);
      assert.equal((unknown.data as { replacement: string }).replacement, 'openai/gpt-4o-mini');
      // The date is the fake catalog's expiration_date, passed on untouched.
      const expires = catalogEntry('openai/gpt-3.5-turbo-0613').expiration_date!;
      assert.match(deprecated.message as string, new RegExp(`retired on ${expires}`));
      assert.equal((deprecated.data as { expirationDate: string }).expirationDate, expires);
      assert.equal((deprecated.data as { replacement: string }).replacement, 'openai/gpt-4o-mini');
    });

    it('reads unquoted YAML values, and knows embedding models: only the misspelt id is flagged', async () => {
      const uri = 'file:///work/crew/agents.yaml';
      const text = [
        'writer:',
        '  model: openai/gpt-4o-mini   # the usual way to write YAML',
        'critic:',
        '  model: openai/gpt-4o-mino',
        'memory:',
        '  embedder: openai/text-embedding-3-small',
        '',
      ].join('\n');
      const yaml = TextDocument.create(uri, 'yaml', 1, text);
      await lsp.conn.sendNotification(DidOpenTextDocumentNotification.type, {
        textDocument: { uri, languageId: 'yaml', version: 1, text },
      });
      const { diagnostics } = await lsp.diagnostics((p) => p.uri === uri && p.version === 1);
      assert.deepEqual(
        diagnostics.map((d) => [yaml.getText(d.range), d.code]),
        [['openai/gpt-4o-mino', 'unknown-model']],
      );
      const hover = await lsp.conn.sendRequest(HoverRequest.type, {
        textDocument: { uri },
        position: yaml.positionAt(text.indexOf('gpt-4o-mini') + 2),
      });
      assert.match((hover?.contents as MarkupContent).value, /openai\/gpt-4o-mini/);
      await lsp.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
    });

    it("hovers with the catalog's exact prices and this data directory's spend on the model", async () => {
      // A call through the server (on the same connection) puts a row for the model in the ledger.
      const call = await lsp.request<ChatComplete.Result>('chat/complete', {
        model: 'openai/gpt-4o-mini',
        messages: USER('Summarise the weekly report'),
      });
      const hover = await lsp.conn.sendRequest(HoverRequest.type, {
        textDocument: { uri: URI },
        position: at('openai/gpt-4o-mini', 5),
      });
      assert.ok(hover, 'a hover on a known id');
      assert.deepEqual(hover.range, { start: at('openai/gpt-4o-mini'), end: at('openai/gpt-4o-mini', 18) });
      const text = (hover.contents as MarkupContent).value;
      assert.equal((hover.contents as MarkupContent).kind, 'markdown');
      const entry = catalogEntry('openai/gpt-4o-mini');
      assert.ok(text.includes(`Prompt: ${usd(pico(entry.pricing.prompt) * 1_000_000n)} per 1M tokens`), text);
      assert.ok(text.includes(`Completion: ${usd(pico(entry.pricing.completion) * 1_000_000n)} per 1M tokens`), text);
      assert.ok(text.includes(`Context length: ${entry.context_length.toLocaleString('en-US')} tokens`), text);
      assert.ok(text.includes(`Max completion: ${entry.top_provider.max_completion_tokens!.toLocaleString('en-US')}`));
      assert.ok(text.includes(`This month (since `), text);
      assert.ok(text.includes(`: ${usd(pico(call.cost))} over 1 call`), text);
      assert.ok(text.includes(`All time: ${usd(pico(call.cost))} over 1 call`), text);
    });

    it('completes catalog ids after a provider, replacing the partial id', async () => {
      const line = at('{ "name": "legacy"').line + 1;
      const inserted = '    { "name": "new", "model": "anthropic/" },\n';
      const version = await change([
        { range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: inserted },
      ]);
      const position = { line, character: inserted.indexOf('anthropic/') + 'anthropic/'.length };
      const list = await lsp.conn.sendRequest(CompletionRequest.type, {
        textDocument: { uri: URI },
        position,
        context: { triggerKind: CompletionTriggerKind.TriggerCharacter, triggerCharacter: '/' },
      });
      assert.ok(list && !Array.isArray(list));
      const expected = CHAT_MODELS.filter((m) => m.id.startsWith('anthropic/')).map((m) => m.id);
      assert.deepEqual(list.items.map((i) => i.label).sort(), expected.sort());
      const sonnet = list.items.find((i) => i.label === 'anthropic/claude-sonnet-4')!;
      assert.deepEqual(sonnet.textEdit, {
        range: { start: { line, character: inserted.indexOf('anthropic/') }, end: position },
        newText: 'anthropic/claude-sonnet-4',
      });
      // The edit was checked too: a partial id is no problem, the two others remain.
      assert.equal((await published(version)).diagnostics.length, 2);
    });

    it('offers the quick fix for the unknown id; applying it clears that diagnostic', async () => {
      const version = doc.version;
      const { diagnostics } = await published(version);
      const unknown = diagnostics.find((d) => d.code === 'unknown-model')!;
      const actions = (await lsp.conn.sendRequest(CodeActionRequest.type, {
        textDocument: { uri: URI },
        range: unknown.range,
        context: { diagnostics: [unknown], only: [CodeActionKind.QuickFix] },
      })) as CodeAction[];
      const fix = actions.find((a) => a.isPreferred)!;
      assert.equal(fix.title, 'Replace with openai/gpt-4o-mini');
      assert.equal(fix.kind, CodeActionKind.QuickFix);
      assert.equal(fix.diagnostics?.[0]?.code, 'unknown-model');
      const edits = fix.edit!.changes![URI]!;
      const next = await change(edits);
      assert.ok(doc.getText().includes('{ "name": "critic", "model": "openai/gpt-4o-mini" }'));
      const after = await published(next);
      assert.deepEqual(
        after.diagnostics.map((d) => d.code),
        ['deprecated-model'],
      );
    });

    it('ends only its session on shutdown + exit: the daemon keeps answering', async () => {
      await lsp.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: URI } });
      await lsp.diagnostics((p) => p.uri === URI && p.diagnostics.length === 0 && p.version === undefined);
      assert.equal(await lsp.conn.sendRequest(ShutdownRequest.type), null);
      await lsp.conn.sendNotification(ExitNotification.type);
      // The session is over (a new one would need initialize); the connection and the process are not.
      try {
        await lsp.conn.sendRequest(HoverRequest.type, {
          textDocument: { uri: URI },
          position: { line: 0, character: 0 },
        });
        assert.fail('a hover after exit is refused');
      } catch (e) {
        assert.ok(e instanceof ResponseError && e.code === ErrorCodes.ServerNotInitialized, String(e));
      }
      assert.equal(
        (await lsp.request<{ ok: boolean }>('server/health')).ok,
        true,
        'our methods on the same connection',
      );
      assert.equal(server.child.exitCode, null, 'the server is still running');
      if (transport === 'socket') {
        const second = await server.connect({ clientName: 'second' });
        const health = await second.request<{ ok: boolean }>('server/health');
        assert.equal(health.ok, true);
        assert.equal((await first!.request<{ ok: boolean }>('server/health')).ok, true);
      }
    });
  });
}
