import {
  assertNever,
  attemptOf,
  cleanText,
  ErrorCode,
  inScope,
  isPartEvent,
  isTerminal,
  newEvent,
  type EventData,
  type EventMeta,
  type JobDeletionReason,
  type JobEvent,
  type JobScope,
  type JobStarted,
  type JobSplit,
  type PartRequested,
  type PartStarted,
  type PartWork,
  type SplitPartRef,
  type VideoSubmitted,
  type WorkRequest,
  type ArtifactRef,
} from '@app/contracts';

/** A message of the job's stream with its sequence; `event` is null when it cannot be read (an unknown type or version). */
export interface Stored<E extends JobEvent> {
  seq: number;
  event: E | null;
}

/**
 * What the stream says of one job, all that a decision needs, as of one moment:
 * - `submission`: its first VideoSubmitted, whatever its priority: that one is the job. A later one
 *   (stored by a release before the whole-job check, for the same Idempotency-Key at another
 *   priority) is inert.
 * - `lifecycle`: the last message on its lifecycle subject.
 * - `latestWork`: the last work request on the submission's subject (the submission, or its latest
 *   redrive): what makes an older work message stale.
 * - `last`: the sequence of the job's last message on any of its subjects (`<ns>.job.<id>.>`), 0
 *   when it has none: what every append of the job expects, whatever the event, so that of two
 *   appends decided from the same history exactly one is stored.
 * Null where the stream holds nothing.
 */
export interface JobHistory {
  submission: Stored<VideoSubmitted> | null;
  lifecycle: Stored<JobEvent> | null;
  latestWork: Stored<WorkRequest> | null;
  last: number;
  /** A split job's latest JobSplit (on its split subject); absent or null for a job never split. */
  split?: Stored<JobSplit> | null;
  /** A split job's last event of each part, by part index (on each part's subject). */
  parts?: ReadonlyMap<number, Stored<JobEvent>>;
}

/**
 * The time and the ids of the events a decision builds. The decider has no clock and makes no ids:
 * the caller gives them (a fresh id per call of `nextId`, or one derived from the command).
 */
export interface Stamp {
  at: string;
  nextId(): string;
}

/** A failure as the worker saw it, before the rules decide whether it is final. */
export interface AttemptFailure {
  code: string;
  message: string;
  /** The input is bad: no retry can help. */
  permanent: boolean;
}

/** A MAX_DELIVERIES advisory: the work message at `seq` was delivered `deliveries` times and no attempt settled it. */
export interface DeliveriesExhausted {
  consumer: string;
  deliveries: number;
}

export type JobCommand =
  /** The gateway stores a new job. */
  | { kind: 'Submit'; jobId: string; correlationId: string; data: EventData<'VideoSubmitted'>; stamp: Stamp }
  /** A worker got a delivery of the work request stored at `deliverySeq` and wants to run it. */
  | { kind: 'Claim'; jobId: string; request: WorkRequest; deliverySeq: number; workerId: string; stamp: Stamp }
  /** The running attempt reports progress. */
  | { kind: 'Progress'; jobId: string; started: JobStarted; progress: Omit<EventData<'JobProgressed'>, 'attempt'>; stamp: Stamp }
  /** The running attempt finished its pipeline. */
  | { kind: 'Complete'; jobId: string; started: JobStarted; result: Omit<EventData<'JobCompleted'>, 'attempt'>; stamp: Stamp }
  /**
   * The running attempt failed. `previousFailure` is the code of the attempt before it in the same run
   * (from the claim), `maxAttempts` the pipeline's attempt limit, and `jitter` a number in [0, 1)
   * that spreads retries (equal jitter): the caller draws it.
   */
  | { kind: 'Fail'; jobId: string; started: JobStarted; failure: AttemptFailure; previousFailure: string | null; maxAttempts: number; jitter: number; stamp: Stamp }
  /** Someone asks the job to stop (the jobs service, for `POST /v1/jobs/{id}/cancel`). */
  | { kind: 'RequestCancel'; jobId: string; scope: JobScope; requestedBy: string | null; reason: string | null; stamp: Stamp }
  /** The worker whose attempt a cancel request stopped ends it. */
  | { kind: 'Cancel'; jobId: string; started: JobStarted; stamp: Stamp }
  /** Run a failed or cancelled job again. */
  | { kind: 'Redrive'; jobId: string; scope: JobScope; requestedBy: string | null; stamp: Stamp }
  /** A work message's deliveries ran out (the jobs service, from a MAX_DELIVERIES advisory). */
  | { kind: 'DeadLetter'; jobId: string; request: WorkRequest; deliverySeq: number; exhausted: DeliveriesExhausted; stamp: Stamp }
  /** A split job's part or join work message's deliveries ran out: the job's attempt fails, as a dead letter. */
  | { kind: 'DeadLetterPart'; jobId: string; request: PartWork; deliverySeq: number; exhausted: DeliveriesExhausted; stamp: Stamp }
  /** Delete the job (`DELETE /v1/jobs/{id}`, or its retention ran out). */
  | { kind: 'Delete'; jobId: string; scope: JobScope; requestedBy: string | null; reason: JobDeletionReason; stamp: Stamp }
  /**
   * The running attempt cut the video into `parts` (issue #19): the split and the parts' work requests,
   * in one atomic batch. An attempt after an earlier split (a redrive) keeps that split's cut points
   * and the parts it completed, and asks only for the others (or straight for the join).
   */
  | { kind: 'Split'; jobId: string; started: JobStarted; splitSeconds: number; parts: SplitPartRef[]; stamp: Stamp }
  /** A worker got a delivery of a part's work request and wants to make the part. */
  | { kind: 'ClaimPart'; jobId: string; request: PartRequested; workerId: string; maxAttempts: number; stamp: Stamp }
  /** A running part reports progress. */
  | { kind: 'PartProgress'; jobId: string; started: PartStarted; progress: { percent: number; currentFrame: number; totalFrames: number | null }; stamp: Stamp }
  /** A running part is made: its files are stored. */
  | { kind: 'CompletePart'; jobId: string; started: PartStarted; durationMs: number; artifacts: ArtifactRef[]; stamp: Stamp }
  /** A running part failed; like an attempt's failure, it is retried until the part's attempts run out, and then it fails the job. */
  | { kind: 'FailPart'; jobId: string; started: PartStarted; failure: AttemptFailure; maxAttempts: number; jitter: number; stamp: Stamp };

