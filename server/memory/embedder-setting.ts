/** The `embedder` setting (`local` | `hash` | `openrouter:<model>`) as a registry config, and the id it will give. */
import { errors } from '../errors';
import { hashEmbedderId } from './embeddings/hashing';
import { LOCAL_NEURAL_ID } from './embeddings/local-neural';
import { openRouterEmbedderId } from './embeddings/openrouter';
import type { EmbedderConfig } from './embeddings/registry';

export function parseEmbedderSetting(setting: string | undefined): EmbedderConfig {
  const s = (setting ?? 'local').trim();
  if (s === 'local') return { kind: 'local' };
  if (s === 'hash') return { kind: 'hash' };
  if (s.startsWith('openrouter:') && s.length > 'openrouter:'.length) return { kind: 'openrouter', model: s.slice(11) };
  throw errors.invalidParams(`embedder: "${s}" is not one of local, hash, openrouter:<model>`, {
    field: 'embedder',
    issues: [{ field: 'embedder', message: 'expected local, hash or openrouter:<model>' }],
  });
}

/** The id the configured embedder will have if it loads (the index is built for it before any model loads). */
export function expectedEmbedderId(config: EmbedderConfig): string {
  switch (config.kind) {
    case 'local':
      return LOCAL_NEURAL_ID;
    case 'hash':
      return hashEmbedderId(config.dimensions);
    case 'openrouter':
      return openRouterEmbedderId(config.model ?? '');
  }
}
