import { z } from 'zod';
import { jobErrorSchema } from '../events/event-meta.js';
import { jobPrioritySchema, tenantIdSchema } from '../events/job-events.js';
import { jobStatusSchema } from '../queries/job-view.js';

/**
 * One change to one job, as the live feed (`GET /v1/stream/jobs`, Server-Sent Events) sends it:
 * what a jobs list needs to update a row without asking again. Derived from one stored event; `seq`
 * is its stream sequence, so a client can order changes and drop what it has already seen.
 */
export const jobChangeSchema = z.object({
  seq: z.number().int().positive(),
  job_id: z.uuid(),
  /**
   * The job's owner (from its VideoSubmitted), by which the feed keeps tenants apart: a key sees the
   * changes of its own tenant's jobs only (an admin key, every tenant's). Null when the job's
   * submission cannot be found (only admin keys see such a change).
   */
  tenant: tenantIdSchema.nullable(),
  /** The event that made the change (`VideoSubmitted`, `JobStarted`, `JobProgressed`, ...). */
  type: z.string(),
  occurred_at: z.string(),
  correlation_id: z.string(),
  /** The job's status after this event; null when the event leaves it as it was (a cancel request). */
  status: jobStatusSchema.nullable(),
  /** Percent done after this event, when the event says (progress and terminal events). */
  progress: z.number().min(0).max(100).nullable(),
  attempt: z.number().int().nonnegative().nullable(),
  worker_id: z.string().nullable(),
  error: jobErrorSchema.nullable(),
  /** Set on `VideoSubmitted` only: enough to show a new row. */
  submitted: z
    .object({
      pipeline: z.string(),
      priority: jobPrioritySchema,
      filename: z.string(),
      size: z.number().int().nonnegative(),
    })
    .nullable(),
});
export type JobChange = z.infer<typeof jobChangeSchema>;