/**
 * One event to append, and the sequence the job's last message (on any of its subjects) must have:
 * the history's `last`, or the sequence the previous append of the decision got.
 */
export interface Append {
  event: JobEvent;
  expectSeq: number | 'previous';
}

/**
 * Why nothing is appended. Each has one meaning whatever the command:
 * - `not-found`: no such job (never submitted, or outside the caller's scope);
 * - `deleted`: the job is deleted; it is not found, and nothing may run or change it again;
 * - `unreadable`: the job's history holds a message this release cannot read: leave the job alone;
 * - `already-submitted`: the job id is taken (the same Idempotency-Key);
 * - `not-first-submission`: the work request is a later VideoSubmitted of a job: inert;
 * - `stale`: the work message is older than the job's latest work request (a redrive superseded it);
 * - `ended`: the job ended after this work request;
 * - `not-ended`: a redrive of a job that has not ended;
 * - `completed`: a redrive of a job that completed;
 * - `cancel-requested`: a cancel waits to be settled (the attempt must stop; a second cancel has nothing to add);
 * - `deletion-pending`: a deletion is already asked for, and waits for the job to end;
 * - `lost`: another attempt holds the job now;
 * - `settled`: the cancel was settled by someone else.
 */
export type RefusalReason =
  | 'not-found'
  | 'deleted'
  | 'unreadable'
  | 'already-submitted'
  | 'not-first-submission'
  | 'stale'
  | 'ended'
  | 'not-ended'
  | 'completed'
  | 'cancel-requested'
  | 'deletion-pending'
  | 'lost'
  | 'settled';

export type Decision =
  /**
   * `previousFailure`: for a claim, the error code of the attempt before it in the same run (null when
   * none failed); null otherwise. `atomic`: the appends are stored all or nothing (one atomic batch;
   * every one after the first is 'previous').
   */
  | { kind: 'append'; appends: [Append, ...Append[]]; previousFailure: string | null; atomic?: boolean }
  /** `seq`: the sequence of the message the refusal is about (the cancel request, the unreadable message), when there is one. */
  | { kind: 'refused'; reason: RefusalReason; message: string; seq: number | null };

/** The error code a caller answers a refusal with, when it answers one. */
export const REFUSAL_CODES: Record<RefusalReason, ErrorCode> = {
  'not-found': ErrorCode.JobNotFound,
  deleted: ErrorCode.JobNotFound,
  unreadable: ErrorCode.JobHistoryUnreadable,
  'already-submitted': ErrorCode.IdempotencyKeyReused,
  'not-first-submission': ErrorCode.IdempotencyKeyReused,
  stale: ErrorCode.JobNotRetryable,
  ended: ErrorCode.JobAlreadyEnded,
  'not-ended': ErrorCode.JobNotRetryable,
  completed: ErrorCode.JobNotRetryable,
  'cancel-requested': ErrorCode.Cancelled,
  'deletion-pending': ErrorCode.JobNotFound,
  lost: ErrorCode.WorkerError,
  settled: ErrorCode.JobAlreadyEnded,
};

/** Who appends a JobCancelled for a job that was not running. */
export const JOBS_SERVICE_ACTOR = 'jobs-service';

/**
 * What may happen next to a job: the events to append, each with the sequence it must expect, or a
 * refusal with its reason. Every lifecycle rule lives here, and nowhere else; the services around it
 * read the history, call this, append, and on a concurrency conflict read again and call it again.
 * Pure: no I/O, no clock, no randomness (the command brings its time, ids and jitter).
 */
