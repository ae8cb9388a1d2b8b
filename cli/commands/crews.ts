/**
 * `crew crew create|list|show|delete|add-agent|remove-agent|token`. Crews are named groups of agents
 * (protocol/crews.ts); a `<crew>` argument is an id or the unique name, resolved by the server. Models are checked
 * by the server too: an unknown one fails with its message, which names close matches (exit 1).
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  CrewCreate,
  CrewDelete,
  CrewGet,
  CrewList,
  CrewToken,
  CrewUpdate,
  ErrorCodes,
  ServerInfo,
  type Agent,
  type AgentBudget,
  type AgentInput,
  type Crew,
} from '../../protocol';
import { ClientError } from '../client/connection';
import { withContext, type Context } from '../context';
import { QuietFailure, UsageError } from '../errors';
import { money, when, type Column } from '../output';
import { positiveInt } from '../parse';
import { confirm } from './memory';
import { example } from './help';

/** `crew_` and the first 8 characters of the uuid (the first 8 of the id alone would be `crew_` + 3). */
const shortId = (id: string) => id.replace(/^(crew_)?(.{8}).*$/, '$1$2');
const PERIODS: readonly AgentBudget['period'][] = ['daily', 'weekly', 'monthly', 'total'];

/** `0..2`. */
export function temperature(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 2)
    throw new InvalidArgumentError('expected a number from 0 to 2');
  return n;
}

/** `<usd>/<period>`, e.g. `5/daily` or `$0.50/total`. */
export function agentBudget(value: string): AgentBudget {
  const m = /^\s*\$?(\d+(?:\.\d+)?|\.\d+)\s*\/\s*([a-z]+)\s*$/i.exec(value);
  const period = m?.[2]?.toLowerCase() as AgentBudget['period'] | undefined;
  if (!m || !period || !PERIODS.includes(period))
    throw new InvalidArgumentError(`expected <usd>/<period> with period ${PERIODS.join('|')}, e.g. 5/daily`);
  return { limitUsd: Number(m[1]), period };
}

const TOKEN_ACTIONS = { rotate: 'rotate', revoke: 'revoke', status: 'show' } as const;

const budgetText = (b: AgentBudget | null) => (b ? `${money(b.limitUsd)}/${b.period}` : '—');

function crewColumns(ctx: Context): Column<Crew>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (c) => (list ? c.id : shortId(c.id)) },
    { key: 'name', header: 'NAME' },
    { key: 'agents', header: 'AGENTS', align: 'right', text: (c) => String(c.agents.length) },
    {
      key: 'models',
      header: 'MODELS',
      text: (c) => [...new Set(c.agents.map((a) => a.model))].join(', ') || '—',
    },
  ];
}

const agentColumns: Column<Agent>[] = [
  { key: 'name', header: 'NAME' },
  { key: 'role', header: 'ROLE', text: (a) => a.role || '—' },
  { key: 'model', header: 'MODEL' },
  { key: 'temperature', header: 'TEMPERATURE', align: 'right' },
  { key: 'maxTokens', header: 'MAX TOKENS', align: 'right' },
  { key: 'budget', header: 'BUDGET', text: (a) => budgetText(a.budget) },
];

/** The crew's fields, then its agents as a table (or `key: value` blocks with --format list). */
function printCrew(ctx: Context, crew: Crew): void {
  if (ctx.out.json) return ctx.out.printJson(crew);
  ctx.out.record(crew, [
    ['id', crew.id],
    ['name', crew.name],
    ['description', crew.description || '—'],
    ['agents', String(crew.agents.length)],
    ['created', when(crew.createdAt)],
    ['updated', when(crew.updatedAt)],
  ]);
  ctx.out.line();
  if (crew.agents.length === 0) {
    ctx.out.note(`no agents yet; add one with: crew crew add-agent ${crew.name} --name writer --model <id>`);
    return;
  }
  if (ctx.out.format === 'list') ctx.out.list(agentColumns, crew.agents);
  else ctx.out.table(agentColumns, crew.agents);
}

interface AddAgentOptions {
  name: string;
  role: string;
  model: string;
  systemPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  budget?: AgentBudget;
}

