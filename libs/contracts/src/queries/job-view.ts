import { z } from 'zod';
import { jobErrorSchema } from '../events/event-meta.js';
import { jobPrioritySchema } from '../events/job-events.js';

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const jobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** A file a pipeline wrote (thumbnail, sprite, rendition), as a job lists it. */
export const artifactViewSchema = z.object({ name: z.string(), size: z.number().int().nonnegative(), content_type: z.string() });
export type ArtifactView = z.infer<typeof artifactViewSchema>;

/** A job as the API shows it. The same shape travels over request/reply and HTTP. */
export const jobViewSchema = z.object({
  job_id: z.uuid(),
  status: jobStatusSchema,
  tenant: z.string(),
  priority: jobPrioritySchema,
  pipeline: z.string(),
  params: z.record(z.string(), z.unknown()),
  /** Percent done, 0 to 100. */
  progress: z.number().min(0).max(100),
  attempts: z.number().int().nonnegative(),
  worker_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  duration_ms: z.number().int().nonnegative().nullable(),
  error: jobErrorSchema.nullable(),
  result: z.json().nullable(),
  /** Where the result is: in this view, or too large for it and served by GET /v1/jobs/{id}/result. */
  result_location: z.enum(['inline', 'object_store']).nullable(),
  artifacts: z.array(artifactViewSchema),
  progress_detail: z
    .object({
      percent: z.number().min(0).max(100),
      current_frame: z.number().int().nonnegative(),
      total_frames: z.number().int().nonnegative().nullable(),
      current_tool: z.string().nullable(),
      tools_completed: z.number().int().nonnegative(),
      tools_total: z.number().int().nonnegative(),
    })
    .nullable(),
  video: z.object({
    filename: z.string(),
    size: z.number().int().nonnegative(),
    content_type: z.string(),
    sha256: z.string(),
  }),
  correlation_id: z.string(),
  /**
   * The OpenTelemetry trace the job was submitted in (32 hex digits), which holds its upload, queue
   * wait, attempts and projection; null when tracing was off for the submission.
   */
  trace_id: z.string().nullable(),
  /** When a cancel was asked for, while the running attempt has not stopped yet, or once it has. */
  cancel_requested_at: z.string().nullable(),
  /** Set while the job is a dead letter (see GET /v1/dead-letters). */
  dead_letter: z
    .object({
      reason: z.string(),
      consumer: z.string(),
      deliveries: z.number().int().positive(),
      stream_seq: z.number().int().positive(),
      at: z.string(),
    })
    .nullable(),
  /**
   * A split job's parts (split_seconds), in order: each part's span of the video in seconds (`end`
   * null: to the end), its status, its attempts and the worker of its latest one. Empty for a job run whole.
   */
  parts: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      start: z.number().nonnegative(),
      end: z.number().nonnegative().nullable(),
      /** `stopped`: queued or running when the job's attempt ended (cancelled, or failed by another part). */
      status: z.enum(['queued', 'running', 'completed', 'failed', 'stopped']),
      attempts: z.number().int().nonnegative(),
      worker_id: z.string().nullable(),
      progress: z.number().min(0).max(100),
    }),
  ),
  /** Stream sequence of the last event folded into this view. */
  last_seq: z.number().int().nonnegative(),
});
export type JobView = z.infer<typeof jobViewSchema>;
