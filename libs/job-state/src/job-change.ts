import { assertNever, attemptOf, type JobChange, type JobEvent } from '@app/contracts';

/**
 * What one stored event changes about its job, from the event alone (no prior state) and the job's
 * tenant (which only its VideoSubmitted carries; the caller remembers or looks it up): the live
 * feed's message. Pure, with an exhaustive switch, so a new event type must say what it changes.
 */
export function jobChangeOf(event: JobEvent, seq: number, tenant: string | null): JobChange {
  const base = {
    seq,
    job_id: event.jobId,
    tenant: event.type === 'VideoSubmitted' ? event.data.tenant : tenant,
    type: event.type,
    occurred_at: new Date(event.occurredAt).toISOString(),
    correlation_id: event.correlationId,
    progress: null,
    attempt: null,
    worker_id: null,
    error: null,
    submitted: null,
  };
  switch (event.type) {
    case 'VideoSubmitted':
      return {
        ...base,
        status: 'queued',
        progress: 0,
        attempt: 0,
        submitted: {
          pipeline: event.data.pipeline,
          priority: event.data.priority,
          filename: event.data.video.filename,
          size: event.data.video.size,
        },
      };
    case 'JobStarted':
      return { ...base, status: 'running', progress: 0, attempt: event.data.attempt, worker_id: event.data.workerId };
    case 'JobProgressed':
      return { ...base, status: 'running', progress: event.data.percent, attempt: event.data.attempt };
    case 'JobCompleted':
      return { ...base, status: 'completed', progress: 100, attempt: event.data.attempt };
    case 'JobFailed':
      return {
        ...base,
        status: event.data.final ? 'failed' : 'queued',
        progress: event.data.final ? null : 0,
        attempt: event.data.attempt,
        error: event.data.error,
      };
    case 'JobRedriven':
      return { ...base, status: 'queued', progress: 0, attempt: attemptOf(event) };
    case 'JobCancelRequested':
      return { ...base, status: null, attempt: event.data.attempt };
    case 'JobCancelled':
      return { ...base, status: 'cancelled', attempt: event.data.attempt };
    case 'JobDeleted':
      // The status it had stays; the type tells a list to drop the row.
      return { ...base, status: null, attempt: event.data.attempt };
    case 'JobSplit':
    case 'PartRequested':
    case 'JoinRequested':
    case 'PartProgressed':
    case 'PartCompleted':
      // A part's progress is not the job's (that is the mean of every part's): the job page reads it.
      return { ...base, status: 'running', attempt: event.data.attempt };
    case 'PartStarted':
      return { ...base, status: 'running', attempt: event.data.attempt, worker_id: event.data.workerId };
    case 'PartFailed':
      return { ...base, status: 'running', attempt: event.data.attempt, error: event.data.error };
    default:
      return assertNever(event);
  }
}
