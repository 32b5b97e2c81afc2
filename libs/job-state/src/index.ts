export * from './job-state.js';
export * from './history.js';
export * from './job-change.js';
export * from './decide.js';
