// The extension's logic that needs no VS Code: what the status bar and rows say, the webview HTML, and the
// dashboard bridge's message handling (the allowlist a webview is held to).
import assert from 'node:assert/strict';
import type { BudgetStatus, CrewEstimate, Memory, Run, ServerInfo } from '../../protocol';
import { budgetRow, mostConstrained, statusBarModel, suggestedRaise } from '../../extension/model/budgets';
import { modeLabel, modeMismatch, modeOf, modeTooltip } from '../../extension/model/mode';
import { memoryDocument, memoryLabel, parseTags } from '../../extension/model/memories';
import { approvalQuestion, progressLine, runDocument } from '../../extension/model/runs';
import { archiveRow, restoredMessage } from '../../extension/model/archives';
import { handleWebviewMessage, type ToWebview } from '../../extension/panels/bridge-host';
import { makeNonce, webviewHtml } from '../../extension/panels/html';

const budget = (over: Partial<BudgetStatus>): BudgetStatus => ({
  id: 'b1',
  scope: 'global',
  period: 'daily',
  limitUsd: 10,
  action: 'block',
  downgradeTo: null,
  thresholds: [50, 80, 100],
  alertsEnabled: true,
  weekStart: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  spentUsd: 1,
  reservedUsd: 0,
  remainingUsd: 9,
  percentUsed: 10,
  state: 'ok',
  periodStart: '2026-01-01T00:00:00.000Z',
  periodEnd: '2026-01-02T00:00:00.000Z',
  ...over,
});

describe('extension: status bar and budget rows', () => {
  it('shows the most constrained budget as "$ spent / $ limit (nn%)" with its severity', () => {
    const budgets = [
      budget({ id: 'a', scope: 'global', spentUsd: 2, limitUsd: 10, percentUsed: 20 }),
      budget({ id: 'b', scope: 'crew:ops', spentUsd: 4.25, limitUsd: 5, percentUsed: 85, state: 'warning' }),
      budget({ id: 'c', scope: 'model:x', spentUsd: 1, limitUsd: 100, percentUsed: 1 }),
    ];
    const m = statusBarModel(budgets);
    assert.equal(m.text, '$(credit-card) $4.25 / $5.00 (85%)');
    assert.equal(m.severity, 'warning');
    assert.match(m.tooltip, /\| crew ops \| daily \| \$4\.25 \/ \$5\.00 \| 85% \| warning \|\n\| global \|/);
    assert.equal(statusBarModel([budget({ state: 'exceeded', percentUsed: 120 })]).severity, 'error');
    assert.equal(statusBarModel([]).text, '$(credit-card) no budgets');
  });

  it('prefers a refusing budget over a warn-only one at the same share', () => {
    const warn = budget({ id: 'w', action: 'warn', percentUsed: 50 });
    const block = budget({ id: 'k', action: 'block', percentUsed: 50 });
    assert.equal(mostConstrained([warn, block])?.id, 'k');
  });

  it('words a budget row, and suggests a readable raise', () => {
    const row = budgetRow(budget({ scope: 'agent:ops/writer', reservedUsd: 0.5, remainingUsd: 8.5 }));
    assert.equal(row.label, 'agent ops/writer');
    // The share first: at the default sidebar width VS Code cuts the description's end.
    assert.equal(row.description, '10% · $1.00 / $10.00 · daily');
    assert.match(
      row.tooltip,
      /\$0\.50 reserved, \$8\.50 left; action block; alerts at 50%, 80%, 100%; resets 2026-01-02 00:00 UTC/,
    );
    assert.equal(suggestedRaise(10), 15);
    assert.equal(suggestedRaise(5), 7.5);
    assert.equal(suggestedRaise(0.3), 0.45);
    // Already more spent than the limit: the raise is over what is spent, not over the old limit.
    assert.equal(suggestedRaise(0.01, 0.0234), 0.04);
    assert.equal(suggestedRaise(10, 2), 15);
  });

  it('says what a restore did in words, never an id list as a count', () => {
    assert.equal(restoredMessage({ restored: ['bd866e06-1', 'bd866e06-2'], skipped: [] }), 'Restored 2 memories.');
    assert.equal(restoredMessage({ restored: ['a'], skipped: ['b'] }), 'Restored 1 memory. 1 memory was live already.');
    assert.equal(
      restoredMessage({ restored: [], skipped: ['b', 'c'] }),
      'Nothing to restore. 2 memories were live already.',
    );
  });

  it('a step a budget refused reads as refused in the run progress, not as done', () => {
    const p = {
      runId: 'run_1',
      crew: 'launch',
      event: 'step-finished' as const,
      status: 'running' as const,
      step: 1,
      stepStatus: 'budget_exceeded' as const,
      agent: 'writer',
      text: null,
      tokens: 1200,
      costUsd: 0.0021,
    };
    assert.match(progressLine(p), /^step 2: writer refused by a budget · /);
    assert.doesNotMatch(progressLine({ ...p, stepStatus: 'ok' }), /refused/);
  });
});

