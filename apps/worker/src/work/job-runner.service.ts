import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  type JobCancelled,
  type JobCompleted,
  type JobEvent,
  type JobFailed,
  type JobProgressed,
  type JobStarted,
  type WorkRequest,
} from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { workPhase } from '@app/job-state';
import { Clock, IdGenerator } from '@app/runtime';
import { ToolCatalog } from '@app/tools';
import { WorkerMetrics } from '../ops/worker.metrics.js';
import { WORKER_CONFIG } from '../worker.config.js';
import { appendCancelled, AttemptLog } from './attempt-log.js';
import { escalateResourceFailure, JobFailure, jobErrorOf } from './job-failure.js';
import { PipelineExecutor, type PipelineOutcome } from './pipeline-executor.service.js';
import type { WorkDelivery } from './work-delivery.js';

export type RunOutcome = 'completed' | 'failed' | 'retry' | 'cancelled' | 'skipped' | 'lost' | 'interrupted';

/** An attempt this worker has claimed: its JobStarted is stored. */
interface ClaimedAttempt {
  attempt: number;
  started: JobStarted;
  log: AttemptLog;
  /**
   * The error code of the attempt before this one in the same run, when it failed (its JobFailed is
   * the last lifecycle event before this attempt's JobStarted); null for a first attempt, the first
   * after a redrive, or one after an attempt that never settled (its worker died).
   */
  previousFailure: string | null;
}

