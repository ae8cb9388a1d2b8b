/**
 * `crew chat`: one prompt through the server's budget gate. With --stream the reply is printed as the
 * server's `$/progress` deltas arrive; the cost summary goes to stderr so stdout is just the reply. --fallback sends
 * OpenRouter's `models` chain (the server reserves it as a whole); the summary says when a fallback answered.
 */
import type { Command } from 'commander';
import { ChatComplete, ProgressNotification, type ChatMessage } from '../../protocol';
import { CancellationTokenSource, type CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { UsageError } from '../errors';
import { count, money, type Colors } from '../output';
import { collect, positiveInt } from '../parse';
import { example } from './help';

interface ChatOptions {
  model: string;
  fallback?: string[];
  crew?: string;
  agent?: string;
  maxTokens?: number;
  temperature?: string;
  system?: string;
  stream?: boolean;
  tag?: string[];
}

export function registerChat(program: Command): void {
  program
    .command('chat')
    .description('send a prompt to a model through the budget gate; its real cost lands in the ledger')
    .argument('<prompt...>', 'the prompt ("-" reads it from stdin)')
    .requiredOption('--model <id>', 'model id, e.g. openai/gpt-4o-mini')
    .option(
      '--fallback <ids>',
      'models OpenRouter tries in order when --model fails upstream (comma-separated or repeated; at most 2)',
      collect,
    )
    .option('--crew <id>', 'attribute the call to a crew')
    .option('--agent <name>', 'attribute the call to an agent (with --crew, the crew agent <crew>/<name>)')
    .option('--max-tokens <n>', 'completion token cap (also what the budget reserves)', positiveInt)
    .option('--temperature <t>', 'sampling temperature 0–2')
    .option('--system <text>', 'a system message before the prompt')
    .option('--stream', 'print the reply as it is generated')
    .option('--tag <tag>', 'label the call (repeatable)', collect)
    .addHelpText(
      'after',
      example(
        'crew chat --model openai/gpt-4o-mini --crew research --agent writer --max-tokens 200 --stream "Summarise RFC 9110"',
        'crew chat --model openai/gpt-4o-mini --fallback anthropic/claude-3.5-haiku --max-tokens 200 "Summarise RFC 9110"',
      ),
    )
    .action(
      withContext(async (ctx, words: string[], opts: ChatOptions) => {
        const prompt = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
        if (!prompt.trim()) throw new UsageError('the prompt is empty');
        const messages: ChatMessage[] = [];
        if (opts.system) messages.push({ role: 'system', content: opts.system });
        messages.push({ role: 'user', content: prompt });
        const params: ChatComplete.Params = { model: opts.model, messages };
        const fallbacks = (opts.fallback ?? []).flatMap((f) => f.split(',')).map((f) => f.trim());
        if (fallbacks.some((f) => f === '')) throw new UsageError('--fallback: a model id is empty');
        if (fallbacks.length) params.models = fallbacks;
        if (opts.crew) params.crew = opts.crew;
        if (opts.agent) params.agent = opts.agent;
        if (opts.maxTokens) params.maxTokens = opts.maxTokens;
        if (opts.tag?.length) params.tags = opts.tag;
        if (opts.temperature !== undefined) {
          const t = Number(opts.temperature);
          if (!Number.isFinite(t)) throw new UsageError(`--temperature: "${opts.temperature}" is not a number`);
          params.temperature = t;
        }
        const client = await ctx.connect();
        await runChat(ctx, client, params, { stream: opts.stream === true });
      }),
    );
}

/**
 * Sends chat/complete and prints it the way the CLI does (shared with `crew demo`). Ctrl-C cancels the
 * request, so the server releases the budget reservation instead of leaving it held.
 */
export async function runChat(
  ctx: Context,
  client: CrewClient,
  params: ChatComplete.Params,
  /** `indent` and `summaryOnStdout` are for the demo, whose narration is all on stdout. */
  opts: { stream: boolean; indent?: string; summaryOnStdout?: boolean },
): Promise<ChatComplete.Result> {
  const out = ctx.out;
  const indent = opts.indent ?? '';
  let streamed = false;
  let atLineStart = true;
  const request: ChatComplete.Params = { ...params };
  let unsubscribe = () => {};
  // Until the first word (or the whole answer) arrives, say what we are waiting for.
  const waiting = indent ? () => {} : out.progress(`waiting for ${params.model}…`);
  if (opts.stream) {
    request.stream = true;
    if (out.human) {
      const token = `chat-${process.pid}-${++tokens}`;
      request.progressToken = token;
      unsubscribe = onProgress(client, token, (value) => {
        const v = value as ChatComplete.Progress;
        if (v.kind !== 'delta' || !v.text) return;
        // Indent continuation lines too, so a streamed reply stays inside the demo's layout.
        let text = v.text;
        if (indent) text = (atLineStart ? indent : '') + text.replace(/\n(?=.)/g, `\n${indent}`);
        atLineStart = text.endsWith('\n');
        waiting();
        out.write(text);
        streamed = true;
      });
    }
  }
  const cancel = new CancellationTokenSource();
  const onSigint = () => cancel.cancel();
  process.once('SIGINT', onSigint);
  let res: ChatComplete.Result;
  try {
    res = await client.request<ChatComplete.Result>(ChatComplete.method, request, cancel);
  } finally {
    waiting();
    process.off('SIGINT', onSigint);
    unsubscribe();
    cancel.dispose();
  }
  if (out.json) {
    out.printJson(res);
    return res;
  }
  if (out.format === 'list') {
    out.record(res, [
      ['content', res.content],
      ['model', res.model],
      ['promptTokens', String(res.usage.promptTokens)],
      ['completionTokens', String(res.usage.completionTokens)],
      ['costUsd', money(res.costUsd)],
      ['costEstimated', String(res.costEstimated)],
      ['ledgerId', String(res.ledgerId)],
    ]);
    return res;
  }
  if (!streamed) out.line(indent + res.content.replace(/\n(?=.)/g, `\n${indent}`));
  else if (!atLineStart) out.line();
  if (opts.summaryOnStdout) out.line(indent + summary(res, out.c).replace(/\n/g, `\n${indent}`));
  else out.note(indent + summary(res, out.ce).replace(/\n/g, `\n${indent}`));
  return res;
}

/** `openai/gpt-4o-mini · 25 → 16 tokens · $0.0000134 · 412 ms`, plus downgrades and budget warnings. */
export function summary(res: ChatComplete.Result, c: Colors): string {
  const parts = [
    res.model,
    `${count(res.usage.promptTokens)} → ${count(res.usage.completionTokens)} tokens`,
    `${money(res.costUsd)}${res.costEstimated ? ' (estimated, reconciled later)' : ''}`,
    `${Math.round(res.latencyMs)} ms`,
  ];
  const lines = [c.dim(parts.join(' · '))];
  if (res.downgradedBy) lines.push(c.yellow(`downgraded from ${res.requestedModel} by budget ${res.downgradedBy}`));
  else if (res.model !== res.requestedModel)
    lines.push(c.yellow(`answered by fallback ${res.model} (${res.requestedModel} did not answer)`));
  for (const w of res.warnings) lines.push(c.yellow(`warning: ${w}`));
  return lines.join('\n');
}

let tokens = 0;
const sinks = new WeakMap<CrewClient, Map<string | number, (value: unknown) => void>>();

/** One `$/progress` handler per connection, routing each token's values to whoever asked for them. */
export function onProgress(client: CrewClient, token: string, sink: (value: unknown) => void): () => void {
  let map = sinks.get(client);
  if (!map) {
    const routes = new Map<string | number, (value: unknown) => void>();
    map = routes;
    sinks.set(client, routes);
    client.onNotification(ProgressNotification.method, (p) => {
      const { token: t, value } = p as ProgressNotification.Params;
      routes.get(t)?.(value);
    });
  }
  map.set(token, sink);
  return () => map.delete(token);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
