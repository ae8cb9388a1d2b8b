/**
 * The n8n community package in a real n8n (2.40.7 on Node 24, installed by test/e2e/setup-n8n.sh into a cache outside
 * the repo), against a real crew-server (dist/server.js over HTTP) whose upstream is the fake OpenRouter:
 *   1. the package is packed and installed into a fresh n8n user folder as a user would, the credential and the four
 *      example workflows (n8n-nodes/workflows) imported with n8n's CLI;
 *   2. Cost Management, Analytics Insights and Memory Archival run with `n8n execute`: their messages are checked
 *      against the server's own figures, and the archival's dry-run guard against the server's memories and archives;
 *   3. Budget Alerts is published and n8n started: its trigger registers a signed webhook with the server, a call the
 *      budget refuses fires an alert, and the execution n8n stored shows the alert routed by its severity; a forged
 *      delivery is refused; the credential's test (through n8n's REST API, as its UI runs it) passes, and fails
 *      with a wrong token;
 *   4. the Poll Trigger variant, in the same n8n, starts a workflow for a crew run finished after its first poll.
 * Waits are on signals (readiness, the server's webhook list, stored executions), each bounded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type {
  AnalyticsInsights,
  ArchiveList,
  BudgetAlerts,
  BudgetSet,
  BudgetStatusRequest,
  ChatComplete,
  CostReport,
  CrewEstimate,
  CrewList,
  CrewRun,
  LedgerList,
  MemoryAdd,
  MemoryContext,
  MemoryList,
  Run,
  WebhookList,
} from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import { eventually, rpcError, startServer, type RpcClient, type ServerProcess } from '../helpers';
import {
  execute,
  installCommunityPackage,
  installedPackages,
  n8nCli,
  n8nHome,
  n8nTools,
  outputs,
  readmeInstallCommand,
  ROOT,
  startN8n,
  storedExecutions,
  workflowStaticData,
  type N8nHome,
  type N8nTools,
  type RunningN8n,
  type StoredExecution,
} from './n8n/n8n';

const WORKFLOWS = path.join(ROOT, 'n8n-nodes', 'workflows');
const CREDENTIAL = { id: 'crewCredential00001', name: 'OpenRouter Crew' };
const MODEL = 'openai/gpt-4o-mini';

interface Workflow {
  id: string;
  nodes: { name: string; type: string; parameters: Record<string, unknown>; [k: string]: unknown }[];
  [k: string]: unknown;
}

const readWorkflow = (file: string) => JSON.parse(fs.readFileSync(path.join(WORKFLOWS, file), 'utf8')) as Workflow;

/** The workflow with its Settings node's values changed, as a user edits them. */
function withSettings(wf: Workflow, values: Record<string, unknown>): Workflow {
  const copy = structuredClone(wf);
  const settings = copy.nodes.find((n) => n.name === 'Settings')!;
  const list = (settings.parameters.assignments as { assignments: { name: string; value: unknown }[] }).assignments;
  for (const a of list) if (a.name in values) a.value = values[a.name];
  return copy;
}

