export * from './job-state.js';
export * from './job-change.js';
