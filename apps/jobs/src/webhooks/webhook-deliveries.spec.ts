import { describe, expect, it } from '@jest/globals';
import { webhookPayloadSchema, type JobEvent } from '@app/contracts';
import type { ReadItem } from '@app/event-store';
import { jobCompleted, jobFailed, jobProgressed, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { deliveriesOwed, type Listener } from './webhook-deliveries.js';

/** A stored history: each event at a sequence 3 apart, as if other jobs' events came in between. */
function stored(...events: JobEvent[]): ReadItem[] {
  return events.map((event, i) => ({ ok: true, stored: { seq: 10 + 3 * i, subject: 'x', storedAt: new Date(), event } }));
}

/** The deliveries alone. */
const owe = (...args: Parameters<typeof deliveriesOwed>) => deliveriesOwed(...args).deliveries;

function ids() {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

const submitted = videoSubmitted();
const started = jobStarted(submitted);
const progressed = jobProgressed(started, 50);
const completed = jobCompleted(progressed);
// seqs: submitted 10, started 13, progressed 16, completed 19
const history = stored(submitted, started, progressed, completed);

describe('deliveriesOwed', () => {
  it('owes an endpoint one delivery per event it hears, in stream order, up to the event being handled', () => {
    const listener: Listener = { id: 'e1', events: ['job.started', 'job.completed'], afterSeq: 10 };
    const owed = owe(history, 19, [listener], ids());
    expect(owed.map((d) => [d.eventType, d.streamSeq])).toEqual([
      ['job.started', 13],
      ['job.completed', 19],
    ]);
    expect(owe(history, 16, [listener], ids()).map((d) => d.streamSeq)).toEqual([13]);
  });

  it('skips what is at or below a listener\'s watermark (before it heard, or already recorded)', () => {
    const owed = owe(history, 19, [{ id: 'e1', events: ['job.started', 'job.progress', 'job.completed'], afterSeq: 13 }], ids());
    expect(owed.map((d) => d.streamSeq)).toEqual([16, 19]);
  });

  it("keeps each event's stored trace context (not its job attempt's span) on its deliveries, and none for an event stored without", () => {
    const traceparent = (n: number) => `00-${String(n).repeat(32)}-${String(n).repeat(16)}-01`;
    const traced = history.map((item, i) =>
      item.ok && i > 1 ? { ...item, stored: { ...item.stored, trace: { traceparent: traceparent(i), ...(i === 3 ? { tracestate: 'v=1' } : {}), attempt: traceparent(9) } } } : item,
    );
    const owed = owe(traced, 19, [{ id: 'e1', events: ['job.started', 'job.progress', 'job.completed'], afterSeq: 0 }], ids());
    expect(owed.map((d) => [d.streamSeq, d.trace])).toEqual([
      [13, undefined],
      [16, { traceparent: traceparent(2) }],
      [19, { traceparent: traceparent(3), tracestate: 'v=1' }],
    ]);
  });

  it('shows the job as it was right after each event, not as it is now', () => {
    const owed = owe(history, 19, [{ id: 'e1', events: ['job.started', 'job.progress', 'job.completed'], afterSeq: 0 }], ids());
    const bodies = owed.map((d) => webhookPayloadSchema.parse(JSON.parse(d.body)));
    expect(bodies.map((b) => [b.type, b.data.status, b.data.progress])).toEqual([
      ['job.started', 'running', 0],
      ['job.progress', 'running', 50],
      ['job.completed', 'completed', 100],
    ]);
    expect(bodies[2]!.timestamp).toBe(new Date(completed.occurredAt).toISOString());
    expect(bodies[2]!.data.job_id).toBe(submitted.jobId);
  });

  it('gives each endpoint its own delivery (and id) of the same event', () => {
    const owed = owe(history, 19, [{ id: 'e1', events: ['job.completed'], afterSeq: 0 }, { id: 'e2', events: ['job.completed'], afterSeq: 0 }], ids());
    expect(owed.map((d) => d.endpointId)).toEqual(['e1', 'e2']);
    expect(new Set(owed.map((d) => d.id)).size).toBe(2);
    expect(owed[0]!.eventId).toBe(owed[1]!.eventId);
  });

  it('tells a failure that will be retried from the job failing for good', () => {
    const s = videoSubmitted();
    const first = jobStarted(s);
    const retried = jobFailed(first, 1, false, 'WORKER_ERROR');
    const second = jobStarted(retried, 2);
    const failed = jobFailed(second, 2, true);
    const owed = owe(stored(s, first, retried, second, failed), 22, [{ id: 'e1', events: ['job.failed'], afterSeq: 0 }], ids());
    expect(owed.map((d) => [d.eventType, d.streamSeq])).toEqual([['job.failed', 22]]);
  });

  it('goes on from a job already folded, reading only the events after it, with the same bodies', () => {
    const listener: Listener = { id: 'e1', events: ['job.progress', 'job.completed'], afterSeq: 13 };
    const whole = deliveriesOwed(history, 19, [listener], ids());
    const upToStart = deliveriesOwed(history, 13, [{ ...listener, afterSeq: 0, events: [] }], ids()).folded;
    expect(upToStart.seq).toBe(13);
    const resumed = deliveriesOwed(history.slice(2), 19, [listener], ids(), upToStart);
    expect(resumed.deliveries.map((d) => d.body)).toEqual(whole.deliveries.map((d) => d.body));
    expect(resumed.folded).toEqual(whole.folded);
    expect(resumed.folded.seq).toBe(19);
  });

  it('passes over messages it cannot read', () => {
    const items: ReadItem[] = [...history.slice(0, 2), { ok: false, malformed: { seq: 15, subject: 'x', storedAt: new Date(), reason: 'bad' } }, ...history.slice(2)];
    expect(owe(items, 19, [{ id: 'e1', events: ['job.completed'], afterSeq: 0 }], ids())).toHaveLength(1);
  });
});
