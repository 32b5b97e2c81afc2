import { randomUUID } from 'node:crypto';
import {
  jetstream,
  DeliverPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  PubHeaders,
  type ConsumeOptions,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type ConsumerUpdateConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent, EventHeader, isPartEvent, isPartWork, isWorkRequest, type JetStreamFigures, type JobEvent, type JobSubjects } from '@app/contracts';
import { ATTEMPT_TRACE_HEADER, inSpan, injectTraceContext, messagingAttributes, SpanKind, traceIdOf, TraceAttr, tracingActive, type Attributes } from '@app/observability';
import { encodeCancelNudge } from './cancel-nudge.js';
import { ensureDurableConsumer } from './consumer-setup.js';
import { readJetStreamFigures } from './jetstream-figures.js';
import type { GroupCommitLimits } from './group-commit/batch-rules.js';
import { GroupCommitPublisher, type GroupCommitFigures } from './group-commit/group-commit-publisher.js';
import { batchSequences } from './group-commit/batch-rules.js';
import { JetStreamPublisher } from './jetstream-publisher.js';

/** How long a pull of a `stopIfGone` range read lasts: a stream deleted under it is noticed within about this long. */
const STOP_IF_GONE_EXPIRES_MS = 10_000;

/** An event read back from the stream, with where the stream put it. */
export interface StoredJobEvent {
  seq: number;
  subject: string;
  storedAt: Date;
  event: JobEvent;
  /** The W3C trace context the event was appended in (its headers), when it was traced. */
  trace?: StoredTrace;
}

/** The trace context headers of a stored event: its append's span, and the job attempt it was appended in. */
export interface StoredTrace {
  traceparent: string;
  tracestate?: string;
  /** The span of the job attempt the event was appended in (ATTEMPT_TRACE_HEADER), if any. */
  attempt?: string;
}

/** A message whose payload is not a valid event; it is reported, never thrown. */
export interface MalformedMessage {
  seq: number;
  subject: string;
  storedAt: Date;
  reason: string;
}

export type ReadItem = { ok: true; stored: StoredJobEvent } | { ok: false; malformed: MalformedMessage };

export interface AppendResult {
  seq: number;
  /** True when the stream already held this event id (a retried append): nothing new was stored. */
  duplicate: boolean;
}

/**
 * Which stream a reader folds: its name and the creation time JetStream gave it (`created` of the
 * stream info, as JetStream writes it, to the nanosecond). A stream deleted and made again, or lost
 * with a NATS server's data, has another creation time, and its sequences start again at 1.
 */
export interface StreamIdentity {
  stream: string;
  created: string;
}

/** The stream as it is now: which one, and its last sequence. */
export interface StreamState {
  identity: StreamIdentity;
  lastSeq: number;
}

/** The last message on one subject of a job, as an append after it must expect it; `event` is null for a message that is not a valid event. */
export interface SubjectEntry {
  subject: string;
  seq: number;
  event: JobEvent | null;
}

/**
 * An append's expected sequence did not hold: someone else appended to the job first. `subject` is
 * what the sequence was checked against (the job's whole subject tree).
 */
export class ConcurrencyError extends Error {
  constructor(
    readonly subject: string,
    readonly expectedSeq: number,
  ) {
    super(`${subject} has moved past sequence ${expectedSeq}`);
    this.name = 'ConcurrencyError';
  }
}

/**
 * Appends to and reads from the JetStream event log. Every append is optimistic: it names the
 * sequence of the job's last message on any of its subjects (`<ns>.job.<id>.>`; 0 for "none yet"),
 * which the server checks (`Nats-Expected-Last-Subject-Sequence` with
 * `Nats-Expected-Last-Subject-Sequence-Subject`, nats-server 2.11 and later), so one check orders
 * every event of a job, whatever its subject, priority or kind. It sets `Nats-Msg-Id` to the event
 * id; a server of 2.12 or later checks the expected sequence before the duplicate window, so a
 * retried append is refused by its expectation (a ConcurrencyError) rather than acknowledged as a
 * duplicate, unless it expects its own sequence.
 */
export class EventStore {
  private readonly js: JetStreamClient;
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private readonly publisher: Pick<JetStreamPublisher, 'publish'>;
  /** For the commits of atomic batches a caller asks for (appendAtomic), outside group commit's own. */
  private readonly batchPublisher: JetStreamPublisher;

