import type { ReadItem } from '@app/event-store';
import { messagingAttributes, recordError, SpanKind, SpanStatusCode, startSpan, traceContextOf, TraceAttr, type Span } from '@app/observability';

/** The spans of one batch the projector writes: one per traced event, ended together when the batch commits. */
export interface ProjectionSpans {
  /** The batch committed; the events at `parked` were parked instead of projected. */
  ended(parked: number[]): void;
  /** The batch's write failed: nothing of it was projected (it is tried again). */
  failed(error: unknown): void;
}

/**
 * A `project <type>` span for each event of a batch that was appended traced, in its append's trace
 * (the messaging conventions' `process`), from now until the batch's transaction commits. Events
 * appended with tracing off have none.
 */
export function projectionSpans(items: ReadItem[], consumer: string, batchSize: number): ProjectionSpans {
  const spans = new Map<number, Span>();
  for (const item of items) {
    if (!item.ok || !item.stored.trace) continue;
    const { seq, subject, event, trace } = item.stored;
    const parent = traceContextOf(trace.traceparent, trace.tracestate);
    const attributes = messagingAttributes('process', 'process', subject, {
      [TraceAttr.messagingConsumerGroup]: consumer,
      [TraceAttr.messagingMessageId]: event.eventId,
      [TraceAttr.messagingConversationId]: event.correlationId,
      [TraceAttr.natsStreamSequence]: seq,
      [TraceAttr.messagingBatchCount]: batchSize,
      [TraceAttr.jobId]: event.jobId,
      [TraceAttr.correlationId]: event.correlationId,
      [TraceAttr.eventType]: event.type,
    });
    spans.set(seq, startSpan(`project ${event.type}`, { kind: SpanKind.CONSUMER, attributes }, parent));
  }
  return {
    ended(parked) {
      for (const seq of parked) spans.get(seq)?.setStatus({ code: SpanStatusCode.ERROR, message: 'parked: its row cannot be written' });
      for (const span of spans.values()) span.end();
    },
    failed(error) {
      for (const span of spans.values()) {
        recordError(span, error);
        span.end();
      }
    },
  };
}
