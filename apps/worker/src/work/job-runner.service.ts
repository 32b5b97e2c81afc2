import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ErrorCode,
  isTerminal,
  type JobCompleted,
  type JobEvent,
  type JobFailed,
  type JobStarted,
} from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { BlobStore, ConcurrencyError, EventStore, type ReadItem } from '@app/event-store';
import { Clock, IdGenerator } from '@app/runtime';
import { PipelineRegistry } from '../pipelines/pipeline.registry.js';
import { WORKER_CONFIG } from '../worker.config.js';
import { JobFailure } from './job-failure.js';
import { PipelineProbe } from './pipeline-probe.js';
import type { WorkDelivery } from './work-delivery.js';

export type RunOutcome = 'completed' | 'failed' | 'retry' | 'skipped' | 'lost' | 'interrupted';

/**
 * Runs one delivery of a job: claims the attempt with `JobStarted`, runs the pipeline, and ends the
 * attempt with exactly one terminal event. Every lifecycle append expects the sequence of the one
 * before, so when the job was handed to another worker meanwhile, this worker's append is refused
 * and it walks away without touching the message.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);

  constructor(
    private readonly store: EventStore,
    private readonly blobs: BlobStore,
    private readonly pipelines: PipelineRegistry,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly probe: PipelineProbe,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async run(delivery: WorkDelivery, signal: AbortSignal): Promise<RunOutcome> {
    const { request } = delivery;
    const jobId = request.jobId;
    const claim = await this.claim(delivery);
    if (claim === 'skipped' || claim === 'lost') return claim;
    const { started, seq } = claim;
    const attempt = started.data.attempt;
    // At debug: the terminal line below says it all at info, and a log line here was a pipe write
    // between the claim and the pipeline's start, on the path that P1 measures.
    this.logger.debug({ jobId, attempt, pipeline: request.data.pipeline, correlationId: request.correlationId }, 'job started');

    const heartbeat = setInterval(() => delivery.heartbeat(), Math.max(1000, Math.floor(this.config.WORKER_ACK_WAIT_MS / 3)));
    const startedAt = performance.now();
    try {
      const result = await this.execute(request, attempt, signal).finally(() => delivery.release());
      const completed = this.event<JobCompleted>(request, started, 'JobCompleted', {
        attempt,
        durationMs: Math.round(performance.now() - startedAt),
        result: result as JobCompleted['data']['result'],
        resultRef: null,
        artifacts: [],
      });
      return await this.finish(delivery, completed, seq, 'completed');
    } catch (error) {
      if (signal.aborted) {
        // Shutdown: hand the job back; the next worker starts a new attempt.
        delivery.nak(0);
        return 'interrupted';
      }
      const failure = JobFailure.from(error);
      const final = failure.permanent || attempt >= this.config.WORKER_MAX_DELIVER;
      const failed = this.event<JobFailed>(request, started, 'JobFailed', {
        attempt,
        final,
        error: { code: failure.code, message: failure.message },
      });
      this.logger.warn({ jobId, attempt, code: failure.code, final, err: failure.message }, 'job attempt failed');
      if (final) return await this.finish(delivery, failed, seq, 'failed');
      return await this.finish(delivery, failed, seq, 'retry');
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Appends `JobStarted` for the next attempt, expecting the job's last lifecycle sequence. A first
   * delivery almost always meets a job with no lifecycle yet, so it claims attempt 1 expecting none
   * and reads the lifecycle only when that append is refused (a redriven job, a lost ack): one round
   * trip instead of two on the common path, and the same outcome on every other.
   */
  private async claim(delivery: WorkDelivery): Promise<{ started: JobStarted; seq: number } | 'skipped' | 'lost'> {
    const { request } = delivery;
    if (delivery.deliveryCount === 1) {
      const started = this.event<JobStarted>(request, null, 'JobStarted', { workerId: this.config.WORKER_ID, attempt: 1 });
      try {
        return { started, seq: (await this.store.append(started, 0)).seq };
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
      }
    }
    const last = await this.store.lastLifecycle(request.jobId);
    const previous = last?.ok ? last.stored.event : null;
    if (previous && isTerminal(previous)) {
      // The job ended before this (re)delivery; its ack was lost. Nothing to do.
      delivery.ack();
      return 'skipped';
    }
    const attempt = attemptOf(previous) + 1;
    const started = this.event<JobStarted>(request, previous, 'JobStarted', { workerId: this.config.WORKER_ID, attempt });
    try {
      return { started, seq: (await this.store.append(started, seqOf(last))).seq };
    } catch (error) {
      if (error instanceof ConcurrencyError) {
        this.logger.warn({ jobId: request.jobId, attempt }, 'another worker claimed this job first; leaving it');
        return 'lost';
      }
      throw error;
    }
  }

  private async execute(request: JobEvent & { type: 'VideoSubmitted' }, attempt: number, signal: AbortSignal) {
    const pipeline = this.pipelines.get(request.data.pipeline);
    if (!pipeline) {
      throw new JobFailure(ErrorCode.UnknownPipeline, `this worker has no pipeline "${request.data.pipeline}"`, false);
    }
    const base = { jobId: request.jobId, attempt, params: request.data.params, signal };
    if (!pipeline.needsInput) {
      // Nothing to download, so no scratch directory either: making and removing one was a noop
      // job's only file-system work, about a tenth of its CPU.
      this.probe.pipelineBegins(request.jobId, attempt);
      return await pipeline.run({ ...base, inputPath: null, workDir: null });
    }
    const workDir = await mkdtemp(join(this.config.WORK_DIR ?? tmpdir(), `framewire-${request.jobId.slice(0, 8)}-`));
    try {
      const inputPath = join(workDir, 'input');
      await this.blobs.downloadToFile(request.data.video.objectName, inputPath);
      this.probe.pipelineBegins(request.jobId, attempt);
      return await pipeline.run({ ...base, inputPath, workDir });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** Appends the attempt's terminal (or retry) event, then settles the message. */
  private async finish(delivery: WorkDelivery, event: JobCompleted | JobFailed, expectedSeq: number, outcome: RunOutcome) {
    try {
      await this.store.append(event, expectedSeq);
    } catch (error) {
      if (error instanceof ConcurrencyError) {
        this.logger.warn({ jobId: event.jobId }, 'job was taken over by another attempt; discarding this result');
        return 'lost' as const;
      }
      throw error;
    }
    if (outcome === 'retry') delivery.nak(retryDelayMs(event.data.attempt));
    else delivery.ack();
    const durationMs = event.type === 'JobCompleted' ? event.data.durationMs : undefined;
    this.logger.log({ jobId: event.jobId, attempt: event.data.attempt, outcome, durationMs, correlationId: event.correlationId }, `job ${outcome}`);
    return outcome;
  }

  private event<E extends JobEvent>(
    request: JobEvent,
    cause: JobEvent | null,
    type: E['type'],
    data: E['data'],
  ): E {
    return {
      eventId: this.ids.next(),
      jobId: request.jobId,
      type,
      version: (type === 'JobCompleted' ? 2 : 1) as E['version'],
      occurredAt: this.clock.now().toISOString(),
      correlationId: request.correlationId,
      causationId: (cause ?? request).eventId,
      data,
    } as E;
  }
}

function attemptOf(event: JobEvent | null): number {
  if (!event) return 0;
  switch (event.type) {
    case 'JobStarted':
    case 'JobProgressed':
    case 'JobCompleted':
    case 'JobFailed':
      return event.data.attempt;
    case 'VideoSubmitted':
      return 0;
  }
}

function seqOf(item: ReadItem | null): number {
  if (!item) return 0;
  return item.ok ? item.stored.seq : item.malformed.seq;
}

/** Exponential backoff with full jitter: up to 1 s, 2 s, 4 s ... capped at 60 s. */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
