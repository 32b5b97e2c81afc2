export * from './rpc-server.js';
export * from './rpc-correlation.js';
