import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { decodeEvent, isPartWork, isWorkRequest, JOB_PRIORITIES, type JobPriority, type PartWork, type WorkRequest } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { WorkQueue, type PulledMessage, type WorkPuller } from '@app/event-store';
import { START_UNAVAILABLE_MS, WORK_CONSUMERS, whileNatsUnavailable } from '@app/nats';
import { runWithCorrelation, tracingActive } from '@app/observability';
import { WORKER_CONFIG } from '../worker.config.js';
import { InFlightJobs } from './in-flight-jobs.js';
import { JobRunner } from './job-runner.service.js';
import { PartRunner } from './part-runner.service.js';
import { PrioritySchedule } from './priority-schedule.js';
import type { WorkDelivery } from './work-delivery.js';

/** The durable pull consumers shared by every worker process, one per priority (libs/nats/src/durable-consumers.ts). */
export { WORK_CONSUMERS };
/** The consumer of normal-priority work, the default priority. */
export const WORK_CONSUMER = WORK_CONSUMERS.normal;
/** An idle slot asks every consumer again this often, for work no doorbell announced (a retry after its delay, a redelivery). */
const IDLE_RECHECK_MS = 1000;
/**
 * How long a pull waits for a job that the doorbell announced: the core message can reach the worker
 * before the stream has stored it, and a no-wait pull would then find nothing.
 */
const ANNOUNCED_WAIT_MS = 200;
const ERROR_RETRY_MS = 1000;
/** The longest a delivery that met an outage waits before it comes back (see outageRetryDelayMs). */
const OUTAGE_RETRY_MAX_MS = 30_000;

/**
 * How long a work message that could not be run (the event store or the object store failed before
 * its attempt could be settled: a stream electing its leader, NATS away) waits before it is
 * delivered again: 1 s, doubling with each delivery, at most 30 s. Every delivery counts against
 * max_deliver, and a fixed second spent ten deliveries in ten seconds, less than a three-node
 * cluster took to elect a stream leader on a loaded machine, so the job was dead-lettered for an
 * outage it had no part in. With the default of ten deliveries, the job now rides out about two and
 * a half minutes of outage.
 */
export function outageRetryDelayMs(deliveryCount: number): number {
  return Math.min(ERROR_RETRY_MS * 2 ** Math.max(0, deliveryCount - 1), OUTAGE_RETRY_MAX_MS);
}

/**
 * The worker's transport. Each of WORKER_CONCURRENCY slots pulls one message only when it is free,
 * so a busy worker never hoards jobs that an idle one could run, and it pulls by priority (see
 * PrioritySchedule): a no-wait pull of the priority owed a turn, then of the others.
 *
 * A free slot with nothing to pull waits for a doorbell: the worker hears the work subjects on core
 * NATS (every append to the stream is also a core message), so a new job wakes one idle slot at once,
 * which pulls it from its priority's consumer. An idle slot also asks again every IDLE_RECHECK_MS, and
 * after a retry's delay, for work that no append announced. Which priorities may have work is known
 * from the doorbell and from what each pull says is left (`pending`).
 *
 * Messages are validated here; a malformed one is logged and terminated. On shutdown the slots stop
 * pulling, running jobs get WORKER_SHUTDOWN_GRACE_MS to finish, and whatever is still running is
 * handed back with a nak.
 */
