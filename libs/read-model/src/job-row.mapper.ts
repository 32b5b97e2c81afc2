import type { JobPriority, JobStatus, ObjectRef, VideoRef } from '@app/contracts';
import type { JobState } from '@app/job-state';
import type { JobRow } from './job.entity.js';

/** Row and state carry the same facts; timestamps are Date in PostgreSQL and ISO strings in the state. */
export function rowToState(row: JobRow): JobState {
  return {
    jobId: row.jobId,
    status: row.status as JobStatus,
    tenant: row.tenant,
    priority: row.priority as JobPriority,
    pipeline: row.pipeline,
    params: row.params,
    video: row.video as unknown as VideoRef,
    progress: row.progress,
    progressDetail: row.progressDetail as JobState['progressDetail'],
    attempts: row.attempts,
    workerId: row.workerId,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    startedAt: row.startedAt ? iso(row.startedAt) : null,
    completedAt: row.completedAt ? iso(row.completedAt) : null,
    durationMs: row.durationMs,
    error: row.error,
    result: (row.result ?? null) as JobState['result'],
    resultRef: row.resultRef as ObjectRef | null,
    artifacts: row.artifacts as unknown as JobState['artifacts'],
    correlationId: row.correlationId,
    deadLetter: row.deadLetter as JobState['deadLetter'],
    cancelRequestedAt: row.cancelRequestedAt ? iso(row.cancelRequestedAt) : null,
    deleteRequest: row.deleteRequest as JobState['deleteRequest'],
    deletedAt: row.deletedAt ? iso(row.deletedAt) : null,
    split: (row.split ?? null) as JobState['split'],
    traceId: row.traceId,
  };
}

/** A row of the jobs table as `SELECT *` returns it through node-postgres. */
export interface RawJobRow {
  job_id: string;
  status: string;
  tenant: string;
  priority: string;
  pipeline: string;
  params: Record<string, unknown>;
  video: Record<string, unknown>;
  progress: number;
  progress_detail: Record<string, unknown> | null;
  attempts: number;
  worker_id: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  duration_ms: number | null;
  error: { code: string; message: string } | null;
  result: unknown;
  result_ref: Record<string, unknown> | null;
  artifacts: Array<Record<string, unknown>>;
  correlation_id: string;
  dead_letter: Record<string, unknown> | null;
  cancel_requested_at: Date | null;
  delete_request: Record<string, unknown> | null;
  deleted_at: Date | null;
  split: Record<string, unknown> | null;
  trace_id: string | null;
  last_seq: string;
}

export function rawRowToState(row: RawJobRow): JobState {
  return rowToState({
    jobId: row.job_id,
    status: row.status,
    tenant: row.tenant,
    priority: row.priority,
    pipeline: row.pipeline,
    params: row.params,
    video: row.video,
    progress: row.progress,
    progressDetail: row.progress_detail,
    attempts: row.attempts,
    workerId: row.worker_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    durationMs: row.duration_ms,
    error: row.error,
    result: row.result,
    resultRef: row.result_ref,
    artifacts: row.artifacts,
    correlationId: row.correlation_id,
    deadLetter: row.dead_letter,
    cancelRequestedAt: row.cancel_requested_at,
    deleteRequest: row.delete_request,
    deletedAt: row.deleted_at,
    split: row.split,
    traceId: row.trace_id,
    lastSeq: Number(row.last_seq),
  });
}

/** The JSON record that the batched upsert reads with jsonb_to_recordset. */
export function stateToRecord(state: JobState, lastSeq: number): Record<string, unknown> {
  return {
    job_id: state.jobId,
    status: state.status,
    tenant: state.tenant,
    priority: state.priority,
    pipeline: state.pipeline,
    params: state.params,
    video: state.video,
    progress: state.progress,
    progress_detail: state.progressDetail,
    attempts: state.attempts,
    worker_id: state.workerId,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    started_at: state.startedAt,
    completed_at: state.completedAt,
    duration_ms: state.durationMs,
    error: state.error,
    result: state.result,
    result_ref: state.resultRef,
    artifacts: state.artifacts,
    correlation_id: state.correlationId,
    dead_letter: state.deadLetter,
    cancel_requested_at: state.cancelRequestedAt,
    delete_request: state.deleteRequest,
    deleted_at: state.deletedAt,
    split: state.split,
    trace_id: state.traceId,
    last_seq: lastSeq,
  };
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
