/**
 * `crew demo`: the product in a few seconds, with no account and no network. It starts a private sandbox
 * server (stdio, built-in fake OpenRouter) on a fresh data dir and walks through models, budgets, attributed
 * calls (one streamed), budget status, a refused call, the alerts that fired, a cost report, the crew's memory
 * and a crew run, showing the `crew` command for each step. Everything it shows comes from the server, as in
 * real use.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  BudgetAlertNotification,
  BudgetAlerts,
  BudgetSet,
  BudgetStatusRequest,
  CrewCreate,
  CrewRun,
  crewAgentScope,
  ErrorCodes,
  MemoryAdd,
  MemorySearch,
  ModelsList,
  type BudgetAlert,
  type ChatComplete,
  type Run,
} from '../../protocol';
import { ClientError } from '../client/connection';
import { Context, withContext } from '../context';
import { describeError, UsageError } from '../errors';
import { money, percent } from '../output';
import { runChat } from './chat';
import { alertColumns, budgetStatusColumns } from './budget';
import { report } from './cost';
import { example } from './help';
import { MODEL_COLUMNS } from './models';
import { stepColumns } from './runs';
import { counted, formatEnum } from '../../protocol/format';

const CREW = 'launch';
const RUN_TASK = 'Write a two-line launch note about the faster nightly report';
const SHOWN_MODELS = [
  'openai/gpt-4o-mini',
  'anthropic/claude-3.5-haiku',
  'anthropic/claude-sonnet-4',
  'google/gemini-2.5-flash',
  'anthropic/claude-opus-4',
];

interface DemoCall {
  agent: string;
  model: string;
  prompt: string;
  maxTokens: number;
  stream?: boolean;
}

/** Sized so the researcher's budget crosses its alert thresholds while every call's worst case still fits. */
const CALLS: DemoCall[] = [
  {
    agent: 'researcher',
    model: 'anthropic/claude-3.5-haiku',
    prompt: 'List three risks of a Friday launch.',
    maxTokens: 24,
  },
  {
    agent: 'researcher',
    model: 'anthropic/claude-sonnet-4',
    prompt: 'Which risk matters most, and why?',
    maxTokens: 24,
    stream: true,
  },
  { agent: 'writer', model: 'openai/gpt-4o-mini', prompt: 'Draft a two-line launch note.', maxTokens: 24 },
  { agent: 'researcher', model: 'anthropic/claude-sonnet-4', prompt: 'Any risk we missed?', maxTokens: 16 },
];
const GLOBAL_LIMIT = 0.05;
const RESEARCHER_LIMIT = 0.0007;
/** `crew chat --crew launch --agent researcher` is the crew agent `launch/researcher`, as a crew run records it. */
const RESEARCHER_SCOPE = crewAgentScope(CREW, 'researcher');
/** How long the tour waits for the refusal's alert before showing the history without it. */
const ALERT_WAIT_MS = 3_000;
const MEMORIES = [
  'Friday launches went badly twice: on-call was thin over the weekend',
  'Tuning Postgres indexes made the launch dashboard 10x faster',
  'The team lunch is on Thursday this week',
];
const MEMORY_QUERY = 'why not launch on a Friday?';
const REFUSED: DemoCall = {
  agent: 'writer',
  model: 'anthropic/claude-opus-4',
  prompt: 'Write the whole launch book.',
  maxTokens: 100_000,
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a guided tour against a built-in sandbox: no account, no network, no real money')
    .option('--keep', 'keep the temporary data directory (it is printed)')
    .addHelpText('after', example('crew demo', 'crew demo --data-dir ./demo-data'))
    .action(
      withContext(async (outer, opts: { keep?: boolean }) => {
        if (outer.out.format !== 'table' && outer.out.format !== 'list')
          throw new UsageError('crew demo is a walkthrough for people; it has no --json or csv output');
        // Only an explicit --data-dir is used: the demo must never touch the user's real data (CREW_DATA_DIR).
        const explicit = outer.global.dataDir;
        const dataDir = explicit ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-demo-')));
        const ctx = new Context({ ...outer.global, dataDir, stdio: true, sandbox: true, format: 'table', json: false });
        try {
          await tour(ctx, dataDir);
        } finally {
          await ctx.close();
          if (!explicit && !opts.keep) await fsp.rm(dataDir, { recursive: true, force: true });
        }
      }),
    );
}

