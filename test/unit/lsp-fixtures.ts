/**
 * Shared by the language-server unit tests: the real ModelCatalog over the fake OpenRouter's catalog (from an
 * in-memory cache, no network), the index built from it, and realistic documents that mention model ids.
 */
import type { ModelInfo } from '../../protocol';
import type { Clock } from '../../server/clock';
import { silentLogger } from '../../server/log';
import { ModelCatalog } from '../../server/models/catalog';
import type { OpenRouterClient } from '../../server/openrouter/client';
import { ModelIndex } from '../../server/lsp/model-index';
import { CHAT_MODELS } from '../fixtures/fake-openrouter';

export async function fakeCatalog(clock: Clock): Promise<{ catalog: ModelCatalog; index: ModelIndex }> {
  const repo = {
    load: async () => ({ fetchedAt: new Date(clock.now()).toISOString(), models: [...CHAT_MODELS] as unknown[] }),
    save: async () => undefined,
  };
  const upstream = { listModels: async () => [...CHAT_MODELS] } as unknown as OpenRouterClient;
  const catalog = new ModelCatalog(repo, upstream, clock, silentLogger);
  const list = await catalog.list();
  return { catalog, index: new ModelIndex(list.models, list.fetchedAt, (id, n) => catalog.suggest(id, n)) };
}

/** A crew config as a team would keep it in the repository. */
export const CREW_JSON = `{
  "name": "research-crew",
  "main": "src/index.ts",
  "homepage": "https://openrouter.ai/docs/quickstart",
  "headers": { "Content-Type": "application/json" },
  "eslintConfig": { "rules": { "react/jsx-key": "error", "import/no-unresolved": "off" } },
  "agents": [
    { "name": "researcher", "model": "openai/gpt-4o-mini" },
    { "name": "critic", "model": "openai/gpt-4o-mino" },
    { "name": "legacy", "model": "openai/gpt-3.5-turbo-0613" },
    { "name": "writer", "model": "anthropc/claude-sonnet-4" },
    { "name": "fast", "model": "openai/gpt-4o:nitro" },
    { "name": "free", "model": "meta-llama/llama-3.3-70b-instruct:free" }
  ],
  "paths": ["a/b/c", "docs/guide", "./lib/util.js", "reports/weekly.md"],
  "released": "12/2024"
}
`;

export const CREW_YAML = `# crew.yaml
crew: support
default_model: "google/gemini-2.5-flash"
agents:
  - name: triage
    model: 'deepseek/deepseek-chat'
  - name: escalation
    model: "anthropic/claude-opus-4"
output_dir: "build/reports"
image: "library/node"
content_type: 'text/markdown'
`;

export const AGENT_TS = `import OpenAI from 'openai';
import { helpers } from './helpers/index.js';
import type { Agent } from '@crew/types';

const MODEL = 'openai/gpt-4o';
const BASE_URL = 'https://openrouter.ai/api/v1';
const config = await import("./config/agents.json");

export async function ask(client: OpenAI, provider: string, name: string) {
  const reply = await client.chat.completions.create({
    model: \`anthropic/claude-sonnet-4\`,
    messages: [{ role: 'user', content: "it's fine, don't/won't" }],
  });
  const dynamic = \`\${provider}/\${name}\`;
  return fetch(\`\${BASE_URL}/models\`, { headers: { accept: "application/json" } });
}
`;

export const AGENT_PY = `import os
from openai import OpenAI

MODEL = os.getenv("CREW_MODEL", "mistralai/mistral-small")
client = OpenAI(base_url="https://openrouter.ai/api/v1", api_key=os.environ["OPENROUTER_API_KEY"])

def ask(provider: str, name: str) -> str:
    reply = client.chat.completions.create(model=f"openai/gpt-4o-mini", messages=[])
    fallback = r'perplexity/sonar'
    path = open("data/input.csv").read()
    print(f"{provider}/{name}")
    return reply.choices[0].message.content
`;

export function model(index: ModelIndex, id: string): ModelInfo {
  const m = index.get(id);
  if (!m) throw new Error(`${id} is not in the fake catalog`);
  return m;
}
