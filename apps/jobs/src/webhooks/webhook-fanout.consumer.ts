import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { LRUCache } from 'lru-cache';
import { webhookEventTypeOf } from '@app/contracts';
import { consumeLoop, EventStore, readJsMsg } from '@app/event-store';
import { WEBHOOK_CONSUMER } from '@app/nats';
import { Backoff, IdGenerator } from '@app/runtime';
import { WebhookRepository } from '@app/webhooks';
import { deliveriesOwed, type FoldedJob } from './webhook-deliveries.js';
import { WebhookMetrics } from './webhook.metrics.js';
import { WebhookSender } from './webhook-sender.service.js';

/**
 * Handling one event takes milliseconds (a few queries and a read of the job's newest events), and at
 * most FETCH_MAX wait in the client's buffer: an event a crashed instance held comes back after this.
 */
const ACK_WAIT_MS = 10_000;
const FETCH_MAX = 64;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** Jobs whose tenant is remembered (a job's tenant never changes). */
const TENANT_CACHE_SIZE = 50_000;
/** Jobs whose state, folded up to their last event handled here, is remembered. */
const FOLD_CACHE_SIZE = 10_000;

/**
 * The webhook fan-out: a durable consumer of every job's lifecycle subject, shared by the jobs service
 * instances. For each event that some endpoint of the job's tenant hears, it stores the deliveries
 * the event owes (in PostgreSQL, one per endpoint and event) and acks the event only then; the
 * WebhookSender sends them. A delivery is therefore never only in a process's memory: an endpoint
 * stored before an event is called for it across restarts of every service.
 *
 * The consumer starts with the events appended after it is first made: endpoints only ever hear
 * events stored after they were created (each records the stream's last sequence then, after making
 * sure the consumer exists).
 */
@Injectable()
export class WebhookFanout implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookFanout.name);
  private readonly stopped = new AbortController();
  private readonly tenants = new LRUCache<string, string>({ max: TENANT_CACHE_SIZE });
  private readonly folds = new LRUCache<string, FoldedJob>({ max: FOLD_CACHE_SIZE });
  private loop: Promise<void> | null = null;
  private stream = '';

  constructor(
    private readonly store: EventStore,
    private readonly repository: WebhookRepository,
    private readonly sender: WebhookSender,
    private readonly ids: IdGenerator,
    private readonly metrics: WebhookMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private run(): Promise<void> {
    return consumeLoop({
      signal: this.stopped.signal,
      backoff: new Backoff(RETRY_MIN_MS, RETRY_MAX_MS),
      open: async () => {
        // Which stream the sequences count in: the endpoints' watermarks hold only in the stream they were read from.
        this.stream = (await this.store.streamState()).identity.created;
        await this.ensureConsumer();
        return this.store.consumeDurable(WEBHOOK_CONSUMER, { max_messages: FETCH_MAX, abort_on_missing_resource: true });
      },
      handle: (msg) => this.handle(msg),
      onError: (error, delay) =>
        this.logger.error(`webhook fan-out paused, retrying in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`),
    });
  }

  /**
   * Makes the durable consumer if it is not there. The webhook requests call this before they read an
   * endpoint's watermark: a consumer made with "deliver new" after the watermark was read would miss
   * the events in between.
   */
  async ensureConsumer(): Promise<void> {
    await this.store.ensureDurableConsumer(
      {
        durable_name: WEBHOOK_CONSUMER,
        description: 'Stores the webhook deliveries each lifecycle event owes',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_deliver: -1,
        max_ack_pending: 1024,
        filter_subject: this.store.subjects.allLifecycle,
      },
      ['description', 'ack_wait', 'max_deliver', 'max_ack_pending'],
    );
  }

  private async handle(msg: JsMsg): Promise<void> {
    const item = readJsMsg(msg);
    if (!item.ok) {
      // The projector parks it where an operator sees it; no webhook can be made of it.
      this.logger.warn({ seq: item.malformed.seq, subject: item.malformed.subject, reason: item.malformed.reason }, 'webhook fan-out skips a malformed event');
      this.metrics.fanout.inc({ outcome: 'malformed' });
      msg.term(`malformed: ${item.malformed.reason}`.slice(0, 200));
      return;
    }
    const { seq, event } = item.stored;
    try {
      const recorded = await this.record(event.jobId, seq, webhookEventTypeOf(event));
      this.metrics.fanout.inc({ outcome: recorded > 0 ? 'recorded' : 'unheard' });
      msg.ack();
      if (recorded > 0) this.sender.wake();
    } catch (error) {
      // Back soon, and the loop pauses: PostgreSQL or NATS is away. The deliveries a job owes are
      // stored in stream order whichever of its events comes back first (see deliveriesOwed).
      msg.nak(RETRY_MIN_MS * 4);
      throw error;
    }
  }

  /** Stores what the event at `seq` owes; resolves to how many deliveries that is. */
  private async record(jobId: string, seq: number, type: ReturnType<typeof webhookEventTypeOf>): Promise<number> {
    if (!type) return 0;
    const tenant = await this.tenantOf(jobId);
    if (!tenant) return 0;
    const endpoints = await this.repository.endpointsHearing(tenant, type, { seq, stream: this.stream });
    if (endpoints.length === 0) return 0;
    const newest = await this.repository.newestDeliveredSeq(jobId, endpoints.map((e) => e.id));
    const listeners = endpoints.map((e) => ({ id: e.id, events: e.events, afterSeq: Math.max(e.fromSeq, newest.get(e.id) ?? 0) })).filter((l) => l.afterSeq < seq);
    if (listeners.length === 0) return 0;
    // The job as folded for its last event here, when nothing before that is owed to anyone.
    const cached = this.folds.get(jobId);
    const from = cached && cached.seq < seq && listeners.every((l) => l.afterSeq >= cached.seq) ? cached : undefined;
    const history = await this.store.readJob(jobId, from?.seq ?? 0, Number.MAX_SAFE_INTEGER);
    const { deliveries, folded } = deliveriesOwed(history, seq, listeners, () => this.ids.next(), from);
    await this.repository.addDeliveries(deliveries);
    if (folded.seq > (cached?.seq ?? 0)) this.folds.set(jobId, folded);
    return deliveries.length;
  }

  /** The job's tenant, from its VideoSubmitted (null when the job's first submission cannot be read). */
  private async tenantOf(jobId: string): Promise<string | null> {
    const known = this.tenants.get(jobId);
    if (known) return known;
    const tenant = await this.store.tenantOf(jobId);
    if (tenant) this.tenants.set(jobId, tenant);
    return tenant;
  }
}
