export * from './api-key.entity.js';
export * from './key-store.js';
export * from './api-key.repository.js';
