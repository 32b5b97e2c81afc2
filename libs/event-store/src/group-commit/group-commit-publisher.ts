import { randomUUID } from 'node:crypto';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ClosedConnectionError, headers as natsHeaders, NoRespondersError, TimeoutError, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamPublisher, type PublishAck } from '../jetstream-publisher.js';
import { batchable, batchSequences, nextSend, sendAtOnce, takeBatch, type GroupCommitLimits, type GroupCommitLoad } from './batch-rules.js';

/** nats-server's answer when the stream does not allow atomic batches (`allow_atomic` off). */
const ATOMIC_PUBLISH_DISABLED = 10174;

/**
 * Measured on nats-server 2.15.1, one file-backed server, `sync_interval: always` (docs/adr/0003):
 * an atomic batch costs about as much as eight single publishes (its staging store syncs four
 * times), and batches of about ten made 16 concurrent appenders slower, not faster. So up to 16 in
 * flight are sent alone, pipelined, exactly as without group commit, and a batch needs 16.
 */
export const DEFAULT_GROUP_COMMIT_LIMITS: GroupCommitLimits = { minBatch: 16, maxAloneInFlight: 16, maxBatch: 256, maxBatchesInFlight: 1 };

export interface GroupCommitOptions extends Partial<GroupCommitLimits> {
  /**
   * Whether the stream takes atomic batches (its `allow_atomic`, which only nats-server 2.12+ keeps).
   * Asked before the first batch, and again `recheckMs` after it said no or failed: until then every
   * publish is sent alone. An older server ignores the batch headers and would store each message on
   * its own, unanswered, so nothing is batched without this yes.
   */
  atomicBatches: () => Promise<boolean>;
  recheckMs?: number;
}

/** What the publisher did since it was made: for benchmarks and metrics. */
export interface GroupCommitFigures {
  /** Publishes sent alone (including those re-sent after a refused batch). */
  alone: number;
  /** Atomic batches committed, and the publishes they held. */
  batches: number;
  batched: number;
  /** Batches refused as a whole, whose publishes were then sent alone. */
  refusedBatches: number;
}

interface Pending {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  resolve(ack: PublishAck): void;
  reject(error: Error): void;
}

type BatchMode = { kind: 'unknown' } | { kind: 'asking'; answer: Promise<boolean> } | { kind: 'on' } | { kind: 'off'; until: number };

/**
 * Group commit for JetStream publishes: publishes that wait at the same time are sent as one atomic
 * batch, so that they share the stream's fsync (with `sync_interval: always` the server syncs each
 * stored message or batch before it answers).
 *
 * - A lone publish, or a few at once, are sent at once, as JetStreamPublisher sends them: while fewer
 *   than `maxAloneInFlight` (by default `minBatch`) are in flight, nothing is held back.
 * - Past that, new publishes wait. When an answer comes, what waits is sent at the end of that turn
 *   of the event loop (so the next appends of the callers just answered join it): as one atomic batch
 *   (at most `maxBatch`, at most `maxBatchesInFlight` batches at once) when `minBatch` or more wait,
 *   else each alone. Publishes that may not share a batch (takeBatch) wait for the next one.
 * - Each message keeps its own headers (`Nats-Msg-Id`, its expected-sequence check): a committed
 *   batch gives each its own sequence (batches are stored contiguously).
 * - A batch the stream refuses (one check failed, a duplicate id, too many batches) stored nothing,
 *   and nats-server does not say which message was at fault, so each of its publishes is sent again
 *   alone and learns its own answer: the conflicting one its JetStreamApiError, a repeated id its
 *   `duplicate` ack. A batch that times out, or finds no stream, rejects each publish with that error,
 *   as a lone publish would.
 */
export class GroupCommitPublisher {
  private readonly single: JetStreamPublisher;
  private readonly limits: GroupCommitLimits;
  private readonly recheckMs: number;
  private waiting: Pending[] = [];
  private inFlight = 0;
  private batchesInFlight = 0;
  private sendScheduled = false;
  private mode: BatchMode = { kind: 'unknown' };
  private readonly counts: GroupCommitFigures = { alone: 0, batches: 0, batched: 0, refusedBatches: 0 };

