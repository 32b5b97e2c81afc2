import { z } from 'zod';
import { jobScopeSchema } from '../auth/api-keys.js';
import { isCleanText, UNCLEAN_TEXT } from '../text/clean-text.js';
import { rpcReplySchema } from './rpc-reply.js';

/**
 * Request/reply commands from the gateway to the jobs service: what an operator or a client asks of a
 * job after its submission. The jobs service appends the events (NATS permissions keep lifecycle
 * appends away from the gateway). Like the queries, each carries the caller's scope: a job outside it
 * is answered JOB_NOT_FOUND.
 */
export const JobCommand = {
  /** Stop a job: a waiting job is cancelled at once, a running one by its worker. */
  Cancel: 'jobs.cancel',
  /** Run a failed or cancelled job again as a new attempt. */
  Redrive: 'jobs.redrive',
  /** Delete a job: its media from the Object Store, then JobDeleted (a running job is cancelled first). */
  Delete: 'jobs.delete',
} as const;

export const jobCommandRequestSchema = z.object({
  job_id: z.uuid(),
  scope: jobScopeSchema,
  /** Who asks (an API key's id), recorded in the event; null when auth is off. */
  requested_by: z.string().min(1).max(200).refine(isCleanText, UNCLEAN_TEXT).nullable(),
});
export type JobCommandRequest = z.infer<typeof jobCommandRequestSchema>;

export const cancelJobRequestSchema = jobCommandRequestSchema.extend({
  reason: z.string().max(500).refine(isCleanText, UNCLEAN_TEXT).nullable().default(null),
});
export type CancelJobRequest = z.input<typeof cancelJobRequestSchema>;

export const cancelOutcomeSchema = z.object({
  job_id: z.uuid(),
  /** `cancelled`: it was waiting and has ended; `cancelling`: its worker has been asked to stop it. */
  status: z.enum(['cancelled', 'cancelling']),
  /** Stream sequence of the job's JobCancelRequested. */
  cancel_requested_seq: z.number().int().positive(),
});
export type CancelOutcome = z.infer<typeof cancelOutcomeSchema>;

export const redriveOutcomeSchema = z.object({
  job_id: z.uuid(),
  status: z.literal('queued'),
  /** The attempt the redrive starts. */
  attempt: z.number().int().positive(),
  /** Stream sequence of the JobRedriven work request. */
  redriven_seq: z.number().int().positive(),
  /** The event id of the event that had ended the job: the redrive's causation id. */
  caused_by: z.string(),
});
export type RedriveOutcome = z.infer<typeof redriveOutcomeSchema>;

export const deleteOutcomeSchema = z.object({
  job_id: z.uuid(),
  /**
   * `deleted`: JobDeleted is stored and the job's objects are removed; `deleting`: the job was running,
   * its worker has been asked to stop it, and the jobs service deletes it once it has ended.
   */
  status: z.enum(['deleted', 'deleting']),
  /** Stream sequence of the JobDeleted; null while the deletion waits for the running attempt to stop. */
  deleted_seq: z.number().int().positive().nullable(),
  /** Objects removed from the Object Store by this request (0 for `deleting`). */
  objects_deleted: z.number().int().nonnegative(),
});
export type DeleteOutcome = z.infer<typeof deleteOutcomeSchema>;

export const cancelJobReplySchema = rpcReplySchema(cancelOutcomeSchema);
export const redriveJobReplySchema = rpcReplySchema(redriveOutcomeSchema);
export const deleteJobReplySchema = rpcReplySchema(deleteOutcomeSchema);
