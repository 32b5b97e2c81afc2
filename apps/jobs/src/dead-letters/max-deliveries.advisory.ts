import { z } from 'zod';

/**
 * What nats-server publishes on `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`
 * when a message has been delivered max_deliver times and would be delivered again (checked
 * against nats-server 2.9.10). Only the fields Framewire uses are required.
 */
export const maxDeliveriesAdvisorySchema = z.object({
  type: z.literal('io.nats.jetstream.advisory.v1.max_deliver'),
  /** Unique per advisory: the dead letter's event id derives from it. */
  id: z.string().min(1).max(128),
  timestamp: z.string(),
  stream: z.string().min(1),
  consumer: z.string().min(1),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().positive(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof maxDeliveriesAdvisorySchema>;