async function tour(ctx: Context, dataDir: string): Promise<void> {
  const { out } = ctx;
  const c = out.c;
  let step = 0;
  const heading = (title: string) => {
    out.line();
    out.line(c.bold(c.cyan(`── ${++step}. ${title} `.padEnd(72, '─'))));
  };
  const shell = (cmd: string) => out.line(c.dim(`$ ${cmd}`));

  banner(ctx);
  out.line(`data dir: ${dataDir}`);
  const client = await ctx.connect();
  out.line(
    `server:   crew-server ${client.info.version} (protocol ${client.info.protocolVersion}), private, SANDBOX upstream ${client.info.upstream.baseUrl}`,
  );

  // Alerts arrive as notifications once the server has recorded them. They print as they come, except during a
  // streamed reply (they wait for its end, so they never cut it).
  const seen: BudgetAlert[] = [];
  const held: BudgetAlert[] = [];
  let streaming = false;
  let onAlert: (() => void) | undefined;
  const printAlert = (a: BudgetAlert) =>
    out.line(`   ${paintSeverity(ctx, a)(`⚑ alert (${a.severity})`)} ${a.message}`);
  client.onNotification(BudgetAlertNotification.method, (p) => {
    const a = p as BudgetAlert;
    seen.push(a);
    if (streaming) held.push(a);
    else printAlert(a);
    onAlert?.();
  });
  const releaseHeld = () => held.splice(0).forEach(printAlert);

  heading('Models and prices (the sandbox catalog)');
  shell('crew models');
  const models = await client.request<ModelsList.Result>(ModelsList.method, {});
  out.table(
    MODEL_COLUMNS,
    models.models.filter((m) => SHOWN_MODELS.includes(m.id)),
  );

  heading('Budgets, enforced before a call is sent');
  shell(`crew budget set --scope global --limit ${GLOBAL_LIMIT} --period daily`);
  const global = await client.request<BudgetSet.Result>(BudgetSet.method, {
    scope: 'global',
    period: 'daily',
    limitUsd: GLOBAL_LIMIT,
  } satisfies BudgetSet.Params);
  out.line(
    `   ${global.budget.scope} ${global.budget.period}: ${money(global.budget.limitUsd)}, action ${global.budget.action}, alerts at ${global.budget.thresholds.map(percent).join(', ')}`,
  );
  shell(
    `crew budget set --scope ${RESEARCHER_SCOPE} --limit ${RESEARCHER_LIMIT} --period daily --thresholds 25,50,80,100`,
  );
  const researcher = await client.request<BudgetSet.Result>(BudgetSet.method, {
    scope: RESEARCHER_SCOPE,
    period: 'daily',
    limitUsd: RESEARCHER_LIMIT,
    thresholds: [25, 50, 80, 100],
  } satisfies BudgetSet.Params);
  out.line(
    `   ${researcher.budget.scope} ${researcher.budget.period}: ${money(researcher.budget.limitUsd)}, action ${researcher.budget.action}, alerts at ${researcher.budget.thresholds.map(percent).join(', ')}`,
  );

  heading(`Calls by the "${CREW}" crew, each attributed to an agent`);
  const results: ChatComplete.Result[] = [];
  for (const call of CALLS) {
    out.line();
    shell(
      `crew chat --crew ${CREW} --agent ${call.agent} --model ${call.model} --max-tokens ${call.maxTokens}${call.stream ? ' --stream' : ''} "${call.prompt}"`,
    );
    if (call.stream) out.line(c.dim('   (streamed: the reply prints as it arrives)'));
    streaming = call.stream === true;
    results.push(
      await runChat(
        ctx,
        client,
        {
          model: call.model,
          crew: CREW,
          agent: call.agent,
          maxTokens: call.maxTokens,
          messages: [{ role: 'user', content: call.prompt }],
        },
        { stream: call.stream === true, indent: '   ', summaryOnStdout: true },
      ),
    );
    streaming = false;
    releaseHeld();
  }
  const spent = results.reduce((s, r) => s + r.costUsd, 0);
  out.line();
  out.line(
    `   ${results.length} calls, ${money(spent)} as reported by the (fake) upstream's usage.cost — every one is in the ledger.`,
  );

  heading('Budget status');
  shell('crew budget status');
  const status = await client.request<BudgetStatusRequest.Result>(BudgetStatusRequest.method, {});
  out.table(budgetStatusColumns(ctx), status.budgets);

  heading('A call the budget refuses, before anything is sent');
  shell(
    `crew chat --crew ${CREW} --agent ${REFUSED.agent} --model ${REFUSED.model} --max-tokens ${REFUSED.maxTokens} "${REFUSED.prompt}"`,
  );
  try {
    await runChat(
      ctx,
      client,
      {
        model: REFUSED.model,
        crew: CREW,
        agent: REFUSED.agent,
        maxTokens: REFUSED.maxTokens,
        messages: [{ role: 'user', content: REFUSED.prompt }],
      },
      { stream: false, indent: '   ', summaryOnStdout: true },
    );
    throw new Error('the sandbox let a call through that the budget should have refused');
  } catch (e) {
    if (!(e instanceof ClientError) || e.code !== ErrorCodes.BudgetExceeded) throw e;
    out.line(
      describeError(e, c)
        .split('\n')
        .map((l) => `   ${l}`)
        .join('\n'),
    );
    out.line(
      c.dim(`   (crew exits with code 3 here; JSON-RPC error ${e.code} BudgetExceeded carries these figures as data)`),
    );
  }
  // The refusal fires a "blocked" alert; wait for it (it is recorded before it is sent) so the history below has it.
  await new Promise<void>((resolve) => {
    const done = () => {
      if (!seen.some((a) => a.kind === 'blocked')) return;
      clearTimeout(timer);
      onAlert = undefined;
      resolve();
    };
    const timer = setTimeout(() => {
      onAlert = undefined;
      resolve();
    }, ALERT_WAIT_MS);
    onAlert = done;
    done();
  });

  heading('Alerts that fired (also pushed live to clients and webhooks)');
  shell('crew budget alerts');
  const alerts = await client.request<BudgetAlerts.Result>(BudgetAlerts.method, {});
  out.table(alertColumns(ctx), alerts.alerts);

  heading('Cost report by agent');
  shell('crew cost report --by agent');
  await report(ctx, { by: 'agent' });

  heading("The crew's memory, ranked for retrieval (embedded locally, offline)");
  for (const content of MEMORIES) {
    shell(`crew memory add --crew ${CREW} --kind fact "${content}"`);
    await client.request<MemoryAdd.Result>(MemoryAdd.method, { crew: CREW, content, kind: 'fact' });
  }
  shell(`crew memory search --crew ${CREW} "${MEMORY_QUERY}"`);
  const found = await client.request<MemorySearch.Result>(MemorySearch.method, {
    crew: CREW,
    query: MEMORY_QUERY,
    limit: 3,
  });
  found.hits.forEach((h, i) =>
    out.line(
      `   ${i + 1}. ${h.score.toFixed(3)}  relevance ${h.components.relevance.toFixed(2)} · recency ${h.components.recency.toFixed(2)} · importance ${h.components.importance.toFixed(2)}  ${h.memory.content}`,
    ),
  );
  out.line(c.dim(`   (embedder ${found.embedderId}; every hit shows the parts of its score)`));

  heading(`The "${CREW}" crew runs a task, every call through the gate`);
  shell(`crew crew create ${CREW}`);
  shell(`crew crew add-agent ${CREW} --name researcher --role "finds facts" --model openai/gpt-4o-mini`);
  shell(`crew crew add-agent ${CREW} --name writer --role "drafts the post" --model anthropic/claude-3.5-haiku`);
  await client.request<CrewCreate.Result>(CrewCreate.method, {
    name: CREW,
    agents: [
      { name: 'researcher', role: 'finds facts', model: 'openai/gpt-4o-mini', maxTokens: 24 },
      { name: 'writer', role: 'drafts the post', model: 'anthropic/claude-3.5-haiku', maxTokens: 24 },
    ],
  } satisfies CrewCreate.Params);
  shell(`crew run ${CREW} "${RUN_TASK}"`);
  const run = await client.request<Run>(CrewRun.method, { crew: CREW, task: RUN_TASK } satisfies CrewRun.Params);
  out.table(stepColumns, run.steps);
  out.line(`   result: ${run.output ?? '—'}`);
  out.line(
    `   ${formatEnum(run.status)} · ${counted(run.steps.length, 'call')} · ${money(run.costUsd)}, the exact sum of their ledger rows (agent ${CREW}/<name>, tag run:<id>); saved as a memory of kind "result"`,
  );

  out.line();
  out.line('Next: crew --help · crew doctor · crew sandbox (a fake OpenRouter for your own tools)');
  banner(ctx);
}

function banner(ctx: Context): void {
  const c = ctx.out.c;
  const rule = c.yellow('═'.repeat(72));
  ctx.out.line(rule);
  ctx.out.line(c.bold(c.yellow('  SANDBOX — simulated OpenRouter, no real money')));
  ctx.out.line(rule);
}

function paintSeverity(ctx: Context, a: BudgetAlert): (s: string) => string {
  const c = ctx.out.c;
  return a.severity === 'critical' ? c.red : a.severity === 'warning' ? c.yellow : c.cyan;
}
