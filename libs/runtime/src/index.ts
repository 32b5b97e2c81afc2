export * from './clock.js';
export * from './ids.js';
export * from './shutdown.js';
export * from './abort-link.js';
export * from './retry-loop.js';