  /**
   * `groupCommit`: appends that wait at the same time share one atomic batch, and so one fsync
   * (GroupCommitPublisher, docs/adr/0003-group-commit.md), once the stream allows atomic batches;
   * its sizes may be set here. `false` sends every append alone.
   */
  constructor(
    private readonly nc: NatsConnection,
    readonly subjects: JobSubjects,
    private readonly timeoutMs = 5000,
    groupCommit: Partial<GroupCommitLimits> | false = {},
  ) {
    this.js = jetstream(nc, { timeout: timeoutMs });
    this.batchPublisher = new JetStreamPublisher(nc, timeoutMs);
    this.publisher =
      groupCommit === false
        ? new JetStreamPublisher(nc, timeoutMs)
        : new GroupCommitPublisher(nc, timeoutMs, { ...groupCommit, atomicBatches: () => this.allowsAtomicBatches() });
  }

  /** What group commit did so far (batches, and appends sent alone); null when it is off. */
  groupCommitFigures(): GroupCommitFigures | null {
    return this.publisher instanceof GroupCommitPublisher ? this.publisher.figures() : null;
  }

  /** Whether appends that wait together share atomic batches (asks the stream the first time). */
  groupCommitReady(): Promise<boolean> {
    return this.publisher instanceof GroupCommitPublisher ? this.publisher.atomicBatchesReady() : Promise.resolve(false);
  }

  /** Whether the event stream takes atomic batches: its `allow_atomic`, which only nats-server 2.12 or newer keeps. */
  private async allowsAtomicBatches(): Promise<boolean> {
    const jsm = await this.jsm();
    const info = await jsm.streams.info(this.streamName);
    return info.config.allow_atomic === true;
  }

  get streamName(): string {
    return this.subjects.streamName;
  }

  /**
   * The JetStream manager, made once (its making asks the server for the account's JetStream info).
   * One that failed to be made (NATS away, JetStream not ready) is not kept: the next call asks again,
   * so one failure at the first read does not break every read until a restart.
   */
  private jsm(): Promise<JetStreamManager> {
    if (!this.jsmPromise) {
      const making = jetstreamManager(this.nc, { timeout: this.timeoutMs });
      this.jsmPromise = making;
      making.catch(() => {
        if (this.jsmPromise === making) this.jsmPromise = undefined;
      });
    }
    return this.jsmPromise;
  }

  subjectOf(event: JobEvent): string {
    if (isWorkRequest(event)) return this.subjects.submitted(event.jobId, event.data.priority);
    if (isPartWork(event)) return this.subjects.partWork(event.jobId, event.data.priority);
    if (isPartEvent(event)) return this.subjects.part(event.jobId, event.data.index);
    if (event.type === 'JobSplit') return this.subjects.split(event.jobId);
    return this.subjects.lifecycle(event.jobId);
  }

  /**
   * Appends `events` of one job all or nothing, in order, as one atomic batch (nats-server 2.12+,
   * the stream's `allow_atomic`), if the job's last message is still the one at `expectedLastSeq`;
   * else a ConcurrencyError and nothing is stored. The first event carries the expectation; the
   * batch is stored whole, with consecutive sequences, or not at all. A stream that takes no atomic
   * batches gets them one by one, each expecting the one before: a crash between them leaves the
   * first ones, which the caller's decision must be able to pick up from (a split's JobSplit is
   * only followed by its work requests, and a split decided again keeps what was made).
   */
  async appendAtomic(events: [JobEvent, ...JobEvent[]], expectedLastSeq: number): Promise<AppendResult[]> {
    const append = () => this.appendAtomicUntraced(events, expectedLastSeq);
    return tracingActive() ? this.inAppendSpan(events, append, (results) => results[0]!) : append();
  }

  /**
   * `append` of `events` inside their producer span (`publish <type>`, or `publish batch <types>`),
   * which records where the first was stored: its context is what the messages' headers carry.
   */
  private inAppendSpan<T>(events: [JobEvent, ...JobEvent[]], append: () => Promise<T>, first: (result: T) => AppendResult): Promise<T> {
    const name = events.length === 1 ? `publish ${events[0].type}` : `publish batch ${events.map((e) => e.type).join(',')}`;
    return inSpan(name, { kind: SpanKind.PRODUCER, attributes: appendAttributes(events[0], this.subjectOf(events[0]), events.length) }, async (span) => {
      const result = await append();
      const stored = first(result);
      span.setAttribute(TraceAttr.natsStreamSequence, stored.seq);
      if (stored.duplicate) span.setAttribute('framewire.append.duplicate', true);
      return result;
    });
  }

