export * from './blob-store.js';
export * from './blob-store.module.js';
