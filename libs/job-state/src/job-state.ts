import {
  assertNever,
  type JobError,
  type JobPriority,
  type JobEvent,
  type JobStatus,
  type ArtifactRef,
  type DeadLetter,
  type DeadLetterView,
  type JobView,
  type ObjectRef,
  type SplitJobEvent,
  type VideoRef,
} from '@app/contracts';

type Json = JobView['result'];

/** A job as the events describe it. Every field is derived from events alone, never from a clock. */
export interface JobState {
  jobId: string;
  status: JobStatus;
  tenant: string;
  priority: JobPriority;
  pipeline: string;
  params: Record<string, unknown>;
  video: VideoRef;
  progress: number;
  /** The latest progress report of the running attempt; null before the first one. */
  progressDetail: ProgressDetail | null;
  attempts: number;
  workerId: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  error: JobError | null;
  result: Json;
  resultRef: ObjectRef | null;
  artifacts: ArtifactRef[];
  correlationId: string;
  /** Set while the job is a dead letter: failed because its deliveries ran out. */
  deadLetter: DeadLetterState | null;
  /** When a cancel was asked for (kept once the job is cancelled); null when none was. */
  cancelRequestedAt: string | null;
  /** A deletion asked for while the job ran (a DELETE cancels it first), or the JobDeleted itself; null when none was. */
  deleteRequest: DeleteRequest | null;
  /** When the job was deleted (its JobDeleted): it is no longer served, listed or run. Null while it is not. */
  deletedAt: string | null;
  /** The parts of the latest split (issue #19); null for a job that was never split. */
  split: SplitState | null;
  /** The trace the job was submitted in (its VideoSubmitted's stored `traceparent`); null when it was not traced. */
  traceId: string | null;
}

/**
 * What the stream says of an event besides its body: the trace id of the append that stored it (the
 * message's `traceparent` header), when it was traced. Only a job's VideoSubmitted's is kept.
 */
export interface EventMeta {
  traceId?: string | null;
}

/** A split job's parts, as its latest JobSplit cut them and their events moved them. */
export interface SplitState {
  /** The job's attempt that split it. */
  attempt: number;
  splitSeconds: number;
  parts: PartState[];
  /** Every part is done and the join was asked for. */
  joinRequested: boolean;
}

/** `stopped`: queued or running when the job's attempt ended (cancelled, or failed by another part): it will not go on. */
export type PartStatus = 'queued' | 'running' | 'completed' | 'failed' | 'stopped';

export interface PartState {
  index: number;
  start: number;
  end: number | null;
  status: PartStatus;
  /** The part's attempts so far (its latest PartStarted's partAttempt); kept from an earlier attempt of the job for a kept part. */
  attempts: number;
  workerId: string | null;
  progress: number;
}

export interface DeleteRequest {
  at: string;
  /** Who asked (an API key's id); null for retention or when auth is off. */
  by: string | null;
}

export interface DeadLetterState extends DeadLetter {
  /** When the job was dead-lettered (the JobFailed's time). */
  at: string;
}

export interface ProgressDetail {
  percent: number;
  currentFrame: number;
  totalFrames: number | null;
  currentTool: string | null;
  toolsCompleted: number;
  toolsTotal: number;
}

/**
 * The one pure projection of the system: the next state of a job given an event (and what its
 * message said besides, `meta`). The live projector, replay and as-of views all fold events through
 * it. Lifecycle events for a job that was never submitted leave it absent (null).
 */
