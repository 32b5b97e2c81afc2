import type { PartWork, WorkRequest } from '@app/contracts';
import type { EventStore } from '@app/event-store';
import {
  messagingAttributes,
  recordError,
  SpanKind,
  SpanStatusCode,
  spanContextOf,
  startSpan,
  traceContext,
  traceContextOf,
  TraceAttr,
  tracingActive,
  withAttemptSpan,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@app/observability';
import type { WorkDelivery } from './work-delivery.js';

/** Outcomes that end an attempt's span as an error: the work did not get done by it. */
const FAILED_OUTCOMES = new Set(['failed', 'retry', 'interrupted']);

/**
 * The spans of one delivery of work (docs/adr/0012-tracing.md), in the trace its message was appended
 * in: a `queue wait` span from when the work became available to when this worker took it, with its
 * delivery count, and the attempt's own span (`attempt <pipeline>`, `part <index>`, `join`), current
 * while the attempt runs, so that its appends, tools, ffmpeg runs and artifact uploads are its
 * children. Events appended inside it name it (ATTEMPT_TRACE_HEADER), so the next attempt of the job
 * links to it. Made only while tracing is on (begin answers null otherwise).
 */
export class DeliveryTrace {
  private constructor(
    private readonly span: Span,
    private readonly context: Context,
  ) {}

  /**
   * Starts the spans of `delivery`. For a redelivery of a whole job's work (a retry, or one whose
   * worker died), it reads the job's last lifecycle event: the queue wait starts when that was stored
   * (the attempt before ended), and the new attempt links to the one that appended it.
   */
  static async begin(store: EventStore, delivery: WorkDelivery<WorkRequest | PartWork>, name: string, attributes: Attributes): Promise<DeliveryTrace | null> {
    const origin = delivery.origin;
    if (!tracingActive() || !origin) return null;
    const { request } = delivery;
    const receivedAt = Date.now();
    const parent = traceContextOf(origin.trace?.traceparent, origin.trace?.tracestate);
    let availableAt = origin.storedAt.getTime();
    const links: Link[] = [];
    if (delivery.deliveryCount > 1 && (request.type === 'VideoSubmitted' || request.type === 'JobRedriven')) {
      const previous = await store.lastOn(store.subjects.lifecycle(request.jobId)).catch(() => null);
      if (previous?.ok && previous.stored.seq > delivery.seq) {
        availableAt = Math.max(availableAt, previous.stored.storedAt.getTime());
        const attempt = spanContextOf(previous.stored.trace?.attempt);
        if (attempt) links.push({ context: attempt, attributes: { 'framewire.link': 'previous_attempt' } });
      }
    }
    const common: Attributes = {
      [TraceAttr.messagingMessageId]: request.eventId,
      [TraceAttr.messagingConversationId]: request.correlationId,
      [TraceAttr.messagingConsumerGroup]: origin.consumer,
      [TraceAttr.natsDeliveryCount]: delivery.deliveryCount,
      [TraceAttr.natsStreamSequence]: delivery.seq,
      [TraceAttr.jobId]: request.jobId,
      [TraceAttr.correlationId]: request.correlationId,
    };
    startSpan('queue wait', { kind: SpanKind.CONSUMER, startTime: Math.min(availableAt, receivedAt), attributes: messagingAttributes('receive', 'fetch', origin.subject, common) }, parent).end(receivedAt);
    const span = startSpan(name, { kind: SpanKind.CONSUMER, links, attributes: messagingAttributes('process', 'process', origin.subject, { ...common, ...attributes }) }, parent);
    return new DeliveryTrace(span, withAttemptSpan(parent, span));
  }

  /** Runs the attempt inside its span, and ends the span with the attempt's outcome (or its error). */
  async run<T extends string>(fn: () => Promise<T>): Promise<T> {
    try {
      const outcome = await traceContext.with(this.context, fn);
      this.span.setAttribute('framewire.outcome', outcome);
      if (FAILED_OUTCOMES.has(outcome)) this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      return outcome;
    } catch (error) {
      recordError(this.span, error);
      throw error;
    } finally {
      this.span.end();
    }
  }
}
