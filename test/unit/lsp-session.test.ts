/**
 * The per-connection LSP session over in-memory streams, with a real vscode-jsonrpc connection on each side and a
 * star handler standing in for our method table: the lifecycle (shutdown/exit end the session, not the
 * connection), debounced diagnostics, catalog refreshes, and a catalog that cannot be loaded.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import {
  CompletionRequest,
  CompletionTriggerKind,
  createMessageConnection,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ErrorCodes,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ResponseError,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  TextDocumentSyncKind,
  type MessageConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { ModelsList } from '../../protocol';
import { ManualClock } from '../../server/clock';
import type { Logger } from '../../server/log';
import { LanguageServer } from '../../server/lsp/language-server';
import { ModelIndexSource, type CatalogView, type ModelIndexSourceOptions } from '../../server/lsp/model-index';
import { NotificationLog } from '../helpers/rpc';
import { CREW_JSON, fakeCatalog } from './lsp-fixtures';

const URI = 'file:///work/crew.json';

class RecordingLog implements Logger {
  readonly lines: string[] = [];
  debug(): void {}
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
  error(m: string): void {
    this.lines.push(`error ${m}`);
  }
}

/** A catalog whose list() can be made to fail, counting its calls. */
class SwitchableCatalog implements CatalogView {
  calls = 0;
  failing = false;
  constructor(
    private result: ModelsList.Result,
    private readonly base: CatalogView,
  ) {}
  private waiters: { n: number; resolve: () => void }[] = [];