export function evolve(state: JobState | null, event: JobEvent, meta: EventMeta = {}): JobState | null {
  const at = normalizeTime(event.occurredAt);
  // A deleted job is frozen: nothing after its JobDeleted (a redrive that raced the deletion) changes it.
  if (state?.deletedAt) return state;
  switch (event.type) {
    case 'VideoSubmitted':
      if (state) return state;
      return {
        jobId: event.jobId,
        status: 'queued',
        tenant: event.data.tenant,
        priority: event.data.priority,
        pipeline: event.data.pipeline,
        params: event.data.params,
        video: event.data.video,
        progress: 0,
        progressDetail: null,
        attempts: 0,
        workerId: null,
        createdAt: at,
        updatedAt: at,
        startedAt: null,
        completedAt: null,
        durationMs: null,
        error: null,
        result: null,
        resultRef: null,
        artifacts: [],
        correlationId: event.correlationId,
        deadLetter: null,
        cancelRequestedAt: null,
        deleteRequest: null,
        deletedAt: null,
        split: null,
        traceId: meta.traceId ?? null,
      };
    case 'JobStarted':
      if (!state) return null;
      return {
        ...state,
        status: 'running',
        attempts: Math.max(state.attempts, event.data.attempt),
        workerId: event.data.workerId,
        startedAt: at,
        completedAt: null,
        progress: 0,
        progressDetail: null,
        error: null,
        // A new attempt (a redrive) takes the job off the dead-letter list.
        deadLetter: null,
        updatedAt: at,
      };
    case 'JobProgressed': {
      // Only the running attempt reports progress, and it never goes backwards within an attempt.
      if (!state || state.status !== 'running' || event.data.attempt !== state.attempts) return state;
      const { attempt: _attempt, ...detail } = event.data;
      const percent = Math.max(state.progress, Math.min(100, detail.percent));
      return { ...state, progress: percent, progressDetail: { ...detail, percent }, updatedAt: at };
    }
    case 'JobCompleted':
      if (!state) return null;
      return {
        ...state,
        status: 'completed',
        progress: 100,
        result: event.data.result ?? null,
        resultRef: event.data.resultRef,
        artifacts: event.data.artifacts,
        progressDetail: state.progressDetail ? { ...state.progressDetail, percent: 100 } : null,
        durationMs: event.data.durationMs,
        completedAt: at,
        error: null,
        deadLetter: null,
        updatedAt: at,
      };
    case 'JobFailed':
      if (!state) return null;
      return {
        ...state,
        status: event.data.final ? 'failed' : 'queued',
        error: event.data.error,
        completedAt: event.data.final ? at : null,
        progress: event.data.final ? state.progress : 0,
        deadLetter: event.data.final && event.data.deadLetter ? { ...event.data.deadLetter, at } : null,
        split: event.data.final ? stopParts(state.split) : state.split,
        updatedAt: at,
      };
    case 'JobRedriven':
      // A new run of a failed or cancelled job: queued again, with nothing of the run that ended.
      if (!state) return null;
      return {
        ...state,
        status: 'queued',
        priority: event.data.priority,
        progress: 0,
        progressDetail: null,
        completedAt: null,
        durationMs: null,
        error: null,
        deadLetter: null,
        cancelRequestedAt: null,
        updatedAt: at,
      };
    case 'JobCancelRequested':
      if (!state) return null;
      return {
        ...state,
        cancelRequestedAt: state.cancelRequestedAt ?? at,
        deleteRequest: event.data.deletion ? (state.deleteRequest ?? { at, by: event.data.requestedBy }) : state.deleteRequest,
        updatedAt: at,
      };
    case 'JobCancelled':
      if (!state) return null;
      return {
        ...state,
        status: 'cancelled',
        completedAt: at,
        error: null,
        deadLetter: null,
        cancelRequestedAt: state.cancelRequestedAt ?? at,
        split: stopParts(state.split),
        updatedAt: at,
      };
    case 'JobDeleted':
      // Its objects are gone: nothing left points at them. What it was (status, times) stays for the record.
      if (!state) return null;
      return {
        ...state,
        result: null,
        resultRef: null,
        artifacts: [],
        deleteRequest: state.deleteRequest ?? { at, by: event.data.requestedBy },
        deletedAt: at,
        updatedAt: at,
      };
    case 'JobSplit':
    case 'JoinRequested':
    case 'PartRequested':
    case 'PartStarted':
    case 'PartProgressed':
    case 'PartCompleted':
    case 'PartFailed': {
      if (!state) return null;
      const split = evolveSplit(state.split, event);
      if (split === state.split || !split) return state;
      // A part's files are the job's artifacts until the join replaces them with the joined output.
      const artifacts =
        event.type === 'PartCompleted' ? [...state.artifacts.filter((a) => !event.data.artifacts.some((b) => b.name === a.name)), ...event.data.artifacts] : state.artifacts;
      const error = event.type === 'PartFailed' ? event.data.error : state.error;
      return { ...state, split, artifacts, error, ...splitProgress(state, split), updatedAt: at };
    }
    default:
      return assertNever(event);
  }
}

