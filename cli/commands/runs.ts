/**
 * `crew run <crew> <task>` and `crew runs [show|cancel]`. A run's progress (which agent, tokens, cost so far) goes
 * to stderr as it happens; stdout is the result (or, with --stream, each step's text as it is generated). Ctrl-C
 * cancels the run on the server (in-flight call aborted, reservation released) and prints what was done.
 *
 * Exit codes follow the run's status: completed 0, stopped by a budget or its ceiling 3, cancelled 130, failed 1;
 * a run not started because its estimate was above `--approve-over` (and nobody said yes) also exits 3.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  approvalFigure,
  CrewCancelRun,
  CrewEstimate,
  type AgentEstimate,
  CrewRun,
  CrewRuns,
  type Run,
  type RunProgress,
  type RunStatus,
  type RunStep,
} from '../../protocol';
import { CancellationTokenSource, type CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { ExitCode, QuietFailure, UsageError } from '../errors';
import { count, money, when, type Colors, type Column } from '../output';
import { positiveInt, usd } from '../parse';
import { onProgress } from './chat';
import { example } from './help';
import { confirm } from './memory';
import { counted } from '../../protocol/format';

interface RunOptions {
  process: 'sequential' | 'manager';
  lead?: string;
  maxSteps?: number;
  memoryTokens?: number;
  stream?: boolean;
  save: boolean;
  maxCost?: number;
  tellRemaining?: boolean;
  estimate?: boolean;
  approveOver?: number;
  yes?: boolean;
}

const STATUS_EXIT: Record<RunStatus, number> = {
  running: ExitCode.Error,
  completed: ExitCode.Ok,
  failed: ExitCode.Error,
  cancelled: ExitCode.Interrupted,
  budget_exceeded: ExitCode.BudgetRefused,
};

const nonNegativeInt = (value: string): number => (value.trim() === '0' ? 0 : positiveInt(value));

export function registerRuns(program: Command): void {
  program
    .command('run')
    .description("run a task with a crew: every agent's call goes through the budget gate and into the ledger")
    .argument('<crew>', 'crew id or name')
    .argument('<task...>', 'what the crew should do')
    .addOption(
      new Option('--process <process>', 'sequential: agents in order; manager: the lead delegates to members')
        .choices(['sequential', 'manager'])
        .default('sequential'),
    )
    .option('--lead <agent>', 'manager process: the lead agent (default: the first agent)')
    .option('--max-steps <n>', 'manager process: most delegations (default 6, at most 20)', positiveInt)
    .option(
      '--memory-tokens <n>',
      "tokens of the crew's memories in each agent's context (default 800; 0: none)",
      nonNegativeInt,
    )
    .option('--stream', 'print each step as it is generated')
    .option('--no-save', 'do not save the result as a memory')
    .option(
      '--max-cost <usd>',
      "the run's ceiling: steps are fitted into it, and the run stops before a step that cannot fit",
      positiveUsd,
    )
    .option('--tell-remaining', 'tell each agent, in its prompt, what it has left to spend')
    .option('--estimate', "only estimate the run's cost from the crew's history (nothing is sent)")
    .option(
      '--approve-over <usd>',
      "estimate first; when the estimate's high end is above this, ask before running (off a terminal: refuse)",
      usd,
    )
    .option('-y, --yes', 'with --approve-over: run without asking')
    .addHelpText(
      'after',
      example(
        'crew run launch "Write the launch post for v2"',
        'crew run launch --max-cost 0.05 --tell-remaining "Write the launch post for v2"',
        'crew run launch --estimate "Write the launch post for v2"',
        'crew run launch --approve-over 0.10 "Write the launch post for v2"',
        'crew run launch --process manager --lead editor --max-steps 4 --stream "Plan the release notes"',
      ),
    )
    .action(
      withContext(async (ctx, crewRef: string, words: string[], opts: RunOptions) => {
        const params: CrewRun.Params = { crew: crewRef, task: words.join(' '), process: opts.process };
        if (opts.lead) params.lead = opts.lead;
        if (opts.maxSteps !== undefined) params.maxSteps = opts.maxSteps;
        if (opts.memoryTokens !== undefined) params.memoryTokens = opts.memoryTokens;
        if (opts.maxCost !== undefined) params.maxCostUsd = opts.maxCost;
        if (opts.estimate && opts.approveOver !== undefined)
          throw new UsageError('--estimate only estimates; --approve-over runs after the estimate: pass one of them');
        if (opts.yes && opts.approveOver === undefined) throw new UsageError('--yes goes with --approve-over');
        const client = await ctx.connect();
        if (opts.estimate || opts.approveOver !== undefined) {
          // Asked before the run's own options are added: crew/estimate takes what shapes the run, nothing more.
          const estimate = await client.request<CrewEstimate.Result>(CrewEstimate.method, { ...params });
          if (opts.estimate) return printEstimate(ctx, estimate);
          await approve(ctx, estimate, opts.approveOver!, opts.yes === true);
        }
        if (opts.stream) params.stream = true;
        if (!opts.save) params.saveResult = false;
        if (opts.tellRemaining) params.tellRemaining = true;
        const run = await runWithProgress(ctx, client, params);
        printRun(ctx, run, { streamed: opts.stream === true });
        if (run.status !== 'completed')
          throw new QuietFailure(`run ${run.id} ${describeStatus(run)}`, STATUS_EXIT[run.status]);
      }),
    );

  const runs = program
    .command('runs')
    .description('past crew runs, newest first')
    .option('--crew <crew>', 'only this crew (id or name)')
    .addOption(
      new Option('--status <status>', 'only runs with this status').choices([
        'running',
        'completed',
        'failed',
        'cancelled',
        'budget_exceeded',
      ]),
    )
    .option('--limit <n>', 'how many (default 20)', positiveInt)
    .addHelpText('after', example('crew runs --crew launch --status completed', 'crew runs show run_4f1c…'))
    .action(
      withContext(async (ctx, opts: { crew?: string; status?: RunStatus; limit?: number }) => {
        const params: CrewRuns.Params = {};
        if (opts.crew) params.crew = opts.crew;
        if (opts.status) params.status = opts.status;
        if (opts.limit) params.limit = opts.limit;
        const client = await ctx.connect();
        const res = await client.request<CrewRuns.Result>(CrewRuns.method, params);
        ctx.out.records(res, runColumns(ctx), res.runs, {
          empty: 'no runs yet: start one with crew run <crew> <task>',
        });
        if (ctx.out.human && res.total > res.runs.length)
          ctx.out.note(`${res.runs.length} of ${res.total} runs; --limit shows more`);
      }),
    );

  runs
    .command('show')
    .description('one run: its steps, what each cost, and the result')
    .argument('<runId>', 'the run id (crew runs lists them)')
    .addHelpText('after', example('crew runs show run_4f1c2a9e-…', 'crew runs show run_4f1c2a9e-… --json'))
    .action(
      withContext(async (ctx, runId: string) => {
        const client = await ctx.connect();
        const res = await client.request<CrewRuns.Result>(CrewRuns.method, { runId });
        printRun(ctx, res.runs[0]!, { streamed: false });
      }),
    );

  runs
    .command('cancel')
    .description('cancel a run in progress (its in-flight call is aborted and its reservation released)')
    .argument('<runId>', 'the run id')
    .addHelpText('after', example('crew runs cancel run_4f1c2a9e-…'))
    .action(
      withContext(async (ctx, runId: string) => {
        const client = await ctx.connect();
        const res = await client.request<CrewCancelRun.Result>(CrewCancelRun.method, { runId });
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.line(res.cancelled ? `cancelled ${runId}` : `${runId} had already ended (${res.status})`);
      }),
    );
}

let tokens = 0;

/** Sends crew/run, showing progress on stderr (and streamed text on stdout); Ctrl-C cancels the run. */
async function runWithProgress(ctx: Context, client: CrewClient, params: CrewRun.Params): Promise<Run> {
  const out = ctx.out;
  const token = `run-${process.pid}-${++tokens}`;
  let runId: string | null = null;
  let clearStatus = () => {};
  const status = (text: string) => {
    clearStatus();
    clearStatus = out.progress(text);
  };
  let streamingStep: number | null = null;
  const unsubscribe = onProgress(client, token, (value) => {
    const p = value as RunProgress;
    runId = p.runId;
    if (!out.human) return;
    const totals = `${count(p.tokens)} tokens · ${money(p.costUsd)}`;
    if (p.event === 'step-started') status(`${p.agent}… (${totals})`);
    else if (p.event === 'delta' && p.text) {
      if (streamingStep !== p.step) {
        clearStatus();
        out.line(`${streamingStep === null ? '' : '\n\n'}${out.c.bold(`── ${p.agent} ──`)}`);
        streamingStep = p.step;
      }
      out.write(p.text);
    } else if (p.event === 'delta') status(`${p.agent}… (${totals})`);
    else if (p.event === 'step-finished') {
      clearStatus();
      // Non-streamed runs get one line per step; streamed ones show the text instead.
      if (!params.stream) {
        const ended = stepEnding(p.stepStatus);
        out.note(
          ended
            ? out.ce.dim(`✗ step ${p.step! + 1} ${p.agent} ${ended} · ${totals} so far`)
            : out.ce.dim(`✓ step ${p.step! + 1} ${p.agent} · ${totals} so far`),
        );
      }
    }
  });
  const cancel = new CancellationTokenSource();
  const onSigint = () => {
    // Cancel the run by id (the server answers with the run as cancelled); before it started, the request.
    if (runId) void client.request(CrewCancelRun.method, { runId }).catch(() => cancel.cancel());
    else cancel.cancel();
  };
  process.on('SIGINT', onSigint);
  try {
    return await client.request<Run>(CrewRun.method, { ...params, progressToken: token }, cancel);
  } finally {
    clearStatus();
    if (streamingStep !== null) out.line();
    process.off('SIGINT', onSigint);
    unsubscribe();
    cancel.dispose();
  }
}