  private async appendAtomicUntraced(events: [JobEvent, ...JobEvent[]], expectedLastSeq: number): Promise<AppendResult[]> {
    if (events.length === 1 || !(await this.allowsAtomicBatches().catch(() => false))) {
      const results: AppendResult[] = [];
      for (const event of events) results.push(await this.appendUntraced(event, results.at(-1)?.seq ?? expectedLastSeq));
      return results;
    }
    const tree = this.subjects.ofJob(events[0].jobId);
    const id = randomUUID();
    const last = events.length - 1;
    const headersOf = (event: JobEvent, index: number): MsgHdrs => {
      const headers = eventHeaders(event);
      headers.set(PubHeaders.MsgIdHdr, event.eventId);
      headers.set(PubHeaders.ExpectedStreamHdr, this.streamName);
      if (index === 0) setExpectedLastSeq(headers, tree, expectedLastSeq);
      headers.set('Nats-Batch-Id', id);
      headers.set('Nats-Batch-Sequence', String(index + 1));
      if (index === last) headers.set('Nats-Batch-Commit', '1');
      return headers;
    };
    try {
      for (let i = 0; i < last; i++) this.nc.publish(this.subjectOf(events[i]!), encodeEvent(events[i]!), { headers: headersOf(events[i]!, i) });
      const ack = await this.batchPublisher.publish(this.subjectOf(events[last]!), encodeEvent(events[last]!), headersOf(events[last]!, last));
      if (ack.batch?.id !== id || ack.batch.count !== events.length) throw new Error(`the stream stored the batch ${id} as ${ack.batch?.count ?? 'no'} batch message(s), not ${events.length}`);
      return batchSequences(ack.seq, events.length).map((seq) => ({ seq, duplicate: false }));
    } catch (error) {
      if (error instanceof JetStreamApiError) {
        // A batch sent again after its first try was stored (its answer lost) is refused, for its
        // expectation or for its message ids (nats-server refuses a batch holding one it has seen):
        // it finds itself right after the sequence it expected.
        const stored = await this.storedRightAfter(tree, expectedLastSeq, events[0].eventId);
        if (stored !== null) return events.map((_, i) => ({ seq: stored + i, duplicate: true }));
        if (error.code === JetStreamApiCodes.StreamWrongLastSequence) throw new ConcurrencyError(tree, expectedLastSeq);
      }
      throw error;
    }
  }

  /**
   * Appends `event` on its subject, if the job's last message (on any of its subjects) is still the
   * one at `expectedLastSeq` (0: the job has none); else a ConcurrencyError.
   */
  async append(event: JobEvent, expectedLastSeq: number): Promise<AppendResult> {
    const append = () => this.appendUntraced(event, expectedLastSeq);
    return tracingActive() ? this.inAppendSpan([event], append, (result) => result) : append();
  }

