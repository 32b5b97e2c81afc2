export * from './stream-setup.js';
export * from './event-store.js';
export * from './event-store.module.js';
export { ConsumerFilterError } from './consumer-setup.js';
export * from './consume-loop.js';
export * from './work-queue/work-queue.js';
