import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  ErrorCode,
  inScope,
  isTerminal,
  type CancelOutcome,
  type DeleteOutcome,
  type JobDeleted,
  type JobDeletionReason,
  type JobCancelled,
  type JobCancelRequested,
  type JobEvent,
  type JobRedriven,
  type JobScope,
  type RedriveOutcome,
  type VideoSubmitted,
} from '@app/contracts';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { decideDeletion, fold, workPhase, type JobState, type LastLifecycle } from '@app/job-state';
import { Clock, IdGenerator } from '@app/runtime';
import { JobObjectsService } from '../deletion/job-objects.service.js';
import { JobsMetrics } from '../ops/jobs.metrics.js';
import { QueryError } from '../rpc/rpc-answer.js';

/** Appends race workers and other requests; after this many refusals in a row, something is wrong. */
const MAX_RACES = 5;

/** Who appends a JobCancelled for a job that was not running. */
export const JOBS_SERVICE_ACTOR = 'jobs-service';

/** How long the jobs service follows a job it asked to stop for a deletion before leaving it to the storage sweep. */
const DELETION_WATCH_MS = 10 * 60_000;
/** At most this many such jobs are followed at once; the storage sweep finishes the others. */
const DELETION_WATCH_MAX = 256;

interface JobPosition {
  request: VideoSubmitted;
  last: LastLifecycle | null;
  /** The stream sequence of the job's latest work request (its submission or its latest redrive). */
  workSeq: number;
}

/**
 * Cancel, redrive and delete: decided from the stream itself (the job's submission, its last lifecycle event
 * and its latest work request), never from the read model, which may trail it. Every append expects
 * the sequence it read, so concurrent requests, workers and dead-lettering cannot give a job two
 * endings or two redrives: the loser re-reads and answers from what won.
 */