/** A ceiling: an amount above 0 (a run that may spend nothing cannot make a call). */
function positiveUsd(value: string): number {
  const n = usd(value);
  if (n === 0) throw new InvalidArgumentError('expected an amount in USD above 0, e.g. 0.05');
  return n;
}

/** Goes on when the figure is within `limit`, or the user says yes on a terminal (or passed --yes); else throws. */
async function approve(ctx: Context, e: CrewEstimate.Result, limit: number, yes: boolean): Promise<void> {
  const f = approvalFigure(e);
  if (f.usd <= limit || yes) return;
  const why = `the run's ${f.what} ${money(f.usd)} is above --approve-over ${money(limit)}`;
  if (process.stdin.isTTY !== true)
    throw new QuietFailure(
      `not run: ${why} (stdin is not a terminal); pass --yes to run anyway`,
      ExitCode.BudgetRefused,
    );
  printEstimate(ctx, e, true);
  if (!(await confirm(`${why}. Run anyway? [y/N] `))) throw new QuietFailure('not run', ExitCode.BudgetRefused);
}

const steps = (s: AgentEstimate['steps']) =>
  s.typical === s.high ? `${s.typical} (≤${s.max})` : `${s.typical}–${s.high} (≤${s.max})`;

const estimateColumns: Column<AgentEstimate>[] = [
  { key: 'agent', header: 'AGENT' },
  { key: 'role', header: 'ROLE' },
  { key: 'model', header: 'MODEL' },
  { key: 'steps', header: 'CALLS', align: 'right', text: (a) => steps(a.steps) },
  { key: 'historyCalls', header: 'HISTORY', align: 'right', text: (a) => count(a.historyCalls) },
  { key: 'typicalUsd', header: 'TYPICAL', align: 'right', text: (a) => money(a.typicalUsd) },
  { key: 'highUsd', header: 'HIGH', align: 'right', text: (a) => money(a.highUsd) },
  { key: 'worstCaseUsd', header: 'WORST', align: 'right', text: (a) => money(a.worstCaseUsd) },
];