export function decide(history: JobHistory, command: JobCommand): Decision {
  switch (command.kind) {
    case 'Submit':
      return decideSubmit(history, command);
    case 'Claim':
      return decideClaim(history, command);
    case 'Progress':
    case 'Complete':
    case 'Fail':
      return decideAttemptEvent(history, command);
    case 'Cancel':
      return decideCancel(history, command);
    case 'RequestCancel':
      return decideRequestCancel(history, command);
    case 'Redrive':
      return decideRedrive(history, command);
    case 'DeadLetter':
      return decideDeadLetter(history, command);
    case 'DeadLetterPart':
      return decideDeadLetterPart(history, command);
    case 'Delete':
      return decideDelete(history, command);
    case 'Split':
      return decideSplit(history, command);
    case 'ClaimPart':
      return decideClaimPart(history, command);
    case 'PartProgress':
    case 'CompletePart':
    case 'FailPart':
      return decidePartEvent(history, command);
    default:
      return assertNever(command);
  }
}

function decideSubmit(history: JobHistory, command: Extract<JobCommand, { kind: 'Submit' }>): Decision {
  if (history.submission) return refused('already-submitted', `job ${command.jobId} is already submitted`, history.submission.seq);
  // Something is stored under the id, but no submission: the id is taken all the same.
  if (history.last > 0) return refused('already-submitted', `job ${command.jobId} already has events`, history.last);
  const meta = metaOf(command.stamp, command.jobId, command.correlationId, null);
  // The job's first event: its subjects must hold nothing yet, at any priority.
  return append([{ event: newEvent('VideoSubmitted', command.data, meta), expectSeq: 0 }]);
}

function decideClaim(history: JobHistory, command: Extract<JobCommand, { kind: 'Claim' }>): Decision {
  const { request, deliverySeq } = command;
  const position = workPosition(history, request, deliverySeq);
  if (position.kind === 'refused') return position;
  // Lifecycle events after this work request belong to its run: the last one causes the start. Those
  // before it belong to the run a redrive reopened: the redrive causes the start.
  const previous = history.lifecycle && history.lifecycle.seq > deliverySeq ? history.lifecycle.event : null;
  const meta = metaOf(command.stamp, command.jobId, request.correlationId, (previous ?? request).eventId);
  if (position.kind === 'cancel-requested') {
    // Asked to stop before any attempt of this run started: settle it, so the job never starts.
    return append([{ event: newEvent('JobCancelled', { attempt: position.attempt, cancelledBy: command.workerId }, meta), expectSeq: history.last }]);
  }
  // Running in parts: the attempt split the job and its worker died before acking the work message.
  // The parts go on; nothing is left for this message to do.
  if (position.kind === 'running' && splitAttempt(history) === position.attempt) {
    return refused('stale', `job ${command.jobId} runs in parts (attempt ${position.attempt} split it)`, history.split?.seq ?? null);
  }
  // Running: the attempt's worker died (this is a redelivery after its ack deadline): a new attempt takes over.
  const started = newEvent('JobStarted', { workerId: command.workerId, attempt: position.attempt + 1 }, meta);
  return append([{ event: started, expectSeq: history.last }], previous?.type === 'JobFailed' ? previous.data.error.code : null);
}

/**
 * Whether the attempt that `started` began still holds the job, from the last message of its
 * lifecycle: `holds` while the last event is its own; `cancel-requested` when a cancel came after it;
 * `lost` when another attempt took over (or the job ended otherwise); `unreadable` when the last
 * message cannot be read. For a worker's cancel nudge and heartbeat too.
 */
export function attemptStanding(lifecycle: Stored<JobEvent> | null, started: JobStarted): 'holds' | 'cancel-requested' | 'lost' | 'unreadable' {
  if (!lifecycle) return 'lost';
  const event = lifecycle.event;
  if (!event) return 'unreadable';
  if (event.type === 'JobCancelRequested') return 'cancel-requested';
  if (event.type === 'JobStarted') return event.eventId === started.eventId ? 'holds' : 'lost';
  if (event.type === 'JobProgressed') return event.data.attempt === started.data.attempt ? 'holds' : 'lost';
  return 'lost';
}

function decideAttemptEvent(history: JobHistory, command: Extract<JobCommand, { kind: 'Progress' | 'Complete' | 'Fail' }>): Decision {
  const { started } = command;
  const standing = attemptStanding(history.lifecycle, started);
  if (standing !== 'holds') return attemptRefusal(standing, history, started);
  const meta = metaOf(command.stamp, command.jobId, started.correlationId, started.eventId);
  const attempt = started.data.attempt;
  const expectSeq = history.last;
  switch (command.kind) {
    case 'Progress':
      return append([{ event: newEvent('JobProgressed', { attempt, ...command.progress }, meta), expectSeq }]);
    case 'Complete':
      return append([{ event: newEvent('JobCompleted', { attempt, ...command.result }, meta), expectSeq }]);
    case 'Fail': {
      const failure = escalateResourceFailure(command.failure, command.previousFailure);
      // A redrive's attempts count again from the first one it started.
      const redrive = history.latestWork?.event?.type === 'JobRedriven' ? history.latestWork.event : null;
      const attemptsThisRun = attempt - (redrive?.data.firstAttempt ?? 1) + 1;
      const final = failure.permanent || attemptsThisRun >= command.maxAttempts;
      const failed = newEvent(
        'JobFailed',
        { attempt, final, error: jobErrorOf(failure), deadLetter: null, retryDelayMs: final ? null : retryDelayMs(attemptsThisRun, command.jitter) },
        meta,
      );
      return append([{ event: failed, expectSeq }]);
    }
    default:
      return assertNever(command);
  }
}

