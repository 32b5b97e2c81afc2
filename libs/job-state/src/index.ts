export * from './job-state.js';
export * from './history.js';
export * from './job-change.js';
export * from './work-phase.js';
export * from './deletion.js';
