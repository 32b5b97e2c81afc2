import { z } from 'zod';
import { jobScopeSchema } from '../auth/api-keys.js';
import { objectRefSchema } from '../events/event-meta.js';
import { artifactRefSchema, videoRefSchema } from '../events/job-events.js';
import { jobStatusSchema, jobViewSchema } from './job-view.js';
import { rpcReplySchema } from './rpc-reply.js';
import { parkedEventsViewSchema } from './system-view.js';

export { rpcReplySchema, type RpcReply } from './rpc-reply.js';

/**
 * Request/reply contracts between the gateway and the jobs service. Patterns are relative; the
 * subject on the wire is `<ns>.rpc.<pattern>` (see subjects.ts). Both ends validate what they receive.
 * Every job query carries the caller's `scope` (required): a job outside it is answered as if it did
 * not exist, so one tenant can never learn that another's job exists.
 */
export const JobQuery = {
  Get: 'jobs.get',
  List: 'jobs.list',
  Events: 'jobs.events',
  DeadLetters: 'jobs.dead-letters',
  /** A job as it was at a point of its history, folded from the stream (see as-of.ts). */
  GetAsOf: 'jobs.get_as_of',
  /** Where the projector is: the stream sequence the read model reflects. */
  Projection: 'jobs.projection',
  Files: 'jobs.files',
} as const;

export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;
export const EVENTS_LIMIT_DEFAULT = 100;
export const EVENTS_LIMIT_MAX = 1000;

export const getJobRequestSchema = z.object({ job_id: z.uuid(), scope: jobScopeSchema });
export type GetJobRequest = z.infer<typeof getJobRequestSchema>;

export const getJobAsOfRequestSchema = z.object({ job_id: z.uuid(), scope: jobScopeSchema, as_of: z.string().min(1).max(64) });
export type GetJobAsOfRequest = z.infer<typeof getJobAsOfRequestSchema>;

/** Where an as-of view stands in the job's history: its event number, stream sequence and stored time. */
export const asOfPositionSchema = z.object({
  requested: z.string(),
  event: z.number().int().positive(),
  seq: z.number().int().positive(),
  stored_at: z.string(),
  /** How many events the job has now; `event` of `events_total`. */
  events_total: z.number().int().positive(),
});
export type AsOfPosition = z.infer<typeof asOfPositionSchema>;

export const listJobsRequestSchema = z.object({
  scope: jobScopeSchema,
  status: jobStatusSchema.optional(),
  pipeline: z.string().min(1).max(64).optional(),
  limit: z.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
});
export type ListJobsRequest = z.input<typeof listJobsRequestSchema>;

export const jobEventsRequestSchema = z.object({
  job_id: z.uuid(),
  scope: jobScopeSchema,
  after_seq: z.number().int().nonnegative().default(0),
  limit: z.number().int().min(1).max(EVENTS_LIMIT_MAX).default(EVENTS_LIMIT_DEFAULT),
});
export type JobEventsRequest = z.input<typeof jobEventsRequestSchema>;

export const deadLettersRequestSchema = z.object({
  scope: jobScopeSchema,
  limit: z.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
});
export type DeadLettersRequest = z.input<typeof deadLettersRequestSchema>;

/**
 * One dead letter: a job that failed because its work message ran out of deliveries (every attempt
 * crashed or hung). It stays listed until a new attempt of the job starts.
 */
export const deadLetterViewSchema = z.object({
  job_id: z.uuid(),
  tenant: z.string(),
  pipeline: z.string(),
  priority: z.string(),
  reason: z.string(),
  error: z.object({ code: z.string(), message: z.string() }),
  /** Attempts that started (a crash before JobStarted leaves no attempt behind). */
  attempts: z.number().int().nonnegative(),
  /** Deliveries of the work message by the server, the last one included. */
  deliveries: z.number().int().positive(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  last_worker_id: z.string().nullable(),
  created_at: z.string(),
  dead_lettered_at: z.string(),
});
export type DeadLetterView = z.infer<typeof deadLetterViewSchema>;

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

export const getJobReplySchema = rpcReplySchema(z.object({ job: jobViewSchema.nullable() }));
export const getJobAsOfReplySchema = rpcReplySchema(z.object({ job: jobViewSchema, as_of: asOfPositionSchema }));

/** A page of jobs, newest first (`GET /v1/jobs`): pass `next_cursor` back as `cursor` for the next. */
export const jobsPageSchema = z.object({ jobs: z.array(jobViewSchema), next_cursor: z.string().nullable() });
export type JobsPage = z.infer<typeof jobsPageSchema>;
export const listJobsReplySchema = rpcReplySchema(jobsPageSchema);

/** A page of a job's events (`GET /v1/jobs/{id}/events`): pass `next_after_seq` back as `after_seq`. */
export const jobEventsPageSchema = z.object({
  job_id: z.uuid(),
  events: z.array(storedEventViewSchema),
  next_after_seq: z.number().int().nullable(),
});
export type JobEventsPage = z.infer<typeof jobEventsPageSchema>;
export const jobEventsReplySchema = rpcReplySchema(jobEventsPageSchema);

/** A page of dead letters, most recently dead-lettered first (`GET /v1/dead-letters`). */
export const deadLettersPageSchema = z.object({ dead_letters: z.array(deadLetterViewSchema), next_cursor: z.string().nullable() });
export type DeadLettersPage = z.infer<typeof deadLettersPageSchema>;
export const deadLettersReplySchema = rpcReplySchema(deadLettersPageSchema);
export const projectionRequestSchema = z.object({}).loose();

/** The projector's position: the last stream sequence the read model reflects. */
export const projectionStateSchema = z.object({
  checkpoint: z.number().int().nonnegative(),
  updated_at: z.string().nullable(),
  /** Absent from a jobs service older than parked events. */
  parked: parkedEventsViewSchema.optional(),
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
/** Where a job's files are, asked with the caller's scope like every job query. */
export const jobFilesRequestSchema = getJobRequestSchema;
export type JobFilesRequest = z.infer<typeof jobFilesRequestSchema>;
export const jobFilesReplySchema = rpcReplySchema(z.object({ files: jobFilesSchema.nullable() }));
export type JobFilesReply = z.infer<typeof jobFilesReplySchema>;

export type GetJobReply = z.infer<typeof getJobReplySchema>;
export type GetJobAsOfReply = z.infer<typeof getJobAsOfReplySchema>;
export type ListJobsReply = z.infer<typeof listJobsReplySchema>;
export type JobEventsReply = z.infer<typeof jobEventsReplySchema>;
export type DeadLettersReply = z.infer<typeof deadLettersReplySchema>;