  private async appendUntraced(event: JobEvent, expectedLastSeq: number): Promise<AppendResult> {
    const tree = this.subjects.ofJob(event.jobId);
    try {
      const headers = eventHeaders(event);
      headers.set(PubHeaders.MsgIdHdr, event.eventId);
      headers.set(PubHeaders.ExpectedStreamHdr, this.streamName);
      setExpectedLastSeq(headers, tree, expectedLastSeq);
      const ack = await this.publisher.publish(this.subjectOf(event), encodeEvent(event), headers);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
        const stored = await this.storedRightAfter(tree, expectedLastSeq, event.eventId);
        if (stored !== null) return { seq: stored, duplicate: true };
        throw new ConcurrencyError(tree, expectedLastSeq);
      }
      throw error;
    }
  }

  /**
   * The sequence of event `eventId` when it is the job's first message after `afterSeq`, else null.
   * nats-server 2.12+ checks an append's expected sequence before its `Nats-Msg-Id` (2.9 did the
   * reverse), so a retried append whose first try was stored (its ack lost) is refused as a conflict
   * instead of acknowledged as a duplicate. If the first try was stored, it passed the same check, so
   * it is the job's very next message: one read tells a retry from a real conflict, and keeps every
   * append idempotent by its event id. Asked of the stream's leader (a follower may not hold it yet).
   */
  private async storedRightAfter(tree: string, afterSeq: number, eventId: string): Promise<number | null> {
    const jsm = await this.jsm();
    const query = { seq: afterSeq + 1, next_by_subj: tree };
    const msg = await jsm.streams.getMessage(this.streamName, query as unknown as MsgRequest).catch(() => null);
    return msg && msg.header.get(PubHeaders.MsgIdHdr) === eventId ? msg.seq : null;
  }

  /** The last event on a subject (exact, or a wildcard: the last of all it matches), by direct get; null when there is none. */
  async lastOn(subject: string): Promise<ReadItem | null> {
    const jsm = await this.jsm();
    const msg = await jsm.direct.getMessage(this.streamName, { last_by_subj: subject });
    return msg ? readStored(msg) : null;
  }

  /** The last event of a job's lifecycle (everything after its submission); null when there is none. */
  lastLifecycle(jobId: string): Promise<ReadItem | null> {
    return this.lastOn(this.subjects.lifecycle(jobId));
  }

  /**
   * The last message on a subject as its sequence and event (null for a message that is not a valid
   * event), or null when the subject is empty.
   */
  async lastEntryOn(subject: string): Promise<{ seq: number; event: JobEvent | null } | null> {
    const last = await this.lastOn(subject);
    if (!last) return null;
    return last.ok ? { seq: last.stored.seq, event: last.stored.event } : { seq: last.malformed.seq, event: null };
  }

  /** The last message of a job's lifecycle, as lastEntryOn gives it. */
  lastLifecycleEntry(jobId: string): Promise<{ seq: number; event: JobEvent | null } | null> {
    return this.lastEntryOn(this.subjects.lifecycle(jobId));
  }

  /**
   * The last message of each of a job's subjects (its lifecycle, its work subject at each priority it
   * has), all as of one moment: one batch direct get (`multi_last` over `<ns>.job.<id>.>`), which the
   * server answers up to one stream sequence, isolated from appends. The largest sequence among them
   * is the job's last message, what its next append expects. Empty for an unknown job.
   */
  async lastPerSubjectOfJob(jobId: string): Promise<SubjectEntry[]> {
    const jsm = await this.jsm();
    const messages = await jsm.direct.getLastMessagesFor(this.streamName, { multi_last: [this.subjects.ofJob(jobId)] });
    const entries: SubjectEntry[] = [];
    for await (const msg of messages) {
      const item = readStored(msg);
      entries.push(item.ok ? { subject: item.stored.subject, seq: item.stored.seq, event: item.stored.event } : { subject: item.malformed.subject, seq: item.malformed.seq, event: null });
    }
    return entries;
  }

  /** The job's first work request, whatever its priority: its `VideoSubmitted`. Null for an unknown job. */
  async firstSubmission(jobId: string, from: 'any' | 'leader' = 'any'): Promise<ReadItem | null> {
    const jsm = await this.jsm();
    const query = { seq: 1, next_by_subj: this.subjects.submittedOfJob(jobId) };
    // A direct get is answered by any replica, and on a cluster a follower may not have applied an
    // append that the leader acknowledged yet: a read that must see an append just made (ours or one
    // that refused ours) asks the leader (STREAM.MSG.GET, which takes next_by_subj too on 2.9+).
    const msg = from === 'leader' ? await jsm.streams.getMessage(this.streamName, query as unknown as MsgRequest) : await jsm.direct.getMessage(this.streamName, query);
    return msg ? readStored(msg) : null;
  }

  /**
   * Who owns the job: the tenant its first `VideoSubmitted` names (read by direct get, so it holds
   * before any projection has seen the job). Null for an unknown job, or one whose first submission
   * this release cannot read.
   */
  async tenantOf(jobId: string): Promise<string | null> {
    const first = await this.firstSubmission(jobId);
    return first?.ok && first.stored.event.type === 'VideoSubmitted' ? first.stored.event.data.tenant : null;
  }

  /** One message by stream sequence; null if the stream has no such message. */
  async bySeq(seq: number): Promise<ReadItem | null> {
    const jsm = await this.jsm();
    const msg = await jsm.direct.getMessage(this.streamName, { seq });
    return msg ? readStored(msg) : null;
  }

  /** A job's events in stream order, after `afterSeq`, at most `limit` of them. */
  async readJob(jobId: string, afterSeq = 0, limit = 1000): Promise<ReadItem[]> {
    const jsm = await this.jsm();
    const filter = this.subjects.ofJob(jobId);
    const items: ReadItem[] = [];
    let seq = afterSeq + 1;
    while (items.length < limit) {
      const msg = await jsm.direct.getMessage(this.streamName, { seq, next_by_subj: filter });
      if (!msg) break;
      items.push(readStored(msg));
      seq = msg.seq + 1;
    }
    return items;
  }

  async lastSeq(): Promise<number> {
    const jsm = await this.jsm();
    const info = await jsm.streams.info(this.streamName);
    return info.state.last_seq;
  }

  /** The sequence of the first message stored at or after `time`, or null when there is none (a direct get by time, nats-server 2.11+). */
  async firstSeqSince(time: Date): Promise<number | null> {
    const jsm = await this.jsm();
    const msg = await jsm.direct.getMessage(this.streamName, { start_time: time });
    return msg ? msg.seq : null;
  }

  /**
   * Which stream this is (its name and creation time) and how far it goes, from one stream info.
   * Rejects with a StreamNotFound JetStreamApiError when the stream does not exist.
   */
  async streamState(): Promise<StreamState> {
    const jsm = await this.jsm();
    const info = await jsm.streams.info(this.streamName);
    return { identity: { stream: info.config.name, created: info.created }, lastSeq: info.state.last_seq };
  }

  /** The stream's and its durable consumers' figures, as GET /v1/system and the metrics show them. */
  async figures(): Promise<JetStreamFigures> {
    return readJetStreamFigures(await this.jsm(), this.streamName);
  }

  /**
   * Creates a durable consumer of the event stream (or of `stream`, the advisory capture), or brings
   * the `mutable` fields of an existing one up to `config` (see ensureDurableConsumer).
   */
  async ensureDurableConsumer(
    config: Partial<ConsumerConfig> & { durable_name: string },
    mutable: (keyof ConsumerUpdateConfig)[],
    stream = this.streamName,
  ): Promise<ConsumerInfo> {
    return ensureDurableConsumer(await this.jsm(), stream, config, mutable);
  }

  /** Deletes a durable consumer of the event stream; one that is not there, or a NATS that is away, is no error. */
  async dropDurableConsumer(name: string): Promise<void> {
    const jsm = await this.jsm().catch(() => null);
    await jsm?.consumers.delete(this.streamName, name).catch(() => undefined);
  }

  /** Starts consuming a durable consumer of the event stream (or of `stream`); the caller acks each message. */
  async consumeDurable(name: string, options: ConsumeOptions, stream = this.streamName): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(stream, name);
    return consumer.consume(options);
  }

  /**
   * Starts reading the whole stream with an ordered consumer (ephemeral, in order, nothing to ack):
   * from `fromSeq`, or only what is appended from now on when it is null.
   */
  async consumeOrdered(fromSeq: number | null, options: ConsumeOptions): Promise<ConsumerMessages> {
    const start = fromSeq !== null ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq } : { deliver_policy: DeliverPolicy.New };
    const consumer = await this.js.consumers.get(this.streamName, { filter_subjects: this.subjects.all, inactive_threshold: FOLLOW_INACTIVE_MS, ...start });
    return consumer.consume(options);
  }

  /**
   * Tells the workers that a job's cancel was requested, so that the one running it stops at once.
   * Only a nudge (a core NATS message, lost when no worker listens): the stored JobCancelRequested is
   * what counts, and a running attempt finds it at its next append.
   */
  nudgeCancel(jobId: string): void {
    this.nc.publish(this.subjects.cancelRequested, encodeCancelNudge(jobId));
  }

  /**
   * Reads the stream from `fromSeq` up to and including `toSeq` with an ordered consumer (ephemeral,
   * flow-controlled, in order), handing over full batches of `batchSize` (the last may be shorter).
   * Batches are handed over in order, one at a time: while the handler works on one (a database
   * write), the next is read and decoded, so reading and writing overlap. A slow handler still
   * applies back-pressure: at most one batch waits for it.
   *
   * An ordered consumer outlives its stream: when the stream is deleted, it waits for one of that
   * name and goes on reading it. With `stopIfGone` the read fails instead (and also when a NATS
   * restart lost the consumer, which it would otherwise make again): for a reader that must not read
   * on in another stream, or that is itself the one to make the stream again (the projector).
   */
  async readRange(
    fromSeq: number,
    toSeq: number,
    onBatch: (items: ReadItem[]) => Promise<void>,
    batchSize = 500,
    options: { stopIfGone?: boolean } = {},
  ): Promise<void> {
    if (toSeq < fromSeq) return;
    const consumer = await this.js.consumers.get(this.streamName, {
      filter_subjects: this.subjects.all,
      opt_start_seq: fromSeq,
    });
    const messages = await consumer.consume({
      max_messages: Math.max(batchSize * 4, 2048),
      // A deleted consumer is noticed by its pending pull's answer, or, with no pull pending (the
      // buffer is full), by missed heartbeats: two of them, half of `expires` apart.
      ...(options.stopIfGone ? { abort_on_missing_resource: true, expires: STOP_IF_GONE_EXPIRES_MS } : {}),
    });
    let batch: ReadItem[] = [];
    let inFlight: Promise<void> | null = null;
    const handOver = async (full: ReadItem[]) => {
      if (inFlight) await inFlight;
      inFlight = onBatch(full);
      // Rethrown where it is awaited; this only keeps a failure from going unhandled meanwhile.
      inFlight.catch(() => undefined);
    };
    try {
      for await (const msg of messages) {
        const seq = msg.seq;
        if (seq <= toSeq) batch.push(readJsMsg(msg));
        // The consumer's pending count can read 0 while messages up to toSeq are still to come (seen
        // after a NATS restart): before the range is taken as ended early, the stream is asked.
        const done = seq >= toSeq || (msg.info.pending === 0 && !(await this.holdsBetween(seq + 1, toSeq)));
        if (batch.length >= batchSize || (done && batch.length > 0)) {
          const full = batch;
          batch = [];
          await handOver(full);
        }
        if (done) break;
      }
      if (inFlight) await inFlight;
    } finally {
      await messages.close().catch(() => undefined);
      await dropOrdered(consumer);
    }
  }
  /** True when the stream holds a message with a sequence from `fromSeq` to `toSeq`. */
  private async holdsBetween(fromSeq: number, toSeq: number): Promise<boolean> {
    if (fromSeq > toSeq) return false;
    const jsm = await this.jsm();
    const next = await jsm.direct.getMessage(this.streamName, { seq: fromSeq, next_by_subj: this.subjects.all });
    return next !== null && next.seq <= toSeq;
  }

  /**
   * Follows one job live: its events after `afterSeq`, in order, as they are appended, until
   * `signal` aborts (or the caller stops iterating). An ordered consumer filtered to the job's
   * subjects, so nothing between a snapshot at `afterSeq` and the live tail is missed.
   */
  async *followJob(jobId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<ReadItem> {
    if (signal.aborted) return;
    const consumer = await this.js.consumers.get(this.streamName, {
      filter_subjects: this.subjects.ofJob(jobId),
      opt_start_seq: afterSeq + 1,
      inactive_threshold: FOLLOW_INACTIVE_MS,
    });
    const messages = await consumer.consume({ max_messages: 64 });
    const stop = () => void messages.close().catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const msg of messages) {
        if (msg.seq > afterSeq) yield readJsMsg(msg);
      }
    } finally {
      signal.removeEventListener('abort', stop);
      stop();
    }
  }
}

