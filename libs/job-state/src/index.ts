export * from './job-state.js';
export * from './history.js';