describe('n8n e2e (n8n 2.40.7, the packed community package, a real crew-server)', function () {
  this.timeout(30 * 60_000);
  let tools: N8nTools;
  let home: N8nHome;
  let fake: FakeOpenRouter;
  let server: ServerProcess;
  let client: RpcClient;
  let n8n: RunningN8n | undefined;
  const memoryIds: string[] = [];
  const timings: string[] = [];
  let nodesDir: string;

  async function timed<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  async function importWorkflow(wf: Workflow): Promise<void> {
    const file = path.join(home.root, `${wf.id}.json`);
    fs.writeFileSync(file, JSON.stringify(wf));
    await n8nCli(tools, home, ['import:workflow', `--input=${file}`]);
  }

  before(async function () {
    tools = await timed('n8n install (cached after the first run)', () => n8nTools());
    await timed('build', () => execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs')], { stdio: 'inherit' }));
    fake = await startFakeOpenRouter({ port: 0 });
    ({ server, client } = await timed('crew-server start', () =>
      startServer({ transport: 'http', upstreamUrl: fake.url, clientKind: 'e2e' }),
    ));
    await timed('seed', async () => {
      await client.request('crew/create', { name: 'ops', agents: [{ name: 'writer', model: MODEL, maxTokens: 16 }] });
      for (const content of [
        'Postgres partial indexes made the nightly report ten times faster',
        // Nearly the same fact again: the duplicates insight the Analytics workflow reports.
        'The nightly report got ten times faster thanks to Postgres partial indexes',
        'The team lunch moved to Thursday',
        'Old vendor contract notes from last year',
      ])
        memoryIds.push(
          (await client.request<MemoryAdd.Result>('memory/add', { crew: 'ops', kind: 'note', content })).memory.id,
        );
      await client.request('chat/complete', {
        model: MODEL,
        crew: 'ops',
        agent: 'ops/writer',
        maxTokens: 16,
        messages: [{ role: 'user', content: 'List launch risks' }],
      });
      // Memories are embedded in the background; the insight exists once their vectors do.
      await eventually(
        async () => (await client.request<AnalyticsInsights.Result>('analytics/insights', { days: 7 })).insights.length,
        'the duplicates insight',
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    });
    home = await n8nHome(tools);
    ({ nodesDir } = await timed('npm pack + install into .n8n/nodes', () => installCommunityPackage(home)));
    await timed('import credential and the four workflows', async () => {
      const credentials = path.join(home.root, 'credentials.json');
      const data = { url: await server.httpBase(), token: await server.token() };
      fs.writeFileSync(credentials, JSON.stringify([{ ...CREDENTIAL, type: 'openRouterCrewApi', data }]));
      await n8nCli(tools, home, ['import:credentials', `--input=${credentials}`]);
      // As a user would import them all: one `import:workflow --separate` of the folder.
      await n8nCli(tools, home, ['import:workflow', '--separate', `--input=${WORKFLOWS}`]);
    });
  });

  after(async function () {
    this.timeout(120_000);
    await n8n?.stop();
    await server?.stop().catch(() => undefined);
    await fake?.close();
    if (home && process.env.KEEP_TEST_DIRS !== '1') fs.rmSync(home.root, { recursive: true, force: true });
    if (timings.length) console.log(`      timings:\n        ${timings.join('\n        ')}`);
  });

  it("the README's install command (offline) installs the package alone, not n8n-workflow and its dependencies", () => {
    const command = readmeInstallCommand();
    assert.ok(command.includes('--legacy-peer-deps'), command.join(' '));
    assert.deepEqual(installedPackages(nodesDir), ['n8n-nodes-openrouter-crew']);
  });

  it('Cost Management: the report of the last 24 hours, as the server has it, in a message', async () => {
    const result = await timed('execute Cost Management', () => execute(tools, home, 'crewCostManagement1'));
    assert.equal(result.status, 'success');
    const report = outputs(result, 'Cost report')[0]![0] as CostReport.Result;
    const message = outputs(result, 'Message')[0]![0] as { text: string; calls: number; totalUsd: number };
    const truth = await client.request<CostReport.Result>('cost/report', {
      by: 'crew',
      from: report.from!,
      to: report.to!,
    });
    assert.deepEqual(report.rows, truth.rows);
    assert.equal(truth.total.calls, 1);
    assert.equal(message.calls, truth.total.calls);
    assert.equal(message.totalUsd, truth.total.costUsd);
    assert.match(message.text, /^OpenRouter spend, last 24 h: \$\S+ in 1 call\n• ops: \$\S+ \(1 call\)$/);
  });

  it('Analytics Insights: every finding of the server in one message', async () => {
    const result = await timed('execute Analytics Insights', () => execute(tools, home, 'crewAnalyticsWeekly1'));
    assert.equal(result.status, 'success');
    const message = outputs(result, 'Message')[0]![0] as { text: string; findings: number };
    const truth = await client.request<AnalyticsInsights.Result>('analytics/insights', { days: 7 });
    assert.ok(truth.insights.some((i) => i.kind === 'duplicates'));
    assert.equal(message.findings, truth.insights.length);
    assert.match(message.text, /^Memory insights, last 7 days: /);
    for (const insight of truth.insights) assert.ok(message.text.includes(insight.text), insight.text);
  });

  it('Memory Archival: the dry run guards the archive, which then moves the memories', async () => {
    const live = async () => (await client.request<MemoryList.Result>('memory/list', { crew: 'ops' })).total;
    const archives = async () => (await client.request<ArchiveList.Result>('archive/list', {})).archives;
    const archival = readWorkflow('memory-archival.json');

    // As shipped: nothing has been idle for 30 days on a server seeded a minute ago.
    let result = await timed('execute Memory Archival (as shipped)', () => execute(tools, home, archival.id));
    assert.equal(result.status, 'success');
    assert.deepEqual(outputs(result, 'Skipped')[0], [{ text: 'Nothing to archive', archived: 0, matched: 0 }]);

    // Settings edited: any age, at most one: four match, so the guard leaves them for a person.
    await importWorkflow(withSettings(archival, { inactiveDays: 0, maxToArchive: 1 }));
    result = await timed('execute Memory Archival (over the limit)', () => execute(tools, home, archival.id));
    assert.equal(result.status, 'success');
    assert.equal((outputs(result, 'Dry run')[0]![0] as { totals: { count: number } }).totals.count, 4);
    assert.equal((outputs(result, 'Skipped')[0]![0] as { matched: number }).matched, 4);
    assert.equal(result.data.resultData.runData.Archive, undefined);
    assert.equal(await live(), 4);
    assert.deepEqual(await archives(), []);

    // Within the limit: archived, and the server has the archive and no longer the memories.
    await importWorkflow(withSettings(archival, { inactiveDays: 0, maxToArchive: 500 }));
    result = await timed('execute Memory Archival (archives)', () => execute(tools, home, archival.id));
    assert.equal(result.status, 'success');
    const done = outputs(result, 'Archived')[0]![0] as { archived: number; archiveId: string; text: string };
    assert.equal(done.archived, 4);
    const [stored] = await archives();
    assert.equal(stored?.id, done.archiveId);
    assert.equal(stored?.count, 4);
    assert.deepEqual([...(outputs(result, 'Archive')[0]![0] as { ids: string[] }).ids].sort(), [...memoryIds].sort());
    assert.equal(await live(), 0);
    await rpcError(client.request('memory/get', { id: memoryIds[0] }), ErrorCodes.NotFound);
  });

  for (const onError of ['continueErrorOutput', 'continueRegularOutput'] as const)
    it(`On Error "${onError}": a failed item goes to ${onError === 'continueErrorOutput' ? 'the error output' : 'the main output, with its error'}`, async () => {
      const kept = (
        await client.request<MemoryAdd.Result>('memory/add', {
          crew: 'ops',
          kind: 'fact',
          content: `kept (${onError})`,
        })
      ).memory;
      const wf = memoryGetWorkflow(`crewOnError${onError === 'continueErrorOutput' ? 'Output' : 'Regular'}`, onError, [
        'no-such-memory',
        kept.id,
      ]);
      await importWorkflow(wf);
      const result = await timed(`execute ${onError}`, () => execute(tools, home, wf.id));
      assert.equal(result.status, 'success');
      const [main, errors] = outputs(result, 'Get memory') as Record<string, unknown>[][];
      const failed = (items: Record<string, unknown>[] | undefined) =>
        items
          ?.filter((i) => i.error !== undefined)
          .map((i) => ({ error: i.error, ...(i.details as { code: number; data: unknown }) }));
      const expected = [
        {
          error: 'memory "no-such-memory" not found',
          description: `memory/get failed with JSON-RPC error ${ErrorCodes.NotFound}; data: {"entity":"memory","id":"no-such-memory"}`,
          code: ErrorCodes.NotFound,
          data: { entity: 'memory', id: 'no-such-memory' },
        },
      ];
      if (onError === 'continueErrorOutput') {
        assert.deepEqual(
          main!.map((i) => i.id),
          [kept.id],
        );
        assert.deepEqual(failed(errors), expected);
        // n8n keeps the input item's fields on an error item, so a workflow can tell which one failed.
        assert.equal(errors![0]!.ids, 'no-such-memory');
        assert.equal(outputs(result, 'Failed')[0]?.length, 1);
      } else {
        assert.equal(errors, undefined);
        assert.deepEqual(failed(main), expected);
        assert.deepEqual(
          main!.filter((i) => i.error === undefined).map((i) => i.id),
          [kept.id],
        );
      }
    });

  it('new operations in a chain: Crew Get Many → Memory Build Context → Chat of a message history → Ledger Get Many', async () => {
    const wf = operationsWorkflow();
    await importWorkflow(wf);
    const result = await timed('execute the operations chain', () => execute(tools, home, wf.id));
    assert.equal(result.status, 'success');

    const { crews } = await client.request<CrewList.Result>('crew/list');
    assert.deepEqual(
      outputs(result, 'Crews')[0]!.map((c) => (c as { name: string }).name),
      crews.map((c) => c.name),
    );
    const truth = await client.request<MemoryContext.Result>('memory/context', {
      crew: 'ops',
      query: 'kept',
      maxTokens: 200,
    });
    assert.ok(truth.memories.length > 0, 'the On Error cases left memories to pack');
    const context = outputs(result, 'Context')[0]![0] as {
      text: string;
      usedTokens: number;
      memories: { id: string }[];
    };
    assert.deepEqual(
      context.memories.map((m) => m.id),
      truth.memories.map((m) => m.memory.id),
    );
    assert.equal(context.text, truth.memories.map((m) => m.memory.content).join('\n\n'));
    assert.equal(context.usedTokens, truth.usedTokens);

    const chat = outputs(result, 'Chat')[0]![0] as {
      content: string;
      model: string;
      costUsd: number;
      ledgerId: number;
    };
    // The first model of the chain answered (the fallback was there for a failure).
    assert.equal(chat.model, MODEL);
    assert.ok(chat.content.length > 0);
    const row = await client.request<LedgerList.Result>('ledger/list', { limit: 50 });
    assert.equal(row.entries.find((e) => e.id === chat.ledgerId)?.model, MODEL);
    const ledger = outputs(result, 'Ledger')[0] as { id: number; crew: string; costUsd: number }[];
    assert.deepEqual(
      ledger.map((e) => [e.id, e.crew, e.costUsd]),
      [[chat.ledgerId, 'ops', chat.costUsd]],
    );

    // Estimate Run says what the run would cost without a call; Run Task carries the Max Cost as its ceiling.
    const estimate = outputs(result, 'Estimate')[0]![0] as unknown as CrewEstimate.Result;
    assert.equal(estimate.crew, 'ops');
    assert.equal(estimate.maxCostUsd, 0.05);
    assert.ok(estimate.worstCaseUsd > 0 && estimate.agents.length > 0);
    const run = outputs(result, 'Run')[0]![0] as unknown as Run;
    assert.equal(run.status, 'completed', JSON.stringify(run.error));
    assert.equal(run.maxCostUsd, 0.05);
    assert.ok(run.costUsd > 0 && run.costUsd <= 0.05);
  });

  it('Budget Alerts: the trigger registers with the server and a refused call starts the workflow by webhook', async () => {
    // The poll-trigger variant rides along in the same n8n (its first poll only notes where things stand).
    await importWorkflow(pollWorkflow());
    for (const id of ['crewBudgetAlert00001', 'crewRunsPoller000001'])
      await n8nCli(tools, home, ['publish:workflow', `--id=${id}`]);
    n8n = await timed('n8n start until ready', () => startN8n(tools, home));
    const running = n8n;

    const subscription = await timed('trigger registered (webhook/list)', () =>
      eventually(
        async () =>
          (await client.request<WebhookList.Result>('webhook/list')).webhooks.find((w) =>
            w.url.startsWith(`${running.url}/webhook/`),
          ),
        'the n8n trigger to register its webhook with crew-server',
        { timeoutMs: 60_000, intervalMs: 250 },
      ),
    );
    assert.deepEqual(subscription.events, ['budget.alert']);
    assert.equal(subscription.signed, true);
    assert.match(subscription.description, /Budget Alerts/);

    // A global budget the next call cannot fit in: the server refuses it and fires a `blocked` alert.
    await client.request('budget/set', { scope: 'global', period: 'daily', limitUsd: 0.00002, thresholds: [50] });
    await rpcError(
      client.request('chat/complete', {
        model: MODEL,
        crew: 'ops',
        maxTokens: 64,
        messages: [{ role: 'user', content: 'One more thing' }],
      }),
      ErrorCodes.BudgetExceeded,
    );
    const { alerts } = await client.request<BudgetAlerts.Result>('budget/alerts', { limit: 20 });
    const blocked = alerts.find((a) => a.kind === 'blocked');
    assert.ok(blocked, `no blocked alert among ${JSON.stringify(alerts)}`);

    const execution = await timed('alert delivered and executed', () =>
      eventually(
        async () =>
          (await storedExecutions(tools, home)).find(
            (e) => e.workflowId === 'crewBudgetAlert00001' && triggerItem(e)?.id === blocked.id,
          ),
        'an execution of Budget Alerts started by the blocked alert',
        { timeoutMs: 60_000, intervalMs: 500 },
      ),
    );
    assert.equal(execution.status, 'success', execution.error ?? '');
    assert.equal(execution.mode, 'webhook');
    const item = triggerItem(execution)!;
    assert.equal(item.event, 'budget.alert');
    assert.equal(typeof item.deliveryId, 'string');
    assert.equal(item.message, blocked.message);
    const routed = { critical: 'Notify on-call (critical)', warning: 'Notify team (warning)', info: 'Log (info)' };
    const notify = execution.nodes[routed[blocked.severity]]?.[0]?.[0] as { text: string } | undefined;
    assert.ok(notify, `not routed to ${routed[blocked.severity]}: ${Object.keys(execution.nodes).join(', ')}`);
    assert.equal(notify.text, `[${blocked.severity.toUpperCase()}] ${blocked.message} (blocked, global)`);

    // A delivery not signed with the subscription's secret is refused and starts nothing.
    const before = (await storedExecutions(tools, home)).length;
    const forged = await fetch(subscription.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-crew-signature': `sha256=${'0'.repeat(64)}` },
      body: JSON.stringify({ id: 'forged', event: 'budget.alert', at: blocked.at, data: blocked }),
    });
    assert.equal(forged.status, 401);
    assert.equal((await storedExecutions(tools, home)).length, before);
  });

  it('Budget Alerts: a warn budget over its limit arrives as over_limit and is routed as a warning', async () => {
    assert.ok(n8n, 'n8n runs (started by the Budget Alerts case)');
    // The global budget of the case before refuses every call; a warn budget alone lets this one through.
    const { budgets } = await client.request<BudgetStatusRequest.Result>('budget/status', {});
    for (const b of budgets) await client.request('budget/delete', { id: b.id });
    const { budget } = await client.request<BudgetSet.Result>('budget/set', {
      scope: 'crew:ops',
      period: 'daily',
      limitUsd: 0.000001,
      action: 'warn',
      thresholds: [100],
    });
    const reply = await client.request<ChatComplete.Result>('chat/complete', {
      model: MODEL,
      crew: 'ops',
      maxTokens: 16,
      messages: [{ role: 'user', content: 'Over the limit, on purpose' }],
    });
    assert.equal(reply.warnings.length, 1, 'the call went through, with a warning');
    const { alerts: all } = await client.request<BudgetAlerts.Result>('budget/alerts', { budgetId: budget.id });
    // Its 100 % threshold fires too once the cost is in; nothing says "blocked".
    const alerts = all.filter((a) => a.kind !== 'threshold');
    assert.deepEqual(
      alerts.map((a) => [a.kind, a.severity]),
      [['over_limit', 'warning']],
    );
    const execution = await timed('over_limit delivered and executed', () =>
      eventually(
        async () =>
          (await storedExecutions(tools, home)).find(
            (e) => e.workflowId === 'crewBudgetAlert00001' && triggerItem(e)?.id === alerts[0]!.id,
          ),
        'an execution of Budget Alerts started by the over_limit alert',
        { timeoutMs: 60_000, intervalMs: 500 },
      ),
    );
    assert.equal(execution.status, 'success', execution.error ?? '');
    const notify = execution.nodes['Notify team (warning)']?.[0]?.[0] as { text: string } | undefined;
    assert.ok(notify, `not routed to the warning branch: ${Object.keys(execution.nodes).join(', ')}`);
    assert.match(notify.text, /^\[WARNING\] .*calls continue.* \(over_limit, crew:ops\)$/);
  });

  it("the credential's test (server/health with the bearer token) passes, and fails with a wrong token in the server's words", async () => {
    assert.ok(n8n, 'n8n runs (started by the Budget Alerts case)');
    // n8n's REST API (what its UI calls) needs an owner and a session.
    const headers = { 'content-type': 'application/json', 'browser-id': 'crew-e2e' };
    const setup = await fetch(`${n8n.url}/rest/owner/setup`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ email: 'owner@example.com', firstName: 'E', lastName: 'Two', password: 'Crew-e2e-0wner' }),
    });
    assert.equal(setup.status, 200, await setup.text());
    const cookie = setup.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const test = async (token: string) => {
      const res = await fetch(`${n8n!.url}/rest/credentials/test`, {
        method: 'POST',
        headers: { ...headers, cookie },
        body: JSON.stringify({
          credentials: { ...CREDENTIAL, type: 'openRouterCrewApi', data: { url: await server.httpBase(), token } },
        }),
      });
      return ((await res.json()) as { data: { status: string; message: string } }).data;
    };
    assert.deepEqual(await test(await server.token()), {
      status: 'OK',
      message: `Connected to crew-server at ${await server.httpBase()}`,
    });
    // The server's own explanation, not n8n's "Unauthorized".
    const refused = await test('not-the-token');
    assert.equal(refused.status, 'Error');
    assert.match(refused.message, /bearer token: use the token shown by "crew server token"/);
  });

  it('Poll Trigger: a crew run finished after the first poll starts its workflow', async function () {
    assert.ok(n8n, 'n8n runs (started by the Budget Alerts case)');
    // Its first poll (at activation) notes the newest finished run; a run finished before that is not news.
    await timed('first poll noted', () =>
      eventually(
        async () =>
          (await workflowStaticData(tools, home, 'crewRunsPoller000001'))?.['node:Runs']?.runsAfter !== undefined,
        'the poll trigger to save its watermark',
        { timeoutMs: 60_000, intervalMs: 500 },
      ),
    );
    const run = await timed('crew run', () =>
      client.request<CrewRun.Result>('crew/run', { crew: 'ops', task: 'Summarise the week', memoryTokens: 0 }),
    );
    // Polls happen on minute boundaries.
    const execution = await timed('poll picked the run up', () =>
      eventually(
        async () =>
          (await storedExecutions(tools, home)).find(
            (e) => e.workflowId === 'crewRunsPoller000001' && triggerItem(e, 'Runs')?.id === run.id,
          ),
        'an execution of the poll workflow with the finished run',
        { timeoutMs: 150_000, intervalMs: 1_000 },
      ),
    );
    assert.equal(execution.status, 'success', execution.error ?? '');
    const item = triggerItem(execution, 'Runs')!;
    assert.equal(item.event, 'run.finished');
    assert.equal(item.status, run.status);
    assert.equal(item.output, run.output);
  });
});