function attemptRefusal(standing: 'cancel-requested' | 'lost' | 'unreadable', history: JobHistory, started: JobStarted): Decision {
  const seq = history.lifecycle?.seq ?? null;
  switch (standing) {
    case 'cancel-requested':
      return refused('cancel-requested', `attempt ${started.data.attempt} of job ${started.jobId} was asked to stop`, seq);
    case 'unreadable':
      return unreadable(started.jobId, seq!);
    case 'lost':
      return refused('lost', `attempt ${started.data.attempt} of job ${started.jobId} no longer holds it`, seq);
    default:
      return assertNever(standing);
  }
}

function decideCancel(history: JobHistory, command: Extract<JobCommand, { kind: 'Cancel' }>): Decision {
  const { started } = command;
  const last = history.lifecycle;
  if (last && !last.event) return unreadable(started.jobId, last.seq);
  // After the newest request: a DELETE that asks again stops the job all the same.
  if (last?.event?.type !== 'JobCancelRequested') return refused('settled', `the cancel of job ${started.jobId} was settled by someone else`, last?.seq ?? null);
  const meta = metaOf(command.stamp, command.jobId, started.correlationId, started.eventId);
  return append([{ event: newEvent('JobCancelled', { attempt: started.data.attempt, cancelledBy: started.data.workerId }, meta), expectSeq: history.last }]);
}

function decideRequestCancel(history: JobHistory, command: Extract<JobCommand, { kind: 'RequestCancel' }>): Decision {
  const job = jobOf(history, command.scope, command.jobId);
  if ('kind' in job) return job;
  const { submission, position } = job;
  const seq = history.lifecycle?.seq ?? null;
  switch (position.kind) {
    case 'ended':
      return refused('ended', `job ${command.jobId} has already ended (${history.lifecycle?.event?.type ?? 'unknown'})`, seq);
    case 'cancel-requested':
      // Asked before and not settled yet: the same answer.
      return refused('cancel-requested', `a cancel of job ${command.jobId} is already requested`, seq);
    case 'running':
    case 'waiting': {
      const data = { attempt: position.attempt, reason: command.reason, requestedBy: command.requestedBy, deletion: false };
      const asked = newEvent('JobCancelRequested', data, metaOf(command.stamp, command.jobId, submission.correlationId, (history.lifecycle?.event ?? submission).eventId));
      const first: Append = { event: asked, expectSeq: history.last };
      // A running job is stopped by its worker, which appends JobCancelled; a waiting one is cancelled at
      // once, so no worker ever starts it. So is one running in parts: no one worker holds it, and every
      // part's worker stops at its next look (a nudge, a heartbeat or an append), appending nothing more.
      if (position.kind === 'running' && splitAttempt(history) !== position.attempt) return append([first]);
      const cancelled = newEvent('JobCancelled', { attempt: position.attempt, cancelledBy: JOBS_SERVICE_ACTOR }, metaOf(command.stamp, command.jobId, submission.correlationId, asked.eventId));
      return append([first, { event: cancelled, expectSeq: 'previous' }]);
    }
    default:
      return assertNever(position);
  }
}

function decideRedrive(history: JobHistory, command: Extract<JobCommand, { kind: 'Redrive' }>): Decision {
  const job = jobOf(history, command.scope, command.jobId);
  if ('kind' in job) return job;
  const { submission, position } = job;
  const ending = history.lifecycle?.event ?? null;
  const seq = history.lifecycle?.seq ?? null;
  if (position.kind !== 'ended' || !ending) return refused('not-ended', `job ${command.jobId} has not ended; only a failed or cancelled job can be retried`, seq);
  if (ending.type === 'JobCompleted') return refused('completed', `job ${command.jobId} completed; only a failed or cancelled job can be retried`, seq);
  const { pipeline, params, video, tenant, priority } = submission.data;
  const data = { pipeline, params, video, tenant, priority, firstAttempt: position.attempt + 1, requestedBy: command.requestedBy };
  // On the submission's subject, so the workers of its priority get it. Of two redrives, or a redrive
  // and a deletion, decided from the same history, one wins.
  const redriven = newEvent('JobRedriven', data, metaOf(command.stamp, command.jobId, submission.correlationId, ending.eventId));
  return append([{ event: redriven, expectSeq: history.last }]);
}

function decideDeadLetter(history: JobHistory, command: Extract<JobCommand, { kind: 'DeadLetter' }>): Decision {
  const { request, deliverySeq, exhausted } = command;
  const position = workPosition(history, request, deliverySeq);
  if (position.kind === 'refused') return position;
  const failed = newEvent(
    'JobFailed',
    {
      attempt: position.attempt,
      final: true,
      error: {
        code: ErrorCode.MaxDeliveries,
        message: `the job was delivered ${exhausted.deliveries} times (consumer "${exhausted.consumer}") and no attempt finished: the worker crashed or hung each time`,
      },
      deadLetter: { reason: 'MAX_DELIVERIES', consumer: exhausted.consumer, deliveries: exhausted.deliveries, streamSeq: deliverySeq },
      retryDelayMs: null,
    },
    metaOf(command.stamp, command.jobId, request.correlationId, (history.lifecycle?.event ?? request).eventId),
  );
  return append([{ event: failed, expectSeq: history.last }]);
}

