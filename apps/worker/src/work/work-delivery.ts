import type { PartWork, WorkRequest } from '@app/contracts';
import type { StoredTrace } from '@app/event-store';

/** Where a work message came from, for its trace: its subject, when it was stored, the consumer that delivered it, its trace context. */
export interface WorkMessageOrigin {
  readonly subject: string;
  readonly storedAt: Date;
  readonly consumer: string;
  readonly trace: StoredTrace | undefined;
}

/**
 * One delivery of a work request, independent of the transport. The runner decides; the transport
 * carries out ack, nak or term on the message it came from.
 */
export interface WorkDelivery<R extends WorkRequest | PartWork = WorkRequest> {
  /** The job's submission, or a redrive of it (or, for a split job's parts, a part's or the join's request). */
  readonly request: R;
  /** The work message's stream sequence: lifecycle events before it belong to an earlier run. */
  readonly seq: number;
  /** How many times the server has delivered this message, this time included. */
  readonly deliveryCount: number;
  /**
   * The message was stored as its job's first event (the server checked that the job had nothing
   * before it): a submission, not a redrive nor a later submission stored by an older release.
   */
  readonly firstOfJob: boolean;
  /** The message's origin, for its trace: absent while tracing is off, and for deliveries made up in tests. */
  readonly origin?: WorkMessageOrigin;
  /** Tells the server the job is alive, resetting its ack deadline. */
  heartbeat(): void;
  ack(): void;
  nak(delayMs: number): void;
  /**
   * The pipeline has finished and its terminal event is being appended: the transport may start
   * fetching the next job, in the same turn (so its pull leaves in the same write as the append).
   * Calling it again does nothing.
   */
  release(): void;
}
