import { z } from 'zod';
import { eventMetaShape, jobErrorSchema, objectRefSchema } from './event-meta.js';

/**
 * Every event type and version ever written to the log. Stored events are parsed against the schema
 * of their own `type` and `version`, then upcast to the current version at the edge (see upcast.ts),
 * so the rest of the code only ever sees `JobEvent`.
 */

export const videoRefSchema = z.object({
  bucket: z.string().min(1),
  objectName: z.string().min(1).max(512),
  filename: z.string().max(255),
  size: z.number().int().nonnegative(),
  contentType: z.string().min(1).max(255),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type VideoRef = z.infer<typeof videoRefSchema>;

export const jobParamsSchema = z.record(z.string(), z.unknown());
export type JobParams = z.infer<typeof jobParamsSchema>;

export const videoSubmittedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('VideoSubmitted'),
  version: z.literal(1),
  data: z.object({
    pipeline: z.string().min(1).max(64),
    params: jobParamsSchema,
    video: videoRefSchema,
  }),
});

/** The order in which queued work is started when there is a backlog. */
export const JOB_PRIORITIES = ['high', 'normal', 'low'] as const;
export const jobPrioritySchema = z.enum(JOB_PRIORITIES);
export type JobPriority = z.infer<typeof jobPrioritySchema>;
export const DEFAULT_PRIORITY: JobPriority = 'normal';

/** Who owns a job. Jobs written before tenants existed belong to DEFAULT_TENANT. */
export const tenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 of a-z, 0-9, "_" and "-", starting with a letter or digit');
export const DEFAULT_TENANT = 'default';

/** v2 adds who owns the job and its priority. v1 events are read as tenant "default", priority "normal". */
export const videoSubmittedV2Schema = z.object({
  ...eventMetaShape,
  type: z.literal('VideoSubmitted'),
  version: z.literal(2),
  data: z.object({
    pipeline: z.string().min(1).max(64),
    params: jobParamsSchema,
    video: videoRefSchema,
    tenant: tenantIdSchema,
    priority: jobPrioritySchema,
  }),
});

export const jobStartedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobStarted'),
  version: z.literal(1),
  data: z.object({
    workerId: z.string().min(1).max(200),
    attempt: z.number().int().positive(),
  }),
});

export const jobCompletedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobCompleted'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().positive(),
    durationMs: z.number().int().nonnegative(),
    /** The result itself when it is small, else null and `resultRef` points into the Object Store. */
    result: z.json().nullable(),
    resultRef: objectRefSchema.nullable(),
  }),
});

/**
 * An artifact's name within its job: a plain file name, so it can never climb out of the job's
 * folder in the Object Store or on a client's disk.
 */
export const artifactNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 of letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((name) => !name.includes('..'), 'must not contain ".."');

/** A file a tool produced, stored in the Object Store. */
export const artifactRefSchema = objectRefSchema.extend({ name: artifactNameSchema });
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

export const jobCompletedV2Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobCompleted'),
  version: z.literal(2),
  data: z.object({
    attempt: z.number().int().positive(),
    durationMs: z.number().int().nonnegative(),
    /** The result itself when it is small, else null and `resultRef` points into the Object Store. */
    result: z.json().nullable(),
    resultRef: objectRefSchema.nullable(),
    /** Files the pipeline wrote (thumbnails, sprites, renditions), in the order they were made. */
    artifacts: z.array(artifactRefSchema).max(10_000),
  }),
});

/**
 * How far the running attempt is. Appended on the lifecycle subject like every other worker event,
 * so a worker that has lost the job cannot report progress for it either.
 */
export const jobProgressedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobProgressed'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().positive(),
    percent: z.number().min(0).max(100),
    currentFrame: z.number().int().nonnegative(),
    totalFrames: z.number().int().nonnegative().nullable(),
    currentTool: z.string().min(1).max(64).nullable(),
    toolsCompleted: z.number().int().nonnegative(),
    toolsTotal: z.number().int().nonnegative(),
  }),
});

