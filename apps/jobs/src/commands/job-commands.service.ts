import { Injectable, Logger } from '@nestjs/common';
import {
  ErrorCode,
  inScope,
  type CancelOutcome,
  type JobCancelled,
  type JobCancelRequested,
  type JobEvent,
  type JobRedriven,
  type JobScope,
  type RedriveOutcome,
  type VideoSubmitted,
} from '@app/contracts';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { workPhase, type LastLifecycle } from '@app/job-state';
import { Clock, IdGenerator } from '@app/runtime';
import { QueryError } from '../rpc/rpc-answer.js';

/** Appends race workers and other requests; after this many refusals in a row, something is wrong. */
const MAX_RACES = 5;

/** Who appends a JobCancelled for a job that was not running. */
export const JOBS_SERVICE_ACTOR = 'jobs-service';

interface JobPosition {
  request: VideoSubmitted;
  last: LastLifecycle | null;
  /** The stream sequence of the job's latest work request (its submission or its latest redrive). */
  workSeq: number;
}

/**
 * Cancel and redrive: decided from the stream itself (the job's submission, its last lifecycle event
 * and its latest work request), never from the read model, which may trail it. Every append expects
 * the sequence it read, so concurrent requests, workers and dead-lettering cannot give a job two
 * endings or two redrives: the loser re-reads and answers from what won.
 */
@Injectable()
export class JobCommandsService {
  private readonly logger = new Logger(JobCommandsService.name);

  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  /**
   * Asks a job to stop. A job that is waiting (queued, or between a failed attempt and its retry) is
   * cancelled at once: JobCancelRequested then JobCancelled, so no worker ever starts it. A running
   * job gets JobCancelRequested, and its worker is nudged to stop the attempt and append JobCancelled.
   */
  async cancel(jobId: string, scope: JobScope, requestedBy: string | null, reason: string | null): Promise<CancelOutcome> {
    for (let race = 0; ; race++) {
      const { request, last, workSeq } = await this.position(jobId, scope);
      const phase = workPhase(last, workSeq);
      if (phase.kind === 'ended') throw new QueryError(ErrorCode.JobAlreadyEnded, `job ${jobId} has already ended (${last?.event?.type ?? 'unknown'})`);
      if (phase.kind === 'cancel-requested') {
        // Asked before and not settled yet: the same answer, and the worker is nudged again.
        this.nudge(jobId);
        return { job_id: jobId, status: 'cancelling', cancel_requested_seq: last!.seq };
      }
      const asked = this.event<JobCancelRequested>(request, last?.event ?? null, 'JobCancelRequested', { attempt: phase.attempt, reason, requestedBy });
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
      const cancelled = this.event<JobCancelled>(request, asked, 'JobCancelled', { attempt: phase.attempt, cancelledBy: JOBS_SERVICE_ACTOR });
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
    if (phase.kind !== 'ended' || !ending) throw new QueryError(ErrorCode.JobNotRetryable, `job ${jobId} has not ended; only a failed or cancelled job can be retried`);
    if (ending.type === 'JobCompleted') throw new QueryError(ErrorCode.JobNotRetryable, `job ${jobId} completed; only a failed or cancelled job can be retried`);
    const { pipeline, params, video, tenant, priority } = request.data;
    const redriven = this.event<JobRedriven>(request, ending, 'JobRedriven', {
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

  /** Tells the workers that a running job is to stop. Only a nudge: the stored request is what counts. */
  private nudge(jobId: string): void {
    try {
      this.store.nc.publish(this.store.subjects.cancelRequested, JSON.stringify({ job_id: jobId }));
    } catch (error) {
      this.logger.warn({ jobId, err: error instanceof Error ? error.message : String(error) }, 'could not nudge the workers; the running attempt finds the request at its next append');
    }
  }

  private event<E extends JobEvent>(request: VideoSubmitted, cause: JobEvent | null, type: E['type'], data: E['data']): E {
    return {
      eventId: this.ids.next(),
      jobId: request.jobId,
      type,
      version: 1,
      occurredAt: this.clock.now().toISOString(),
      correlationId: request.correlationId,
      causationId: (cause ?? request).eventId,
      data,
    } as E;
  }
}