describe('extension: memories, runs and archives as text', () => {
  const memory: Memory = {
    id: 'm1',
    crew: 'ops',
    agent: null,
    content: 'Postgres indexes made the nightly report 10x faster\nsecond line',
    kind: 'fact',
    tags: ['db', 'perf'],
    importance: 0.8,
    pinned: false,
    expiresAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastAccessedAt: null,
    accessCount: 3,
    embedding: { embedderId: 'hash@256', dimensions: 256 },
  };

  it('labels a memory by its first line with importance stars and tags', () => {
    assert.deepEqual(memoryLabel(memory), {
      label: 'Postgres indexes made the nightly report 10x faster',
      description: '★★★★☆ #db #perf',
    });
    assert.match(memoryDocument(memory), /^Postgres indexes[^]*\n---\nid: {10}m1\ncrew: {8}ops\n/);
    assert.deepEqual(parseTags('#db, perf  db ops'), ['db', 'perf', 'ops']);
  });

  it('writes a run as Markdown with its result and every step', () => {
    const run = {
      id: 'run_1',
      crewId: 'crew_1',
      crew: 'ops',
      task: 'Write the post',
      process: 'sequential',
      status: 'completed',
      output: 'The post.',
      usage: { promptTokens: 100, completionTokens: 20, cachedTokens: 0, reasoningTokens: 0 },
      costUsd: 0.0012,
      cost: '0.0012',
      error: null,
      memoryId: 'm9',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      steps: [
        {
          index: 0,
          agent: 'writer',
          role: 'member',
          model: 'openai/gpt-4o-mini',
          instruction: 'Write the post',
          output: 'The post.',
          status: 'ok',
          error: null,
          usage: { promptTokens: 100, completionTokens: 20, cachedTokens: 0, reasoningTokens: 0 },
          costUsd: 0.0012,
          cost: '0.0012',
          costEstimated: false,
          ledgerId: 7,
          memories: [{ id: 'm1', tokens: 12, influenced: true }],
          startedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:01.000Z',
        },
      ],
    } satisfies Run;
    const doc = runDocument(run);
    assert.match(
      doc,
      /^# ops: Write the post\n\n\*\*completed\*\* · sequential · 1 step · 100 → 20 tokens · \$0\.0012 \(exact: \$0\.0012\)/,
    );
    assert.match(doc, /## Result\n\nThe post\.\n/);
    assert.match(
      doc,
      /### 1\. writer \(member\) — ok\n\n`openai\/gpt-4o-mini` · 100 → 20 tokens · \$0\.0012 · 1 memory in context \(1 used\)/,
    );
    // A run with a ceiling says what it spent of it.
    assert.match(runDocument({ ...run, maxCostUsd: 0.05 }), /\(exact: \$0\.0012\) of a \$0\.05 ceiling\n/);
  });

  it('describes an archive by crews, count, size, ratio and date', () => {
    const row = archiveRow({
      id: 'a1',
      sha256: 'f'.repeat(64),
      count: 120,
      crews: ['ops'],
      bytesIn: 60_000,
      bytesOut: 10_240,
      ratio: 5.86,
      policy: { olderThanDays: 30 },
      createdAt: '2026-02-03T04:05:06.000Z',
      restoredIds: ['x'],
      state: 'complete',
    });
    assert.equal(row.label, 'ops · 120 memories');
    assert.equal(row.description, '10.0 KB · 5.9× · 2026-02-03 · 1 restored');
  });
});

describe('extension: asking before an expensive run', () => {
  const estimate = (over: Partial<CrewEstimate.Result> = {}): CrewEstimate.Result => ({
    crew: 'blog',
    process: 'sequential',
    agents: [
      {
        agent: 'writer',
        model: 'anthropic/claude-3.5-haiku',
        role: 'member',
        steps: { typical: 1, high: 1, max: 1 },
        historyCalls: 12,
        perCallTypicalUsd: 0.02,
        perCallHighUsd: 0.6,
        typicalUsd: 0.02,
        highUsd: 0.6,
        worstCaseUsd: 0.9,
      },
    ],
    typicalUsd: 0.02,
    highUsd: 0.6,
    worstCaseUsd: 0.9,
    maxCostUsd: null,
    historyRuns: 0,
    notes: [],
    ...over,
  });

  it('asks when the high end is above the limit, with the figures and what they rest on', () => {
    const q = approvalQuestion(estimate(), 0.5)!;
    assert.equal(q.message, 'Run blog? Its high estimate is $0.60, above your $0.50 limit for asking.');
    assert.match(q.detail, /^Typical \$0\.02 · high \$0\.60 · worst case \$0\.90$/m);
    assert.match(q.detail, /^writer \(anthropic\/claude-3\.5-haiku\): 1 call, \$0\.02 a call typically$/m);
  });

  it('does not ask within the limit, when asking is off, or when a ceiling below the limit caps the run', () => {
    assert.equal(approvalQuestion(estimate(), 0.6), null);
    assert.equal(approvalQuestion(estimate(), 0), null);
    assert.equal(approvalQuestion(estimate({ maxCostUsd: 0.4 }), 0.5), null);
  });

  it('holds the worst case against the limit when the crew has no history', () => {
    const q = approvalQuestion(estimate({ typicalUsd: null, highUsd: null, notes: ['writer has no calls yet'] }), 0.5)!;
    assert.match(q.message, /Its worst case is \$0\.90/);
    assert.match(q.detail, /Typical unknown · high unknown/);
    assert.match(q.detail, /writer has no calls yet/);
  });
});

describe('extension: dashboard webview HTML', () => {
  const page = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'">
<link rel="stylesheet" href="/dashboard/assets/costs.css"></head>
<body><main id="app"></main><script type="module" src="/dashboard/assets/costs.js"></script></body></html>`;

  it("replaces the browser CSP with the webview's, maps assets to webview URIs and puts the nonce on scripts", () => {
    const html = webviewHtml(page, {
      cspSource: 'https://x.vscode-cdn.net',
      assetUri: (f) => `https://x.vscode-cdn.net/ext/dist/webviews/${f}`,
      nonce: 'N0nce',
    });
    assert.doesNotMatch(html, /script-src 'self'/);
    assert.match(
      html,
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src https:\/\/x\.vscode-cdn\.net data:; style-src https:\/\/x\.vscode-cdn\.net; font-src https:\/\/x\.vscode-cdn\.net; script-src 'nonce-N0nce'">/,
    );
    assert.match(html, /href="https:\/\/x\.vscode-cdn\.net\/ext\/dist\/webviews\/costs\.css"/);
    assert.match(
      html,
      /<script nonce="N0nce" type="module" src="https:\/\/x\.vscode-cdn\.net\/ext\/dist\/webviews\/costs\.js">/,
    );
    assert.equal((html.match(/Content-Security-Policy/g) ?? []).length, 1);
  });

  it('makes nonces from the random bytes it is given, base64url', () => {
    assert.equal(
      makeNonce((n) => new Uint8Array(n).fill(255)),
      '________________________________',
    );
  });
});

