export * from './build';
export * from './harness';
export * from './rpc';
export * from './server';
export * from './files';
