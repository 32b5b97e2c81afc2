import { z } from 'zod';
import { objectRefSchema } from '../events/event-meta.js';
import { artifactRefSchema, videoRefSchema } from '../events/job-events.js';
import { jobStatusSchema, jobViewSchema } from './job-view.js';

/**
 * Request/reply contracts between the gateway and the jobs service. Patterns are relative; the
 * subject on the wire is `<ns>.rpc.<pattern>` (see subjects.ts). Both ends validate what they receive.
 */
export const JobQuery = {
  Get: 'jobs.get',
  List: 'jobs.list',
  Events: 'jobs.events',
  /** Where the projector is: the stream sequence the read model reflects. */
  Projection: 'jobs.projection',
  Files: 'jobs.files',
} as const;

export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;
export const EVENTS_LIMIT_DEFAULT = 100;
export const EVENTS_LIMIT_MAX = 1000;

export const getJobRequestSchema = z.object({ job_id: z.uuid() });
export type GetJobRequest = z.infer<typeof getJobRequestSchema>;

export const listJobsRequestSchema = z.object({
  status: jobStatusSchema.optional(),
  pipeline: z.string().min(1).max(64).optional(),
  limit: z.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
});
export type ListJobsRequest = z.input<typeof listJobsRequestSchema>;

export const jobEventsRequestSchema = z.object({
  job_id: z.uuid(),
  after_seq: z.number().int().nonnegative().default(0),
  limit: z.number().int().min(1).max(EVENTS_LIMIT_MAX).default(EVENTS_LIMIT_DEFAULT),
});
export type JobEventsRequest = z.input<typeof jobEventsRequestSchema>;

/** One event as read from the stream, with where and when the stream stored it. */
export const storedEventViewSchema = z
  .object({
    seq: z.number().int().positive(),
    stored_at: z.string(),
    subject: z.string(),
    type: z.string(),
    version: z.number().int(),
    eventId: z.string(),
    jobId: z.string(),
    occurredAt: z.string(),
    correlationId: z.string(),
    causationId: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
  });
export type StoredEventView = z.infer<typeof storedEventViewSchema>;

const rpcErrorSchema = z.object({ code: z.string(), message: z.string() });

/** Replies are results, never thrown exceptions: `{ok:true,value}` or `{ok:false,error}`. */
export function rpcReplySchema<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value }),
    z.object({ ok: z.literal(false), error: rpcErrorSchema }),
  ]);
}
export type RpcReply<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

export const getJobReplySchema = rpcReplySchema(z.object({ job: jobViewSchema.nullable() }));
export const listJobsReplySchema = rpcReplySchema(
  z.object({ jobs: z.array(jobViewSchema), next_cursor: z.string().nullable() }),
);
export const jobEventsReplySchema = rpcReplySchema(
  z.object({
    job_id: z.uuid(),
    events: z.array(storedEventViewSchema),
    next_after_seq: z.number().int().nullable(),
  }),
);
export const projectionRequestSchema = z.object({}).loose();

/** The projector's position: the last stream sequence the read model reflects. */
export const projectionStateSchema = z.object({
  checkpoint: z.number().int().nonnegative(),
  updated_at: z.string().nullable(),
});
export type ProjectionState = z.infer<typeof projectionStateSchema>;
export const projectionReplySchema = rpcReplySchema(projectionStateSchema);
/**
 * Where a job's files are in the Object Store: the upload, the stored result (when too large for
 * the event) and the artifacts. For the gateway to serve them; never shown to clients as such.
 */
export const jobFilesSchema = z.object({
  job_id: z.uuid(),
  status: jobStatusSchema,
  video: videoRefSchema,
  result_ref: objectRefSchema.nullable(),
  artifacts: z.array(artifactRefSchema),
});
export type JobFiles = z.infer<typeof jobFilesSchema>;
export const jobFilesReplySchema = rpcReplySchema(z.object({ files: jobFilesSchema.nullable() }));
export type JobFilesReply = z.infer<typeof jobFilesReplySchema>;

export type GetJobReply = z.infer<typeof getJobReplySchema>;
export type ListJobsReply = z.infer<typeof listJobsReplySchema>;
export type JobEventsReply = z.infer<typeof jobEventsReplySchema>;
