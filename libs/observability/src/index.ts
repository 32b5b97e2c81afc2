export * from './logger.js';
export * from './correlation.js';
export * from './metrics.js';
export * from './health.js';
export * from './ops-server.js';
export * from './ops-listener.js';
export * from './tracing.js';
export * from './tracing-testing.js';
