import { Injectable, Logger, type OnApplicationShutdown, type BeforeApplicationShutdown } from '@nestjs/common';
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { JobChange } from '@app/contracts';
import { EventStore, readJsMsg } from '@app/event-store';
import { jobChangeOf } from '@app/job-state';

export interface FeedSubscriber {
  onChange(change: JobChange): void;
  /** The feed is closing (shutdown): end the client's stream. */
  onClose(): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
/** With no one listening, the feed's consumer is closed after this long. */
const IDLE_CLOSE_MS = 30_000;

/**
 * Every job's changes as they are stored, fanned out to the gateway's live-feed clients. One ordered
 * consumer per gateway process reads new events from the stream (never a client per consumer), so
 * clients see only what JetStream stored, in stream order, each with its sequence: an append that
 * JetStream refused (a stale worker's late result) never reaches them. It opens with the first
 * client and closes a while after the last one leaves; after a failure it resumes after the last
 * sequence it delivered, so nothing in between is skipped.
 */
@Injectable()
export class JobFeed implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(JobFeed.name);
  private readonly subscribers = new Set<FeedSubscriber>();
  private loop: Promise<void> | null = null;
  private messages: ConsumerMessages | null = null;
  private started: Promise<void> | null = null;
  private markStarted: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private stopping = false;

  constructor(private readonly store: EventStore) {}

  /**
   * Adds a subscriber; resolves once the feed is live, so nothing stored from then on is missed.
   * Rejects when the feed cannot open within `timeoutMs` (NATS is down): the client gets a 503.
   */
  async subscribe(subscriber: FeedSubscriber, timeoutMs: number): Promise<() => void> {
    if (this.stopping) throw new Error('the gateway is shutting down');
    this.subscribers.add(subscriber);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (!this.loop) {
      this.started = new Promise((resolve) => (this.markStarted = resolve));
      this.loop = this.run().finally(() => {
        this.loop = null;
      });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.started,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the live feed did not open within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      this.unsubscribe(subscriber);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return () => this.unsubscribe(subscriber);
  }

  get size(): number {
    return this.subscribers.size;
  }

  private unsubscribe(subscriber: FeedSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size > 0 || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.subscribers.size === 0) void this.messages?.close().catch(() => undefined);
    }, IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  private async run(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopping && this.subscribers.size > 0) {
      try {
        const start =
          this.lastSeq > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
            : { deliver_policy: DeliverPolicy.New };
        const consumer = await this.store.js.consumers.get(this.store.streamName, { filter_subjects: this.store.subjects.all, ...start });
        const messages = await consumer.consume({ max_messages: 256 });
        this.messages = messages;
        this.markStarted?.();
        delay = RETRY_MIN_MS;
        for await (const msg of messages) {
          this.lastSeq = msg.seq;
          const item = readJsMsg(msg);
          if (!item.ok) continue;
          const change = jobChangeOf(item.stored.event, item.stored.seq);
          for (const subscriber of this.subscribers) subscriber.onChange(change);
        }
        this.messages = null;
        // A close with subscribers still here is a failure of the consumer, not an idle close.
        if (this.subscribers.size === 0) return;
      } catch (error) {
        this.messages = null;
        if (this.stopping) return;
        this.logger.warn(`live feed interrupted, resuming in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  /** Ends every client's stream before the HTTP server closes, so shutdown does not wait on them. */
  beforeApplicationShutdown(): void {
    this.stopping = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const subscriber of this.subscribers) subscriber.onClose();
    this.subscribers.clear();
    this.markStarted?.();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}