/**
 * Runs one delivery of a job in three steps, each in one place:
 * - **claim**: append `JobStarted` (attempt = previous + 1) expecting the last lifecycle sequence;
 * - **run**: the pipeline's tools, through the PipelineExecutor, with progress appended on the way;
 * - **settle**: append exactly one terminal event (or a retryable JobFailed) after the last
 *   progress, then ack or nak the message.
 * Every lifecycle append expects the sequence of the one before, so when the job was handed to
 * another worker meanwhile, this worker's append is refused and it walks away without touching the
 * message (and deletes what it stored). When a cancel was requested instead, the attempt is stopped
 * (its tools killed), what it stored is deleted, and it ends with `JobCancelled`.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);
  /** The attempts running here, by job id, for cancel nudges. */
  private readonly attempts = new Map<string, AttemptLog>();

  constructor(
    private readonly store: EventStore,
    private readonly executor: PipelineExecutor,
    private readonly catalog: ToolCatalog,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly metrics: WorkerMetrics,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async run(delivery: WorkDelivery, signal: AbortSignal): Promise<RunOutcome> {
    const claim = await this.claim(delivery);
    if (claim === 'skipped' || claim === 'lost') return claim;
    const { request } = delivery;
    const pipeline = request.data.pipeline;
    if (claim.attempt === 1) {
      const waited = (Date.parse(claim.started.occurredAt) - Date.parse(request.occurredAt)) / 1000;
      if (Number.isFinite(waited)) this.metrics.queueWait.observe({ pipeline }, Math.max(0, waited));
    }
    this.metrics.inFlight.inc();
    this.attempts.set(request.jobId, claim.log);
    const heartbeat = setInterval(() => {
      delivery.heartbeat();
      // A cancel whose nudge this worker missed (it was disconnected) is found here at the latest.
      void claim.log.checkCancel();
    }, heartbeatIntervalMs(this.config.WORKER_ACK_WAIT_MS));
    const startedAt = performance.now();
    let outcome: PipelineOutcome;
    try {
      try {
        outcome = await this.executor.run(request, claim.attempt, claim.log, signal);
      } catch (error) {
        claim.log.close();
        if (claim.log.isCancelled) return await this.settleCancelled(delivery, claim, startedAt);
        if (claim.log.isLost) return this.walkAway(request.jobId);
        if (signal.aborted) {
          // Shutdown: hand the job back; the next worker starts a new attempt.
          delivery.nak(0);
          return 'interrupted';
        }
        return await this.settleFailure(delivery, claim, error, startedAt);
      } finally {
        clearInterval(heartbeat);
      }
      const completed = this.event<JobCompleted>(request, claim.started, 'JobCompleted', 2, {
        attempt: claim.attempt,
        durationMs: Math.round(performance.now() - startedAt),
        result: outcome.result,
        resultRef: outcome.resultRef,
        artifacts: outcome.artifacts,
      });
      const settled = await this.settle(delivery, claim, completed, 'completed', startedAt);
      if (settled === 'lost' || settled === 'cancelled') await outcome.discard();
      return settled;
    } finally {
      this.attempts.delete(request.jobId);
      this.metrics.inFlight.dec();
    }
  }

  /** A cancel of `jobId` was requested: if it runs here, its attempt looks at its lifecycle and stops. */
  async cancelRequested(jobId: string): Promise<void> {
    await this.attempts.get(jobId)?.checkCancel();
  }

  /**
   * Appends JobStarted for the next attempt; 'skipped' when there is nothing to run (the job ended
   * after this work request, or it was cancelled before it started), 'lost' when another worker
   * claimed it. A first delivery of a submission almost always meets a job with no lifecycle yet, so
   * it claims attempt 1 expecting none and reads the lifecycle only when that append is refused (a
   * lost ack, a cancel): one round trip instead of two before the pipeline begins, and the same
   * outcome on every other path.
   */
  private async claim(delivery: WorkDelivery): Promise<ClaimedAttempt | 'skipped' | 'lost'> {
    const { request } = delivery;
    let claimed: { started: JobStarted; seq: number } | null = null;
    let previousFailure: string | null = null;
    if (delivery.deliveryCount === 1 && request.type === 'VideoSubmitted') {
      const started = this.event<JobStarted>(request, null, 'JobStarted', 1, { workerId: this.config.WORKER_ID, attempt: 1 });
      try {
        claimed = { started, seq: (await this.store.append(started, 0)).seq };
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
      }
    }
    if (!claimed) {
      const last = await this.store.lastLifecycleEntry(request.jobId);
      const phase = workPhase(last, delivery.seq);
      if (phase.kind === 'ended') {
        // The job ended after this work request; its ack was lost. Nothing to do.
        delivery.ack();
        return 'skipped';
      }
      if (phase.kind === 'deleted') {
        // Deleted while this work waited (queued, in a retry's backoff, or a redrive that raced the
        // deletion): its upload is gone and it may never run again.
        this.logger.log({ jobId: request.jobId }, 'job is deleted; skipping its work');
        delivery.ack();
        return 'skipped';
      }
      // Events before this work request belong to the run that a redrive reopened: it causes the start.
      const previous = last && last.seq > delivery.seq ? last.event : null;
      if (previous?.type === 'JobFailed') previousFailure = previous.data.error.code;
      if (phase.kind === 'cancel-requested') {
        await this.cancelBeforeStart(delivery, previous, last!.seq, phase.attempt);
        return 'skipped';
      }
      const attempt = phase.attempt + 1;
      const started = this.event<JobStarted>(request, previous, 'JobStarted', 1, { workerId: this.config.WORKER_ID, attempt });
      try {
        claimed = { started, seq: (await this.store.append(started, last?.seq ?? 0)).seq };
      } catch (error) {
        if (error instanceof ConcurrencyError) {
          this.logger.warn({ jobId: request.jobId, attempt }, 'another worker claimed this job first; leaving it');
          return 'lost';
        }
        throw error;
      }
    }
    const { started, seq } = claimed;
    const attempt = started.data.attempt;
    // At info, as the operators' trail of a job expects (test/e2e/operator.e2e-spec.ts); the line is
    // formatted here, between the claim and the pipeline's start (the path P1 measures), and written later.
    this.logger.log({ jobId: request.jobId, attempt, pipeline: request.data.pipeline, correlationId: request.correlationId }, 'job started');
    const log = new AttemptLog(this.store, request.jobId, started.eventId, seq, (snapshot) =>
      this.event<JobProgressed>(request, started, 'JobProgressed', 1, { attempt, ...snapshot }),
    );
    return { attempt, started, log, previousFailure };
  }

  /** A cancel was requested while no attempt ran: settle it, so the job never starts. */
  private async cancelBeforeStart(delivery: WorkDelivery, cause: JobEvent | null, requestSeq: number, attempt: number): Promise<void> {
    const cancelled = this.event<JobCancelled>(delivery.request, cause, 'JobCancelled', 1, { attempt, cancelledBy: this.config.WORKER_ID });
    // Null: the jobs service settled the request first; cancelled all the same.
    if ((await appendCancelled(this.store, cancelled, requestSeq)) !== null) {
      this.logger.log({ jobId: delivery.request.jobId, attempt }, 'job cancelled before it started');
    }
    delivery.ack();
  }

  /** Ends an attempt that a cancel request stopped, then acks: the job is over. */
  private async settleCancelled(delivery: WorkDelivery, claim: ClaimedAttempt, startedAt: number): Promise<RunOutcome> {
    const cancelled = this.event<JobCancelled>(delivery.request, claim.started, 'JobCancelled', 1, { attempt: claim.attempt, cancelledBy: this.config.WORKER_ID });
    try {
      await claim.log.settleCancelled(cancelled);
    } catch (error) {
      if (error instanceof ConcurrencyError) return this.walkAway(cancelled.jobId);
      throw error;
    }
    delivery.ack();
    this.metrics.runTime.observe({ pipeline: delivery.request.data.pipeline, outcome: 'cancelled' }, (performance.now() - startedAt) / 1000);
    this.logger.log({ jobId: cancelled.jobId, attempt: claim.attempt, outcome: 'cancelled', correlationId: cancelled.correlationId }, 'job cancelled');
    return 'cancelled';
  }

  private async settleFailure(delivery: WorkDelivery, claim: ClaimedAttempt, error: unknown, startedAt: number): Promise<RunOutcome> {
    const failure = escalateResourceFailure(JobFailure.from(error), claim.previousFailure);
    // A redrive's attempts count again from the first one it started.
    const firstAttempt = delivery.request.type === 'JobRedriven' ? delivery.request.data.firstAttempt : 1;
    const attemptsThisRun = claim.attempt - firstAttempt + 1;
    const final = failure.permanent || attemptsThisRun >= this.maxAttempts(delivery.request.data.pipeline);
    const failed = this.event<JobFailed>(delivery.request, claim.started, 'JobFailed', 3, {
      attempt: claim.attempt,
      final,
      error: jobErrorOf(failure),
      deadLetter: null,
      retryDelayMs: final ? null : retryDelayMs(attemptsThisRun),
    });
    this.logger.warn({ jobId: delivery.request.jobId, attempt: claim.attempt, code: failure.code, final, err: failure.message }, 'job attempt failed');
    return this.settle(delivery, claim, failed, final ? 'failed' : 'retry', startedAt);
  }

  /** Appends the attempt's terminal (or retry) event after its last progress, then settles the message. */
  private async settle(
    delivery: WorkDelivery,
    claim: ClaimedAttempt,
    event: JobCompleted | JobFailed,
    outcome: RunOutcome,
    startedAt: number,
  ): Promise<RunOutcome> {
    try {
      // The slot's next pull goes out with the terminal append, in one write, and travels while it is stored.
      await claim.log.settle(event, () => delivery.release());
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      // A cancel stored before the attempt's end wins over it.
      if (claim.log.isCancelled) return this.settleCancelled(delivery, claim, startedAt);
      return this.walkAway(event.jobId);
    }
    if (outcome === 'retry' && event.type === 'JobFailed') delivery.nak(event.data.retryDelayMs ?? 0);
    else delivery.ack();
    this.record(delivery.request.data.pipeline, event, outcome, startedAt);
    const durationMs = event.type === 'JobCompleted' ? event.data.durationMs : undefined;
    this.logger.log({ jobId: event.jobId, attempt: event.data.attempt, outcome, durationMs, correlationId: event.correlationId }, `job ${outcome}`);
    return outcome;
  }

  /** The pipeline's own attempt limit, never above the consumer's max_deliver. */
  private maxAttempts(pipeline: string): number {
    return Math.min(this.catalog.pipeline(pipeline)?.maxAttempts ?? this.config.WORKER_MAX_DELIVER, this.config.WORKER_MAX_DELIVER);
  }

  private record(pipeline: string, event: JobCompleted | JobFailed, outcome: RunOutcome, startedAt: number): void {
    this.metrics.runTime.observe({ pipeline, outcome }, (performance.now() - startedAt) / 1000);
    if (event.type === 'JobCompleted') this.metrics.completed.inc({ pipeline });
    else this.metrics.failed.inc({ pipeline, code: event.data.error.code, final: String(event.data.final) });
  }

  private walkAway(jobId: string): 'lost' {
    this.logger.warn({ jobId }, 'job was taken over by another attempt; discarding this result');
    return 'lost';
  }

  private event<E extends JobEvent>(request: WorkRequest, cause: JobEvent | null, type: E['type'], version: E['version'], data: E['data']): E {
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

/**
 * Exponential backoff with equal jitter: the ceiling doubles from 1 s (1 s, 2 s, 4 s ... capped at 60 s)
 * and the delay is half of it plus a random share of the other half: 0.5-1 s, 1-2 s, ... 30-60 s.
 */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Three heartbeats per ack deadline, so that one lost on the way never lets the deadline pass. */
export function heartbeatIntervalMs(ackWaitMs: number): number {
  return Math.max(100, Math.floor(ackWaitMs / 3));
}
