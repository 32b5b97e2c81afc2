export * from './stream-setup.js';
export * from './event-store.js';
export * from './event-store.module.js';
export * from './consumer-setup.js';
export * from './jetstream-figures.js';
