/** Worst-case and fallback cost arithmetic, all in exact picodollars. */
import type { ChatMessage, ModelInfo } from '../../protocol';
import { priceTimes, toPico } from './money';

/**
 * Prompt tokens, erring high: a token never covers less than one byte in the tokenizers OpenRouter's models
 * use, so UTF-8 bytes bound the count; plus a few tokens of framing per message.
 */
export function estimatePromptTokens(messages: ChatMessage[]): number {
  let n = 3;
  for (const m of messages)
    n +=
      Buffer.byteLength(m.content, 'utf8') + Buffer.byteLength(m.role) + (m.name ? Buffer.byteLength(m.name) : 0) + 4;
  return n;
}

/** Input tokens of an embedding call, erring high the same way: every UTF-8 byte a token, at least one per input. */
export function estimateEmbeddingTokens(input: readonly string[]): number {
  let n = 0;
  for (const t of input) n += Math.max(1, Buffer.byteLength(t, 'utf8'));
  return n;
}

/** The most a call can cost: every prompt byte a token, every allowed completion token used. */
export function worstCaseCost(model: ModelInfo, promptTokens: number, maxTokens: number): bigint {
  return (
    BigInt(priceTimes(model.pricing.prompt, promptTokens)) +
    BigInt(priceTimes(model.pricing.completion, maxTokens)) +
    BigInt(model.pricing.request ? toPico(model.pricing.request) : 0)
  );
}

/** What a call cost by the catalog's prices, for responses without `usage.cost` (marked estimated). */
export function costFromPricing(
  model: ModelInfo,
  promptTokens: number,
  completionTokens: number,
  cachedTokens = 0,
): number {
  const uncached = Math.max(0, promptTokens - cachedTokens);
  const cachedPrice = model.pricing.inputCacheRead ?? model.pricing.prompt;
  return (
    priceTimes(model.pricing.prompt, uncached) +
    priceTimes(cachedPrice, cachedTokens) +
    priceTimes(model.pricing.completion, completionTokens) +
    (model.pricing.request ? toPico(model.pricing.request) : 0)
  );
}

/** The completion budget to send and reserve when the caller gave none: the model's own ceiling. */
export function defaultMaxTokens(model: ModelInfo, promptTokens: number): number {
  if (model.maxCompletionTokens) return model.maxCompletionTokens;
  const ctx = model.contextLength ?? 8192;
  return Math.max(1, ctx - promptTokens);
}