/** The estimate: a table of agents and the run's figures; on stderr when it only precedes a question. */
function printEstimate(ctx: Context, e: CrewEstimate.Result, toStderr = false): void {
  const out = ctx.out;
  if (out.json && !toStderr) return out.printJson(e);
  const say = (line: string) => (toStderr ? out.note(line) : out.line(line));
  if (!toStderr) {
    if (out.format === 'list') out.list(estimateColumns, e.agents);
    else out.table(estimateColumns, e.agents);
    out.line();
  }
  const calls = e.agents.reduce((n, a) => n + a.historyCalls, 0);
  const basis =
    e.process === 'manager'
      ? `${counted(e.historyRuns, 'earlier manager run')} and ${counted(calls, 'earlier call')}`
      : counted(calls, 'earlier call');
  say(`Estimate for ${e.crew} (${e.process}, from ${basis}):`);
  say(`  typical     ${money(e.typicalUsd)}`);
  say(`  high        ${money(e.highUsd)}`);
  say(`  worst case  ${money(e.worstCaseUsd)}`);
  if (e.maxCostUsd !== null) say(`  ceiling     ${money(e.maxCostUsd)} (the run stops before passing it)`);
  for (const n of e.notes) say(out.ce.dim(`  · ${n}`));
}

function describeStatus(run: Run): string {
  switch (run.status) {
    case 'completed':
      return 'completed';
    case 'budget_exceeded':
      return isCeiling(run)
        ? `stopped at step ${run.steps.length} by its ${money(run.maxCostUsd)} ceiling: ${run.error?.message ?? ''}`
        : `stopped by a budget at step ${run.steps.length}: ${run.error?.message ?? ''}`;
    case 'cancelled':
      return `was cancelled after ${counted(run.steps.length, 'step')}`;
    case 'failed':
      return `failed at step ${run.steps.length}: ${run.error?.message ?? ''}`;
    default:
      return `is still ${run.status}`;
  }
}

