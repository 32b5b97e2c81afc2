import { Inject, Injectable, Logger } from '@nestjs/common';
import type { JobCompleted, JobFailed, JobStarted, SplitPartRef } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { firstDeliveryHistory, runCommand, stampNow } from '@app/job-commands';
import type { Decision } from '@app/job-state';
import { traceApi, TraceAttr } from '@app/observability';
import { abortLink, Clock, IdGenerator } from '@app/runtime';
import { ToolCatalog } from '@app/tools';
import { WorkerMetrics } from '../ops/worker.metrics.js';
import { WORKER_CONFIG } from '../worker.config.js';
import { AttemptLog, type AttemptEnd } from './attempt-log.js';
import { DeliveryTrace } from './delivery-trace.js';
import { JobFailure } from './job-failure.js';
import { PipelineExecutor, type PipelineOutcome } from './pipeline-executor.service.js';
import { SplitExecutor } from './split-executor.js';
import type { WorkDelivery } from './work-delivery.js';

/** `held`: left alone, nak'ed with a delay, because the job's history holds an event this release cannot read. */
/** `split`: the attempt cut the job into parts, which any worker now makes (issue #19). */
export type RunOutcome = 'completed' | 'failed' | 'retry' | 'cancelled' | 'skipped' | 'held' | 'lost' | 'interrupted' | 'split';

