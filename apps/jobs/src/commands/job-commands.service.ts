import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  attemptOf,
  isTerminal,
  type CancelOutcome,
  type DeleteOutcome,
  type JobDeletionReason,
  type JobScope,
  type RedriveOutcome,
} from '@app/contracts';
import { EventStore } from '@app/event-store';
import { runCommand, stampNow, type CommandOutcome } from '@app/job-commands';
import { fold, REFUSAL_CODES, type Decision, type JobCommand, type JobState } from '@app/job-state';
import { Clock, IdGenerator } from '@app/runtime';
import { JobObjectsService } from '../deletion/job-objects.service.js';
import { JobsMetrics } from '../ops/jobs.metrics.js';
import { QueryError } from '../rpc/rpc-answer.js';

/** How long the jobs service follows a job it asked to stop for a deletion before leaving it to the storage sweep. */
const DELETION_WATCH_MS = 10 * 60_000;
/** At most this many such jobs are followed at once; the storage sweep finishes the others. */
const DELETION_WATCH_MAX = 256;

/**
 * Cancel, redrive and delete: the decider decides each from the stream itself (the job's submission,
 * its last lifecycle event and its latest work request), never from the read model, which may trail
 * it; runCommand appends what it decided, expecting the sequences it read, and decides again when
 * someone else appended first. This service keeps what is not a rule: the answers, the workers'
 * nudge, following a job until its deletion can finish, the objects of a deleted job, metrics and logs.
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
    const outcome = await this.run({ kind: 'RequestCancel', jobId, scope, requestedBy, reason, stamp: this.stamp() });
    if (outcome.kind === 'refused') {
      const { decision } = outcome;
      if (decision.reason !== 'cancel-requested') throw this.refusal('RequestCancel', jobId, decision);
      // Asked before and not settled yet: the same answer, and the worker is nudged again.
      this.nudge(jobId);
      return { job_id: jobId, status: 'cancelling', cancel_requested_seq: decision.seq! };
    }
    const [asked] = outcome.stored;
    const running = outcome.decision.appends.length === 1;
    this.logger.log({ jobId, attempt: attemptOf(asked.event), running, correlationId: asked.event.correlationId }, 'job cancel requested');
    // The workers are nudged whether or not one worker runs the job: a job running in parts is
    // cancelled at once (no one worker holds it), yet its parts run on workers that must hear it now
    // rather than at their next append or heartbeat. A nudge for a job no worker runs costs nothing.
    this.nudge(jobId);
    // A worker that picked a waiting job up found the request first and settled it: cancelled all the same.
    return { job_id: jobId, status: running ? 'cancelling' : 'cancelled', cancel_requested_seq: asked.seq };
  }

  /**
   * Runs a failed or cancelled job again: a JobRedriven work request on the job's submitted subject,
   * caused by the event that ended the job, which the workers' consumer delivers like a submission.
   * Its attempts count again from the one it starts. Of two redrives at once, one wins; the other is
   * refused as the job has not ended since.
   */
  async redrive(jobId: string, scope: JobScope, requestedBy: string | null): Promise<RedriveOutcome> {
    const outcome = await this.run({ kind: 'Redrive', jobId, scope, requestedBy, stamp: this.stamp() });
    if (outcome.kind === 'refused') throw this.refusal('Redrive', jobId, outcome.decision);
    const { event, seq } = outcome.stored[0];
    const attempt = attemptOf(event) + 1;
    this.logger.log({ jobId, attempt, causedBy: event.causationId, correlationId: event.correlationId }, 'job redriven');
    return { job_id: jobId, status: 'queued', attempt, redriven_seq: seq, caused_by: event.causationId! };
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
    // Finishing a deletion asked for earlier (requestedBy null): the JobDeleted names who asked.
    const by = requestedBy ?? (await this.stateOf(jobId))?.deleteRequest?.by ?? null;
    const outcome = await this.run({ kind: 'Delete', jobId, scope, requestedBy: by, reason, stamp: this.stamp() });
    if (outcome.kind === 'refused') {
      const { decision } = outcome;
      if (decision.reason !== 'deletion-pending') throw this.refusal('Delete', jobId, decision);
      this.nudge(jobId);
      this.watch(jobId, decision.seq!);
      return { job_id: jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 };
    }
    const { event, seq } = outcome.stored[0];
    if (event.type === 'JobCancelRequested') {
      this.logger.log({ jobId, attempt: event.data.attempt, correlationId: event.correlationId }, 'job deletion requested; stopping its running attempt first');
      this.nudge(jobId);
      this.watch(jobId, seq);
      return { job_id: jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 };
    }
    // What the job pointed at before its JobDeleted (which forgets its result and artifacts).
    const before = await this.stateOf(jobId, seq);
    const removed = before ? await this.objects.remove(before) : 0;
    this.metrics.deleted.inc({ reason });
    this.metrics.objectsRemoved.inc({ kind: 'deleted-job' }, removed);
    this.logger.log({ jobId, reason, requestedBy: by, objects: removed, correlationId: event.correlationId }, 'job deleted');
    return { job_id: jobId, status: 'deleted', deleted_seq: seq, objects_deleted: removed };
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

  private run(command: JobCommand): Promise<CommandOutcome> {
    return runCommand(this.store, command);
  }

  private stamp() {
    return stampNow(this.clock, this.ids);
  }

  /** The answer to a refused command: its error code; a job whose history cannot be read is counted and logged too. */
  private refusal(command: JobCommand['kind'], jobId: string, decision: Extract<Decision, { kind: 'refused' }>): QueryError {
    if (decision.reason === 'unreadable') {
      this.metrics.unreadable.inc({ command });
      this.logger.warn({ jobId, seq: decision.seq, command }, 'the job history holds an event this release cannot read; refused');
    }
    return new QueryError(REFUSAL_CODES[decision.reason], decision.message);
  }

  /** The job as its events in the stream say (whatever the read model holds), up to and without `beforeSeq`. */
  private async stateOf(jobId: string, beforeSeq = Number.MAX_SAFE_INTEGER): Promise<JobState | null> {
    const items = await this.store.readJob(jobId, 0, Number.MAX_SAFE_INTEGER);
    return fold(items.flatMap((item) => (item.ok && item.stored.seq < beforeSeq ? [item.stored.event] : [])));
  }

  /** Tells the workers that a running job is to stop. Only a nudge: the stored request is what counts. */
  private nudge(jobId: string): void {
    try {
      this.store.nudgeCancel(jobId);
    } catch (error) {
      this.logger.warn({ jobId, err: error instanceof Error ? error.message : String(error) }, 'could not nudge the workers; the running attempt finds the request at its next append');
    }
  }
}
