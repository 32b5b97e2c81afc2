import type { JobChange, JobView } from '@app/contracts';

export interface ListFilter {
  status?: string;
  pipeline?: string;
}

/**
 * Applies one live change to the rows on screen. A change the row already reflects (its `seq` is
 * not above the row's `last_seq`) changes nothing, so a snapshot and the feed can overlap freely.
 * A new job appears at the top of the first page when it matches the filter; a job that is not on
 * screen is otherwise ignored (its page shows it when loaded). A deleted job's row is removed.
 */
export function applyChange(rows: JobView[], change: JobChange, filter: ListFilter, options: { firstPage: boolean; limit: number }): JobView[] {
  const index = rows.findIndex((row) => row.job_id === change.job_id);
  if (index >= 0) {
    const row = rows[index]!;
    if (change.seq <= row.last_seq) return rows;
    // A deleted job leaves the list (the API no longer lists or serves it).
    if (change.type === 'JobDeleted') return rows.filter((_, i) => i !== index);
    const next = rows.slice();
    next[index] = evolveRow(row, change);
    return next;
  }
  if (!change.submitted || !options.firstPage) return rows;
  if (filter.status && filter.status !== change.status) return rows;
  if (filter.pipeline && filter.pipeline !== change.submitted.pipeline) return rows;
  return [newRow(change), ...rows].slice(0, options.limit);
}

/** A row after one change; progress never goes backwards within an attempt. */
export function evolveRow(row: JobView, change: JobChange): JobView {
  const newAttempt = change.attempt !== null && change.attempt > row.attempts;
  const terminal = change.status === 'completed' || change.status === 'failed' || change.status === 'cancelled';
  const redriven = change.type === 'JobRedriven';
  let progress = row.progress;
  if (change.progress !== null) progress = newAttempt || change.type === 'JobStarted' || change.status === 'queued' ? change.progress : Math.max(row.progress, change.progress);
  return {
    ...row,
    status: change.status ?? row.status,
    progress,
    attempts: change.attempt !== null ? Math.max(row.attempts, change.attempt) : row.attempts,
    worker_id: change.worker_id ?? row.worker_id,
    error: change.error ?? (change.type === 'JobStarted' || redriven || change.status === 'completed' || change.status === 'cancelled' ? null : row.error),
    started_at: change.type === 'JobStarted' ? change.occurred_at : row.started_at,
    completed_at: terminal ? change.occurred_at : change.type === 'JobStarted' || redriven ? null : row.completed_at,
    updated_at: change.occurred_at,
    cancel_requested_at: change.type === 'JobCancelRequested' ? (row.cancel_requested_at ?? change.occurred_at) : redriven ? null : row.cancel_requested_at,
    // A new attempt (or a redrive) takes a job off the dead-letter list.
    dead_letter: change.type === 'JobStarted' || redriven ? null : row.dead_letter,
    last_seq: change.seq,
  };
}

function newRow(change: JobChange): JobView {
  const submitted = change.submitted!;
  return {
    job_id: change.job_id,
    status: change.status ?? 'queued',
    tenant: change.tenant ?? '',
    priority: submitted.priority,
    pipeline: submitted.pipeline,
    params: {},
    progress: change.progress ?? 0,
    attempts: 0,
    worker_id: null,
    created_at: change.occurred_at,
    updated_at: change.occurred_at,
    started_at: null,
    completed_at: null,
    duration_ms: null,
    error: null,
    result: null,
    result_location: null,
    artifacts: [],
    progress_detail: null,
    video: { filename: submitted.filename, size: submitted.size, content_type: '', sha256: '' },
    correlation_id: change.correlation_id,
    // The feed does not carry it: the job's own page reads the job.
    trace_id: null,
    cancel_requested_at: null,
    dead_letter: null,
    parts: [],
    last_seq: change.seq,
  };
}

/** The status to show: a running job whose cancel was asked for is `cancelling` until it ends. */
export function shownStatus(job: Pick<JobView, 'status' | 'cancel_requested_at'>): string {
  return job.status === 'running' && job.cancel_requested_at ? 'cancelling' : job.status;
}

/** Whether a Cancel button makes sense: the job has not ended and no cancel was asked for yet. */
export function cancellable(job: Pick<JobView, 'status' | 'cancel_requested_at'>): boolean {
  return (job.status === 'running' || job.status === 'queued') && !job.cancel_requested_at;
}

/**
 * Jobs this tab heard deleted on the live feed. A list read just after (the page loading while the
 * JobDeleted went by, or before the read model has caught up with it) may still hold them, so they are
 * left out of every page loaded afterwards. Job ids are never reused; the oldest are forgotten after 10,000.
 */
const deletedJobs = new Set<string>();

export function rememberDeleted(change: Pick<JobChange, 'type' | 'job_id'>): void {
  if (change.type !== 'JobDeleted') return;
  deletedJobs.add(change.job_id);
  if (deletedJobs.size > 10_000) deletedJobs.delete(deletedJobs.values().next().value!);
}

/** A loaded page without the jobs this tab heard deleted. */
export function withoutDeleted(rows: JobView[]): JobView[] {
  return deletedJobs.size === 0 ? rows : rows.filter((row) => !deletedJobs.has(row.job_id));
}
