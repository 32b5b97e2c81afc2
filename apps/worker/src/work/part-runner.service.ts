import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, type ArtifactRef, type JobStarted, type JoinRequested, type PartRequested, type PartWork, type WorkRequest } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { readJobHistory, runCommand, stampNow } from '@app/job-commands';
import { retryDelayMs, type JobHistory } from '@app/job-state';
import { TraceAttr } from '@app/observability';
import { abortLink, Clock, IdGenerator } from '@app/runtime';
import { ToolCatalog } from '@app/tools';
import { WORKER_CONFIG } from '../worker.config.js';
import { DeliveryTrace } from './delivery-trace.js';
import { JobFailure } from './job-failure.js';
import { heartbeatIntervalMs, maxAttemptsOf, UNREADABLE_RETRY_MS, type RunOutcome } from './job-runner.service.js';
import { PartLog, storedOf } from './part-log.js';
import { SplitExecutor, type SplitPlan } from './split-executor.js';
import type { WorkDelivery } from './work-delivery.js';

/**
 * Runs the work of split jobs (issue #19): a part (PartRequested) or the join (JoinRequested), each
 * delivered to any worker by the same consumers as whole jobs.
 *
 * A part is claimed through the decider (PartStarted, the part's next attempt), made, and settled with
 * PartCompleted (with the join's request when it was the last) or PartFailed, then acked, or nak'ed
 * with the part's own backoff. A final PartFailed fails the job, and a nudge stops its other parts.
 * A part whose job was cancelled or ended stops and is acked; one that another attempt took over is
 * left alone (its message belongs to that attempt's delivery now).
 *
 * The join checks that the job's attempt still runs and every part is made, joins them, and ends the
 * job's attempt with JobCompleted through the decider, like a whole run; then the parts' files are
 * deleted. A failed join is delivered again after a backoff, and fails the job once its attempts run out.
 */
@Injectable()
export class PartRunner {
  private readonly logger = new Logger(PartRunner.name);
  /** The part attempts running here, by job id, for cancel nudges. */
  private readonly running = new Map<string, Set<PartLog>>();