function decideDeadLetterPart(history: JobHistory, command: Extract<JobCommand, { kind: 'DeadLetterPart' }>): Decision {
  const { request, deliverySeq, exhausted } = command;
  const attempt = request.data.attempt;
  const lifecycle = history.lifecycle;
  if (lifecycle && !lifecycle.event) return unreadable(command.jobId, lifecycle.seq);
  if (!attemptRuns(lifecycle, attempt) || splitAttempt(history) !== attempt) {
    return refused(lifecycle?.event && isTerminal(lifecycle.event) ? 'ended' : 'stale', `attempt ${attempt} of job ${command.jobId} no longer runs it`, lifecycle?.seq ?? null);
  }
  const what = request.type === 'PartRequested' ? `part ${request.data.part.index}` : 'the join';
  const failed = newEvent(
    'JobFailed',
    {
      attempt,
      final: true,
      error: { code: ErrorCode.MaxDeliveries, message: `${what} was delivered ${exhausted.deliveries} times (consumer "${exhausted.consumer}") and no attempt of it finished: the worker crashed or hung each time` },
      deadLetter: { reason: 'MAX_DELIVERIES', consumer: exhausted.consumer, deliveries: exhausted.deliveries, streamSeq: deliverySeq },
      retryDelayMs: null,
    },
    metaOf(command.stamp, command.jobId, request.correlationId, request.eventId),
  );
  return append([{ event: failed, expectSeq: history.last }]);
}

function decideDelete(history: JobHistory, command: Extract<JobCommand, { kind: 'Delete' }>): Decision {
  const job = jobOf(history, command.scope, command.jobId);
  if ('kind' in job) return job;
  const { submission, position } = job;
  const last = history.lifecycle;
  const meta = () => metaOf(command.stamp, command.jobId, submission.correlationId, (last?.event ?? submission).eventId);
  const requestCancel = (attempt: number) =>
    append([{ event: newEvent('JobCancelRequested', { attempt, reason: 'the job is being deleted', requestedBy: command.requestedBy, deletion: true }, meta()), expectSeq: history.last }]);
  switch (position.kind) {
    case 'ended':
    case 'waiting': {
      // No attempt runs: deleted at once. A worker claiming the job, or a redrive, at this moment
      // expects the same sequence, so exactly one of them wins.
      const deleted = newEvent('JobDeleted', { attempt: position.attempt, reason: command.reason, requestedBy: command.requestedBy }, meta());
      return append([{ event: deleted, expectSeq: history.last }]);
    }
    case 'running': {
      // Stopped first; the job is deleted once it has ended. A job running in parts ends at once (see decideRequestCancel).
      if (splitAttempt(history) !== position.attempt) return requestCancel(position.attempt);
      const asked = newEvent('JobCancelRequested', { attempt: position.attempt, reason: 'the job is being deleted', requestedBy: command.requestedBy, deletion: true }, meta());
      const cancelled = newEvent('JobCancelled', { attempt: position.attempt, cancelledBy: JOBS_SERVICE_ACTOR }, metaOf(command.stamp, command.jobId, submission.correlationId, asked.eventId));
      return append([{ event: asked, expectSeq: history.last }, { event: cancelled, expectSeq: 'previous' }]);
    }
    case 'cancel-requested': {
      const event = last?.event;
      if (event?.type === 'JobCancelRequested' && event.data.deletion) return refused('deletion-pending', `a deletion of job ${command.jobId} waits for it to end`, last!.seq);
      // A plain cancel waits to be settled: asked again, with the deletion.
      return requestCancel(position.attempt);
    }
    default:
      return assertNever(position);
  }
}

/**
 * Where a job stands with respect to the work request stored at `workSeq`, from the last message of
 * its lifecycle:
 * - `unreadable`: that message cannot be read by this release; nothing may be decided from it;
 * - `deleted`: its last event is JobDeleted: nothing may run or change it again, whatever work
 *   request comes after (a redrive that raced the deletion);
 * - `ended`: a terminal event came after the request; nothing is left to do for it;
 * - `cancel-requested`: a cancel waits to be settled with JobCancelled by whoever holds the job;
 * - `running`: an attempt has started and not ended;
 * - `waiting`: no attempt runs (never started, waiting for a retry, or redriven after its end).
 * `attempt` is the attempt the last event belongs to; the next one to start is `attempt + 1`.
 */
type Position =
  | { kind: 'unreadable'; seq: number }
  | { kind: 'deleted'; attempt: number }
  | { kind: 'ended'; attempt: number }
  | { kind: 'cancel-requested'; attempt: number }
  | { kind: 'running'; attempt: number }
  | { kind: 'waiting'; attempt: number };

function positionOf(last: Stored<JobEvent> | null, workSeq: number): Position {
  if (!last) return { kind: 'waiting', attempt: 0 };
  const event = last.event;
  if (!event) return { kind: 'unreadable', seq: last.seq };
  const attempt = attemptOf(event);
  if (event.type === 'JobDeleted') return { kind: 'deleted', attempt };
  if (isTerminal(event)) return last.seq > workSeq ? { kind: 'ended', attempt } : { kind: 'waiting', attempt };
  switch (event.type) {
    case 'JobCancelRequested':
      return { kind: 'cancel-requested', attempt };
    case 'JobStarted':
    case 'JobProgressed':
      return { kind: 'running', attempt };
    default:
      // A JobFailed that is not final: the attempt ended and the next waits for its retry.
      return { kind: 'waiting', attempt };
  }
}

