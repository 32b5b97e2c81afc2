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

/** How many parked events `GET /v1/system` lists (the most recent ones). */
export const PARKED_EVENTS_SHOWN = 20;

/**
 * An event the projector parked: the read model could not take its row (PostgreSQL refused it with a
 * data error, or folding it threw), so the projection went on without it. `replay --verify` reports
 * the job; a release that can write it re-projects it (a projection-version upgrade rebuilds from seq 1).
 */
export const parkedEventViewSchema = z.object({
  seq: z.number().int().positive(),
  job_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  event_version: z.number().int(),
  /** A PostgreSQL SQLSTATE (`22P02`, `22008`, `23502`, `54000`...), or EVOLVE_FAILED / ROW_MAPPING_FAILED. */
  error_code: z.string(),
  error_message: z.string(),
  parked_at: z.string(),
});
export type ParkedEventView = z.infer<typeof parkedEventViewSchema>;

export const parkedEventsViewSchema = z.object({
  count: z.number().int().nonnegative(),
  /** The most recent ones, highest sequence first, at most PARKED_EVENTS_SHOWN. */
  recent: z.array(parkedEventViewSchema),
});
export type ParkedEventsView = z.infer<typeof parkedEventsViewSchema>;

/** `GET /v1/system`: the stream, its consumers and how far behind the read model is. */
export const systemViewSchema = jetStreamFiguresSchema.extend({
  projector: z.object({
    /** The last stream sequence the read model reflects; null when the jobs service did not answer. */
    checkpoint: z.number().int().nonnegative().nullable(),
    /** Stream last sequence minus the checkpoint: events not yet in the read model. */
    lag: z.number().int().nonnegative().nullable(),
    /** Why the checkpoint is unknown, when it is. */
    error: z.string().nullable(),
    /** Events the read model goes on without; null when the jobs service did not answer. */
    parked: parkedEventsViewSchema.nullable(),
  }),
  observed_at: z.string(),
});
export type SystemView = z.infer<typeof systemViewSchema>;
