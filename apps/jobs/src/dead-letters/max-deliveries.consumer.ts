import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { consumeLoop, EventStore } from '@app/event-store';
import { Backoff } from '@app/runtime';
import { JobsMetrics } from '../ops/jobs.metrics.js';
import { DeadLetterService } from './dead-letter.service.js';
import { maxDeliveriesAdvisorySchema } from './max-deliveries.advisory.js';

/** The durable consumer of the advisory stream, shared by every jobs service instance. */
export const DEAD_LETTER_CONSUMER = 'dead-letters';
const ACK_WAIT_MS = 30_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** How long an advisory about a job whose history this release cannot read waits before it comes back. */
const UNREADABLE_RETRY_MS = 60_000;

/**
 * The transport of dead letters: reads the captured MAX_DELIVERIES advisories (at least once, from
 * the `<NS>_ADVISORIES` stream), hands each to the DeadLetterService and acks it only after the
 * job's JobFailed is stored. An advisory that cannot be handled now is nak'ed and comes back (after
 * a minute when the job's history holds an event this release cannot read); one that is not an
 * advisory at all is terminated.
 */
@Injectable()
export class MaxDeliveriesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(MaxDeliveriesConsumer.name);
  private readonly stopped = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly deadLetters: DeadLetterService,
    private readonly metrics: JobsMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private run(): Promise<void> {
    const stream = this.store.subjects.advisoryStreamName;
    return consumeLoop({
      signal: this.stopped.signal,
      backoff: new Backoff(RETRY_MIN_MS, RETRY_MAX_MS),
      open: async () => {
        await this.store.ensureDurableConsumer(
          {
            durable_name: DEAD_LETTER_CONSUMER,
            description: 'Turns MAX_DELIVERIES advisories into dead letters',
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            ack_wait: ACK_WAIT_MS * 1_000_000,
            max_deliver: -1,
            filter_subject: this.store.subjects.maxDeliveriesAdvisories,
          },
          ['description', 'ack_wait', 'max_deliver'],
          stream,
        );
        // A consumer deleted under it (NATS lost its data) ends the iteration, and the loop makes it again.
        return this.store.consumeDurable(DEAD_LETTER_CONSUMER, { max_messages: 64, abort_on_missing_resource: true }, stream);
      },
      handle: (msg) => this.handle(msg),
      onError: (error, delay) =>
        this.logger.error(`dead-letter consumer paused, retrying in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`),
    });
  }

  private async handle(msg: JsMsg): Promise<void> {
    let raw: unknown;
    try {
      raw = msg.json();
    } catch {
      raw = null;
    }
    const advisory = maxDeliveriesAdvisorySchema.safeParse(raw);
    if (!advisory.success) {
      this.logger.error({ seq: msg.seq, subject: msg.subject }, 'terminating a message on the advisory stream that is not a MAX_DELIVERIES advisory');
      msg.term();
      return;
    }
    try {
      const outcome = await this.deadLetters.record(advisory.data);
      if (outcome === 'unreadable') {
        // Not acked: a release that can read the job's history handles it.
        this.metrics.unreadable.inc({ command: 'DeadLetter' });
        msg.nak(UNREADABLE_RETRY_MS);
        return;
      }
      this.logger.log({ seq: advisory.data.stream_seq, consumer: advisory.data.consumer, outcome }, 'MAX_DELIVERIES advisory handled');
      msg.ack();
    } catch (error) {
      this.logger.error({ seq: advisory.data.stream_seq, err: error instanceof Error ? error.message : String(error) }, 'MAX_DELIVERIES advisory not handled now; it will come back');
      msg.nak(RETRY_MIN_MS * 4);
    }
  }
}
