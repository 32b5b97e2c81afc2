export * from './worker-registry.js';
export * from './worker-registry.module.js';
