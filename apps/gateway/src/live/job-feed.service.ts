import { Injectable, Logger, type OnApplicationShutdown, type BeforeApplicationShutdown } from '@nestjs/common';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { LRUCache } from 'lru-cache';
import type { JobChange, JobEvent } from '@app/contracts';
import { consumeLoop, EventStore, readJsMsg } from '@app/event-store';
import { jobChangeOf } from '@app/job-state';
import { Backoff } from '@app/runtime';

export interface FeedSubscriber {
  onChange(change: JobChange): void;
  /** The feed is closing (shutdown): end the client's stream. */
  onClose(): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
/** With no one listening, the feed's consumer is closed after this long. */
const IDLE_CLOSE_MS = 30_000;
/** Jobs whose tenant the feed remembers; a job it has forgotten costs one direct get to look up again. */
const TENANTS_REMEMBERED = 100_000;

/**
 * Every job's changes as they are stored, fanned out to the gateway's live-feed clients. One ordered
 * consumer per gateway process reads new events from the stream (never a client per consumer), so
 * clients see only what JetStream stored, in stream order, each with its sequence: an append that
 * JetStream refused (a stale worker's late result) never reaches them. It opens with the first
 * client and closes a while after the last one leaves; after a failure it resumes after the last
 * sequence it delivered, so nothing in between is skipped.
 *
 * Every change carries its job's tenant, so that each client is sent only what its key may see. Only
 * a job's VideoSubmitted names the tenant: the feed remembers it from there, and for a job submitted
 * before the feed opened it reads the job's first event (a direct get) before passing the change on.
 * If that read fails, the feed stops and resumes at the same event: a change is never sent with a
 * guessed tenant.
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
  /** Where to resume after a failure: the first sequence not yet passed on (null: only new events). */
  private resumeAt: number | null = null;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** jobId → tenant, or null when the job has no readable submission. */
  private readonly tenants = new LRUCache<string, { tenant: string | null }>({ max: TENANTS_REMEMBERED });

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

  /**
   * While anyone listens: an ordered consumer from where the last one stopped (or of new events), each
   * change passed on. A close with subscribers still here is a failure of the consumer, not an idle
   * close: it opens again.
   */
  private run(): Promise<void> {
    return consumeLoop({
      signal: this.stopped.signal,
      backoff: new Backoff(RETRY_MIN_MS, RETRY_MAX_MS),
      again: () => !this.stopping && this.subscribers.size > 0,
      open: () => this.store.consumeOrdered(this.resumeAt, { max_messages: 256 }),
      onOpen: (messages) => {
        this.messages = messages;
        this.markStarted?.();
      },
      handle: (msg) => this.passOn(msg),
      onError: (error, delay) =>
        this.logger.warn(`live feed interrupted, resuming in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`),
    });
  }

  private async passOn(msg: JsMsg): Promise<void> {
    // Until it is passed on, a failure resumes at this very message.
    this.resumeAt = msg.seq;
    const item = readJsMsg(msg);
    if (item.ok) {
      const change = jobChangeOf(item.stored.event, item.stored.seq, await this.tenantOf(item.stored.event));
      for (const subscriber of this.subscribers) subscriber.onChange(change);
    }
    this.resumeAt = msg.seq + 1;
  }

  /** The tenant of the event's job: from the event itself, from memory, or from the job's first event. */
  private async tenantOf(event: JobEvent): Promise<string | null> {
    if (event.type === 'VideoSubmitted') {
      this.tenants.set(event.jobId, { tenant: event.data.tenant });
      return event.data.tenant;
    }
    const known = this.tenants.get(event.jobId);
    if (known) return known.tenant;
    const tenant = await this.store.tenantOf(event.jobId);
    if (tenant === null) this.logger.warn(`job ${event.jobId} has no readable VideoSubmitted: its changes go to admin keys only`);
    this.tenants.set(event.jobId, { tenant });
    return tenant;
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
    this.stopped.abort();
    await this.loop;
  }
}
