import { JetStreamApiError, type JetStreamApiCodes } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  createInbox,
  NoRespondersError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** What the stream answered to a publish it stored (or had stored already, for a repeated message id). */
export interface PublishAck {
  stream: string;
  seq: number;
  duplicate: boolean;
  /** For the commit of an atomic batch: the batch's id and how many messages it stored (`seq` is its last one's). */
  batch?: { id: string; count: number };
}

interface Waiting {
  resolve(ack: PublishAck): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ApiAnswer {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  batch?: string;
  count?: number;
  error?: { code: number; err_code: JetStreamApiCodes; description: string };
}

/**
 * Publishes to JetStream and awaits the stream's ack, as `js.publish` does, but with one reply
 * subscription for all of a connection's publishes and no request object per publish. nats.js
 * (v3) routes each publish through a general request, which builds an Error on every *successful*
 * answer to reject a promise that is already resolved (`RequestOne.cancel`); in the worker's
 * profile that, with the request's deferreds and timers, was ~6% of a no-op job's CPU, and every
 * job's events go through here.
 *
 * The answers are the same: the stored sequence and the duplicate flag, a `JetStreamApiError` (with
 * the server's `err_code`) when the stream refuses, `NoRespondersError` when no stream takes the
 * subject, a `TimeoutError` after `timeoutMs`, and `ClosedConnectionError` once the connection is
 * closed. The reply inbox is under the connection's inbox prefix, which the services' NATS
 * permissions allow them to subscribe to.
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private sub: Subscription | null = null;
  private counter = 0;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox(inboxPrefixOfConnection(nc))}.`;
    void nc.closed().then(() => this.failAll(new ClosedConnectionError()));
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PublishAck> {
    if (this.nc.isClosed()) return Promise.reject(new ClosedConnectionError());
    this.sub ??= this.nc.subscribe(`${this.prefix}*`, { callback: (error, msg) => void (error ? undefined : this.answer(msg)) });
    const token = (this.counter++).toString(36);
    return new Promise<PublishAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new TimeoutError());
      }, this.timeoutMs);
      this.waiting.set(token, { resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { headers, reply: this.prefix + token });
      } catch (error) {
        clearTimeout(timer);
        this.waiting.delete(token);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const waiting = this.waiting.get(token);
    if (!waiting) return; // it timed out meanwhile
    this.waiting.delete(token);
    clearTimeout(waiting.timer);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.reject(new NoRespondersError(msg.subject));
      return;
    }
    let answer: ApiAnswer;
    try {
      answer = msg.json<ApiAnswer>();
    } catch {
      waiting.reject(new Error(`JetStream answered a publish with something that is not JSON`));
      return;
    }
    if (answer.error) waiting.reject(new JetStreamApiError(answer.error));
    else if (typeof answer.seq !== 'number' || !answer.stream) waiting.reject(new Error('invalid JetStream publish ack'));
    else {
      const ack: PublishAck = { stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true };
      if (typeof answer.batch === 'string' && typeof answer.count === 'number') ack.batch = { id: answer.batch, count: answer.count };
      waiting.resolve(ack);
    }
  }

  private failAll(error: Error): void {
    for (const [token, waiting] of this.waiting) {
      this.waiting.delete(token);
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
  }
}

/** The inbox prefix the connection was opened with (`_INBOX` by default). */
export function inboxPrefixOfConnection(nc: NatsConnection): string | undefined {
  return (nc as NatsConnection & { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