export type SplitEvent = SplitJobEvent;

/**
 * The next parts of a split job given one of its split events; the same object when the event
 * changes nothing (a part event of an older attempt of the job, or of an older attempt of the part).
 * `evolve` folds a job's split through it, and a job's live stream (which starts from the parts its
 * snapshot shows) the parts it follows, so both move a part by the same rules.
 */
/** A split whose job's attempt ended: its parts that were queued or running are stopped. */
function stopParts(split: SplitState | null): SplitState | null {
  if (!split?.parts.some((part) => part.status === 'queued' || part.status === 'running')) return split;
  return { ...split, parts: split.parts.map((part) => (part.status === 'queued' || part.status === 'running' ? { ...part, status: 'stopped' } : part)) };
}

export function evolveSplit(split: SplitState | null, event: SplitEvent): SplitState | null {
  switch (event.type) {
    case 'JobSplit': {
      const before = new Map((split?.parts ?? []).map((part) => [part.index, part]));
      const kept = new Set(event.data.kept);
      const parts = event.data.parts.map((part): PartState => {
        const fresh: PartState = { index: part.index, start: part.start, end: part.end, status: 'queued', attempts: 0, workerId: null, progress: 0 };
        if (!kept.has(part.index)) return fresh;
        // A kept part is done: its span is the new split's, its attempts and worker those of the
        // earlier attempt's run that made it.
        const earlier = before.get(part.index);
        return { ...fresh, attempts: earlier?.attempts ?? 0, workerId: earlier?.workerId ?? null, status: 'completed', progress: 100 };
      });
      return { attempt: event.data.attempt, splitSeconds: event.data.splitSeconds, parts, joinRequested: false };
    }
    case 'JoinRequested':
      if (!split || split.attempt !== event.data.attempt || split.joinRequested) return split;
      return { ...split, joinRequested: true };
    case 'PartRequested':
      // The part is already listed by its JobSplit: the request is only what a worker pulls.
      return split;
    case 'PartStarted':
    case 'PartProgressed':
    case 'PartCompleted':
    case 'PartFailed': {
      if (!split || split.attempt !== event.data.attempt) return split;
      const part = split.parts.find((p) => p.index === event.data.index);
      if (!part) return split;
      const next = evolvePart(part, event);
      if (next === part) return split;
      return { ...split, parts: split.parts.map((p) => (p === part ? next : p)) };
    }
    default:
      return assertNever(event);
  }
}

/** The next state of one part; the same object when the event changes nothing (an older attempt's report). */
function evolvePart(part: PartState, event: Extract<JobEvent, { type: 'PartStarted' | 'PartProgressed' | 'PartCompleted' | 'PartFailed' }>): PartState {
  const partAttempt = event.data.partAttempt;
  switch (event.type) {
    case 'PartStarted':
      // A start of the latest attempt or an older one again, or of a part already made, is a late delivery: it changes nothing.
      if (partAttempt <= part.attempts || part.status === 'completed') return part;
      return { ...part, status: 'running', attempts: partAttempt, workerId: event.data.workerId, progress: 0 };
    case 'PartProgressed':
      if (part.status !== 'running' || partAttempt !== part.attempts) return part;
      return { ...part, progress: Math.max(part.progress, Math.min(100, event.data.percent)) };
    case 'PartCompleted':
      return { ...part, status: 'completed', progress: 100, workerId: event.data.workerId };
    case 'PartFailed':
      // Only the latest attempt's failure moves the part: an older attempt's must not send a part
      // that runs again (or is made) back to the queue.
      if (partAttempt !== part.attempts || part.status === 'completed') return part;
      return { ...part, status: event.data.final ? 'failed' : 'queued', progress: event.data.final ? part.progress : 0 };
    default:
      return assertNever(event);
  }
}

/**
 * A split job's progress: the mean of its parts' (so a part that starts again takes its share back),
 * held below 100 until the join's JobCompleted. Never goes backwards while the same attempt runs,
 * except when a part's attempt fails and starts over.
 */
function splitProgress(state: JobState, split: SplitState): Pick<JobState, 'progress' | 'progressDetail'> {
  if (state.status !== 'running') return { progress: state.progress, progressDetail: state.progressDetail };
  const detail = partsProgress(split.parts, split.joinRequested);
  return { progress: detail.percent, progressDetail: detail };
}