/** The first item the trigger node emitted in a stored execution. */
function triggerItem(e: StoredExecution, node = 'OpenRouter Crew Trigger'): Record<string, unknown> | undefined {
  return e.nodes[node]?.[0]?.[0] as Record<string, unknown> | undefined;
}

/**
 * Manual trigger → two memory ids as two items → Memory Get with the given "On Error" setting, its outputs into
 * "Found" and (with the error output) "Failed".
 */
function memoryGetWorkflow(id: string, onError: 'continueErrorOutput' | 'continueRegularOutput', ids: string[]) {
  const at = (x: number) => [x * 220, 0];
  const outputs = [[{ node: 'Found', type: 'main', index: 0 }]];
  if (onError === 'continueErrorOutput') outputs.push([{ node: 'Failed', type: 'main', index: 0 }]);
  return {
    id,
    name: `OpenRouter Crew: Memory Get (${onError})`,
    active: false,
    nodes: [
      {
        id: 'e1',
        name: 'Start',
        type: 'n8n-nodes-base.manualTrigger',
        typeVersion: 1,
        position: at(0),
        parameters: {},
      },
      {
        id: 'e2',
        name: 'Ids',
        type: 'n8n-nodes-base.set',
        typeVersion: 3.4,
        position: at(1),
        parameters: { mode: 'raw', jsonOutput: JSON.stringify({ ids }), options: {} },
      },
      {
        id: 'e3',
        name: 'Split',
        type: 'n8n-nodes-base.splitOut',
        typeVersion: 1,
        position: at(2),
        parameters: { fieldToSplitOut: 'ids', options: {} },
      },
      {
        id: 'e4',
        name: 'Get memory',
        type: 'n8n-nodes-openrouter-crew.openRouterCrew',
        typeVersion: 1,
        position: at(3),
        credentials: { openRouterCrewApi: CREDENTIAL },
        onError,
        parameters: { resource: 'memory', operation: 'get', memoryId: '={{ $json.ids }}' },
      },
      { id: 'e5', name: 'Found', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: at(4), parameters: {} },
      { id: 'e6', name: 'Failed', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [880, 200], parameters: {} },
    ],
    connections: {
      Start: { main: [[{ node: 'Ids', type: 'main', index: 0 }]] },
      Ids: { main: [[{ node: 'Split', type: 'main', index: 0 }]] },
      Split: { main: [[{ node: 'Get memory', type: 'main', index: 0 }]] },
      'Get memory': { main: outputs },
    },
    settings: { executionOrder: 'v1' },
  } satisfies Workflow;
}

