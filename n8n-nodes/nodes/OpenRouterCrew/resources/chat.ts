import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { ChatComplete } from '../../shared/protocol.generated';
import type { ChatMessage, ChatRole } from '../../shared/protocol.generated';
import { collection, compact, requiredString, splitList } from '../../shared/params';
import { item, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['chat'], operation } });

export const chatDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['chat'] } },
    options: [
      {
        name: 'Complete',
        value: 'complete',
        description: 'One call to a model through the budgets, recorded in the ledger with its real cost',
        action: 'Complete a chat',
      },
    ],
    default: 'complete',
  },
  {
    displayName: 'Model',
    name: 'model',
    type: 'string',
    required: true,
    default: 'openai/gpt-4o-mini',
    description: 'OpenRouter model ID',
    displayOptions: show(['complete']),
  },
  {
    displayName: 'Input',
    name: 'input',
    type: 'options',
    options: [
      {
        name: 'Message History',
        value: 'messages',
        description: 'A conversation so far: system, user and assistant messages in order',
      },
      { name: 'Prompt', value: 'prompt', description: 'One user message' },
    ],
    default: 'prompt',
    displayOptions: show(['complete']),
  },
  {
    displayName: 'Prompt',
    name: 'prompt',
    type: 'string',
    required: true,
    typeOptions: { rows: 4 },
    default: '',
    description: 'The user message',
    displayOptions: { show: { resource: ['chat'], operation: ['complete'], input: ['prompt'] } },
  },
  {
    displayName: 'Messages',
    name: 'messages',
    type: 'json',
    required: true,
    default: '[\n  { "role": "user", "content": "Hello" }\n]',
    description:
      'A JSON array of {"role": "system" | "user" | "assistant", "content": "…"}, oldest first, or an expression that gives one (a conversation an earlier node kept)',
    displayOptions: { show: { resource: ['chat'], operation: ['complete'], input: ['messages'] } },
  },
  {
    displayName: 'Options',
    name: 'chatOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['complete']),
    options: [
      {
        displayName: 'Agent',
        name: 'agent',
        type: 'string',
        default: '',
        description:
          'Agent the call is attributed to (its budgets apply); with a Crew, the crew agent &lt;crew&gt;/&lt;agent&gt;, as a crew run records it',
      },
      {
        displayName: 'Cache System Prompt',
        name: 'cacheSystemPrompt',
        type: 'boolean',
        default: false,
        description: 'Whether to mark the system prompt cacheable, for providers that need it marked',
      },
      {
        displayName: 'Crew',
        name: 'crew',
        type: 'string',
        default: '',
        description: 'Crew the call is attributed to (its budgets apply)',
      },
      {
        displayName: 'Fallback Models',
        name: 'fallbacks',
        type: 'string',
        default: '',
        placeholder: 'openai/gpt-4o-mini, google/gemini-2.5-flash',
        description:
          "Comma-separated model IDs OpenRouter tries in order when the model fails (at most 2): the budgets reserve the chain's largest worst case, and the output's model is the one that answered",
      },
      {
        displayName: 'Max Tokens',
        name: 'maxTokens',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 512,
        description: 'Longest reply; also what the budget reserves for it before the call',
      },
      {
        displayName: 'System Prompt',
        name: 'systemPrompt',
        type: 'string',
        typeOptions: { rows: 3 },
        default: '',
      },
      {
        displayName: 'Tags',
        name: 'tags',
        type: 'string',
        default: '',
        description: 'Comma-separated tags recorded with the call',
      },
      {
        displayName: 'Temperature',
        name: 'temperature',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 },
        default: 1,
      },
    ],
  },
];

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/** The Messages parameter as chat messages; a NodeOperationError says what is wrong with it and where. */
function history(ctx: IExecuteFunctions, itemIndex: number): ChatMessage[] {
  const raw = ctx.getNodeParameter('messages', itemIndex);
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new NodeOperationError(ctx.getNode(), `Messages is not JSON: ${(e as Error).message}`, { itemIndex });
    }
  }
  const fail = (why: string) =>
    new NodeOperationError(ctx.getNode(), `Messages: ${why}`, {
      itemIndex,
      description: 'Messages takes a JSON array of {"role": "system" | "user" | "assistant", "content": "…"}',
    });
  if (!Array.isArray(value) || value.length === 0) throw fail('expected a non-empty array of messages');
  return value.map((m: unknown, n) => {
    const { role, content, name } = (m ?? {}) as { role?: unknown; content?: unknown; name?: unknown };
    if (!ROLES.includes(role as ChatRole)) throw fail(`message ${n + 1} has role ${JSON.stringify(role)}`);
    if (typeof content !== 'string') throw fail(`message ${n + 1} has no text content`);
    const message: ChatMessage = { role: role as ChatRole, content };
    if (typeof name === 'string' && name) message.name = name;
    return message;
  });
}

export const chatOperations: Operations = {
  complete: operation<ChatComplete.Params, ChatComplete.Result>({
    method: ChatComplete.method,
    params(ctx, i) {
      const o = collection(ctx, 'chatOptions', i);
      const messages: ChatMessage[] = [];
      const system = typeof o.systemPrompt === 'string' ? o.systemPrompt.trim() : '';
      if (system) messages.push({ role: 'system', content: system });
      if (ctx.getNodeParameter('input', i, 'prompt') === 'messages') messages.push(...history(ctx, i));
      else messages.push({ role: 'user', content: ctx.getNodeParameter('prompt', i) as string });
      return compact<ChatComplete.Params>({
        model: requiredString(ctx, 'model', i),
        messages,
        crew: o.crew as string | undefined,
        agent: o.agent as string | undefined,
        tags: splitList(o.tags),
        models: splitList(o.fallbacks),
        maxTokens: o.maxTokens as number | undefined,
        temperature: o.temperature as number | undefined,
        cacheSystemPrompt: o.cacheSystemPrompt as boolean | undefined,
      });
    },
    output: (r) => item(r),
    timeoutMs: () => 5 * 60_000,
  }),
};