@Injectable()
export class JobCommandsService implements OnApplicationShutdown {
  private readonly logger = new Logger(JobCommandsService.name);
  /** Jobs asked to stop for a deletion, followed until they end (see watch). */
  private readonly watching = new Map<string, AbortController>();

  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly objects: JobObjectsService,
    private readonly metrics: JobsMetrics,
  ) {}

  onApplicationShutdown(): void {
    for (const watch of this.watching.values()) watch.abort();
  }

  /**
   * Asks a job to stop. A job that is waiting (queued, or between a failed attempt and its retry) is
   * cancelled at once: JobCancelRequested then JobCancelled, so no worker ever starts it. A running
   * job gets JobCancelRequested, and its worker is nudged to stop the attempt and append JobCancelled.
   */
  async cancel(jobId: string, scope: JobScope, requestedBy: string | null, reason: string | null): Promise<CancelOutcome> {
    for (let race = 0; ; race++) {
      const { request, last, workSeq } = await this.position(jobId, scope);
      const phase = workPhase(last, workSeq);
      if (phase.kind === 'deleted') throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
      if (phase.kind === 'ended') throw new QueryError(ErrorCode.JobAlreadyEnded, `job ${jobId} has already ended (${last?.event?.type ?? 'unknown'})`);
      if (phase.kind === 'cancel-requested') {
        // Asked before and not settled yet: the same answer, and the worker is nudged again.
        this.nudge(jobId);
        return { job_id: jobId, status: 'cancelling', cancel_requested_seq: last!.seq };
      }
      const asked = this.event<JobCancelRequested>(request, last?.event ?? null, 'JobCancelRequested', 2, { attempt: phase.attempt, reason, requestedBy, deletion: false });
      let askedSeq: number;
      try {
        askedSeq = (await this.store.append(asked, last?.seq ?? 0)).seq;
      } catch (error) {
        if (error instanceof ConcurrencyError && race < MAX_RACES) continue;
        throw error;
      }
      this.logger.log({ jobId, attempt: phase.attempt, running: phase.kind === 'running', correlationId: request.correlationId }, 'job cancel requested');
      if (phase.kind === 'running') {
        this.nudge(jobId);
        return { job_id: jobId, status: 'cancelling', cancel_requested_seq: askedSeq };
      }
      const cancelled = this.event<JobCancelled>(request, asked, 'JobCancelled', 1, { attempt: phase.attempt, cancelledBy: JOBS_SERVICE_ACTOR });
      try {
        await this.store.append(cancelled, askedSeq);
      } catch (error) {
        // A worker that picked the job up found the request first and settled it: cancelled all the same.
        if (!(error instanceof ConcurrencyError)) throw error;
      }
      return { job_id: jobId, status: 'cancelled', cancel_requested_seq: askedSeq };
    }
  }

  /**
   * Runs a failed or cancelled job again: a JobRedriven work request on the job's submitted subject,
   * caused by the event that ended the job, which the workers' consumer delivers like a submission.
   * Its attempts count again from the one it starts.
   */
  async redrive(jobId: string, scope: JobScope, requestedBy: string | null): Promise<RedriveOutcome> {
    const { request, last, workSeq } = await this.position(jobId, scope);
    const phase = workPhase(last, workSeq);
    const ending = last?.event ?? null;
    if (phase.kind === 'deleted') throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
    if (phase.kind !== 'ended' || !ending) throw new QueryError(ErrorCode.JobNotRetryable, `job ${jobId} has not ended; only a failed or cancelled job can be retried`);
    if (ending.type === 'JobCompleted') throw new QueryError(ErrorCode.JobNotRetryable, `job ${jobId} completed; only a failed or cancelled job can be retried`);
    const { pipeline, params, video, tenant, priority } = request.data;
    const redriven = this.event<JobRedriven>(request, ending, 'JobRedriven', 1, {
      pipeline,
      params,
      video,
      tenant,
      priority,
      firstAttempt: phase.attempt + 1,
      requestedBy,
    });
    let seq: number;
    try {
      seq = (await this.store.append(redriven, workSeq)).seq;
    } catch (error) {
      if (error instanceof ConcurrencyError) throw new QueryError(ErrorCode.JobNotRetryable, `job ${jobId} was redriven by another request just now`);
      throw error;
    }
    this.logger.log({ jobId, attempt: phase.attempt + 1, causedBy: ending.eventId, correlationId: request.correlationId }, 'job redriven');
    return { job_id: jobId, status: 'queued', attempt: phase.attempt + 1, redriven_seq: seq, caused_by: ending.eventId };
  }

  /**
   * Deletes a job: JobDeleted on its lifecycle, then its objects from the Object Store. A job that is
   * not running (ended, queued, or waiting for a retry) is deleted at once: JobDeleted expects the last
   * lifecycle sequence, so a worker claiming the job at that moment either wins (and the job is then
   * cancelled first) or finds it deleted and skips it. A running job is asked to stop first
   * (JobCancelRequested with `deletion`, and the worker nudge): the request is stored, so whoever
   * sees the job end next finishes the deletion (this service while it follows the job, else the
   * storage sweep, which finds every pending deletion in the read model, after a restart too).
   * A deleted job is not found, like a job that never existed.
   */
  async delete(jobId: string, scope: JobScope, requestedBy: string | null, reason: JobDeletionReason = 'request'): Promise<DeleteOutcome> {
    for (let race = 0; ; race++) {
      const { request, last, workSeq } = await this.position(jobId, scope);
      const step = decideDeletion(last, workSeq);
      try {
        switch (step.kind) {
          case 'gone':
            throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
          case 'wait':
            this.nudge(jobId);
            this.watch(jobId, last!.seq);
            return { job_id: jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 };
          case 'cancel-first': {
            const asked = this.event<JobCancelRequested>(request, last?.event ?? null, 'JobCancelRequested', 2, {
              attempt: step.attempt,
              reason: 'the job is being deleted',
              requestedBy,
              deletion: true,
            });
            const { seq } = await this.store.append(asked, step.expectSeq);
            this.logger.log({ jobId, attempt: step.attempt, correlationId: request.correlationId }, 'job deletion requested; stopping its running attempt first');
            this.nudge(jobId);
            this.watch(jobId, seq);
            return { job_id: jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 };
          }
          case 'delete': {
            // What the job points at, read before JobDeleted (which forgets its result and artifacts).
            const before = await this.stateOf(jobId);
            const deleted = this.event<JobDeleted>(request, last?.event ?? null, 'JobDeleted', 1, {
              attempt: step.attempt,
              reason,
              requestedBy: requestedBy ?? before?.deleteRequest?.by ?? null,
            });
            const { seq } = await this.store.append(deleted, step.expectSeq);
            const removed = await this.objects.remove(before ?? { jobId, video: request.data.video, resultRef: null, artifacts: [], attempts: step.attempt });
            this.metrics.deleted.inc({ reason });
            this.metrics.objectsRemoved.inc({ kind: 'deleted-job' }, removed);
            this.logger.log({ jobId, reason, requestedBy: deleted.data.requestedBy, objects: removed, correlationId: request.correlationId }, 'job deleted');
            return { job_id: jobId, status: 'deleted', deleted_seq: seq, objects_deleted: removed };
          }
        }
      } catch (error) {
        // A worker, a cancel or another deletion appended first: decide again from what is there now.
        if (error instanceof ConcurrencyError && race < MAX_RACES) continue;
        throw error;
      }
    }
  }

  /**
   * Follows a job that was asked to stop for a deletion, and deletes it as soon as it has ended. Best
   * effort and bounded: the request is stored, and the storage sweep finishes any deletion this misses.
   */
  private watch(jobId: string, afterSeq: number): void {
    if (this.watching.has(jobId) || this.watching.size >= DELETION_WATCH_MAX) return;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), DELETION_WATCH_MS);
    timer.unref();
    this.watching.set(jobId, abort);
    void (async () => {
      try {
        for await (const item of this.store.followJob(jobId, afterSeq, abort.signal)) {
          if (item.ok && (isTerminal(item.stored.event) || item.stored.event.type === 'JobDeleted')) break;
        }
        if (abort.signal.aborted) return;
        await this.delete(jobId, { kind: 'all' }, null);
      } catch (error) {
        if (!(error instanceof QueryError)) {
          this.logger.warn({ jobId, err: error instanceof Error ? error.message : String(error) }, 'could not finish a deletion; the storage sweep will');
        }
      } finally {
        clearTimeout(timer);
        this.watching.delete(jobId);
        abort.abort();
      }
    })();
  }

  /** The job's submission (404 outside the caller's scope), its last lifecycle event and latest work request. */
  private async position(jobId: string, scope: JobScope): Promise<JobPosition> {
    const first = await this.store.firstSubmission(jobId);
    if (!first?.ok || first.stored.event.type !== 'VideoSubmitted' || !inScope(scope, first.stored.event.data.tenant)) {
      throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
    }
    const request = first.stored.event;
    const [last, latestWork] = await Promise.all([
      this.store.lastLifecycleEntry(jobId),
      // Redrives keep the job's priority, so they share the submission's exact subject.
      this.store.lastEntryOn(this.store.subjects.submitted(jobId, request.data.priority)),
    ]);
    return { request, last, workSeq: latestWork?.seq ?? first.stored.seq };
  }

  /** The job as its events in the stream say (whatever the read model holds). */
  private async stateOf(jobId: string): Promise<JobState | null> {
    const items = await this.store.readJob(jobId, 0, Number.MAX_SAFE_INTEGER);
    return fold(items.flatMap((item) => (item.ok ? [item.stored.event] : [])));
  }

  /** Tells the workers that a running job is to stop. Only a nudge: the stored request is what counts. */
  private nudge(jobId: string): void {
    try {
      this.store.nudgeCancel(jobId);
    } catch (error) {
      this.logger.warn({ jobId, err: error instanceof Error ? error.message : String(error) }, 'could not nudge the workers; the running attempt finds the request at its next append');
    }
  }

  private event<E extends JobEvent>(request: VideoSubmitted, cause: JobEvent | null, type: E['type'], version: E['version'], data: E['data']): E {
    return {
      eventId: this.ids.next(),
      jobId: request.jobId,
      type,
      version,
      occurredAt: this.clock.now().toISOString(),
      correlationId: request.correlationId,
      causationId: (cause ?? request).eventId,
      data,
    } as E;
  }
}
