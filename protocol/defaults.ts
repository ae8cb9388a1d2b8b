/** Defaults every side must agree on. */
export const DEFAULT_OPENROUTER_BASE_URL = 'https://openrouter.ai/api/v1';