/** Manual trigger → every crew → its memories about "kept" as a context → a chat of a short history → the last call. */
function operationsWorkflow(): Workflow {
  const crewNode = (id: string, name: string, x: number, parameters: Record<string, unknown>) => ({
    id,
    name,
    type: 'n8n-nodes-openrouter-crew.openRouterCrew',
    typeVersion: 1,
    position: [x * 220, 0],
    credentials: { openRouterCrewApi: CREDENTIAL },
    parameters,
  });
  const history = [
    { role: 'user', content: 'What do we know?' },
    { role: 'assistant', content: 'Let me look at the memories.' },
    { role: 'user', content: 'Summarise them in a line' },
  ];
  return {
    id: 'crewNewOperations01',
    name: 'OpenRouter Crew: new operations',
    active: false,
    nodes: [
      {
        id: 'o1',
        name: 'Start',
        type: 'n8n-nodes-base.manualTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: {},
      },
      crewNode('o2', 'Crews', 1, { resource: 'crew', operation: 'list' }),
      crewNode('o3', 'Context', 2, {
        resource: 'memory',
        operation: 'context',
        crew: '={{ $json.name }}',
        query: 'kept',
        maxTokens: 200,
      }),
      crewNode('o4', 'Chat', 3, {
        resource: 'chat',
        operation: 'complete',
        model: MODEL,
        input: 'messages',
        messages: JSON.stringify(history),
        chatOptions: {
          systemPrompt: "={{ 'Known: ' + $json.text }}",
          crew: 'ops',
          maxTokens: 16,
          fallbacks: 'google/gemini-2.5-flash',
        },
      }),
      crewNode('o5', 'Ledger', 4, { resource: 'ledger', operation: 'list', limit: 1 }),
      crewNode('o6', 'Estimate', 5, {
        resource: 'crew',
        operation: 'estimate',
        crew: 'ops',
        task: 'Summarise the week',
        runOptions: { maxCostUsd: 0.05, memoryTokens: 0 },
      }),
      crewNode('o7', 'Run', 6, {
        resource: 'crew',
        operation: 'run',
        crew: 'ops',
        task: 'Summarise the week',
        runOptions: { maxCostUsd: 0.05, memoryTokens: 0, tellRemaining: true, saveResult: false },
      }),
    ],
    connections: {
      Start: { main: [[{ node: 'Crews', type: 'main', index: 0 }]] },
      Crews: { main: [[{ node: 'Context', type: 'main', index: 0 }]] },
      Context: { main: [[{ node: 'Chat', type: 'main', index: 0 }]] },
      Chat: { main: [[{ node: 'Ledger', type: 'main', index: 0 }]] },
      Ledger: { main: [[{ node: 'Estimate', type: 'main', index: 0 }]] },
      Estimate: { main: [[{ node: 'Run', type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
  };
}

/** A workflow with the Poll Trigger on finished runs (every minute), for the polling path. */
function pollWorkflow(): Workflow {
  return {
    id: 'crewRunsPoller000001',
    name: 'OpenRouter Crew: finished runs (poll)',
    active: false,
    nodes: [
      {
        id: 'p1',
        name: 'Runs',
        type: 'n8n-nodes-openrouter-crew.openRouterCrewPollTrigger',
        typeVersion: 1,
        position: [0, 0],
        credentials: { openRouterCrewApi: CREDENTIAL },
        parameters: { pollTimes: { item: [{ mode: 'everyMinute' }] }, events: ['runFinished'], options: {} },
      },
      { id: 'p2', name: 'Done', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [220, 0], parameters: {} },
    ],
    connections: { Runs: { main: [[{ node: 'Done', type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1' },
  };
}