export function registerCrews(program: Command): void {
  const crew = program
    .command('crew')
    .description('create, inspect and delete crews (named groups of agents) and their agents')
    .addHelpText('after', example('crew crew list', 'crew crew show launch'));

  crew
    .command('create')
    .description('create an empty crew (add agents with add-agent)')
    .argument('<name>', 'unique name (case-insensitive)')
    .option('--description <text>', 'what the crew is for')
    .addHelpText('after', example('crew crew create launch --description "writes the launch post"'))
    .action(
      withContext(async (ctx, name: string, opts: { description?: string }) => {
        const client = await ctx.connect();
        const params: CrewCreate.Params = { name };
        if (opts.description !== undefined) params.description = opts.description;
        const res = await client.request<CrewCreate.Result>(CrewCreate.method, params);
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.line(`created crew ${res.name} (${res.id})`);
      }),
    );

  crew
    .command('list')
    .description('every crew: id, name, number of agents and the models they use')
    .addHelpText('after', example('crew crew list', 'crew crew list --json'))
    .action(
      withContext(async (ctx) => {
        const client = await ctx.connect();
        const res = await client.request<CrewList.Result>(CrewList.method, {});
        ctx.out.records(res, crewColumns(ctx), res.crews, {
          empty: 'no crews yet; create one with: crew crew create <name>',
        });
      }),
    );

  crew
    .command('show')
    .description("a crew's fields and its agents (name, role, model, temperature, max tokens, budget)")
    .argument('<crew>', 'crew id or name')
    .addHelpText('after', example('crew crew show launch'))
    .action(
      withContext(async (ctx, crewArg: string) => {
        const client = await ctx.connect();
        const res = await client.request<CrewGet.Result>(CrewGet.method, { crew: crewArg } satisfies CrewGet.Params);
        printCrew(ctx, res);
      }),
    );

  crew
    .command('delete')
    .description('delete a crew and its agents (asks first on a terminal; --force to skip, required in scripts)')
    .argument('<crew>', 'crew id or name')
    .option('--force', 'delete without asking')
    .addHelpText('after', example('crew crew delete launch', 'crew crew delete --force launch'))
    .action(
      withContext(async (ctx, crewArg: string, opts: { force?: boolean }) => {
        const ask = !opts.force;
        if (ask && process.stdin.isTTY !== true)
          throw new UsageError(
            `refusing to delete crew ${crewArg} without confirmation (stdin is not a terminal); pass --force`,
          );
        const client = await ctx.connect();
        let target = crewArg;
        if (ask) {
          // Show what would go (this also fails on an unknown crew before anything is asked).
          const c = await client.request<CrewGet.Result>(CrewGet.method, { crew: crewArg });
          ctx.out.note(`  ${shortId(c.id)}  ${c.name}  ${c.agents.length} agent${c.agents.length === 1 ? '' : 's'}`);
          if (!(await confirm(`Delete crew ${c.name}? [y/N] `))) throw new QuietFailure('nothing deleted');
          target = c.id;
        }
        const res = await client.request<CrewDelete.Result>(CrewDelete.method, {
          crew: target,
        } satisfies CrewDelete.Params);
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.line(`deleted crew ${res.name} (${res.id})`);
      }),
    );

  crew
    .command('add-agent')
    .description('add an agent to a crew (its model is checked against the catalog)')
    .argument('<crew>', 'crew id or name')
    .requiredOption('--name <name>', 'agent name, unique within the crew')
    .requiredOption('--role <role>', 'what the agent does')
    .requiredOption('--model <id>', 'model id, e.g. openai/gpt-4o-mini')
    .option('--system-prompt <text>', 'the system prompt')
    .option('--temperature <t>', 'sampling temperature 0..2 (default: the model default)', temperature)
    .option('--max-tokens <n>', 'max output tokens (default: the model default)', positiveInt)
    .option('--budget <usd>/<period>', 'spending limit, period daily|weekly|monthly|total, e.g. 5/daily', agentBudget)
    .addHelpText(
      'after',
      example(
        'crew crew add-agent launch --name writer --role "drafts the post" --model openai/gpt-4o-mini --temperature 0.3 --budget 2/daily',
      ),
    )
    .action(
      withContext(async (ctx, crewArg: string, opts: AddAgentOptions) => {
        const agent: AgentInput = { name: opts.name, role: opts.role, model: opts.model };
        if (opts.systemPrompt !== undefined) agent.systemPrompt = opts.systemPrompt;
        if (opts.temperature !== undefined) agent.temperature = opts.temperature;
        if (opts.maxTokens !== undefined) agent.maxTokens = opts.maxTokens;
        if (opts.budget !== undefined) agent.budget = opts.budget;
        const client = await ctx.connect();
        const res = await client.request<CrewUpdate.Result>(CrewUpdate.method, {
          crew: crewArg,
          addAgent: agent,
        } satisfies CrewUpdate.Params);
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.note(`added agent ${opts.name} to crew ${res.name}`);
        printCrew(ctx, res);
      }),
    );

  crew
    .command('remove-agent')
    .description('remove an agent from a crew')
    .argument('<crew>', 'crew id or name')
    .argument('<agentName>', 'the agent to remove')
    .addHelpText('after', example('crew crew remove-agent launch writer'))
    .action(
      withContext(async (ctx, crewArg: string, agentName: string) => {
        const client = await ctx.connect();
        const res = await client.request<CrewUpdate.Result>(CrewUpdate.method, {
          crew: crewArg,
          removeAgent: agentName,
        } satisfies CrewUpdate.Params);
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.note(`removed agent ${agentName} from crew ${res.name}`);
        printCrew(ctx, res);
      }),
    );
  crew
    .command('token')
    .description(
      "the crew's own API key for the OpenAI-compatible gateway: its calls are attributed to the crew, and it opens " +
        'nothing else. Issues one if the crew has none (printed once: only its hash is kept)',
    )
    .argument('<crew>', 'crew id or name')
    .option('--rotate', 'issue a new token; the old one stops working at once')
    .option('--revoke', 'delete the token; calls made with it are refused from now on')
    .option('--status', 'only say whether the crew has a token, and since when')
    .addHelpText(
      'after',
      example(
        'crew crew token launch',
        'OPENAI_API_KEY=$(crew crew token launch --rotate) OPENAI_BASE_URL=http://127.0.0.1:<port>/v1 my-agent',
        'crew crew token launch --revoke',
      ),
    )
    .action(
      withContext(async (ctx, crewArg: string, opts: { rotate?: boolean; revoke?: boolean; status?: boolean }) => {
        const chosen = (['rotate', 'revoke', 'status'] as const).filter((k) => opts[k]);
        if (chosen.length > 1)
          throw new UsageError(`choose one of ${chosen.map((k) => `--${k}`).join(', ')}, not several`);
        const action: CrewToken.Action = chosen[0] ? TOKEN_ACTIONS[chosen[0]] : 'create';
        const client = await ctx.connect();
        const ask = (a: CrewToken.Action) =>
          client.request<CrewToken.Result>(CrewToken.method, { crew: crewArg, action: a } satisfies CrewToken.Params);
        let res: CrewToken.Result;
        try {
          res = await ask(action);
        } catch (e) {
          // Asking for "the token" of a crew that has one is a question about it, not a failure.
          if (!(action === 'create' && e instanceof ClientError && e.code === ErrorCodes.Conflict)) throw e;
          res = await ask('show');
        }
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.token !== null) {
          const port = (await client.request<ServerInfo.Result>(ServerInfo.method)).httpPort;
          const base = `http://127.0.0.1:${port ?? '<port>'}/v1`;
          // The token alone on stdout, so `$(crew crew token …)` captures it; how to use it on stderr.
          ctx.out.line(res.token);
          ctx.out.note(
            `${action === 'rotate' ? 'new ' : ''}gateway token of crew ${res.crew}; it is shown only this once ` +
              `(only its hash is kept).\n` +
              `Use it as the API key of any OpenAI-compatible client, with base URL ${base}` +
              (port === null ? ' (the port is in: crew server status)' : '') +
              `.\nCalls are attributed to crew ${res.crew}; an X-Agent-Id header names the agent (${res.crew}/<agent>).`,
          );
          return;
        }
        if (action === 'revoke') {
          ctx.out.line(
            res.revoked
              ? `revoked the gateway token of crew ${res.crew}; calls made with it are refused from now on`
              : `crew ${res.crew} had no gateway token`,
          );
          return;
        }
        if (res.exists) {
          ctx.out.line(`crew ${res.crew} has a gateway token, created ${when(res.createdAt)}`);
          ctx.out.note(
            `it was shown once, when it was made; for a new one: crew crew token ${res.crew} --rotate ` +
              '(the old one stops working)',
          );
        } else {
          ctx.out.line(`crew ${res.crew} has no gateway token`);
          ctx.out.note(`issue one with: crew crew token ${res.crew}`);
        }
      }),
    );
}
