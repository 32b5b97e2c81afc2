export * from './nats-connection.js';
export * from './nats-availability.js';
export * from './nats-health.js';
export * from './nats-server-requirement.js';
export * from './nats-permissions.js';
export * from './durable-consumers.js';
export * from './jetstream-errors.js';
export * from './nats.module.js';
