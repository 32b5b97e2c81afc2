import { PubHeaders } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';

/**
 * The pure rules of group commit: which waiting publishes may share one atomic batch, when to send a
 * batch rather than single publishes, and which stream sequence each message of a committed batch got.
 * No I/O here: GroupCommitPublisher applies them.
 */

/** Header that names another subject (possibly a wildcard) for the expected-last-subject-sequence check (nats-server 2.11+). */
export const EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT = 'Nats-Expected-Last-Subject-Sequence-Subject';

/** What the batching rules need to know of one publish. */
export interface Batchable {
  subject: string;
  headers: MsgHdrs;
}

/**
 * Whether a publish may go in an atomic batch at all. nats-server refuses `Nats-Expected-Last-Msg-Id`
 * in a batch (10177) and allows `Nats-Expected-Last-Sequence` only on a batch's first message: such
 * publishes are sent alone.
 */
export function batchable(headers: MsgHdrs): boolean {
  return !headers.has(PubHeaders.ExpectedLastMsgIdHdr) && !headers.has(PubHeaders.ExpectedLastSeqHdr);
}

/**
 * The subject (or wildcard) whose last sequence a publish expects, or null when it expects none:
 * `Nats-Expected-Last-Subject-Sequence-Subject` when set, else the publish's own subject.
 */
export function checkScope(message: Batchable): string | null {
  if (!message.headers.has(PubHeaders.ExpectedLastSubjectSequenceHdr)) return null;
  const other = message.headers.get(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT);
  return other !== '' ? other : message.subject;
}

/** Whether a literal subject is matched by a subject that may hold the `*` and `>` wildcards. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === '>') return have.length > i;
    if (i >= have.length) return false;
    if (token !== '*' && token !== have[i]) return false;
  }
  return want.length === have.length;
}

/**
 * Splits the waiting publishes, in order, into one batch of at most `max` that may be committed
 * together, and the rest (in their order). A publish is left for a later batch when the batch already
 * holds its message id (the server refuses the whole batch, 10201), or an earlier message of the batch
 * writes to the subject its sequence check covers. nats-server checks every message of a batch
 * against the stream as it was before the batch: a second check of the same exact subject fails the
 * whole batch (10164), and a check over a wildcard (`...-Subject: <ns>.job.<id>.>`) does not see the
 * batch's earlier writes at all, so two appends racing on one job could both be stored (checked on
 * 2.15.1). Kept apart, the later one is checked after the earlier one is stored, as if sent alone.
 */
export function takeBatch<T extends Batchable>(waiting: readonly T[], max: number): { batch: T[]; rest: T[] } {
  const batch: T[] = [];
  const rest: T[] = [];
  const ids = new Set<string>();
  for (const message of waiting) {
    if (batch.length >= max || !fits(batch, ids, message)) {
      rest.push(message);
      continue;
    }
    batch.push(message);
    const id = message.headers.get(PubHeaders.MsgIdHdr);
    if (id) ids.add(id);
  }
  return { batch, rest };
}

function fits(batch: readonly Batchable[], ids: ReadonlySet<string>, message: Batchable): boolean {
  const id = message.headers.get(PubHeaders.MsgIdHdr);
  if (id && ids.has(id)) return false;
  const scope = checkScope(message);
  return scope === null || !batch.some((earlier) => subjectMatches(scope, earlier.subject));
}

/** The sizes group commit works with. */
export interface GroupCommitLimits {
  /**
   * The fewest waiting publishes worth an atomic batch. A batch has a fixed cost on the server (on a
   * single file-backed server, a staging store with four fsyncs of its own), so a few publishes are
   * cheaper sent one by one, pipelined; this many or more share one batch. Publishes are also sent at
   * once, alone, while fewer than this many are in flight.
   */
  minBatch: number;
  /**
   * While fewer than this many publishes are in flight, a new one is sent at once, alone; past it,
   * new publishes wait for the next answer, to be sent together.
   */
  maxAloneInFlight: number;
  /** The most publishes in one batch (nats-server allows 1,000 by default). */
  maxBatch: number;
  /** The most batches of this publisher in flight at once (nats-server allows 50 per stream). */
  maxBatchesInFlight: number;
}

/** What the publisher has in flight and waiting when it decides. */
export interface GroupCommitLoad {
  /** Publishes sent and not answered yet, alone or in batches. */
  inFlight: number;
  /** Batches sent and not answered yet. */
  batchesInFlight: number;
  /** Publishes waiting to be sent. */
  waiting: number;
}

/**
 * A new publish, with nothing waiting before it: sent at once while fewer than `maxAloneInFlight`
 * publishes are in flight (a lone publish, or a few pipelined, are not held back); else it waits to
 * share a batch.
 */
export function sendAtOnce(load: GroupCommitLoad, limits: GroupCommitLimits): boolean {
  return load.waiting === 0 && load.inFlight < limits.maxAloneInFlight;
}

/**
 * What to do with the waiting publishes now (after an answer, or when more arrived): send a batch
 * when enough wait and a batch may be sent, send them alone when few wait and few are in flight, or
 * keep them waiting for the next answer (something is in flight, so one comes).
 */
export function nextSend(load: GroupCommitLoad, limits: GroupCommitLimits): 'batch' | 'alone' | 'wait' {
  if (load.waiting === 0) return 'wait';
  if (load.waiting >= limits.minBatch) return load.batchesInFlight < limits.maxBatchesInFlight ? 'batch' : 'wait';
  return load.inFlight < limits.maxAloneInFlight ? 'alone' : 'wait';
}

/**
 * The stream sequence of each message of a committed batch: nats-server stores a batch contiguously
 * and acknowledges the commit with the sequence of its last message and the count.
 */
export function batchSequences(lastSeq: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => lastSeq - count + 1 + i);
}