describe('extension: dashboard bridge (host side)', () => {
  function host(answer: (method: string, params: unknown) => Promise<unknown>) {
    const posted: ToWebview[] = [];
    const commands: string[] = [];
    const logs: string[] = [];
    const deps = {
      request: answer,
      post: (m: ToWebview) => posted.push(m),
      executeCommand: (c: string) => commands.push(c),
      log: (l: string) => logs.push(l),
    };
    return { posted, commands, logs, send: (m: unknown) => handleWebviewMessage(m, deps) };
  }

  it("forwards an allowed request and returns the server's answer under the same id", async () => {
    const h = host(async (method, params) => ({ method, params }));
    await h.send({ type: 'request', id: 4, method: 'budget/status', params: { scope: 'global' } });
    assert.deepEqual(h.posted, [
      { type: 'response', id: 4, result: { method: 'budget/status', params: { scope: 'global' } } },
    ]);
  });

  it("passes the server's error through with its code and data (a form shows data.field)", async () => {
    const h = host(async () => {
      throw Object.assign(new Error('limitUsd: must be ≥ 0'), { code: -32602, data: { field: 'limitUsd' } });
    });
    await h.send({ type: 'request', id: 1, method: 'budget/set', params: {} });
    assert.deepEqual(h.posted, [
      {
        type: 'response',
        id: 1,
        error: { code: -32602, message: 'limitUsd: must be ≥ 0', data: { field: 'limitUsd' } },
      },
    ]);
  });

  it('refuses methods a dashboard has no business calling, and commands outside the extension', async () => {
    let called = false;
    const h = host(async () => (called = true));
    for (const method of ['server/shutdown', 'store/restore', 'server/setApiKey', 'chat/complete'])
      await h.send({ type: 'request', id: 9, method, params: {} });
    assert.equal(called, false);
    assert.ok(h.posted.every((m) => m.type === 'response' && m.error?.code === -32601));
    await h.send({ type: 'command', command: 'workbench.action.terminal.new' });
    await h.send({ type: 'command', command: 'openrouterCrew.openMemory', args: [{ id: 'm', crew: 'c' }] });
    assert.deepEqual(h.commands, ['openrouterCrew.openMemory']);
    await h.send('nonsense');
    assert.match(h.logs.join('\n'), /ignored [^\n]*workbench\.action\.terminal\.new[^]*ignored [^\n]*nonsense/);
  });
});

