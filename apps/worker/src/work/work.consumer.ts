import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/transport-node';
import { decodeEvent, isWorkRequest, jobIdSchema } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { ensureDurableConsumer, EventStore } from '@app/event-store';
import { runWithCorrelation } from '@app/observability';
import { WORKER_CONFIG } from '../worker.config.js';
import { InFlightJobs } from './in-flight-jobs.js';
import { JobRunner } from './job-runner.service.js';
import type { WorkDelivery } from './work-delivery.js';

/** The durable pull consumer shared by every worker process: JetStream's work-queue group. */
export const WORK_CONSUMER = 'workers';
const PULL_EXPIRES_MS = 5000;
const ERROR_RETRY_MS = 1000;

/**
 * The worker's transport. Each of WORKER_CONCURRENCY slots pulls one message only when it is free,
 * so a busy worker never hoards jobs that an idle one could run. Messages are validated here; a
 * malformed one is logged and terminated. On shutdown the slots stop pulling, running jobs get
 * WORKER_SHUTDOWN_GRACE_MS to finish, and whatever is still running is handed back with a nak.
 */
@Injectable()
export class WorkConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkConsumer.name);
  private stopping = false;
  private readonly pulls = new Set<ConsumerMessages>();
  private readonly running = new Map<number, AbortController>();
  private slots: Promise<void>[] = [];
  private consumer: Consumer | null = null;
  private nudges: Subscription | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly runner: JobRunner,
    private readonly inFlight: InFlightJobs,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureDurableConsumer(
      await this.store.jsm(),
      this.store.streamName,
      {
        durable_name: WORK_CONSUMER,
        description: 'Framewire workers: each job to one worker at a time',
        filter_subject: this.store.subjects.allSubmitted,
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.Explicit,
        ack_wait: this.config.WORKER_ACK_WAIT_MS * 1_000_000,
        max_deliver: this.config.WORKER_MAX_DELIVER,
        max_ack_pending: 10_000,
        max_waiting: 512,
      },
      ['description', 'ack_wait', 'max_deliver', 'max_ack_pending'],
    );
    this.consumer = await this.store.js.consumers.get(this.store.streamName, WORK_CONSUMER);
    // Cancel nudges: the job, if it runs here, is stopped at once rather than at its next append.
    this.nudges = this.store.nc.subscribe(this.store.subjects.cancelRequested, {
      callback: (error, msg) => {
        if (error) return;
        const jobId = cancelNudgeJobId(msg.string());
        if (jobId) void this.runner.cancelRequested(jobId);
      },
    });
    this.slots = Array.from({ length: this.config.WORKER_CONCURRENCY }, (_, i) => this.slot(i));
    this.logger.log({ workerId: this.config.WORKER_ID, concurrency: this.config.WORKER_CONCURRENCY }, 'worker pulling jobs');
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.nudges?.unsubscribe();
    // close() settles only when the slot's loop has drained the fetch, which a running job holds
    // open; so the pulls are told to stop and the slots are awaited below, under the grace period.
    for (const pull of this.pulls) void pull.close().catch(() => undefined);
    const finished = Promise.all(this.slots);
    const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.config.WORKER_SHUTDOWN_GRACE_MS).unref());
    if ((await Promise.race([finished, grace])) === 'timeout') {
      this.logger.warn({ running: this.running.size }, 'shutdown grace is over; handing running jobs back');
      for (const controller of this.running.values()) controller.abort();
      await finished;
    }
    this.logger.log('worker drained');
  }

  /**
   * One slot: pull a job, run it, pull the next. The next pull is sent as soon as the pipeline has
   * finished (`released`), so that it travels while the job's terminal event is being appended: the
   * slot never holds a job it could not start within one append's round trip.
   */
  private async slot(index: number): Promise<void> {
    let next = this.pullOne();
    while (!this.stopping) {
      const msg = await next;
      if (!msg) {
        if (!this.stopping) next = this.pullOne();
        continue;
      }
      if (this.stopping) {
        msg.nak();
        return;
      }
      let pulled = false;
      const release = () => {
        if (pulled || this.stopping) return;
        pulled = true;
        next = this.pullOne();
      };
      await this.dispatch(index, msg, release);
      release();
    }
    // A job pulled while this slot was stopping goes straight back to the queue.
    void next.then((msg) => msg?.nak());
  }

  /** Pulls at most one message; null when the pull expired or was closed. */
  private async pullOne(): Promise<JsMsg | null> {
    try {
      const pull = await this.consumer!.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS });
      this.pulls.add(pull);
      if (this.stopping) void pull.close().catch(() => undefined);
      try {
        const first = await pull[Symbol.asyncIterator]().next();
        // The fetch is ended at once (its subscription need not outlive the delivery), but not awaited:
        // that took a few hundred microseconds between a job's arrival and its start.
        void pull.close().catch(() => undefined);
        return first.done ? null : first.value;
      } finally {
        this.pulls.delete(pull);
      }
    } catch (error) {
      if (this.stopping) return null;
      this.logger.error(`pull failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, ERROR_RETRY_MS));
      return null;
    }
  }

  private async dispatch(slot: number, msg: JsMsg, release: () => void): Promise<void> {
    const decoded = decodeEvent(msg.data);
    if (!decoded.ok || !isWorkRequest(decoded.event)) {
      const reason = decoded.ok ? `unexpected ${decoded.event.type} on the work subject` : decoded.reason;
      this.logger.error({ seq: msg.seq, subject: msg.subject }, `terminating malformed work message: ${reason}`);
      msg.term();
      return;
    }
    const delivery: WorkDelivery = {
      request: decoded.event,
      seq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      heartbeat: () => msg.working(),
      ack: () => msg.ack(),
      nak: (delayMs) => msg.nak(delayMs),
      release,
    };
    const controller = new AbortController();
    this.running.set(slot, controller);
    const context = { correlationId: decoded.event.correlationId, jobId: decoded.event.jobId };
    this.inFlight.add(decoded.event.jobId);
    try {
      // Every line logged while this job runs carries its correlation id and job id.
      await runWithCorrelation(context, () => this.runner.run(delivery, controller.signal));
    } catch (error) {
      // The event store or the object store failed before the attempt could be settled: try later.
      this.logger.error({ jobId: decoded.event.jobId, err: error instanceof Error ? error.message : String(error) }, 'job could not be run now; it will be redelivered');
      msg.nak(ERROR_RETRY_MS);
    } finally {
      this.running.delete(slot);
      this.inFlight.delete(decoded.event.jobId);
    }
  }
}

/** The job id of a cancel nudge (`{"job_id": ...}`), or null for anything else. */
function cancelNudgeJobId(body: string): string | null {
  try {
    const parsed = jobIdSchema.safeParse((JSON.parse(body) as { job_id?: unknown }).job_id);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
