import { Injectable, Logger } from '@nestjs/common';
import { attemptOf, isSplitJobEvent, type JobEvent, type JobView, type Principal, type SplitJobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { evolveSplit, partsProgress, type SplitState } from '@app/job-state';
import { JobQueriesClient } from '../jobs/job-queries.client.js';

/** One live update of a job, with the stream sequence it reflects. */
export type JobUpdate =
  | { kind: 'status'; seq: number; data: StatusData }
  | { kind: 'progress'; seq: number; data: ProgressData }
  | { kind: 'completed'; seq: number; data: StatusData & { duration_ms: number | null; result_location: JobView['result_location']; artifacts: JobView['artifacts'] } }
  | { kind: 'failed'; seq: number; data: StatusData }
  | { kind: 'cancelled'; seq: number; data: StatusData }
  /** The job was deleted while followed: the last update, after which it is not found. */
  | { kind: 'deleted'; seq: number; data: { job_id: string } };

export interface StatusData {
  job_id: string;
  status: JobView['status'];
  attempt: number;
  worker_id: string | null;
  error: JobView['error'];
  progress: ProgressData | null;
}

export interface ProgressData {
  job_id: string;
  status: 'running';
  attempt: number;
  percent: number;
  current_frame: number;
  total_frames: number | null;
  current_tool: string | null;
  tools_completed: number;
  tools_total: number;
}

export function isTerminalUpdate(update: JobUpdate): boolean {
  return update.kind === 'completed' || update.kind === 'failed' || update.kind === 'cancelled' || update.kind === 'deleted';
}

/**
 * A job's live updates: first a snapshot (from the jobs service, at the stream sequence it folded),
 * then every later event of the job as it is appended, read from the stream in order from the
 * snapshot's sequence on, so nothing falls between the two. Ends after the terminal event.
 */
@Injectable()
export class JobUpdatesService {
  private readonly logger = new Logger(JobUpdatesService.name);

  constructor(
    private readonly queries: JobQueriesClient,
    private readonly store: EventStore,
  ) {}

  /**
   * The snapshot, or 404 for a job that does not exist or that the principal may not see: decided
   * before any response starts. Following a job needs its snapshot, so it needs this check.
   */
  snapshot(principal: Principal, jobId: string): Promise<JobView> {
    return this.queries.requireVisible(principal, jobId);
  }

  /**
   * The updates after `snapshot` (or, when resuming, after stream sequence `afterSeq`), until the
   * terminal one or until `signal` aborts.
   */
  async *follow(snapshot: JobView, signal: AbortSignal, afterSeq?: number): AsyncGenerator<JobUpdate> {
    const first = snapshotUpdates(snapshot);
    if (afterSeq === undefined) {
      yield* first;
      if (first.some(isTerminalUpdate)) return;
    }
    let live = liveStateOf(snapshot);
    for await (const item of this.store.followJob(snapshot.job_id, afterSeq ?? snapshot.last_seq, signal)) {
      if (!item.ok) {
        this.logger.warn(`job ${snapshot.job_id}: skipping malformed event at seq ${item.malformed.seq}`);
        continue;
      }
      const next = nextUpdate(live, item.stored.event, item.stored.seq);
      live = next.live;
      const update = next.update;
      if (!update) continue;
      yield update;
      if (isTerminalUpdate(update)) return;
    }
  }
}

/** What a client first sees: the job's status (with its latest progress), and its end if it has ended. */
export function snapshotUpdates(job: JobView): JobUpdate[] {
  const progress: ProgressData | null = job.progress_detail && job.status === 'running' ? { job_id: job.job_id, status: 'running', attempt: job.attempts, ...job.progress_detail } : null;
  const status: StatusData = { job_id: job.job_id, status: job.status, attempt: job.attempts, worker_id: job.worker_id, error: job.error, progress };
  const updates: JobUpdate[] = [{ kind: 'status', seq: job.last_seq, data: status }];
  if (job.status === 'completed') {
    updates.push({ kind: 'completed', seq: job.last_seq, data: { ...status, duration_ms: job.duration_ms, result_location: job.result_location, artifacts: job.artifacts } });
  } else if (job.status === 'failed' || job.status === 'cancelled') {
    updates.push({ kind: job.status, seq: job.last_seq, data: status });
  }
  return updates;
}

/**
 * What a job's stream remembers between its events: the latest attempt and its worker (a JobCompleted
 * or JobFailed names neither), and a split job's parts, whose progress no single event carries.
 */
export interface LiveJobState {
  attempt: number;
  workerId: string | null;
  /** A split job's parts as the stream knows them, from the snapshot's on; null for a job not split. */
  split: SplitState | null;
}

/** The stream's state at its snapshot: a split job's parts as the view lists them. */
export function liveStateOf(snapshot: JobView): LiveJobState {
  const split: SplitState | null =
    snapshot.parts.length === 0
      ? null
      : {
          // The parts a view lists are those of its latest split, which the latest attempt made
          // (or will replace with its own JobSplit, which lists every part again).
          attempt: snapshot.attempts,
          // Not in the view, and not needed to move parts.
          splitSeconds: 0,
          parts: snapshot.parts.map((part) => ({ index: part.index, start: part.start, end: part.end, status: part.status, attempts: part.attempts, workerId: part.worker_id, progress: part.progress })),
          joinRequested: snapshot.progress_detail?.current_tool === 'join',
        };
  return { attempt: snapshot.attempts, workerId: snapshot.worker_id, split };
}

/**
 * The stream's next state and the update (if any) one stored event makes. Pure. A split job's part
 * events move its parts (by the fold's own rules, evolveSplit) and each move is a `progress` update
 * with the parts' mean (partsProgress), the same figure GET /v1/jobs/{id} then shows.
 */
export function nextUpdate(live: LiveJobState, event: JobEvent, seq: number): { live: LiveJobState; update: JobUpdate | null } {
  if (isSplitJobEvent(event)) {
    const split = evolveSplit(live.split, event);
    if (split === live.split || !split) return { live, update: null };
    const detail = partsProgress(split.parts, split.joinRequested);
    const update: JobUpdate = {
      kind: 'progress',
      seq,
      data: {
        job_id: event.jobId,
        status: 'running',
        attempt: split.attempt,
        percent: detail.percent,
        current_frame: detail.currentFrame,
        total_frames: detail.totalFrames,
        current_tool: detail.currentTool,
        tools_completed: detail.toolsCompleted,
        tools_total: detail.toolsTotal,
      },
    };
    return { live: { ...live, split }, update };
  }
  if (event.type === 'JobStarted') return { live: { ...live, attempt: event.data.attempt, workerId: event.data.workerId }, update: toUpdate(event, seq, live) };
  return { live, update: toUpdate(event, seq, live) };
}

/** The update of an event of any job (a split job's own events are nextUpdate's). */
function toUpdate(event: Exclude<JobEvent, SplitJobEvent>, seq: number, current: { attempt: number; workerId: string | null }): JobUpdate | null {
  const base = { job_id: event.jobId, error: null, progress: null };
  switch (event.type) {
    case 'VideoSubmitted':
      return null;
    case 'JobStarted':
      return { kind: 'status', seq, data: { ...base, status: 'running', attempt: event.data.attempt, worker_id: event.data.workerId } };
    case 'JobProgressed': {
      const d = event.data;
      return {
        kind: 'progress',
        seq,
        data: { job_id: event.jobId, status: 'running', attempt: d.attempt, percent: d.percent, current_frame: d.currentFrame, total_frames: d.totalFrames, current_tool: d.currentTool, tools_completed: d.toolsCompleted, tools_total: d.toolsTotal },
      };
    }
    case 'JobCompleted':
      return {
        kind: 'completed',
        seq,
        data: {
          ...base,
          status: 'completed',
          attempt: event.data.attempt,
          worker_id: current.workerId,
          duration_ms: event.data.durationMs,
          result_location: event.data.resultRef ? 'object_store' : 'inline',
          artifacts: event.data.artifacts.map((a) => ({ name: a.name, size: a.size, content_type: a.contentType })),
        },
      };
    case 'JobFailed':
      return {
        kind: event.data.final ? 'failed' : 'status',
        seq,
        data: { ...base, status: event.data.final ? 'failed' : 'queued', attempt: event.data.attempt, worker_id: current.workerId, error: event.data.error },
      };
    case 'JobCancelled':
      return { kind: 'cancelled', seq, data: { ...base, status: 'cancelled', attempt: event.data.attempt, worker_id: current.workerId } };
    case 'JobRedriven':
      return { kind: 'status', seq, data: { ...base, status: 'queued', attempt: attemptOf(event), worker_id: null } };
    case 'JobCancelRequested':
      // Changes no status: the job goes on until its JobCancelled.
      return null;
    case 'JobDeleted':
      return { kind: 'deleted', seq, data: { job_id: event.jobId } };
  }
}