  constructor(
    private readonly nc: NatsConnection,
    timeoutMs: number,
    private readonly options: GroupCommitOptions,
  ) {
    this.single = new JetStreamPublisher(nc, timeoutMs);
    this.limits = {
      minBatch: options.minBatch ?? DEFAULT_GROUP_COMMIT_LIMITS.minBatch,
      maxAloneInFlight: options.maxAloneInFlight ?? options.minBatch ?? DEFAULT_GROUP_COMMIT_LIMITS.maxAloneInFlight,
      maxBatch: options.maxBatch ?? DEFAULT_GROUP_COMMIT_LIMITS.maxBatch,
      maxBatchesInFlight: options.maxBatchesInFlight ?? DEFAULT_GROUP_COMMIT_LIMITS.maxBatchesInFlight,
    };
    this.recheckMs = options.recheckMs ?? 30_000;
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PublishAck> {
    return new Promise<PublishAck>((resolve, reject) => {
      const pending: Pending = { subject, data, headers, resolve, reject };
      // Asked first, so that the first publish already starts asking the stream whether it takes batches.
      const batching = this.batching();
      if (!batching || !batchable(headers) || sendAtOnce(this.load(), this.limits)) {
        this.sendAlone(pending);
        return;
      }
      this.waiting.push(pending);
      // A full batch need not wait for an answer.
      if (this.waiting.length >= this.limits.maxBatch) this.sendWaiting();
    });
  }

  figures(): GroupCommitFigures {
    return { ...this.counts };
  }

  private load(): GroupCommitLoad {
    return { inFlight: this.inFlight, batchesInFlight: this.batchesInFlight, waiting: this.waiting.length };
  }

  /**
   * Whether publishes that wait together are sent as atomic batches: asks the stream when nobody has
   * yet (or when it is time to ask again), and answers once it knows.
   */
  async atomicBatchesReady(): Promise<boolean> {
    this.batching();
    const mode = this.mode;
    return mode.kind === 'asking' ? mode.answer : mode.kind === 'on';
  }

  /** Whether batches may be sent now; starts asking the stream when nobody has yet (or it is time to ask again). */
  private batching(): boolean {
    const mode = this.mode;
    if (mode.kind === 'on') return true;
    if (mode.kind === 'asking' || (mode.kind === 'off' && Date.now() < mode.until)) return false;
    const answer = this.options.atomicBatches().then(
      (yes) => {
        this.mode = yes ? { kind: 'on' } : this.offForAWhile();
        return yes;
      },
      () => {
        this.mode = this.offForAWhile();
        return false;
      },
    );
    this.mode = { kind: 'asking', answer };
    return false;
  }

  private offForAWhile(): BatchMode {
    return { kind: 'off', until: Date.now() + this.recheckMs };
  }

  private sendWaiting(): void {
    if (this.mode.kind !== 'on' && this.waiting.length > 0) {
      // Batches were found to be unavailable while these waited.
      const alone = this.waiting;
      this.waiting = [];
      for (const pending of alone) this.sendAlone(pending);
      return;
    }
    for (;;) {
      const next = nextSend(this.load(), this.limits);
      if (next === 'wait') return;
      if (next === 'alone') {
        const alone = this.waiting;
        this.waiting = [];
        for (const pending of alone) this.sendAlone(pending);
        return;
      }
      const { batch, rest } = takeBatch(this.waiting, this.limits.maxBatch);
      this.waiting = rest;
      if (batch.length >= this.limits.minBatch) void this.sendBatch(batch);
      else for (const pending of batch) this.sendAlone(pending);
    }
  }

  private sendAlone(pending: Pending): void {
    this.inFlight++;
    this.counts.alone++;
    this.single.publish(pending.subject, pending.data, pending.headers).then(
      (ack) => this.settled(1, false, () => pending.resolve(ack)),
      (error: Error) => this.settled(1, false, () => pending.reject(error)),
    );
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    this.inFlight += batch.length;
    this.batchesInFlight++;
    const id = randomUUID();
    let ack: PublishAck;
    try {
      const last = batch.length - 1;
      for (let i = 0; i < last; i++) {
        const { subject, data, headers } = batch[i]!;
        this.nc.publish(subject, data, { headers: batchHeaders(headers, id, i + 1, false) });
      }
      const { subject, data, headers } = batch[last]!;
      ack = await this.single.publish(subject, data, batchHeaders(headers, id, batch.length, true));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      // The stream refused the batch, or it could not be sent whole (the connection closed, a message
      // too large): nothing of it was stored. Each publish is sent alone for its own answer.
      const refused = failure instanceof JetStreamApiError || !isAnswerError(failure);
      if (failure instanceof JetStreamApiError && failure.code === ATOMIC_PUBLISH_DISABLED) this.mode = this.offForAWhile();
      this.settled(batch.length, true, () => {
        if (refused) {
          this.counts.refusedBatches++;
          for (const pending of batch) this.sendAlone(pending);
        } else for (const pending of batch) pending.reject(failure);
      });
      return;
    }
    if (ack.batch?.id !== id || ack.batch.count !== batch.length) {
      // A server that ignores the batch headers stored the messages one by one and answered only the
      // last. Sent again alone, each learns what happened to it (a stored one is a duplicate).
      this.mode = this.offForAWhile();
      this.settled(batch.length, true, () => {
        this.counts.refusedBatches++;
        for (const pending of batch) this.sendAlone(pending);
      });
      return;
    }
    const seqs = batchSequences(ack.seq, batch.length);
    this.counts.batches++;
    this.counts.batched += batch.length;
    this.settled(batch.length, true, () => batch.forEach((pending, i) => pending.resolve({ stream: ack.stream, seq: seqs[i]!, duplicate: false })));
  }

  /**
   * Books an answer (of one publish or one batch) and tells the callers; what waits is sent at the
   * end of this turn of the event loop, so that the callers' next appends (made as soon as they hear)
   * join the same batch instead of trickling out alone.
   */
  private settled(count: number, wasBatch: boolean, tell: () => void): void {
    this.inFlight -= count;
    if (wasBatch) this.batchesInFlight--;
    tell();
    if (this.sendScheduled) return;
    this.sendScheduled = true;
    setImmediate(() => {
      this.sendScheduled = false;
      this.sendWaiting();
    });
  }
}

/**
 * Errors that answer a sent commit without saying it was refused: a timeout (the batch may have been
 * stored) or no stream for the subject. Anything else thrown while sending means the batch never
 * reached a commit.
 */
function isAnswerError(error: Error): boolean {
  return error instanceof TimeoutError || error instanceof NoRespondersError || error instanceof ClosedConnectionError;
}

/** A copy of a message's headers with the atomic batch headers (ADR-50) added. */
function batchHeaders(headers: MsgHdrs, id: string, seq: number, commit: boolean): MsgHdrs {
  const copy = natsHeaders();
  for (const [key, values] of headers) for (const value of values) copy.append(key, value);
  copy.set('Nats-Batch-Id', id);
  copy.set('Nats-Batch-Sequence', String(seq));
  if (commit) copy.set('Nats-Batch-Commit', '1');
  return copy;
}