/** How long a delivery of a job whose history this release cannot read waits before it comes back (a newer release may take it meanwhile). */
export const UNREADABLE_RETRY_MS = 60_000;

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
 * - **claim**: ask the decider (through runCommand) to start the next attempt: JobStarted, or
 *   nothing (the job ended, was deleted, the delivery is stale or inert), or JobCancelled for a job
 *   asked to stop before it started;
 * - **run**: the pipeline's tools, through the PipelineExecutor, with progress appended on the way;
 * - **settle**: exactly one terminal event (or a retryable JobFailed) after the last progress, as the
 *   decider builds it, then ack or nak the message.
 * This class keeps only the transport: acks, naks, logs and metrics. When the job was handed to
 * another worker meanwhile, this worker walks away without touching the message (and deletes what
 * it stored). When a cancel was requested instead, the attempt is stopped (its tools killed), what
 * it stored is deleted, and it ends with `JobCancelled`.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);
  /** The attempts running here, by job id, for cancel nudges. */
  private readonly attempts = new Map<string, AttemptLog>();

  constructor(
    private readonly store: EventStore,
    private readonly executor: PipelineExecutor,
    private readonly splitter: SplitExecutor,
    private readonly catalog: ToolCatalog,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly metrics: WorkerMetrics,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async run(delivery: WorkDelivery, signal: AbortSignal): Promise<RunOutcome> {
    const pipeline = delivery.request.data.pipeline;
    const trace = await DeliveryTrace.begin(this.store, delivery, `attempt ${pipeline}`, { [TraceAttr.pipeline]: pipeline, [TraceAttr.workerId]: this.config.WORKER_ID });
    return trace ? trace.run(() => this.runAttempt(delivery, signal)) : this.runAttempt(delivery, signal);
  }

  private async runAttempt(delivery: WorkDelivery, signal: AbortSignal): Promise<RunOutcome> {
    const claim = await this.claim(delivery);
    if (claim === 'skipped' || claim === 'held' || claim === 'lost') return claim;
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
        const split = await this.runSplit(delivery, claim, signal, startedAt);
        if (split) return split;
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
      const result = { durationMs: Math.round(performance.now() - startedAt), result: outcome.result, resultRef: outcome.resultRef, artifacts: outcome.artifacts };
      const settled = await this.settle(delivery, claim, { kind: 'Complete', result }, startedAt);
      if (settled === 'lost' || settled === 'cancelled') await outcome.discard();
      return settled;
    } finally {
      this.attempts.delete(request.jobId);
      this.metrics.inFlight.dec();
    }
  }

  /**
   * A job whose params ask for a split (issue #19): the attempt cuts the video at key frames and
   * appends the split with its parts' work requests, then acks its message: the parts are any
   * worker's now, and the join ends this attempt. Null when the job is not to be split, or is one
   * part long: it then runs whole here. A redrive keeps the earlier split's cut points and made parts.
   */
  private async runSplit(delivery: WorkDelivery, claim: ClaimedAttempt, signal: AbortSignal, startedAt: number): Promise<RunOutcome | null> {
    const { request } = delivery;
    const plan = this.splitter.plan(request.data.pipeline, request.data.params);
    if (!plan) return null;
    let parts: SplitPartRef[] = [];
    if (!claim.log.splitBefore) {
      const link = abortLink([signal, claim.log.stopSignal]);
      try {
        parts = await this.splitter.cut(plan, request.data.video, request.jobId, link.signal);
      } finally {
        link.dispose();
      }
      if (parts.length < 2) return null;
    }
    const split = await claim.log.split(plan.splitSeconds, parts);
    if (!split) {
      if (claim.log.isCancelled) return this.settleCancelled(delivery, claim, startedAt);
      if (claim.log.isLost) return this.walkAway(request.jobId);
      // Split already by this attempt (its message came back after its worker died): the parts go on.
      delivery.ack();
      return 'skipped';
    }
    delivery.ack();
    this.logger.log({ jobId: request.jobId, attempt: claim.attempt, parts: split.data.parts.length, kept: split.data.kept.length, durationMs: Math.round(performance.now() - startedAt) }, 'job split into parts');
    return 'split';
  }

  /** A cancel of `jobId` was requested: if it runs here, its attempt looks at its lifecycle and stops. */
  async cancelRequested(jobId: string): Promise<void> {
    await this.attempts.get(jobId)?.checkCancel();
  }

  /**
   * Claims the job for the next attempt; 'skipped' when there is nothing to run (the decider refused:
   * the job ended after this work request, it is deleted, the delivery is older than the job's
   * latest work request or an inert later submission; or it was cancelled before it started, settled
   * here), 'held' when the job's history cannot be read by this release, 'lost' when another worker
   * claimed it. A first delivery of a submission almost always meets a job with nothing after it, so
   * it claims attempt 1 from that assumed history, expecting the submission to be the job's last
   * event, and reads the history only when that append is refused (a lost ack, a cancel): one round
   * trip instead of two before the pipeline begins, and the same outcome on every other path. The
   * server proves the assumption: the submission was stored as the job's first event (firstOfJob),
   * and the claim is stored only if it is still the last. A submission stored otherwise (by a release
   * before that check) is claimed after a read. A claim refused after a read has lost a race: it walks away,
   * unless what it must do then is skip the job or settle its cancel (settlesOrSkips).
   */
  private async claim(delivery: WorkDelivery): Promise<ClaimedAttempt | 'skipped' | 'held' | 'lost'> {
    const { request } = delivery;
    const fast = delivery.deliveryCount === 1 && request.type === 'VideoSubmitted' && delivery.firstOfJob;
    let outcome;
    try {
      outcome = await runCommand(
        this.store,
        { kind: 'Claim', jobId: request.jobId, request, deliverySeq: delivery.seq, workerId: this.config.WORKER_ID, stamp: stampNow(this.clock, this.ids) },
        { assumed: fast ? firstDeliveryHistory(request, delivery.seq) : undefined, rounds: fast ? 2 : 1, pastRounds: settlesOrSkips },
      );
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      this.logger.warn({ jobId: request.jobId }, 'another worker claimed this job first; leaving it');
      return 'lost';
    }
    if (outcome.kind === 'refused') return this.leave(delivery, outcome.decision);
    const { event, seq } = outcome.stored[0];
    if (event.type !== 'JobStarted') {
      // A cancel was requested while no attempt ran: settled here (JobCancelled), so the job never starts.
      this.logger.log({ jobId: request.jobId, type: event.type }, 'job cancelled before it started');
      delivery.ack();
      return 'skipped';
    }
    const attempt = event.data.attempt;
    traceApi.getActiveSpan()?.setAttribute(TraceAttr.attempt, attempt);
    // At info, as the operators' trail of a job expects (test/e2e/operator.e2e-spec.ts); the line is
    // formatted here, between the claim and the pipeline's start (the path P1 measures), and written later.
    this.logger.log({ jobId: request.jobId, attempt, pipeline: request.data.pipeline, correlationId: request.correlationId, seq }, 'job started');
    const log = new AttemptLog(this.store, event, outcome.history, () => stampNow(this.clock, this.ids));
    return { attempt, started: event, log, previousFailure: outcome.decision.previousFailure };
  }

  /** A delivery the decider refused to claim: acked and skipped, or left for a release that can read the job's history. */
  private leave(delivery: WorkDelivery, refusal: Extract<Decision, { kind: 'refused' }>): 'skipped' | 'held' {
    const jobId = delivery.request.jobId;
    if (refusal.reason === 'unreadable') {
      this.metrics.unreadable.inc();
      this.logger.warn({ jobId, seq: refusal.seq, deliverySeq: delivery.seq }, 'the job history holds an event this release cannot read; leaving the job for a release that can');
      delivery.nak(UNREADABLE_RETRY_MS);
      return 'held';
    }
    this.logger.log({ jobId, reason: refusal.reason, deliverySeq: delivery.seq }, `skipping this work message: ${refusal.message}`);
    delivery.ack();
    return 'skipped';
  }

  /** Ends an attempt that a cancel request stopped, then acks: the job is over. */
  private async settleCancelled(delivery: WorkDelivery, claim: ClaimedAttempt, startedAt: number): Promise<RunOutcome> {
    const cancelled = await claim.log.settleCancelled();
    if (!cancelled) return this.walkAway(claim.started.jobId);
    delivery.ack();
    this.metrics.runTime.observe({ pipeline: delivery.request.data.pipeline, outcome: 'cancelled' }, (performance.now() - startedAt) / 1000);
    this.logger.log({ jobId: cancelled.jobId, attempt: claim.attempt, outcome: 'cancelled', correlationId: cancelled.correlationId }, 'job cancelled');
    return 'cancelled';
  }

  private async settleFailure(delivery: WorkDelivery, claim: ClaimedAttempt, error: unknown, startedAt: number): Promise<RunOutcome> {
    const { code, message, permanent } = JobFailure.from(error);
    return this.settle(
      delivery,
      claim,
      {
        kind: 'Fail',
        failure: { code, message, permanent },
        previousFailure: claim.previousFailure,
        maxAttempts: this.maxAttempts(delivery.request.data.pipeline),
        jitter: Math.random(),
      },
      startedAt,
    );
  }

  /** Appends the attempt's terminal (or retry) event after its last progress, then settles the message. */
  private async settle(delivery: WorkDelivery, claim: ClaimedAttempt, end: AttemptEnd, startedAt: number): Promise<RunOutcome> {
    // The slot's next pull goes out with the terminal append, in one write, and travels while it is stored.
    const event = await claim.log.settle(end, () => delivery.release());
    if (!event) {
      // A cancel stored before the attempt's end wins over it.
      if (claim.log.isCancelled) return this.settleCancelled(delivery, claim, startedAt);
      return this.walkAway(claim.started.jobId);
    }
    const outcome: RunOutcome = event.type === 'JobCompleted' ? 'completed' : event.data.final ? 'failed' : 'retry';
    if (event.type === 'JobFailed') {
      this.logger.warn({ jobId: event.jobId, attempt: claim.attempt, code: event.data.error.code, final: event.data.final, err: event.data.error.message }, 'job attempt failed');
    }
    if (event.type === 'JobFailed' && !event.data.final) delivery.nak(event.data.retryDelayMs ?? 0);
    else delivery.ack();
    this.record(delivery.request.data.pipeline, event, outcome, startedAt);
    const durationMs = event.type === 'JobCompleted' ? event.data.durationMs : undefined;
    this.logger.log({ jobId: event.jobId, attempt: event.data.attempt, outcome, durationMs, correlationId: event.correlationId }, `job ${outcome}`);
    return outcome;
  }

  /** The pipeline's own attempt limit, never above the consumer's max_deliver. */
  private maxAttempts(pipeline: string): number {
    return maxAttemptsOf(this.catalog, this.config, pipeline);
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
}

/**
 * What a claim that lost a race after reading still does: skip a job that ended, was deleted or
 * redriven meanwhile (acked), and settle a cancel after the newest request (a DELETE asking again).
 * It never starts an attempt then: the attempt that won runs the job.
 */
function settlesOrSkips(decision: Decision): boolean {
  if (decision.kind === 'refused') return decision.reason !== 'unreadable';
  return decision.appends[0].event.type === 'JobCancelled';
}

/** A pipeline's own attempt limit, never above the consumer's max_deliver (for a split job's parts too). */
export function maxAttemptsOf(catalog: ToolCatalog, config: WorkerConfig, pipeline: string | undefined): number {
  const own = pipeline ? catalog.pipeline(pipeline)?.maxAttempts : null;
  return Math.min(own ?? config.WORKER_MAX_DELIVER, config.WORKER_MAX_DELIVER);
}

/** Three heartbeats per ack deadline, so that one lost on the way never lets the deadline pass. */
export function heartbeatIntervalMs(ackWaitMs: number): number {
  return Math.max(100, Math.floor(ackWaitMs / 3));
}
