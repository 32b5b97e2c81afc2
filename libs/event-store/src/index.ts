export * from './nats-connection.js';
export * from './stream-setup.js';
export * from './event-store.js';
export * from './blob-store.js';
export * from './event-store.module.js';
export * from './rpc-server.js';
export * from './nats-availability.js';