export const jobFailedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobFailed'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().nonnegative(),
    /** True when no further attempt will be made: the job is over. */
    final: z.boolean(),
    error: jobErrorSchema,
  }),
});

/**
 * Why a job was given up on by the system rather than by its pipeline: its work message was
 * delivered `deliveries` times by `consumer` without any attempt settling it (the worker died or hung
 * each time), so the server stopped delivering it and published a MAX_DELIVERIES advisory.
 */
export const deadLetterSchema = z.object({
  reason: z.enum(['MAX_DELIVERIES']),
  /** The durable consumer that gave up. */
  consumer: z.string().min(1).max(256),
  /** How many times the server delivered the work message. */
  deliveries: z.number().int().positive(),
  /** The stream sequence of the work message (the job's VideoSubmitted). */
  streamSeq: z.number().int().positive(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/**
 * v2 adds `deadLetter`: set when the job was failed because its deliveries ran out (code
 * MAX_DELIVERIES), which makes it a dead-letter entry; null for every failure a worker reports.
 * v1 events are read with `deadLetter: null`.
 */
export const jobFailedV2Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobFailed'),
  version: z.literal(2),
  data: z.object({
    attempt: z.number().int().nonnegative(),
    /** True when no further attempt will be made: the job is over. */
    final: z.boolean(),
    error: jobErrorSchema,
    deadLetter: deadLetterSchema.nullable(),
  }),
});

/**
 * A redrive: a failed or cancelled job asked to run again, as a new attempt. It is a work request like
 * `VideoSubmitted` and goes on the job's submitted subject, so the workers' consumer delivers it; it
 * carries everything a worker needs to run the job. `firstAttempt` is the number of the attempt it
 * starts, from which the attempt budget counts again. Its causation id is the event that ended the job.
 */
export const jobRedrivenV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobRedriven'),
  version: z.literal(1),
  data: z.object({
    pipeline: z.string().min(1).max(64),
    params: jobParamsSchema,
    video: videoRefSchema,
    tenant: tenantIdSchema,
    priority: jobPrioritySchema,
    firstAttempt: z.number().int().positive(),
    /** Who asked: the API key's id, or null when not known (auth off). */
    requestedBy: z.string().max(200).nullable(),
  }),
});

/**
 * Someone asked to stop the job. `attempt` is the job's latest attempt (0 when none had started).
 * It ends nothing by itself: the job ends with `JobCancelled`, appended by whoever holds the job (the
 * worker running it, or the jobs service at once for a job that is not running).
 */
export const jobCancelRequestedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobCancelRequested'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().nonnegative(),
    reason: z.string().max(500).nullable(),
    requestedBy: z.string().max(200).nullable(),
  }),
});

/**
 * v2 adds `deletion`: true when the cancel is the first step of a `DELETE` of a running job. The
 * request is stored in the log, so the deletion survives a restart of the jobs service: once the job
 * has ended, the jobs service deletes it (see JobDeleted). v1 events are read with `deletion: false`.
 */
export const jobCancelRequestedV2Schema = jobCancelRequestedV1Schema.extend({
  version: z.literal(2),
  data: jobCancelRequestedV1Schema.shape.data.extend({
    deletion: z.boolean(),
  }),
});

/** The job was stopped on request: a terminal event, appended right after its `JobCancelRequested`. */
export const jobCancelledV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobCancelled'),
  version: z.literal(1),
  data: z.object({
    /** The attempt that was stopped; 0 when the job was cancelled before any attempt started. */
    attempt: z.number().int().nonnegative(),
    /** Who appended it: a worker's id for a running attempt, `jobs-service` for a job that was waiting. */
    cancelledBy: z.string().min(1).max(200),
  }),
});

/**
 * v3 adds `retryDelayMs`: for a failure that will be retried, how long the work message waits before
 * it is delivered again (exponential backoff with jitter), so each retry and its delay are visible in
 * the log; null when the failure is final. v1 and v2 events are read with null.
 */