export const stepColumns: Column<RunStep>[] = [
  { key: 'index', header: '#', align: 'right', text: (s) => String(s.index + 1) },
  { key: 'agent', header: 'AGENT' },
  { key: 'role', header: 'ROLE' },
  { key: 'model', header: 'MODEL' },
  { key: 'status', header: 'STATUS' },
  {
    key: 'tokens',
    header: 'TOKENS',
    align: 'right',
    text: (s) => `${count(s.usage.promptTokens)} → ${count(s.usage.completionTokens)}`,
  },
  { key: 'costUsd', header: 'COST', align: 'right', text: (s) => money(s.costUsd) + (s.costEstimated ? '*' : '') },
];

function statusPaint(c: Colors, status: RunStatus) {
  return status === 'completed' ? c.green : status === 'running' ? c.dim : status === 'cancelled' ? c.yellow : c.red;
}

function runColumns(ctx: Context): Column<Run>[] {
  const full = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'RUN', text: (r) => (full ? r.id : r.id.slice(0, 12)) },
    { key: 'crew', header: 'CREW' },
    { key: 'process', header: 'PROCESS' },
    { key: 'status', header: 'STATUS', paint: (r, c) => statusPaint(c, r.status) },
    { key: 'steps', header: 'STEPS', align: 'right', text: (r) => String(r.steps.length) },
    { key: 'costUsd', header: 'COST', align: 'right', text: (r) => money(r.costUsd) },
    { key: 'startedAt', header: 'STARTED', text: (r) => when(r.startedAt) },
    { key: 'task', header: 'TASK', text: (r) => (r.task.length > 48 ? `${r.task.slice(0, 47)}…` : r.task) },
  ];
}

/** The run's fields, its steps as a table, then the result; --json prints it whole with `runId`. */
function printRun(ctx: Context, run: Run, opts: { streamed: boolean }): void {
  const out = ctx.out;
  if (out.json) return out.printJson({ runId: run.id, ...run });
  if (opts.streamed && run.status === 'completed' && out.human) {
    // The text was on screen already; the summary goes to stderr so stdout stays the generated text.
    out.note(out.ce.dim(summaryLine(run)));
    if (run.process === 'manager' && run.output !== null) out.line(`${out.c.bold('── result ──')}\n${run.output}`);
    return;
  }
  out.record(run, [
    ['run', run.id],
    ['crew', run.crew],
    ['task', run.task],
    ['process', run.process],
    ['status', statusPaint(out.c, run.status)(run.status)],
    ['cost', `${money(run.costUsd)} (${count(run.usage.promptTokens)} → ${count(run.usage.completionTokens)} tokens)`],
    ['ceiling', run.maxCostUsd ? money(run.maxCostUsd) : '—'],
    ['started', when(run.startedAt, true)],
    ['finished', when(run.finishedAt, true)],
    ['memory', run.memoryId ?? '—'],
  ]);
  out.line();
  if (out.format === 'list') out.list(stepColumns, run.steps);
  else out.table(stepColumns, run.steps);
  if (run.output !== null) {
    out.line();
    out.line(out.c.bold('Result'));
    out.line(run.output);
  }
}

/** Whether the run's own ceiling stopped it (the refusal names scope `run:<id>`). */
const isCeiling = (run: Run) => (run.error?.data as { scope?: string } | null)?.scope === `run:${run.id}`;

function summaryLine(run: Run): string {
  return `run ${run.id} · ${counted(run.steps.length, 'step')} · ${count(run.usage.promptTokens)} → ${count(run.usage.completionTokens)} tokens · ${money(run.costUsd)}`;
}

/** How a step that did not complete ended, in words (undefined for a completed one). */
function stepEnding(status: RunProgress['stepStatus']): string | undefined {
  if (status === 'budget_exceeded') return 'was refused by a budget';
  if (status === 'cancelled') return 'was cancelled';
  if (status === 'error') return 'failed';
  return undefined;
}
