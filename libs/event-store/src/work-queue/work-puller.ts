import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { JobSubjects } from '@app/contracts';
import { storedAsFirstOfJob, storedTraceOf, type StoredTrace } from '../event-store.js';

/** A work message pulled from a durable consumer, with what its ack subject says about it. */
export interface PulledMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Its stream sequence. */
  readonly seq: number;
  /** How many times the server has delivered it, this time included. */
  readonly deliveryCount: number;
  /** How many messages the consumer still had to deliver after this one. */
  readonly pending: number;
  /**
   * It was stored as its job's first event (see storedAsFirstOfJob): a submission of a job that had
   * nothing before it.
   */
  readonly firstOfJob: boolean;
  /** When the stream stored it (from its ack subject), to the millisecond. */
  readonly storedAt: Date;
  /** The durable consumer that delivered it. */
  readonly consumer: string;
  /** The trace context it was appended in, when it was traced. */
  readonly trace: StoredTrace | undefined;
  ack(): void;
  /** Hands it back; the server delivers it again after `delayMs` (at once for 0). */
  nak(delayMs?: number): void;
  /** In progress: resets its ack deadline. */
  working(): void;
  /**
   * Never delivers it again. The reason (one line, at most TERM_REASON_MAX characters kept) goes into the
   * server's MSG_TERMINATED advisory, which nats-server 2.10 and later fill from it (2.9 ignored it).
   */
  term(reason?: string): void;
}

/** The longest reason a term carries into the advisory. */
export const TERM_REASON_MAX = 200;

/** How long a pull waits for the server's answer; it answers at once unless it is unreachable. */
const ANSWER_TIMEOUT_MS = 5000;

/**
 * Pulls one message at a time from any of several durable consumers of a stream, without waiting for
 * one to arrive: a `no_wait` pull request, which the server answers at once with a message or with
 * 404 "No Messages" (or, for a message announced but perhaps not stored yet, a pull that waits a few
 * milliseconds). The nats.js client (v3) has no such pull (its fetch waits at least a second), and a
 * worker that drains consumers in priority order has to learn at once that one is empty.
 *
 * One puller serves one slot, so it has one request out at a time, on an inbox of its own. A message
 * that arrives after its request gave up waiting (NATS was slow) is kept and handed out by the next
 * pull, never dropped: it is delivered, and dropping it would hold the job until its ack deadline.
 */
export class JetStreamWorkPuller {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private waiting: ((msg: Msg) => void) | null = null;
  private readonly early: Msg[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    inboxPrefix: string,
    private readonly subjects: JobSubjects,
  ) {
    this.inbox = createInbox(inboxPrefix);
    this.sub = nc.subscribe(this.inbox, {
      callback: (error, msg) => {
        if (error) return;
        if (this.waiting) this.waiting(msg);
        // A late answer: a status means nothing any more, a message is kept for the next pull.
        else if (!isStatus(msg)) this.early.push(msg);
      },
    });
  }

  /**
   * The next message of `consumer`, or null when it has none to deliver now, or (with `waitMs`)
   * none within that time: for a message that was announced and may not be stored yet.
   */
  async pull(consumer: string, waitMs = 0): Promise<PulledMessage | null> {
    const kept = this.early.shift();
    if (kept) return toPulled(kept, this.subjects);
    const answer = new Promise<Msg | null>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(null);
      }, ANSWER_TIMEOUT_MS + waitMs);
      this.waiting = (msg) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(msg);
      };
    });
    const request = waitMs > 0 ? { batch: 1, expires: waitMs * 1_000_000 } : { batch: 1, no_wait: true };
    this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${consumer}`, JSON.stringify(request), { reply: this.inbox });
    const msg = await answer;
    if (!msg) throw new Error(`no answer from ${consumer} within ${ANSWER_TIMEOUT_MS + waitMs} ms`);
    if (!isStatus(msg)) return toPulled(msg, this.subjects);
    const code = msg.headers?.code ?? 0;
    // 404 No Messages, 408 Request Timeout: nothing to deliver now.
    if (code === 404 || code === 408) return null;
    throw new Error(`pull from ${consumer} answered ${code} ${msg.headers?.description ?? ''}`.trim());
  }

  close(): void {
    this.sub.unsubscribe();
    // Messages that nobody will run: straight back to the queue.
    for (const msg of this.early.splice(0)) msg.respond('-NAK');
  }
}

function isStatus(msg: Msg): boolean {
  return msg.data.length === 0 && (msg.headers?.code ?? 0) !== 0;
}

/**
 * The ack subject names the message: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
 * seq>.<time>.<pending>` (nats-server 2.9), or with a domain and an account hash after `$JS.ACK` and a
 * token at the end (later servers).
 */
export function parseAckSubject(reply: string): { consumer: string; deliveryCount: number; seq: number; storedAtMs: number; pending: number } {
  const tokens = reply.split('.');
  const at = tokens.length === 9 ? 2 : tokens.length >= 11 ? 4 : -1;
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK' || at < 0) throw new Error(`not a JetStream ack subject: ${reply}`);
  // The time is in nanoseconds, beyond a double's exact integers: milliseconds are what is kept.
  const storedAtMs = Number(BigInt(tokens[at + 5] ?? '0') / 1_000_000n);
  return { consumer: tokens[at + 1]!, deliveryCount: Number(tokens[at + 2]), seq: Number(tokens[at + 3]), storedAtMs, pending: Number(tokens[at + 6]) };
}

/** `+TERM`, with the reason on one line after it when there is one. */
export function termBody(reason?: string): string {
  const line = (reason ?? '').replace(/[\r\n]+/g, ' ').trim().slice(0, TERM_REASON_MAX);
  return line ? `+TERM ${line}` : '+TERM';
}

function toPulled(msg: Msg, subjects: JobSubjects): PulledMessage {
  const { consumer, deliveryCount, seq, storedAtMs, pending } = parseAckSubject(msg.reply ?? '');
  return {
    subject: msg.subject,
    data: msg.data,
    seq,
    deliveryCount,
    pending,
    firstOfJob: storedAsFirstOfJob(msg.subject, msg.headers, subjects),
    consumer,
    // Only a traced delivery reads these (tracing off, nothing more is done per message).
    get storedAt() {
      return new Date(storedAtMs);
    },
    get trace() {
      return storedTraceOf(msg.headers);
    },
    ack: () => msg.respond('+ACK'),
    nak: (delayMs = 0) => msg.respond(delayMs > 0 ? `-NAK ${JSON.stringify({ delay: Math.round(delayMs * 1_000_000) })}` : '-NAK'),
    working: () => msg.respond('+WPI'),
    term: (reason) => msg.respond(termBody(reason)),
  };
}