  /** Resolves once list() was called `n` times (and that call has settled). */
  called(n: number): Promise<void> {
    if (this.calls >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async list(): Promise<ModelsList.Result> {
    this.calls++;
    const ready = this.waiters.filter((w) => w.n <= this.calls);
    this.waiters = this.waiters.filter((w) => w.n > this.calls);
    setImmediate(() => ready.forEach((w) => w.resolve()));
    if (this.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    return this.result;
  }
  suggest(id: string, n?: number): string[] {
    return this.base.suggest(id, n);
  }
  replace(result: ModelsList.Result): void {
    this.result = result;
  }
}

interface Pair {
  client: MessageConnection;
  diagnostics: NotificationLog;
  close(): void;
}

/** A client connection wired to a server connection that has the LSP session and a star handler. */
function connect(server: LanguageServer): Pair {
  const up = new PassThrough();
  const down = new PassThrough();
  const serverConn = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  serverConn.onRequest((method) => {
    if (method === 'server/health') return { ok: true };
    throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method "${method}"`);
  });
  const session = server.attach(serverConn, 'test:1');
  serverConn.listen();
  const client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const diagnostics = new NotificationLog();
  client.onNotification(PublishDiagnosticsNotification.type, (p) =>
    diagnostics.push({ method: PublishDiagnosticsNotification.method, params: p }),
  );
  client.listen();
  return {
    client,
    diagnostics,
    close: () => {
      session.dispose();
      client.dispose();
      serverConn.dispose();
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ResponseError) return e;
    throw e;
  }
  throw new Error('expected an error answer');
}

const initialize = (c: MessageConnection) =>
  c.sendRequest(InitializeRequest.type, {
    processId: null,
    rootUri: null,
    capabilities: {},
    clientInfo: { name: 'mocha' },
  });

const open = (c: MessageConnection, text = CREW_JSON, uri = URI) =>
  c.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'json', version: 1, text },
  });

/** The range of the first `needle` in `text`. */
function rangeOf(text: string, needle: string) {
  const doc = TextDocument.create(URI, 'json', 1, text);
  const at = text.indexOf(needle);
  return { start: doc.positionAt(at), end: doc.positionAt(at + needle.length) };
}

const published = (log: NotificationLog, pred: (p: PublishDiagnosticsParams) => boolean) =>
  log.waitFor<PublishDiagnosticsParams>(PublishDiagnosticsNotification.method, pred, 5_000);

describe('lsp: the per-connection session', () => {
  const clock = new ManualClock(Date.UTC(2025, 5, 15));
  let catalog: SwitchableCatalog;
  let log: RecordingLog;
  let pair: Pair;

  const makeServer = (index: ModelIndexSourceOptions) =>
    new LanguageServer({
      catalog,
      spend: {
        spendOn: async () => ({
          monthStart: 0,
          month: { calls: 2, costPico: 0n },
          allTime: { calls: 2, costPico: 0n },
        }),
      },
      clock,
      log,
      serverInfo: { name: 'crew-server', version: '9.9.9' },
      debounceMs: 80,
      index,
    });

  beforeEach(async () => {
    const real = await fakeCatalog(clock);
    catalog = new SwitchableCatalog(await real.catalog.list(), real.catalog);
    log = new RecordingLog();
    pair = connect(makeServer({ recheckMs: 1_000, retryMs: 10_000 }));
  });
  afterEach(() => pair.close());

  it('answers initialize with its capabilities and serverInfo; LSP requests before it are refused', async () => {
    const early = await rejection(
      pair.client.sendRequest(HoverRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: 0 } }),
    );
    assert.equal(early.code, ErrorCodes.ServerNotInitialized);
    const r = await initialize(pair.client);
    assert.deepEqual(r.serverInfo, { name: 'crew-server', version: '9.9.9' });
    assert.deepEqual(r.capabilities.textDocumentSync, { openClose: true, change: TextDocumentSyncKind.Incremental });
    assert.deepEqual(r.capabilities.completionProvider?.triggerCharacters, ['"', "'", '/']);
    assert.equal(r.capabilities.hoverProvider, true);
    assert.deepEqual(r.capabilities.codeActionProvider, { codeActionKinds: ['quickfix'] });
    assert.equal((await rejection(initialize(pair.client))).code, ErrorCodes.InvalidRequest, 'only once');
  });

  it('leaves every other method to the star handler on the same connection', async () => {
    assert.deepEqual(await pair.client.sendRequest('server/health'), { ok: true });
    await initialize(pair.client);
    assert.deepEqual(await pair.client.sendRequest('server/health'), { ok: true });
  });

  it('publishes diagnostics once per burst of edits, for the last version', async () => {
    await initialize(pair.client);
    await pair.client.sendNotification(InitializedNotification.type, {});
    await open(pair.client);
    for (const version of [2, 3, 4]) {
      await pair.client.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri: URI, version },
        // Incremental edits of the same 4 characters, ending on the fixed id at version 4.
        contentChanges: [{ range: rangeOf(CREW_JSON, 'mino'), text: version === 4 ? 'mini' : `min${version}` }],
      });
    }
    const p = await published(pair.diagnostics, (x) => x.uri === URI);
    assert.equal(p.version, 4, 'the first publish is already of the last version');
    assert.equal(pair.diagnostics.items.length, 1);
    assert.deepEqual(
      p.diagnostics.map((d) => (d.data as { id: string }).id),
      ['openai/gpt-3.5-turbo-0613', 'anthropc/claude-sonnet-4'],
      'the unknown id was fixed by the edits; the others remain',
    );
  });

  it('clears a document’s diagnostics when it is closed', async () => {
    await initialize(pair.client);
    await open(pair.client);
    await published(pair.diagnostics, (x) => x.diagnostics.length === 3);
    await pair.client.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: URI } });
    await published(pair.diagnostics, (x) => x.diagnostics.length === 0);
  });

  it('checks open documents again when the catalog changes', async () => {
    await initialize(pair.client);
    await open(pair.client);
    await published(pair.diagnostics, (x) => x.diagnostics.length === 3);
    const list = await catalog.list();
    const mino = { ...list.models.find((m) => m.id === 'openai/gpt-4o-mini')!, id: 'openai/gpt-4o-mino' };
    catalog.replace({ ...list, models: [...list.models, mino], fetchedAt: new Date(clock.now() + 1).toISOString() });
    clock.advance(1_000);
    // Any request reads the index; the re-check it starts finds the new catalog and re-publishes.
    await pair.client.sendRequest(HoverRequest.type, {
      textDocument: { uri: URI },
      position: { line: 0, character: 0 },
    });
    await published(pair.diagnostics, (x) => x.diagnostics.length === 2);
  });

  it('without a catalog publishes nothing, logs once, and catches up when the catalog returns', async () => {
    pair.close();
    // Retried at every check here, so each check is seen as a catalog call.
    pair = connect(makeServer({ recheckMs: 1_000, retryMs: 0 }));
    catalog.failing = true;
    await initialize(pair.client);
    await open(pair.client);
    await catalog.called(1);
    await open(pair.client, '{ "model": "openai/gpt-4o-mino" }', 'file:///work/other.json');
    await catalog.called(2);
    // Answered after both checks found no catalog (the hover's own check is a third).
    await pair.client.sendRequest(HoverRequest.type, {
      textDocument: { uri: URI },
      position: { line: 0, character: 0 },
    });
    assert.equal(pair.diagnostics.items.length, 0, 'no diagnostics without a catalog');
    const warnings = log.lines.filter((l) => l.startsWith('warn'));
    assert.equal(warnings.length, 1, 'logged once, however often it fails');
    assert.match(warnings[0]!, /model catalog could not be loaded \(connect ECONNREFUSED/);

    catalog.failing = false;
    await pair.client.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri: 'file:///work/other.json', version: 2 },
      contentChanges: [{ text: '{ "model": "openai/gpt-4o-mino" }\n' }],
    });
    // The new index re-checks every open document, not only the edited one.
    await published(pair.diagnostics, (x) => x.uri === URI && x.diagnostics.length === 3);
    await published(pair.diagnostics, (x) => x.uri.endsWith('other.json') && x.diagnostics.length === 1);
    assert.ok(log.lines.some((l) => /catalog is available again/.test(l)));
  });

  it('does not ask a failing catalog again before the retry delay', async () => {
    catalog.failing = true;
    const source = new ModelIndexSource(catalog, clock, log, { retryMs: 10_000 });
    assert.equal(await source.current(), null);
    assert.equal(await source.current(), null);
    assert.equal(catalog.calls, 1);
    catalog.failing = false;
    clock.advance(10_000);
    assert.equal((await source.current())?.size, (await catalog.list()).models.length);
  });

  it('after shutdown refuses LSP requests; exit ends the session but not the connection', async () => {
    await initialize(pair.client);
    await open(pair.client);
    await published(pair.diagnostics, () => true);
    const at = { textDocument: { uri: URI }, position: rangeOf(CREW_JSON, 'gpt-4o-mini').start };
    const hover = await pair.client.sendRequest(HoverRequest.type, at);
    assert.match(JSON.stringify(hover?.contents), /Prompt: \$0\.15 per 1M tokens/);
    assert.match(JSON.stringify(hover?.contents), /All time: \$0\.00 over 2 calls/);
    assert.equal(await pair.client.sendRequest(ShutdownRequest.type), null);
    const after = await rejection(
      pair.client.sendRequest(CompletionRequest.type, {
        textDocument: { uri: URI },
        position: rangeOf(CREW_JSON, 'gpt-4o-mini').start,
        context: { triggerKind: CompletionTriggerKind.Invoked },
      }),
    );
    assert.equal(after.code, ErrorCodes.InvalidRequest);
    await pair.client.sendNotification(ExitNotification.type);
    assert.deepEqual(await pair.client.sendRequest('server/health'), { ok: true }, 'our methods still answer');
    assert.ok(log.lines.some((l) => /session ended by exit/.test(l)));
    // The documents went with the session: a new one starts empty.
    await initialize(pair.client);
    assert.equal(await pair.client.sendRequest(HoverRequest.type, at), null);
  });
});