/**
 * How long the server keeps a live follow's ordered consumer once nobody pulls from it (nats.js's
 * default is 5 minutes). The gateway follows jobs for every SSE and WebSocket client and may not
 * delete consumers of the event stream (its NATS user would then reach the durable ones), so a
 * closed follow is left to this: every follow would otherwise stay 5 minutes, and enough of them
 * reach the server's limit of consumers per stream, past which every new read is refused. A live
 * follow pulls all the time, so it is never idle this long while its reader is there.
 */
const FOLLOW_INACTIVE_MS = 30_000;

/**
 * Deletes a range read's ordered consumer once it is done (the jobs service and the CLI, whose NATS
 * users may). Deleting one that is already gone, or with NATS away, is no error.
 */
async function dropOrdered(consumer: { delete(): Promise<unknown> }): Promise<void> {
  await consumer.delete().catch(() => undefined);
}

/**
 * The headers of an append that expects `seq` to be the last sequence on `subjects` (a job's whole
 * subject tree): the server refuses the message when another one came after it. nats-server 2.11
 * added the subject header, and 2.12 refuses it without the sequence. An older server ignores it and
 * checks the sequence against the message's own subject (2.9.10, checked), so every append after a
 * job's first would be refused there: Framewire needs nats-server 2.12 or later.
 */
