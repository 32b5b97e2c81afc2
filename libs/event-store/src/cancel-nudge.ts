import { jobIdSchema } from '@app/contracts';

/**
 * A cancel nudge (`{"job_id": ...}` on `<ns>.cancel-requested`): the jobs service tells the workers
 * that a job is to stop (EventStore.nudgeCancel), and the worker running it stops it at once
 * (WorkQueue.onCancelNudge).
 */
export function encodeCancelNudge(jobId: string): string {
  return JSON.stringify({ job_id: jobId });
}

/** The job id of a cancel nudge, or null for anything else. */
export function cancelNudgeJobId(body: string): string | null {
  try {
    const parsed = jobIdSchema.safeParse((JSON.parse(body) as { job_id?: unknown }).job_id);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