describe('extension: which daemon, in which mode', () => {
  const info = (over: { sandbox?: boolean; store?: 'local' | 'postgres' } = {}): ServerInfo.Result => ({
    name: 'crew-server',
    version: '0.1.0',
    protocolVersion: '1.7.0',
    pid: 4242,
    dataDir: '/home/u/.local/share/openrouter-crew',
    socket: null,
    httpPort: 4100,
    startedAt: '2026-12-06T00:00:00.000Z',
    upstream: { baseUrl: 'https://openrouter.ai/api/v1', sandbox: over.sandbox ?? false, keyConfigured: true },
    store:
      over.store === 'postgres'
        ? { kind: 'postgres', location: 'postgres://crew@db:5432/team' }
        : { kind: 'local', location: '/home/u/.local/share/openrouter-crew' },
  });

  it('names the mode in the view headers and leads the status bar with it, except for OpenRouter on the local store', () => {
    assert.equal(modeLabel(modeOf(info({ sandbox: true }))), 'sandbox · local store');
    assert.equal(modeLabel(modeOf(info({ store: 'postgres' }))), 'OpenRouter · PostgreSQL');
    assert.equal(statusBarModel([], modeOf(info({ sandbox: true }))).text, '$(beaker) sandbox · no budgets');
    assert.equal(statusBarModel([], modeOf(info())).text, '$(credit-card) no budgets');
    assert.match(statusBarModel([], modeOf(info({ store: 'postgres' }))).text, /^\$\(database\) /);
    assert.match(statusBarModel([], modeOf(info({ sandbox: true }))).tooltip, /\*\*Sandbox\*\*.*nothing is billed/s);
    assert.match(modeTooltip(modeOf(info({ store: 'postgres' }))), /PostgreSQL `postgres:\/\/crew@db:5432\/team`/);
  });

  it('says when the running daemon is not what the settings ask for', () => {
    assert.equal(modeMismatch(modeOf(info({ sandbox: true })), { sandbox: true, storeUrl: '' }), undefined);
    assert.match(
      modeMismatch(modeOf(info()), { sandbox: true, storeUrl: '' }) ?? '',
      /pid 4242\) runs OpenRouter · local store, but this window's settings ask for the sandbox\. .*restart/,
    );
    assert.match(
      modeMismatch(modeOf(info({ sandbox: true })), { sandbox: false, storeUrl: 'postgres://x@y/z' }) ?? '',
      /ask for the real OpenRouter and the PostgreSQL store/,
    );
  });
});