function setExpectedLastSeq(headers: MsgHdrs, subjects: string, seq: number): void {
  headers.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(seq));
  headers.set(PubHeaders.ExpectedLastSubjectSequenceSubjectHdr, subjects);
}

/**
 * Whether a message on `subject` was stored as its job's first event: appended expecting sequence 0
 * over the job's whole subject tree, which the server checked (the headers a message was published
 * with are stored with it). A work message stored so is the job's submission with nothing of the job
 * before it; one stored otherwise (a redrive, or a submission from a release before the whole-job
 * check) may follow events of its job.
 */
export function storedAsFirstOfJob(subject: string, headers: MsgHdrs | undefined, subjects: JobSubjects): boolean {
  const parsed = subjects.parse(subject);
  return (
    parsed !== null &&
    headers?.get(PubHeaders.ExpectedLastSubjectSequenceHdr) === '0' &&
    headers.get(PubHeaders.ExpectedLastSubjectSequenceSubjectHdr) === subjects.ofJob(parsed.jobId)
  );
}

/** The headers of an event's message: its type, version and correlation, and (tracing on) the trace context of its append. */
function eventHeaders(event: JobEvent): MsgHdrs {
  const h = natsHeaders();
  h.set(EventHeader.Type, event.type);
  h.set(EventHeader.Version, String(event.version));
  h.set(EventHeader.CorrelationId, event.correlationId);
  if (event.causationId) h.set(EventHeader.CausationId, event.causationId);
  if (tracingActive()) injectTraceContext(h);
  return h;
}