/** A position in which something may still happen to the job. */
type LivePosition = Exclude<Position, { kind: 'unreadable' | 'deleted' }>;

/**
 * Where the job of a work message (a delivery, or one whose deliveries ran out) stands, when that
 * message may still act on it: it is the job's first submission or a redrive of it, no older than
 * the job's latest work request, and the job can be read, is not deleted and has not ended since.
 * Else the refusal.
 */
function workPosition(history: JobHistory, request: WorkRequest, deliverySeq: number): Exclude<LivePosition, { kind: 'ended' }> | Extract<Decision, { kind: 'refused' }> {
  const { submission, latestWork, lifecycle } = history;
  const jobId = request.jobId;
  if (!submission) return refused('not-found', `job ${jobId} has no submission`, null);
  if (!submission.event) return unreadable(jobId, submission.seq);
  if (request.type === 'VideoSubmitted' && deliverySeq !== submission.seq) {
    return refused('not-first-submission', `job ${jobId} was first submitted at seq ${submission.seq}; the submission at seq ${deliverySeq} is inert`, submission.seq);
  }
  if (latestWork && latestWork.seq > deliverySeq) {
    return refused('stale', `job ${jobId} has a newer work request (seq ${latestWork.seq}) than this one (seq ${deliverySeq})`, latestWork.seq);
  }
  const position = positionOf(lifecycle, deliverySeq);
  switch (position.kind) {
    case 'unreadable':
      return unreadable(jobId, position.seq);
    case 'deleted':
      return refused('deleted', `job ${jobId} is deleted`, lifecycle!.seq);
    case 'ended':
      return refused('ended', `job ${jobId} ended after this work request`, lifecycle!.seq);
    default:
      return position;
  }
}

/**
 * The job a command of the jobs service acts on: its readable submission within the caller's scope
 * and where it stands; or the refusal (not found, deleted, unreadable).
 */
function jobOf(history: JobHistory, scope: JobScope, jobId: string): Extract<Decision, { kind: 'refused' }> | { submission: VideoSubmitted; position: LivePosition } {
  const { submission, latestWork, lifecycle } = history;
  if (!submission) return refused('not-found', `no job ${jobId}`, null);
  // Whose job it is can't be read: only a caller who sees every tenant learns that the job exists.
  if (!submission.event) return scope.kind === 'all' ? unreadable(jobId, submission.seq) : refused('not-found', `no job ${jobId}`, null);
  if (!inScope(scope, submission.event.data.tenant)) return refused('not-found', `no job ${jobId}`, null);
  if (latestWork && !latestWork.event) return unreadable(jobId, latestWork.seq);
  const workSeq = latestWork?.seq ?? submission.seq;
  const position = positionOf(lifecycle, workSeq);
  if (position.kind === 'unreadable') return unreadable(jobId, position.seq);
  if (position.kind === 'deleted') return refused('deleted', `no job ${jobId}`, lifecycle!.seq);
  return { submission: submission.event, position };
}

/** RESOURCE codes: what an attempt stopped for time (a tool's timeout) or memory (a tool's cap, a crash) fails with. */
const RESOURCE_CODES: ReadonlySet<string> = new Set([ErrorCode.ToolTimeout, ErrorCode.ResourceLimit]);

/**
 * A tool killed for time or memory is transient once: the machine may have been busy, or the worker
 * restarted under it. When the attempt before this one (in the same run: a redrive starts afresh)
 * was stopped the same way, the input is what costs too much, and the failure is permanent,
 * RESOURCE_LIMIT. Any other failure is left as it is.
 */
export function escalateResourceFailure(failure: AttemptFailure, previousCode: string | null): AttemptFailure {
  if (failure.permanent || !RESOURCE_CODES.has(failure.code) || previousCode === null || !RESOURCE_CODES.has(previousCode)) return failure;
  return {
    code: ErrorCode.ResourceLimit,
    message: `${failure.message} (the attempt before was stopped for ${previousCode} too: not retried again)`,
    permanent: true,
  };
}

/**
 * The error a JobFailed event carries: code and message as clean text (a tool's or plugin's message,
 * ffmpeg's stderr cut anywhere, may hold a lone surrogate or NUL), within the event's limits, cut at
 * a code point boundary.
 */
export function jobErrorOf(failure: Pick<AttemptFailure, 'code' | 'message'>): { code: string; message: string } {
  return {
    code: cleanText(failure.code, { oneLine: true, maxLength: 64 }) || ErrorCode.WorkerError,
    message: cleanText(failure.message, { maxLength: 4000 }),
  };
}

/**
 * Exponential backoff with equal jitter: the ceiling doubles from 1 s (1 s, 2 s, 4 s ... capped at 60 s)
 * and the delay is half of it plus `jitter` (in [0, 1)) of the other half: 0.5-1 s, 1-2 s, ... 30-60 s.
 */