/**
 * The progress of a split job's attempt given its parts' (each 0 to 100, `completed` when made): the
 * mean, to a tenth, at most 99 (only the join's JobCompleted makes it 100), with the parts made as
 * the tools completed. The fold and the live updates (which track the parts' progress themselves)
 * both compute it here, so a follower sees what GET /v1/jobs/{id} shows.
 */
export function partsProgress(parts: readonly Pick<PartState, 'progress' | 'status'>[], joinRequested: boolean): ProgressDetail {
  const mean = parts.length === 0 ? 0 : parts.reduce((sum, part) => sum + part.progress, 0) / parts.length;
  const percent = Math.min(99, Math.round(mean * 10) / 10);
  const done = parts.filter((part) => part.status === 'completed').length;
  return { percent, currentFrame: 0, totalFrames: null, currentTool: joinRequested ? 'join' : 'parts', toolsCompleted: done, toolsTotal: parts.length };
}

/** Folds events (already in stream order) into a state; null when they never submitted a job. */
export function fold(events: Iterable<JobEvent>, initial: JobState | null = null): JobState | null {
  let state = initial;
  for (const event of events) state = evolve(state, event);
  return state;
}

/** Folds stored events with what their messages said besides (EventMeta), as the projector does. */
export function foldWithMeta(entries: Iterable<{ event: JobEvent } & EventMeta>, initial: JobState | null = null): JobState | null {
  let state = initial;
  for (const entry of entries) state = evolve(state, entry.event, entry);
  return state;
}

function normalizeTime(iso: string): string {
  return new Date(iso).toISOString();
}

/** The API's view of a state. */
export function toJobView(state: JobState, lastSeq: number): JobView {
  return {
    job_id: state.jobId,
    status: state.status,
    tenant: state.tenant,
    priority: state.priority,
    pipeline: state.pipeline,
    params: state.params,
    progress: state.progress,
    attempts: state.attempts,
    worker_id: state.workerId,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    started_at: state.startedAt,
    completed_at: state.completedAt,
    duration_ms: state.durationMs,
    error: state.error,
    result: state.result,
    result_location: state.status !== 'completed' ? null : state.resultRef ? 'object_store' : 'inline',
    artifacts: state.artifacts.map((a) => ({ name: a.name, size: a.size, content_type: a.contentType })),
    progress_detail: state.progressDetail
      ? {
          percent: state.progressDetail.percent,
          current_frame: state.progressDetail.currentFrame,
          total_frames: state.progressDetail.totalFrames,
          current_tool: state.progressDetail.currentTool,
          tools_completed: state.progressDetail.toolsCompleted,
          tools_total: state.progressDetail.toolsTotal,
        }
      : null,
    video: {
      filename: state.video.filename,
      size: state.video.size,
      content_type: state.video.contentType,
      sha256: state.video.sha256,
    },
    correlation_id: state.correlationId,
    trace_id: state.traceId,
    cancel_requested_at: state.cancelRequestedAt,
    dead_letter: state.deadLetter
      ? {
          reason: state.deadLetter.reason,
          consumer: state.deadLetter.consumer,
          deliveries: state.deadLetter.deliveries,
          stream_seq: state.deadLetter.streamSeq,
          at: state.deadLetter.at,
        }
      : null,
    parts: (state.split?.parts ?? []).map((part) => ({
      index: part.index,
      start: part.start,
      end: part.end,
      status: part.status,
      attempts: part.attempts,
      worker_id: part.workerId,
      progress: part.progress,
    })),
    last_seq: lastSeq,
  };
}

/** The dead-letter list's view of a job; null when the job is not a dead letter. */
export function toDeadLetterView(state: JobState): DeadLetterView | null {
  const dead = state.deadLetter;
  if (!dead) return null;
  return {
    job_id: state.jobId,
    tenant: state.tenant,
    pipeline: state.pipeline,
    priority: state.priority,
    reason: dead.reason,
    error: state.error ?? { code: dead.reason, message: '' },
    attempts: state.attempts,
    deliveries: dead.deliveries,
    consumer: dead.consumer,
    stream_seq: dead.streamSeq,
    last_worker_id: state.workerId,
    created_at: state.createdAt,
    dead_lettered_at: dead.at,
  };
}
