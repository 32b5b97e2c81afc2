export * from './command-loop.js';