export const jobFailedV3Schema = jobFailedV2Schema.extend({
  version: z.literal(3),
  data: jobFailedV2Schema.shape.data.extend({
    retryDelayMs: z.number().int().nonnegative().nullable(),
  }),
});

/** Why a job was deleted: someone asked (`DELETE /v1/jobs/{id}`), or its retention ran out (JOB_RETENTION_DAYS). */
export const JOB_DELETION_REASONS = ['request', 'retention'] as const;
export const jobDeletionReasonSchema = z.enum(JOB_DELETION_REASONS);
export type JobDeletionReason = z.infer<typeof jobDeletionReasonSchema>;

/**
 * The job is deleted: its upload, stored result and artifacts are removed from the Object Store (right
 * after this event is stored; the jobs service's sweep finishes a removal that a crash interrupted).
 * Appended by the jobs service on the lifecycle subject, expecting its last sequence, and only once
 * the job is not running (a running job is cancelled first). It is the job's last event: the job is no
 * longer served, listed, run or redriven; its events stay readable for an admin. `attempt` is the
 * job's latest attempt (0 when none started).
 */
export const jobDeletedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobDeleted'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().nonnegative(),
    reason: jobDeletionReasonSchema,
    /** Who asked: the API key's id; null for retention, or when auth is off. */
    requestedBy: z.string().max(200).nullable(),
  }),
});

/**
 * Split jobs (issue #19): one long video encoded in parts by many workers, then joined. The attempt
 * that claimed the job cuts the video at key frames and appends, in one atomic batch, a `JobSplit`
 * (the cut points) and one `PartRequested` per part that is still to be made; once every part is
 * done, the part that completed last appends a `JoinRequested` with its `PartCompleted`. The job's
 * attempt (its `JobStarted`) holds the job all along: a cancel, a failure or another attempt ends
 * every part of it. Each part has attempts of its own (`partAttempt`), each with one `PartStarted`
 * and at most one end, appended with the job's last sequence expected like every append.
 */

/** One part of a split job: from `start` (a key frame, seconds) to `end` (the next part's start; null: to the end of the video). */
export const splitPartSchema = z.object({
  index: z.number().int().nonnegative(),
  start: z.number().nonnegative(),
  end: z.number().nonnegative().nullable(),
});
export type SplitPartRef = z.infer<typeof splitPartSchema>;

/** The most parts a job is split into: its work requests go in one atomic batch (at most 1,000 messages). */
export const MAX_SPLIT_PARTS = 500;

/**
 * The job's attempt `attempt` cut the video into `parts`. `kept` lists the parts that an earlier
 * attempt of the same job completed (a redrive): their outputs are used as they are, and only the
 * other parts are requested. On the job's split subject.
 */
export const jobSplitV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JobSplit'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().positive(),
    splitSeconds: z.number().positive(),
    parts: z.array(splitPartSchema).min(2).max(MAX_SPLIT_PARTS),
    kept: z.array(z.number().int().nonnegative()).max(MAX_SPLIT_PARTS),
  }),
});

/** A part to make: a work request on the job's parts subject (at the job's priority), for any worker. */
export const partRequestedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('PartRequested'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().positive(),
    priority: jobPrioritySchema,
    part: splitPartSchema,
  }),
});

/** Every part is done: join them. A work request on the job's parts subject. */
export const joinRequestedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('JoinRequested'),
  version: z.literal(1),
  data: z.object({
    attempt: z.number().int().positive(),
    priority: jobPrioritySchema,
  }),
});

const partAttemptShape = {
  /** The job's attempt the part belongs to. */
  attempt: z.number().int().positive(),
  index: z.number().int().nonnegative(),
  /** The part's own attempt, from 1. */
  partAttempt: z.number().int().positive(),
};

/** A worker claimed a part. On the part's subject, like every event of the part. */
export const partStartedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('PartStarted'),
  version: z.literal(1),
  data: z.object({ ...partAttemptShape, workerId: z.string().min(1).max(200) }),
});