  constructor(
    private readonly store: EventStore,
    private readonly split: SplitExecutor,
    private readonly catalog: ToolCatalog,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async run(delivery: WorkDelivery<PartWork>, signal: AbortSignal): Promise<RunOutcome> {
    const request = delivery.request;
    const name = request.type === 'PartRequested' ? `part ${request.data.part.index}` : 'join';
    const attributes = { [TraceAttr.workerId]: this.config.WORKER_ID, ...(request.type === 'PartRequested' ? { [TraceAttr.part]: request.data.part.index } : {}) };
    const trace = await DeliveryTrace.begin(this.store, delivery, name, attributes);
    const work = () => (request.type === 'PartRequested' ? this.runPart({ ...delivery, request }, signal) : this.runJoin({ ...delivery, request }, signal));
    return trace ? trace.run(work) : work();
  }

  /** A cancel of `jobId` was requested (or one of its parts failed it): its parts running here look, and stop. */
  async cancelRequested(jobId: string): Promise<void> {
    await Promise.all([...(this.running.get(jobId) ?? [])].map((log) => log.check()));
  }

  private async runPart(delivery: WorkDelivery<PartRequested>, signal: AbortSignal): Promise<RunOutcome> {
    const { request } = delivery;
    const jobId = request.jobId;
    const history = await readJobHistory(this.store, jobId);
    const work = history.latestWork?.event;
    const plan = work ? this.split.plan(work.data.pipeline, work.data.params) : null;
    const maxAttempts = this.maxAttempts(work?.data.pipeline);
    const claimed = await runCommand(
      this.store,
      { kind: 'ClaimPart', jobId, request, workerId: this.config.WORKER_ID, maxAttempts, stamp: stampNow(this.clock, this.ids) },
      { assumed: history },
    );
    if (claimed.kind === 'refused') return this.leave(delivery, claimed.decision.reason, claimed.decision.message);
    const started = storedOf(claimed.stored, 'PartStarted');
    if (!started) {
      // Its attempts ran out without one ending: the part failed the job.
      this.logger.warn({ jobId, part: request.data.part.index }, 'part ran out of attempts; the job failed');
      this.store.nudgeCancel(jobId);
      delivery.ack();
      return 'failed';
    }
    if (!plan || !work) {
      // Transient: in a fleet being redeployed, another worker may know the pipeline or read its params.
      return this.settlePart(delivery, new PartLog(this.store, started, claimed.history, () => stampNow(this.clock, this.ids)), new JobFailure(ErrorCode.UnknownPipeline, `this worker cannot split pipeline "${work?.data.pipeline ?? '?'}"`, false), maxAttempts);
    }
    const log = new PartLog(this.store, started, claimed.history, () => stampNow(this.clock, this.ids));
    const heartbeat = setInterval(() => {
      delivery.heartbeat();
      void log.check();
    }, heartbeatIntervalMs(this.config.WORKER_ACK_WAIT_MS));
    this.track(jobId, log, true);
    const link = abortLink([signal, log.stopSignal]);
    const startedAt = performance.now();
    try {
      const where = { jobId, attempt: started.data.attempt, partAttempt: started.data.partAttempt };
      const artifacts = await this.split.runPart(plan, work.data.video, where, request.data.part, (report) => log.progress(report), link.signal);
      const stored = await log.settle({ kind: 'CompletePart', durationMs: Math.round(performance.now() - startedAt), artifacts });
      if (!stored) {
        await this.split.removeParts(artifacts);
        return this.stopped(delivery, log);
      }
      delivery.ack();
      const joins = storedOf(stored, 'JoinRequested') !== null;
      this.logger.log({ jobId, part: started.data.index, partAttempt: started.data.partAttempt, durationMs: Math.round(performance.now() - startedAt), joins }, 'part completed');
      return 'completed';
    } catch (error) {
      log.close();
      if (log.stopReason) return this.stopped(delivery, log);
      if (signal.aborted) {
        delivery.nak(0);
        return 'interrupted';
      }
      return this.settlePart(delivery, log, error, maxAttempts);
    } finally {
      clearInterval(heartbeat);
      link.dispose();
      this.track(jobId, log, false);
    }
  }

  private async settlePart(delivery: WorkDelivery<PartRequested>, log: PartLog, error: unknown, maxAttempts: number): Promise<RunOutcome> {
    const failure = JobFailure.from(error);
    const stored = await log.settle({ kind: 'FailPart', failure: { code: failure.code, message: failure.message, permanent: failure.permanent }, maxAttempts, jitter: Math.random() });
    if (!stored) return this.stopped(delivery, log);
    const failed = storedOf(stored, 'PartFailed')!;
    this.logger.warn({ jobId: failed.jobId, part: failed.data.index, partAttempt: failed.data.partAttempt, code: failed.data.error.code, final: failed.data.final, err: failed.data.error.message }, 'part attempt failed');
    if (!failed.data.final) {
      delivery.nak(failed.data.retryDelayMs ?? 0);
      return 'retry';
    }
    // The job failed with it: its other parts stop now rather than at their next append.
    this.store.nudgeCancel(failed.jobId);
    delivery.ack();
    return 'failed';
  }

  /** A part attempt that was stopped: acked when its job was cancelled or ended; left alone when another attempt took the part over. */
  private stopped(delivery: WorkDelivery<PartWork>, log: PartLog): RunOutcome {
    if (log.stopReason === 'cancel-requested') {
      delivery.ack();
      return 'cancelled';
    }
    return 'lost';
  }

  private async runJoin(delivery: WorkDelivery<JoinRequested>, signal: AbortSignal): Promise<RunOutcome> {
    const { request } = delivery;
    const jobId = request.jobId;
    const history = await readJobHistory(this.store, jobId);
    const ready = joinReady(history, request);
    if (typeof ready === 'string') return this.leave(delivery, ready, `join of attempt ${request.data.attempt} of job ${jobId}: ${ready}`);
    const { started, work, parts } = ready;
    const plan = this.split.plan(work.data.pipeline, work.data.params);
    const maxAttempts = this.maxAttempts(work.data.pipeline);
    const heartbeat = setInterval(() => delivery.heartbeat(), heartbeatIntervalMs(this.config.WORKER_ACK_WAIT_MS));
    let joined;
    try {
      if (!plan) throw new JobFailure(ErrorCode.UnknownPipeline, `this worker cannot join pipeline "${work.data.pipeline}"`, false);
      joined = await this.split.join(plan, work.data.video, { jobId, attempt: started.data.attempt, runId: this.ids.next() }, parts, signal);
    } catch (error) {
      if (signal.aborted) {
        delivery.nak(0);
        return 'interrupted';
      }
      return this.joinFailed(delivery, history, started, error, maxAttempts);
    } finally {
      clearInterval(heartbeat);
    }
    const durationMs = Math.max(0, Math.round(this.clock.now().getTime() - Date.parse(started.occurredAt)));
    const outcome = await runCommand(
      this.store,
      { kind: 'Complete', jobId, started, result: { durationMs, result: joined.result, resultRef: joined.resultRef, artifacts: joined.artifacts }, stamp: stampNow(this.clock, this.ids) },
      { assumed: history },
    );
    if (outcome.kind === 'refused') {
      await joined.discard();
      return this.leave(delivery, outcome.decision.reason, outcome.decision.message);
    }
    delivery.ack();
    // The parts' files were the job's artifacts until now; the joined output replaces them.
    await this.split.removeParts(parts.flatMap((part) => part.artifacts));
    this.logger.log({ jobId, attempt: started.data.attempt, parts: parts.length, durationMs }, 'job completed (joined)');
    return 'completed';
  }

  /** A failed join: delivered again after a backoff, until the pipeline's attempts (counted by deliveries) run out; then the job fails. */
  private async joinFailed(delivery: WorkDelivery<JoinRequested>, history: JobHistory, started: JobStarted, error: unknown, maxAttempts: number): Promise<RunOutcome> {
    const failure = JobFailure.from(error);
    const final = failure.permanent || delivery.deliveryCount >= maxAttempts;
    this.logger.warn({ jobId: started.jobId, code: failure.code, final, err: failure.message, delivery: delivery.deliveryCount }, 'join failed');
    if (!final) {
      delivery.nak(retryDelayMs(delivery.deliveryCount, Math.random()));
      return 'retry';
    }
    const outcome = await runCommand(
      this.store,
      { kind: 'Fail', jobId: started.jobId, started, failure: { code: failure.code, message: failure.message, permanent: true }, previousFailure: null, maxAttempts, jitter: 0, stamp: stampNow(this.clock, this.ids) },
      { assumed: history },
    );
    delivery.ack();
    return outcome.kind === 'appended' ? 'failed' : 'skipped';
  }

  /** A delivery with nothing to do (the decider refused): acked, or left for a release that can read the job's history. */
  private leave(delivery: WorkDelivery<PartWork>, reason: string, message: string): RunOutcome {
    if (reason === 'unreadable') {
      this.logger.warn({ jobId: delivery.request.jobId, deliverySeq: delivery.seq }, 'the job history holds an event this release cannot read; leaving the part for a release that can');
      delivery.nak(UNREADABLE_RETRY_MS);
      return 'held';
    }
    this.logger.log({ jobId: delivery.request.jobId, reason, deliverySeq: delivery.seq }, `skipping this work message: ${message}`);
    delivery.ack();
    return 'skipped';
  }

  private maxAttempts(pipeline: string | undefined): number {
    return maxAttemptsOf(this.catalog, this.config, pipeline);
  }

  private track(jobId: string, log: PartLog, on: boolean): void {
    const set = this.running.get(jobId) ?? new Set<PartLog>();
    if (on) set.add(log);
    else set.delete(log);
    if (set.size > 0) this.running.set(jobId, set);
    else this.running.delete(jobId);
  }
}

/**
 * Whether the join may run: the job's attempt that asked for it still runs the job, its split is the
 * latest, and every part is made (kept, or completed in this attempt). Its JobStarted, its work
 * request and each part's files; or why not (a refusal reason).
 */
export function joinReady(
  history: JobHistory,
  request: JoinRequested,
): { started: JobStarted; work: WorkRequest; parts: Array<{ index: number; artifacts: ArtifactRef[] }> } | 'unreadable' | 'deleted' | 'cancel-requested' | 'ended' | 'stale' {
  const lifecycle = history.lifecycle;
  if (lifecycle && !lifecycle.event) return 'unreadable';
  const last = lifecycle?.event ?? null;
  if (last?.type === 'JobDeleted') return 'deleted';
  if (last?.type === 'JobCancelRequested' || last?.type === 'JobCancelled') return 'cancel-requested';
  if (last?.type !== 'JobStarted' || last.data.attempt !== request.data.attempt) return last?.type === 'JobCompleted' || last?.type === 'JobFailed' ? 'ended' : 'stale';
  const split = history.split?.event;
  const work = history.latestWork?.event;
  if (!split || !work || split.data.attempt !== request.data.attempt) return 'stale';
  const parts: Array<{ index: number; artifacts: ArtifactRef[] }> = [];
  for (const part of split.data.parts) {
    const event = history.parts?.get(part.index)?.event;
    const done = event?.type === 'PartCompleted' && (event.data.attempt === split.data.attempt || split.data.kept.includes(part.index));
    if (!done) return 'stale';
    parts.push({ index: part.index, artifacts: event.data.artifacts });
  }
  return { started: last, work, parts };
}
