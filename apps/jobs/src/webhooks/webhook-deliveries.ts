import { webhookEventTypeOf, type WebhookPayload } from '@app/contracts';
import type { ReadItem, StoredJobEvent } from '@app/event-store';
import { evolve, toJobView, type JobState } from '@app/job-state';
import type { DeliveryTrace, NewDelivery } from '@app/webhooks';

/** An endpoint as the fan-out sees it: what it hears, and from which stream sequence on. */
export interface Listener {
  id: string;
  events: readonly string[];
  /** Events at or below this sequence are not sent to it (stored before it heard them, or already recorded). */
  afterSeq: number;
}

/**
 * The deliveries a job's history owes its listeners, up to and including `upToSeq`: for each event
 * an endpoint hears, one delivery whose body is the job as GET /v1/jobs/{id} showed it right after
 * that event (folded with the projector's `evolve`, so a late delivery of `job.started` never shows
 * the job completed). Pure: the caller reads the history and makes the ids.
 *
 * Every event after a listener's `afterSeq` is owed, not only the newest: the fan-out records a job's
 * deliveries to one endpoint in stream order even when the consumer hands it events out of order
 * (a redelivery after a failure), and the sender sends a job's deliveries to one endpoint one at a
 * time, lowest sequence first.
 *
 * Each delivery keeps the trace context its event was stored with (when it was traced), so that its
 * attempts are spans in the trace of that event: the fan-out's triggering event and any earlier one
 * still owed alike, and a replay's too.
 */
export function deliveriesOwed(
  history: readonly ReadItem[],
  upToSeq: number,
  listeners: readonly Listener[],
  newId: () => string,
  from: FoldedJob = { state: null, seq: 0 },
): { deliveries: NewDelivery[]; folded: FoldedJob } {
  const owed: NewDelivery[] = [];
  let state = from.state;
  let folded = from.seq;
  for (const item of history) {
    if (!item.ok) continue;
    const { seq, event } = item.stored;
    if (seq > upToSeq) break;
    if (seq <= folded) continue;
    state = evolve(state, event);
    folded = seq;
    const type = webhookEventTypeOf(event);
    if (!type || !state) continue;
    const hearing = listeners.filter((l) => seq > l.afterSeq && l.events.includes(type));
    if (hearing.length === 0) continue;
    const payload: WebhookPayload = { type, timestamp: new Date(event.occurredAt).toISOString(), data: toJobView(state, seq) };
    const body = JSON.stringify(payload);
    const trace = deliveryTraceOf(item.stored.trace);
    for (const listener of hearing) {
      owed.push({ id: newId(), endpointId: listener.id, eventId: event.eventId, eventType: type, jobId: event.jobId, streamSeq: seq, occurredAt: new Date(event.occurredAt), body, ...trace });
    }
  }
  return { deliveries: owed, folded: { state, seq: folded } };
}

/** What a delivery keeps of its event's stored trace context: the W3C headers (not the job attempt's span). */
function deliveryTraceOf(stored: StoredJobEvent['trace']): { trace?: DeliveryTrace } {
  if (!stored) return {};
  return { trace: stored.tracestate ? { traceparent: stored.traceparent, tracestate: stored.tracestate } : { traceparent: stored.traceparent } };
}

/**
 * A job folded up to a stream sequence. The fan-out keeps the last one of each job it handled, so
 * that the next event of the job reads only the events after it rather than the whole history again
 * (a job that reports progress twice a second would otherwise cost a read of its history per report).
 */
export interface FoldedJob {
  state: JobState | null;
  seq: number;
}