export const partProgressedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('PartProgressed'),
  version: z.literal(1),
  data: z.object({ ...partAttemptShape, percent: z.number().min(0).max(100), currentFrame: z.number().int().nonnegative(), totalFrames: z.number().int().nonnegative().nullable() }),
});

/** The part is made: its files are artifacts of the job until the join removes them. */
export const partCompletedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('PartCompleted'),
  version: z.literal(1),
  data: z.object({ ...partAttemptShape, workerId: z.string().min(1).max(200), durationMs: z.number().int().nonnegative(), artifacts: z.array(artifactRefSchema).max(64) }),
});

/** A part's attempt failed: retried after `retryDelayMs` unless `final`, which fails the job (a JobFailed follows). */
export const partFailedV1Schema = z.object({
  ...eventMetaShape,
  type: z.literal('PartFailed'),
  version: z.literal(1),
  data: z.object({
    ...partAttemptShape,
    workerId: z.string().min(1).max(200),
    final: z.boolean(),
    error: jobErrorSchema,
    retryDelayMs: z.number().int().nonnegative().nullable(),
  }),
});

export type VideoSubmittedV1 = z.infer<typeof videoSubmittedV1Schema>;
export type VideoSubmitted = z.infer<typeof videoSubmittedV2Schema>;
export type JobStarted = z.infer<typeof jobStartedV1Schema>;
export type JobCompletedV1 = z.infer<typeof jobCompletedV1Schema>;
export type JobCompleted = z.infer<typeof jobCompletedV2Schema>;
export type JobProgressed = z.infer<typeof jobProgressedV1Schema>;
export type JobFailedV1 = z.infer<typeof jobFailedV1Schema>;
export type JobFailedV2 = z.infer<typeof jobFailedV2Schema>;
export type JobFailed = z.infer<typeof jobFailedV3Schema>;
export type JobRedriven = z.infer<typeof jobRedrivenV1Schema>;
export type JobCancelRequestedV1 = z.infer<typeof jobCancelRequestedV1Schema>;
export type JobCancelRequested = z.infer<typeof jobCancelRequestedV2Schema>;
export type JobCancelled = z.infer<typeof jobCancelledV1Schema>;
export type JobDeleted = z.infer<typeof jobDeletedV1Schema>;
export type JobSplit = z.infer<typeof jobSplitV1Schema>;
export type PartRequested = z.infer<typeof partRequestedV1Schema>;
export type JoinRequested = z.infer<typeof joinRequestedV1Schema>;
export type PartStarted = z.infer<typeof partStartedV1Schema>;
export type PartProgressed = z.infer<typeof partProgressedV1Schema>;
export type PartCompleted = z.infer<typeof partCompletedV1Schema>;
export type PartFailed = z.infer<typeof partFailedV1Schema>;
/** The events of a part, on its own subject. */
export type PartEvent = PartStarted | PartProgressed | PartCompleted | PartFailed;
/** The work requests of a split job's parts and join, on its parts subject. */
export type PartWork = PartRequested | JoinRequested;
/** Every event that only a split job has: its split, its parts' and join's work requests, its parts' events. */
export type SplitJobEvent = JobSplit | PartWork | PartEvent;

/** The current version of every event: what code reads after upcasting. */
export type JobEvent =
  | VideoSubmitted
  | JobStarted
  | JobProgressed
  | JobCompleted
  | JobFailed
  | JobRedriven
  | JobCancelRequested
  | JobCancelled
  | JobDeleted
  | JobSplit
  | PartWork
  | PartEvent;
export type JobEventType = JobEvent['type'];

/** What the workers' consumer delivers: a job to run, first submitted or redriven. */
export type WorkRequest = VideoSubmitted | JobRedriven;

export function isWorkRequest(event: JobEvent): event is WorkRequest {
  return event.type === 'VideoSubmitted' || event.type === 'JobRedriven';
}

