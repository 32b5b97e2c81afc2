import { Inject, Injectable, Logger, type OnApplicationBootstrap, type BeforeApplicationShutdown } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, JetStreamError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { EventStore, readJsMsg, type ReadItem, type StreamIdentity } from '@app/event-store';
import { isStreamNotFound, PROJECTOR_CONSUMER } from '@app/nats';
import { projectionItemOf, ProjectionSupersededError, ProjectionWriter, sameStream, type ApplyResult, type ProjectionItem } from '@app/read-model';
import { guardedByStream, rebuildRange, seqOf, StreamChangedError } from '@app/replay';
import type { JobsConfig } from '@app/config';
import { tracingActive } from '@app/observability';
import { Backoff, retryLoop } from '@app/runtime';
import { JOBS_CONFIG } from '../jobs.config.js';
import { projectionSpans } from './projection-spans.js';
import { JobsMetrics } from '../ops/jobs.metrics.js';
import { ProjectionStreamService, StreamMismatchError, type VerifiedStream } from './projection-stream.service.js';

export { PROJECTOR_CONSUMER };
const ACK_WAIT_MS = 60_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** How often the live projector looks whether the stream is still the one it verified (one stream info). */
const STREAM_CHECK_MS = 5_000;

/**
 * Projects the event log into PostgreSQL. The checkpoint in PostgreSQL is the truth about what has
 * been projected; the durable consumer wakes the projector and gives at-least-once delivery:
 * - at start, and after any failure, it first catches up from checkpoint+1 to the end of the stream
 *   with an ordered consumer (this is also what rebuilds a dropped read model);
 * - live messages are applied in micro-batches (full, or PROJECTOR_LINGER_MS after their first
 *   message), in one transaction with the checkpoint, and acked only after the commit; messages at or
 *   below the checkpoint are acked as duplicates;
 * - if live messages skip ahead of the checkpoint or have holes (another instance holds those), the
 *   range is read from the stream instead, so the checkpoint never passes an event not folded;
 * - when PostgreSQL or NATS fails, the held messages are nak'ed, nothing is acked, and it retries
 *   with backoff until it can go on, starting again from the checkpoint that PostgreSQL holds;
 * - an event whose row PostgreSQL refuses for its data (or whose fold throws) is parked by the
 *   writer instead (see ProjectionWriter): logged here as an error, listed in GET /v1/system, counted
 *   in framewire_projector_parked_events; the checkpoint moves past it and the next events project;
 * - each (re)start checks that the active model was projected from the stream that is there now
 *   (ProjectionStreamService). When it was not (NATS lost the stream, or it was deleted and made
 *   again), nothing of the new stream is written into it: the projector waits for the rebuild of a
 *   model from the new stream, and goes on from that model's checkpoint once it is switched to. A
 *   stream deleted while the projector runs ends its live consumer (which goes with the stream),
 *   and so restarts the loop.
 */