/** The attributes of an append's span (the semantic conventions for a messaging `send`). */
function appendAttributes(event: JobEvent, subject: string, count: number): Attributes {
  return messagingAttributes('send', 'publish', subject, {
    [TraceAttr.messagingMessageId]: event.eventId,
    [TraceAttr.messagingConversationId]: event.correlationId,
    [TraceAttr.jobId]: event.jobId,
    [TraceAttr.correlationId]: event.correlationId,
    [TraceAttr.eventType]: event.type,
    ...(count > 1 ? { [TraceAttr.messagingBatchCount]: count } : {}),
  });
}

function readStored(msg: StoredMsg): ReadItem {
  return toItem(msg.seq, msg.subject, msg.time, msg.data, msg.header);
}

export function readJsMsg(msg: JsMsg): ReadItem {
  return toItem(msg.seq, msg.subject, msg.time, msg.data, msg.headers);
}

function toItem(seq: number, subject: string, storedAt: Date, data: Uint8Array, headers?: MsgHdrs): ReadItem {
  const decoded = decodeEvent(data);
  if (!decoded.ok) return { ok: false, malformed: { seq, subject, storedAt, reason: decoded.reason } };
  const trace = storedTraceOf(headers);
  return { ok: true, stored: trace ? { seq, subject, storedAt, event: decoded.event, trace } : { seq, subject, storedAt, event: decoded.event } };
}

/** The trace id an event was appended in (its stored `traceparent`'s), or null when it was not traced. */
export function storedTraceId(stored: { trace?: StoredTrace }): string | null {
  return traceIdOf(stored.trace?.traceparent);
}

/** The trace context headers a message was stored with, if it has a `traceparent`. */
export function storedTraceOf(headers: MsgHdrs | undefined): StoredTrace | undefined {
  const traceparent = headers?.get('traceparent');
  if (!traceparent) return undefined;
  const tracestate = headers!.get('tracestate');
  const attempt = headers!.get(ATTEMPT_TRACE_HEADER);
  return { traceparent, ...(tracestate ? { tracestate } : {}), ...(attempt ? { attempt } : {}) };
}
