import { z } from 'zod';

/** A durable consumer of the event stream, as JetStream reports it now. */
export const consumerFiguresSchema = z.object({
  name: z.string(),
  /** Matching messages not delivered yet: the backlog. */
  pending: z.number().int().nonnegative(),
  /** Delivered and not acknowledged yet: in progress, or waiting to be redelivered. */
  ack_pending: z.number().int().nonnegative(),
  redelivered: z.number().int().nonnegative(),
  /** Pull requests waiting for messages: idle pullers. */
  waiting: z.number().int().nonnegative(),
  delivered_stream_seq: z.number().int().nonnegative(),
  ack_floor_stream_seq: z.number().int().nonnegative(),
  filter_subject: z.string().nullable(),
});
export type ConsumerFigures = z.infer<typeof consumerFiguresSchema>;

export const jetStreamFiguresSchema = z.object({
  stream: z.object({
    name: z.string(),
    messages: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    first_seq: z.number().int().nonnegative(),
    last_seq: z.number().int().nonnegative(),
    consumer_count: z.number().int().nonnegative(),
  }),
  consumers: z.array(consumerFiguresSchema),
});
export type JetStreamFigures = z.infer<typeof jetStreamFiguresSchema>;

/** `GET /v1/system`: the stream, its consumers and how far behind the read model is. */
export const systemViewSchema = jetStreamFiguresSchema.extend({
  projector: z.object({
    /** The last stream sequence the read model reflects; null when the jobs service did not answer. */
    checkpoint: z.number().int().nonnegative().nullable(),
    /** Stream last sequence minus the checkpoint: events not yet in the read model. */
    lag: z.number().int().nonnegative().nullable(),
    /** Why the checkpoint is unknown, when it is. */
    error: z.string().nullable(),
  }),
  observed_at: z.string(),
});
export type SystemView = z.infer<typeof systemViewSchema>;