export function retryDelayMs(attempt: number, jitter: number): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + jitter * (ceiling / 2));
}

function metaOf(stamp: Stamp, jobId: string, correlationId: string, causationId: string | null): EventMeta {
  return { eventId: stamp.nextId(), jobId, occurredAt: stamp.at, correlationId, causationId };
}

function append(appends: [Append, ...Append[]], previousFailure: string | null = null): Decision {
  return { kind: 'append', appends, previousFailure };
}

/** Appends stored all or nothing: the first expects the job's last sequence, the rest follow it. */
function appendAtomic(history: JobHistory, events: [JobEvent, ...JobEvent[]]): Decision {
  const [first, ...rest] = events;
  return { kind: 'append', appends: [{ event: first, expectSeq: history.last }, ...rest.map((event) => ({ event, expectSeq: 'previous' as const }))], previousFailure: null, atomic: true };
}

// ---- Split jobs (issue #19) ----

/** The attempt whose JobSplit is the job's latest; null when it was never split. */
function splitAttempt(history: JobHistory): number | null {
  return history.split?.event?.data.attempt ?? null;
}

/** Whether the job's lifecycle says that attempt `attempt` runs it (its JobStarted, or its progress, is the last event). */
function attemptRuns(lifecycle: Stored<JobEvent> | null, attempt: number): boolean {
  const event = lifecycle?.event;
  return (event?.type === 'JobStarted' || event?.type === 'JobProgressed') && event.data.attempt === attempt;
}

/** Whether part `index` is made: kept from an earlier attempt, or its last event is this attempt's PartCompleted. */
function partDone(history: JobHistory, split: JobSplit, index: number): boolean {
  if (split.data.kept.includes(index)) return true;
  const event = history.parts?.get(index)?.event;
  return event?.type === 'PartCompleted' && event.data.attempt === split.data.attempt;
}

function decideSplit(history: JobHistory, command: Extract<JobCommand, { kind: 'Split' }>): Decision {
  const { started } = command;
  const standing = attemptStanding(history.lifecycle, started);
  if (standing !== 'holds') return attemptRefusal(standing, history, started);
  if (history.split && !history.split.event) return unreadable(command.jobId, history.split.seq);
  const attempt = started.data.attempt;
  const earlier = history.split?.event ?? null;
  if (earlier?.data.attempt === attempt) return refused('stale', `attempt ${attempt} of job ${command.jobId} has split it already`, history.split!.seq);
  // An earlier attempt's split (a redrive): its cut points, and the parts it made, are kept.
  const parts = earlier ? earlier.data.parts : command.parts;
  const splitSeconds = earlier ? earlier.data.splitSeconds : command.splitSeconds;
  const kept = earlier ? parts.filter((part) => partDone(history, earlier, part.index)).map((part) => part.index) : [];
  const meta = () => metaOf(command.stamp, command.jobId, started.correlationId, started.eventId);
  const split = newEvent('JobSplit', { attempt, splitSeconds, parts, kept }, meta());
  const priority = history.submission?.event?.data.priority ?? 'normal';
  const requests: JobEvent[] = parts
    .filter((part) => !kept.includes(part.index))
    .map((part) => newEvent('PartRequested', { attempt, priority, part }, meta()));
  if (requests.length === 0) requests.push(newEvent('JoinRequested', { attempt, priority }, meta()));
  return appendAtomic(history, [split, ...requests]);
}

function decideClaimPart(history: JobHistory, command: Extract<JobCommand, { kind: 'ClaimPart' }>): Decision {
  const { request } = command;
  const { attempt, part } = request.data;
  const jobId = command.jobId;
  if (!history.submission) return refused('not-found', `job ${jobId} has no submission`, null);
  if (!history.submission.event) return unreadable(jobId, history.submission.seq);
  const lifecycle = history.lifecycle;
  if (lifecycle && !lifecycle.event) return unreadable(jobId, lifecycle.seq);
  if (history.split && !history.split.event) return unreadable(jobId, history.split.seq);
  const last = lifecycle?.event ?? null;
  if (last?.type === 'JobDeleted') return refused('deleted', `job ${jobId} is deleted`, lifecycle!.seq);
  if (last?.type === 'JobCancelRequested') return refused('cancel-requested', `job ${jobId} was asked to stop`, lifecycle!.seq);
  if (!attemptRuns(lifecycle, attempt) || splitAttempt(history) !== attempt) {
    return refused(last && isTerminal(last) ? 'ended' : 'stale', `part ${part.index} belongs to attempt ${attempt} of job ${jobId}, which no longer runs it`, lifecycle?.seq ?? null);
  }
  const previous = history.parts?.get(part.index) ?? null;
  if (previous && !previous.event) return unreadable(jobId, previous.seq);
  const before = previous?.event ?? null;
  let partAttempt = 1;
  if (before && isPartEvent(before) && before.data.attempt === attempt) {
    if (before.type === 'PartCompleted' || (before.type === 'PartFailed' && before.data.final)) return refused('ended', `part ${part.index} of job ${jobId} has ended`, previous!.seq);
    // Its worker died (a redelivery after the ack deadline), or it failed and its retry is due: the next attempt of the part.
    partAttempt = before.data.partAttempt + 1;
  }
  const meta = () => metaOf(command.stamp, jobId, request.correlationId, (before ?? request).eventId);
  if (partAttempt > command.maxAttempts) {
    // Every attempt of the part was started and none ended: its workers died or hung each time. Like a
    // dead letter, the job fails rather than take down worker after worker.
    const error = { code: ErrorCode.MaxDeliveries, message: `part ${part.index} was started ${partAttempt - 1} times and no attempt of it finished: its workers crashed or hung each time` };
    const failed = newEvent('PartFailed', { attempt, index: part.index, partAttempt: partAttempt - 1, workerId: command.workerId, final: true, error, retryDelayMs: null }, meta());
    const jobFailed = newEvent('JobFailed', { attempt, final: true, error, deadLetter: null, retryDelayMs: null }, meta());
    return appendAtomic(history, [failed, jobFailed]);
  }
  return append([{ event: newEvent('PartStarted', { attempt, index: part.index, partAttempt, workerId: command.workerId }, meta()), expectSeq: history.last }]);
}