export function isPartWork(event: JobEvent): event is PartWork {
  return event.type === 'PartRequested' || event.type === 'JoinRequested';
}

export function isSplitJobEvent(event: JobEvent): event is SplitJobEvent {
  return event.type === 'JobSplit' || isPartWork(event) || isPartEvent(event);
}

export function isPartEvent(event: JobEvent): event is PartEvent {
  return event.type === 'PartStarted' || event.type === 'PartProgressed' || event.type === 'PartCompleted' || event.type === 'PartFailed';
}

/** Events that end a job for good; each job has at most one of them per attempt. */
export type TerminalJobEvent = JobCompleted | Extract<JobFailed, { data: { final: true } }> | JobCancelled;

/** The schema of every (type, version) pair that may be found in the stream. */
export const storedEventSchemas = {
  VideoSubmitted: { 1: videoSubmittedV1Schema, 2: videoSubmittedV2Schema },
  JobStarted: { 1: jobStartedV1Schema },
  JobProgressed: { 1: jobProgressedV1Schema },
  JobCompleted: { 1: jobCompletedV1Schema, 2: jobCompletedV2Schema },
  JobFailed: { 1: jobFailedV1Schema, 2: jobFailedV2Schema, 3: jobFailedV3Schema },
  JobRedriven: { 1: jobRedrivenV1Schema },
  JobCancelRequested: { 1: jobCancelRequestedV1Schema, 2: jobCancelRequestedV2Schema },
  JobCancelled: { 1: jobCancelledV1Schema },
  JobDeleted: { 1: jobDeletedV1Schema },
  JobSplit: { 1: jobSplitV1Schema },
  PartRequested: { 1: partRequestedV1Schema },
  JoinRequested: { 1: joinRequestedV1Schema },
  PartStarted: { 1: partStartedV1Schema },
  PartProgressed: { 1: partProgressedV1Schema },
  PartCompleted: { 1: partCompletedV1Schema },
  PartFailed: { 1: partFailedV1Schema },
} as const satisfies Record<JobEventType, Record<number, z.ZodType>>;

export const JOB_EVENT_TYPES = Object.keys(storedEventSchemas) as JobEventType[];

export function isTerminal(event: JobEvent): boolean {
  switch (event.type) {
    case 'JobCompleted':
    case 'JobCancelled':
      return true;
    case 'JobFailed':
      return event.data.final;
    case 'VideoSubmitted':
    case 'JobStarted':
    case 'JobProgressed':
    case 'JobRedriven':
    case 'JobCancelRequested':
    // Not an ending of its own: a job is deleted only after it has ended (or before it ever started).
    case 'JobDeleted':
    // A part's end is not the job's: the join's JobCompleted, or the JobFailed after a final PartFailed, is.
    case 'JobSplit':
    case 'PartRequested':
    case 'JoinRequested':
    case 'PartStarted':
    case 'PartProgressed':
    case 'PartCompleted':
    case 'PartFailed':
      return false;
    default:
      return assertNever(event);
  }
}

/**
 * The attempt an event belongs to: 0 for a submission (no attempt yet), and for a redrive the
 * attempt before the one it starts, so that "the next attempt" is always `attemptOf(last) + 1`.
 */
export function attemptOf(event: JobEvent): number {
  switch (event.type) {
    case 'VideoSubmitted':
      return 0;
    case 'JobRedriven':
      return event.data.firstAttempt - 1;
    case 'JobStarted':
    case 'JobProgressed':
    case 'JobCompleted':
    case 'JobFailed':
    case 'JobCancelRequested':
    case 'JobCancelled':
    case 'JobDeleted':
    case 'JobSplit':
    case 'PartRequested':
    case 'JoinRequested':
    case 'PartStarted':
    case 'PartProgressed':
    case 'PartCompleted':
    case 'PartFailed':
      return event.data.attempt;
    default:
      return assertNever(event);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(value)}`);
}