@Injectable()
export class WorkConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkConsumer.name);
  private stopping = false;
  private readonly running = new Map<number, AbortController>();
  private slots: Promise<void>[] = [];
  private readonly pullers: WorkPuller[] = [];
  private stopNudges: (() => void) | null = null;
  private restoring: Promise<void> | null = null;
  private stopDoorbell: (() => void) | null = null;
  private readonly schedule = new PrioritySchedule();
  /** Priorities that may have work to deliver. */
  private readonly mayHaveWork = new Set<JobPriority>(JOB_PRIORITIES);
  /** Priorities whose work the doorbell announced and no pull has looked for since. */
  private readonly announced = new Set<JobPriority>();
  /** Counts the doorbell's rings per priority, so that a pull that found nothing cannot erase a ring that came meanwhile. */
  private readonly rings: Record<JobPriority, number> = { high: 0, normal: 0, low: 0 };
  /** Idle slots waiting for work, first come first woken. */
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly queue: WorkQueue,
    private readonly runner: JobRunner,
    private readonly parts: PartRunner,
    private readonly inFlight: InFlightJobs,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A consumer that cannot be brought to the current filter stops the worker here, loudly: one left
    // with an older filter would never hand out that priority's jobs.
    await whileNatsUnavailable(() => this.ensureConsumers(), {
      timeoutMs: START_UNAVAILABLE_MS,
      onRetry: (error, delay) => this.logger.warn(`JetStream is not answering yet (${error instanceof Error ? error.message : String(error)}); setting up the work consumers again in ${delay} ms`),
    }).catch((error: unknown) => {
      this.logger.error({ stream: this.queue.streamName }, `cannot set up the work consumers; the worker stops: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    });
    // New work: wake an idle slot for it.
    this.stopDoorbell = this.queue.onWorkAppended((priority) => this.workArrived(priority));
    // Cancel nudges: the job, if it runs here, is stopped at once rather than at its next append.
    this.stopNudges = this.queue.onCancelNudge((jobId) => {
      void this.runner.cancelRequested(jobId);
      void this.parts.cancelRequested(jobId);
    });
    // The subscriptions are known to the server before the first pull, so no append falls between.
    await this.queue.listening();
    this.slots = Array.from({ length: this.config.WORKER_CONCURRENCY }, (_, i) => {
      const puller = this.queue.puller();
      this.pullers.push(puller);
      return this.slot(i, puller);
    });
    this.logger.log({ workerId: this.config.WORKER_ID, concurrency: this.config.WORKER_CONCURRENCY }, 'worker pulling jobs');
  }

  /**
   * After a pull failed: the consumers are made again if they are gone. A consumer goes with its
   * stream, so when the event stream is deleted and made again (or NATS loses its data), pulls find
   * nobody to answer them; the new consumers deliver the new stream's work from its start. One
   * attempt at a time for all slots; while the stream itself is missing (the jobs service makes it),
   * this fails and the next failed pull tries again.
   */
  private restoreConsumers(): Promise<void> {
    this.restoring ??= this.ensureConsumers()
      .catch((error: unknown) => this.logger.warn(`cannot make the work consumers again yet: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.restoring = null;
      });
    return this.restoring;
  }

  private ensureConsumers(): Promise<void> {
    return this.queue.ensureConsumers({ ackWaitMs: this.config.WORKER_ACK_WAIT_MS, maxDeliver: this.config.WORKER_MAX_DELIVER });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.stopNudges?.();
    this.stopDoorbell?.();
    for (const wake of this.idle.splice(0)) wake();
    const finished = Promise.all(this.slots);
    const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.config.WORKER_SHUTDOWN_GRACE_MS).unref());
    if ((await Promise.race([finished, grace])) === 'timeout') {
      this.logger.warn({ running: this.running.size }, 'shutdown grace is over; handing running jobs back');
      for (const controller of this.running.values()) controller.abort();
      await finished;
    }
    for (const puller of this.pullers) puller.close();
    this.logger.log('worker drained');
  }

  /**
   * One slot: pull a job, run it, pull the next. The next pull is sent together with the job's
   * terminal append (`released`, one socket write for both), so that it travels while that event is
   * stored: the slot never holds a job it could not start within one append's round trip.
   */
  private async slot(index: number, puller: WorkPuller): Promise<void> {
    let next = this.pullNext(puller);
    while (!this.stopping) {
      const pulled = await next;
      if (!pulled) continue;
      if (this.stopping) {
        pulled.msg.nak();
        return;
      }
      let released = false;
      const release = () => {
        if (released || this.stopping) return;
        released = true;
        next = this.pullNext(puller);
      };
      await this.dispatch(index, pulled.msg, pulled.priority, release);
      release();
    }
    // A job pulled while this slot was stopping goes straight back to the queue.
    void next.then((pulled) => pulled?.msg.nak());
  }

  /** The next job for a slot, by priority; waits while there is none. Null once stopping. */
  private async pullNext(puller: WorkPuller): Promise<{ msg: PulledMessage; priority: JobPriority } | null> {
    while (!this.stopping) {
      const candidates = JOB_PRIORITIES.filter((p) => this.mayHaveWork.has(p));
      for (const priority of this.schedule.order(candidates)) {
        let msg: PulledMessage | null;
        const ringsBefore = this.rings[priority];
        const waitMs = this.announced.delete(priority) ? ANNOUNCED_WAIT_MS : 0;
        try {
          msg = await puller.pull(priority, waitMs);
        } catch (error) {
          if (this.stopping) return null;
          this.logger.error(`pull failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
          await this.restoreConsumers();
          await new Promise((resolve) => setTimeout(resolve, ERROR_RETRY_MS));
          break;
        }
        const rangMeanwhile = this.rings[priority] !== ringsBefore;
        if (!msg) {
          if (!rangMeanwhile) {
            this.mayHaveWork.delete(priority);
            this.schedule.empty(priority);
          }
          continue;
        }
        this.schedule.took(priority, candidates);
        if (msg.pending === 0 && !rangMeanwhile) this.mayHaveWork.delete(priority);
        return { msg, priority };
      }
      if (this.mayHaveWork.size === 0) await this.waitForWork();
    }
    return null;
  }

  /** Until a doorbell rings for this slot, or IDLE_RECHECK_MS has passed (then every priority is asked again). */
  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        const at = this.idle.indexOf(wake);
        if (at >= 0) this.idle.splice(at, 1);
        resolve();
      };
      const timer = setTimeout(() => {
        for (const p of JOB_PRIORITIES) this.mayHaveWork.add(p);
        wake();
      }, IDLE_RECHECK_MS);
      this.idle.push(wake);
    });
  }

  /** Work of `priority` was appended: note it, and wake the slot that has waited longest. */
  private workArrived(priority: JobPriority): void {
    this.announced.add(priority);
    this.workMayBeBack(priority);
  }

  /** Work of `priority` may be deliverable again (a retry whose delay is over). */
  private workMayBeBack(priority: JobPriority): void {
    this.rings[priority]++;
    this.mayHaveWork.add(priority);
    this.idle[0]?.();
  }

  private async dispatch(slot: number, msg: PulledMessage, priority: JobPriority, release: () => void): Promise<void> {
    const decoded = decodeEvent(msg.data);
    if (!decoded.ok || !(isWorkRequest(decoded.event) || isPartWork(decoded.event))) {
      const reason = decoded.ok ? `unexpected ${decoded.event.type} on the work subject` : decoded.reason;
      this.logger.error({ seq: msg.seq, subject: msg.subject }, `terminating malformed work message: ${reason}`);
      // The reason also reaches the server's MSG_TERMINATED advisory, for whoever watches the consumers.
      msg.term(`malformed work message: ${reason}`);
      return;
    }
    const delivery: WorkDelivery<WorkRequest | PartWork> = {
      request: decoded.event,
      seq: msg.seq,
      deliveryCount: msg.deliveryCount,
      firstOfJob: msg.firstOfJob,
      // Where the message came from, for its trace only.
      ...(tracingActive() ? { origin: { subject: msg.subject, storedAt: msg.storedAt, consumer: msg.consumer, trace: msg.trace } } : {}),
      heartbeat: () => msg.working(),
      ack: () => msg.ack(),
      nak: (delayMs) => {
        msg.nak(delayMs);
        // The retry is announced by no append: look for it again when its delay is over.
        if (delayMs > 0) setTimeout(() => this.workMayBeBack(priority), delayMs).unref();
        else this.workMayBeBack(priority);
      },
      release,
    };
    const controller = new AbortController();
    this.running.set(slot, controller);
    const context = { correlationId: decoded.event.correlationId, jobId: decoded.event.jobId };
    this.inFlight.add(decoded.event.jobId);
    try {
      // Every line logged while this job runs carries its correlation id and job id.
      await runWithCorrelation(context, () => (isPartDelivery(delivery) ? this.parts.run(delivery, controller.signal) : this.runner.run(delivery as WorkDelivery, controller.signal)));
    } catch (error) {
      // The event store or the object store failed before the attempt could be settled: try later.
      this.logger.error({ jobId: decoded.event.jobId, err: error instanceof Error ? error.message : String(error) }, 'job could not be run now; it will be redelivered');
      delivery.nak(outageRetryDelayMs(delivery.deliveryCount));
    } finally {
      this.running.delete(slot);
      this.inFlight.delete(decoded.event.jobId);
    }
  }
}

function isPartDelivery(delivery: WorkDelivery<WorkRequest | PartWork>): delivery is WorkDelivery<PartWork> {
  return isPartWork(delivery.request);
}