/**
 * Whether the part attempt that `started` began still holds its part: its job still runs that
 * attempt of the job, and the part's last event is its own. `cancel-requested` once a cancel was
 * asked for or settled; `lost` otherwise (another attempt of the part or of the job, or the job ended).
 */
export function partStanding(history: JobHistory, started: PartStarted): 'holds' | 'cancel-requested' | 'lost' | 'unreadable' {
  const lifecycle = history.lifecycle;
  if (!lifecycle) return 'lost';
  if (!lifecycle.event) return 'unreadable';
  if (lifecycle.event.type === 'JobCancelRequested' || lifecycle.event.type === 'JobCancelled') return 'cancel-requested';
  if (!attemptRuns(lifecycle, started.data.attempt) || splitAttempt(history) !== started.data.attempt) return 'lost';
  const last = history.parts?.get(started.data.index);
  if (!last) return 'lost';
  if (!last.event) return 'unreadable';
  const event = last.event;
  if (event.type === 'PartStarted') return event.eventId === started.eventId ? 'holds' : 'lost';
  if (event.type === 'PartProgressed') return event.data.attempt === started.data.attempt && event.data.partAttempt === started.data.partAttempt ? 'holds' : 'lost';
  return 'lost';
}

function decidePartEvent(history: JobHistory, command: Extract<JobCommand, { kind: 'PartProgress' | 'CompletePart' | 'FailPart' }>): Decision {
  const { started } = command;
  const standing = partStanding(history, started);
  const seq = history.parts?.get(started.data.index)?.seq ?? history.lifecycle?.seq ?? null;
  const what = `attempt ${started.data.partAttempt} of part ${started.data.index} of job ${started.jobId}`;
  if (standing === 'unreadable') return unreadable(started.jobId, seq ?? 0);
  if (standing === 'cancel-requested') return refused('cancel-requested', `${what}: the job was asked to stop`, history.lifecycle?.seq ?? null);
  if (standing === 'lost') return refused('lost', `${what} no longer holds it`, seq);
  const { attempt, index, partAttempt, workerId } = started.data;
  const meta = () => metaOf(command.stamp, command.jobId, started.correlationId, started.eventId);
  switch (command.kind) {
    case 'PartProgress':
      return append([{ event: newEvent('PartProgressed', { attempt, index, partAttempt, ...command.progress }, meta()), expectSeq: history.last }]);
    case 'CompletePart': {
      const completed = newEvent('PartCompleted', { attempt, index, partAttempt, workerId, durationMs: command.durationMs, artifacts: command.artifacts }, meta());
      const split = history.split!.event!;
      const last = split.data.parts.every((part) => part.index === index || partDone(history, split, part.index));
      if (!last) return append([{ event: completed, expectSeq: history.last }]);
      // The last part: the join is asked for in the same batch, so a crash can't leave a job whose parts are all made and that nobody joins.
      const priority = history.submission?.event?.data.priority ?? 'normal';
      return appendAtomic(history, [completed, newEvent('JoinRequested', { attempt, priority }, meta())]);
    }
    case 'FailPart': {
      const final = command.failure.permanent || partAttempt >= command.maxAttempts;
      const error = jobErrorOf(command.failure);
      const failed = newEvent('PartFailed', { attempt, index, partAttempt, workerId, final, error, retryDelayMs: final ? null : retryDelayMs(partAttempt, command.jitter) }, meta());
      if (!final) return append([{ event: failed, expectSeq: history.last }]);
      // The part is out of attempts (or its input is bad): the job fails with it, in the same batch.
      const jobFailed = newEvent('JobFailed', { attempt, final: true, error, deadLetter: null, retryDelayMs: null }, meta());
      return appendAtomic(history, [failed, jobFailed]);
    }
    default:
      return assertNever(command);
  }
}

function refused(reason: RefusalReason, message: string, seq: number | null): Extract<Decision, { kind: 'refused' }> {
  return { kind: 'refused', reason, message, seq };
}

function unreadable(jobId: string, seq: number): Extract<Decision, { kind: 'refused' }> {
  return refused('unreadable', `job ${jobId}: its history holds a message at seq ${seq} that this release cannot read`, seq);
}
