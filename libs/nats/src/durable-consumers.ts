import type { JobPriority } from '@app/contracts';

/**
 * The durable consumers of the event stream, named here because the NATS permissions name them: each
 * service may create, change, pull from and ack only its own (see nats-permissions.ts).
 */

/**
 * The durable pull consumers shared by every worker process, one per priority (JetStream's work-queue
 * group, three times), each filtering the work subjects of its priority. Normal keeps the name the
 * single consumer had before priorities. The workers' NATS user may delete these, and only these, so
 * that a worker can make one again when its filter changed (see ensureDurableConsumer).
 */
export const WORK_CONSUMERS: Readonly<Record<JobPriority, string>> = { high: 'workers-high', normal: 'workers', low: 'workers-low' };

/** The jobs service's projector: every event of the stream into the read model. */
export const PROJECTOR_CONSUMER = 'projector';

/** The jobs service's webhook fan-out: every lifecycle event into the deliveries it owes. */
export const WEBHOOK_CONSUMER = 'webhooks';
