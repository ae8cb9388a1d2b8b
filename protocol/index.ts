export * from './version';
export * from './errors';
export * from './types';
export * from './methods';
export * from './defaults';
export * from './analytics';
export * from './archive';
export * from './forecast';