@Injectable()
export class JobProjector implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobProjector.name);
  private stopping = false;
  private readonly stopped = new AbortController();
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private checkpoint = 0;
  /** The stream the active model was found to be projected from, at the last (re)start. */
  private stream: StreamIdentity | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly writer: ProjectionWriter,
    @Inject(JOBS_CONFIG) private readonly config: JobsConfig,
    private readonly metrics: JobsMetrics,
    private readonly streams: ProjectionStreamService,
  ) {
    metrics.trackPosition(() => this.checkpoint);
    metrics.trackParked(() => writer.parkedCount());
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }

  /** The last stream sequence the read model reflects, as this process last saw it. */
  get position(): number {
    return this.checkpoint;
  }

  private run(): Promise<void> {
    const backoff = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS);
    return retryLoop(
      async (healthy) => {
        // The stream (made again if it is gone), the consumer from the model's checkpoint, then the
        // check that model and stream belong together: a consumer made before a check that passes is
        // one of the stream the model was projected from (a consumer goes with its stream).
        await this.streams.state();
        await this.ensureConsumer(await this.writer.checkpoint());
        const verified = await this.streams.verify();
        this.stream = verified.identity;
        this.checkpoint = verified.checkpoint;
        await this.catchUp(verified);
        healthy();
        await this.consumeLive();
      },
      { signal: this.stopped.signal, backoff, onError: (error, delay) => this.paused(error, delay, backoff) },
    );
  }

  /** Reports why the projection stopped, and says how long to wait before it starts again. */
  private async paused(error: unknown, delay: number, backoff: Backoff): Promise<number | void> {
    if (error instanceof StreamMismatchError) {
      // Reported (ProjectionStreamService). The consumer may have been made on the new stream at the
      // old model's checkpoint: it goes, and is made again at the new model's once that is active.
      // Of this stream the read model reflects nothing yet (the lag metric shows the whole stream).
      this.checkpoint = 0;
      await this.store.dropDurableConsumer(PROJECTOR_CONSUMER);
      backoff.reset();
      return this.config.PROJECTION_UPGRADE_POLL_MS;
    }
    if (streamChanged(error)) {
      // The stream was deleted (and perhaps made again) under the live consumer or a catch-up: the
      // next round finds out which stream is there, and says so if it is not the model's.
      this.logger.warn(`the event stream changed under the projector (${describe(error)}); looking at it again`);
      backoff.reset();
      return RETRY_MIN_MS;
    }
    if (error instanceof ProjectionSupersededError) {
      // A newer version of the jobs service has taken over the read model; this one only answers reads.
      if (delay === RETRY_MIN_MS) this.logger.warn(`${error.message}; the live projection stays with the newer instances`);
      backoff.holdAtMax();
      return RETRY_MAX_MS;
    }
    this.logger.error(`projection paused, retrying in ${delay} ms: ${describe(error)}`);
  }

  private async ensureConsumer(checkpoint: number): Promise<void> {
    // A new consumer starts where the read model ends, so it does not redeliver what is projected.
    const start =
      checkpoint > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: checkpoint + 1 }
        : { deliver_policy: DeliverPolicy.All };
    await this.store.ensureDurableConsumer(
      {
        durable_name: PROJECTOR_CONSUMER,
        description: 'Projects job events into the PostgreSQL read model',
        ack_policy: AckPolicy.Explicit,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_ack_pending: this.config.PROJECTOR_BATCH_SIZE * 4,
        max_deliver: -1,
        filter_subject: this.store.subjects.all,
        ...start,
      },
      ['description', 'ack_wait', 'max_ack_pending', 'max_deliver'],
    );
  }

  /** Reads from checkpoint+1 to the end of the stream as it was when verified. */
  private async catchUp(verified: VerifiedStream): Promise<void> {
    const target = verified.lastSeq;
    if (target <= this.checkpoint) return;
    const from = this.checkpoint + 1;
    const started = Date.now();
    await this.readAndApply(from, target);
    const seconds = (Date.now() - started) / 1000;
    this.logger.log(`caught up ${target - from + 1} sequences (${from}..${target}) in ${seconds.toFixed(2)} s`);
  }

  /** Reads a range from the stream (an ordered consumer) and writes it, batch by batch, while the stream is still the verified one. */
  private async readAndApply(from: number, to: number): Promise<void> {
    const write = (items: ProjectionItem[], fromSeq: number, throughSeq: number) => this.write(items, fromSeq, throughSeq, false);
    await rebuildRange({
      store: this.store,
      apply: this.stream ? guardedByStream(this.store, this.stream, write) : write,
      fromSeq: from,
      toSeq: to,
      batchSize: this.config.PROJECTOR_BATCH_SIZE,
      // The projector is the one to make a deleted stream again: it must not wait for it here.
      stopIfStreamGone: true,
      onMalformed: (m) => this.logger.warn(`skipping malformed message seq ${m.seq} on ${m.subject}: ${m.reason}`),
    });
  }

  private async consumeLive(): Promise<void> {
    // A consumer deleted under it (with its stream) ends the iteration with an error, and the loop
    // restarts; without this the client would wait for a consumer of that name to come back, and
    // then read it, whichever stream it belonged to.
    const messages = await this.store.consumeDurable(PROJECTOR_CONSUMER, { max_messages: this.config.PROJECTOR_BATCH_SIZE * 2, abort_on_missing_resource: true });
    this.messages = messages;
    // Shutdown may have begun while the consumer was being opened, before there was anything to close.
    // close() resolves only once the loop below has drained the iterator, so it is not awaited here.
    if (this.stopping) void messages.close();
    const unwatch = this.watchStream(messages);
    let batch: JsMsg[] = [];
    const flush = async () => {
      const held = batch;
      batch = [];
      try {
        await this.applyLive(held);
      } catch (error) {
        for (const m of held) m.nak(RETRY_MIN_MS);
        throw error;
      }
    };
    // A batch closes when it is full, or PROJECTOR_LINGER_MS after its first message (with 0: as soon
    // as no further message is already buffered, which racing the next message against the next turn
    // of the event loop tells, since buffered messages arrive as microtasks). Lingering a little lets
    // one transaction carry several events when they trickle in, and keeps the projector's commit
    // out of the way of the worker that is starting the same job. (Not getPending(): it can stay above
    // 0 after a refill, which held a batch's tail back until another event arrived.)
    const linger = this.config.PROJECTOR_LINGER_MS;
    let closes: Promise<typeof IDLE> | null = null;
    const closing = () => (linger > 0 ? (closes ??= after(linger)) : nextTurn());
    const iterator = messages[Symbol.asyncIterator]();
    const pull = () => {
      const promise = iterator.next();
      promise.catch(() => undefined); // awaited below; this only keeps one left behind on exit from going unhandled
      return promise;
    };
    let next = pull();
    try {
      for (;;) {
        const result = batch.length === 0 ? await next : await Promise.race([next, closing()]);
        if (result === IDLE) {
          closes = null;
          await flush();
          continue;
        }
        if (result.done) break;
        batch.push(result.value);
        next = pull();
        if (batch.length >= this.config.PROJECTOR_BATCH_SIZE) {
          closes = null;
          await flush();
        }
      }
    } finally {
      unwatch();
      for (const m of batch) m.nak(RETRY_MIN_MS);
      this.messages = null;
      // close() resolves only once the iterator is drained: start it, then drain what is left
      // (handing it back), whether the loop ended at the iterator's end or on an error.
      const closing = messages.close().catch(() => undefined);
      for (let rest = await next.catch(() => null); rest && !rest.done; rest = await pull().catch(() => null)) rest.value.nak(RETRY_MIN_MS);
      await closing;
    }
  }

  /**
   * While live, looks at the stream every STREAM_CHECK_MS and ends the live consumption (the loop
   * then starts again and verifies) when it is gone, another one, or shorter than the checkpoint. A
   * deleted stream usually ends the consumer at once (its pending pull is told), but not always (no
   * pull pending at that moment, a server that lost its data), and a stream that lost its last
   * messages keeps its consumer.
   */
  private watchStream(messages: ConsumerMessages): () => void {
    let looking = false;
    const timer = setInterval(() => {
      if (looking || !this.stream) return;
      looking = true;
      const expected = this.stream;
      const checkpoint = this.checkpoint;
      this.store
        .streamState()
        .then(
          (now) => (sameStream(now.identity, expected) && now.lastSeq >= checkpoint ? null : `created ${now.identity.created}, last seq ${now.lastSeq}`),
          (error: unknown) => (isStreamNotFound(error) ? 'gone' : null),
        )
        .then((changed) => {
          if (!changed || this.stopping) return;
          this.logger.warn(`the event stream changed under the live projector (now ${changed}); looking at it again`);
          void messages.close().catch(() => undefined);
        })
        .finally(() => (looking = false));
    }, STREAM_CHECK_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async applyLive(msgs: JsMsg[]): Promise<void> {
    const items = msgs.map((m) => readJsMsg(m)).sort((a, b) => seqOf(a) - seqOf(b));
    const fresh = items.filter((item, i) => seqOf(item) > this.checkpoint && (i === 0 || seqOf(items[i - 1]!) !== seqOf(item)));
    if (fresh.length > 0) {
      const first = seqOf(fresh[0]!);
      const last = seqOf(fresh.at(-1)!);
      // With several instances on the durable consumer, a batch can have holes: messages another
      // instance holds. Whatever is missing before or inside the batch is read from the stream, so
      // the checkpoint never moves past an event that was not folded.
      const contiguous = last - first + 1 === fresh.length;
      if (first === this.checkpoint + 1 && contiguous) await this.apply(fresh, first, last, true);
      else await this.readAndApply(this.checkpoint + 1, last);
    }
    for (const msg of msgs) {
      const item = items.find((i) => seqOf(i) === msg.seq);
      if (item && !item.ok) msg.term();
      else msg.ack();
    }
  }

  /** Writes a batch; `live` batches also log each job's milestones under the job's correlation id. */
  private async apply(items: ReadItem[], fromSeq: number, throughSeq: number, live = false): Promise<void> {
    const projection: ProjectionItem[] = items.map((item) => {
      if (item.ok) return projectionItemOf(item.stored);
      this.logger.warn(`skipping malformed message seq ${item.malformed.seq} on ${item.malformed.subject}: ${item.malformed.reason}`);
      return { seq: item.malformed.seq, event: null };
    });
    const spans = live && tracingActive() ? projectionSpans(items, PROJECTOR_CONSUMER, projection.length) : null;
    try {
      const result = await this.write(projection, fromSeq, throughSeq, live);
      spans?.ended(result.parked.map((p) => p.seq));
    } catch (error) {
      spans?.failed(error);
      throw error;
    }
  }

  private async write(items: ProjectionItem[], fromSeq: number, throughSeq: number, live: boolean): Promise<ApplyResult> {
    const before = this.checkpoint;
    const result = await this.writer.apply(items, fromSeq, throughSeq);
    this.checkpoint = result.lastSeq;
    const parked = new Set(result.parked.map((p) => p.seq));
    for (const p of result.parked) {
      this.logger.error(
        { seq: p.seq, jobId: p.jobId, type: p.type, eventId: p.eventId, code: p.code },
        `parked ${p.type} at seq ${p.seq} of job ${p.jobId}: its row cannot be written (${p.code}: ${p.message}); the projection goes on without it`,
      );
    }
    for (const { seq, event } of items) {
      if (!event || seq <= before || parked.has(seq)) continue;
      this.metrics.projected.inc({ type: event.type });
      if (live && event.type !== 'JobProgressed') {
        this.logger.log({ jobId: event.jobId, correlationId: event.correlationId, seq, type: event.type }, `projected ${event.type}`);
      }
    }
    return result;
  }
}

/**
 * The live consumer was deleted under the projector (it goes with its stream), or was found gone
 * with its stream after a reconnect (NATS lost its data), or a read found another stream.
 */
function streamChanged(error: unknown): boolean {
  if (error instanceof StreamChangedError || isStreamNotFound(error)) return true;
  if (error instanceof JetStreamApiError) return error.code === JetStreamApiCodes.ConsumerNotFound;
  // A JetStreamStatusError (a class the client does not export) with 409: "consumer deleted".
  return error instanceof JetStreamError && (error as JetStreamError & { code?: number }).code === 409;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const IDLE = Symbol('idle');

function nextTurn(): Promise<typeof IDLE> {
  return new Promise((resolve) => setImmediate(() => resolve(IDLE)));
}

function after(ms: number): Promise<typeof IDLE> {
  return new Promise((resolve) => setTimeout(() => resolve(IDLE), ms).unref());
}
