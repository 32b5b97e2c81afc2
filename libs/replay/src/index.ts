export * from './job-history.js';
export * from './rebuild.js';
export * from './verify.js';
export * from './projection-upgrader.js';
export * from './stream-guard.js';
