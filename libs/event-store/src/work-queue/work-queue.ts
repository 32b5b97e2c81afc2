import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JOB_PRIORITIES, type JobPriority, type JobSubjects } from '@app/contracts';
import { WORK_CONSUMERS } from '@app/nats';
import { cancelNudgeJobId } from '../cancel-nudge.js';
import { ensureDurableConsumer } from '../consumer-setup.js';
import { inboxPrefixOfConnection } from '../jetstream-publisher.js';
import { JetStreamWorkPuller, type PulledMessage } from './work-puller.js';

export type { PulledMessage };

/** How the work consumers treat a delivery: the worker's settings (WORKER_ACK_WAIT_MS, WORKER_MAX_DELIVER). */
export interface WorkConsumerSettings {
  /** A delivery not acked (nor reported in progress) within this long is delivered again. */
  ackWaitMs: number;
  /** Deliveries of one work message before the server gives up on it (a MAX_DELIVERIES advisory). */
  maxDeliver: number;
}

/** One slot's way to the queue: one pull out at a time. */
export interface WorkPuller {
  /**
   * The next work message of `priority`, or null when there is none to deliver now, or (with
   * `waitMs`) none within that time: for work that was announced and may not be stored yet.
   */
  pull(priority: JobPriority, waitMs?: number): Promise<PulledMessage | null>;
  /** Stops pulling; a message that arrived after its pull gave up goes back to the queue. */
  close(): void;
}

/**
 * The workers' side of the event stream: the work queue. Work requests wait in three durable pull
 * consumers, one per priority (WORK_CONSUMERS), shared by every worker; a slot pulls one message when
 * it is free (see JetStreamWorkPuller for the protocol). Besides, two core NATS signals: every append
 * of work rings a doorbell (the work subjects are heard directly), and the jobs service nudges the
 * workers when a running job is to stop (EventStore.nudgeCancel).
 */
export class WorkQueue {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: JobSubjects,
    private readonly timeoutMs = 5000,
  ) {}

  get streamName(): string {
    return this.subjects.streamName;
  }

  /**
   * Creates the work consumers, or brings them up to date (their filter, and `settings`). Fails with
   * a ConsumerFilterError when one cannot be brought to its filter.
   */
  async ensureConsumers(settings: WorkConsumerSettings): Promise<void> {
    const jsm = await jetstreamManager(this.nc, { timeout: this.timeoutMs });
    for (const priority of JOB_PRIORITIES) {
      await ensureDurableConsumer(
        jsm,
        this.streamName,
        {
          durable_name: WORK_CONSUMERS[priority],
          description: `Framewire workers, ${priority} priority: each job to one worker at a time`,
          // A priority's jobs, and the parts and joins of its split jobs (issue #19).
          filter_subjects: [this.subjects.submittedWith(priority), this.subjects.partWorkWith(priority)],
          deliver_policy: DeliverPolicy.All,
          ack_policy: AckPolicy.Explicit,
          ack_wait: settings.ackWaitMs * 1_000_000,
          max_deliver: settings.maxDeliver,
          max_ack_pending: 10_000,
          max_waiting: 512,
        },
        ['description', 'ack_wait', 'max_deliver', 'max_ack_pending'],
      );
    }
  }

  /** A puller for one slot, with its own reply inbox under the connection's inbox prefix. */
  puller(): WorkPuller {
    const puller = new JetStreamWorkPuller(this.nc, this.streamName, inboxPrefixOfConnection(this.nc) ?? '_INBOX', this.subjects);
    return {
      pull: (priority, waitMs) => puller.pull(WORK_CONSUMERS[priority], waitMs),
      close: () => puller.close(),
    };
  }

  /** Calls `listener` with the priority of each work request appended from now on; returns the way to stop. */
  onWorkAppended(listener: (priority: JobPriority) => void): () => void {
    const callback = (error: Error | null, msg: { subject: string }) => {
      if (error) return;
      const priority = this.subjects.parse(msg.subject)?.priority;
      if (priority) listener(priority);
    };
    const subs = [this.nc.subscribe(this.subjects.allSubmitted, { callback }), this.nc.subscribe(this.subjects.allPartWork, { callback })];
    return () => subs.forEach((sub) => sub.unsubscribe());
  }

  /** Calls `listener` with the job id of each cancel nudge from now on; returns the way to stop. */
  onCancelNudge(listener: (jobId: string) => void): () => void {
    const sub = this.nc.subscribe(this.subjects.cancelRequested, {
      callback: (error, msg) => {
        if (error) return;
        const jobId = cancelNudgeJobId(msg.string());
        if (jobId) listener(jobId);
      },
    });
    return () => sub.unsubscribe();
  }

  /** Resolves once the server knows every listener added so far, so that no append falls between them and a first pull. */
  async listening(): Promise<void> {
    await this.nc.flush();
  }
}
