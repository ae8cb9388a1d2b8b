/** Memory search: the in-memory index behind `memory/search` and `memory/context`. See ./README.md. */
export { Bitset } from './bitset';
export { FacetIndex, type FacetFilter, type FacetMatch, type FacetValues } from './facets';
export { TextIndex, STOP_WORDS, type TextHit, type TextIndexOptions, type TextSearchOptions } from './text-index';
export { VectorIndex, type VectorHit, type VectorIndexOptions, type VectorTopKOptions } from './vector-index';
export * from './ranking';
export * from './context-pack';
