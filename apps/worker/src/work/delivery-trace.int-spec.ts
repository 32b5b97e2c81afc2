import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import type { WorkRequest } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore, type StoredJobEvent } from '@app/event-store';
import { createLogger, inSpan, recordSpansForTests, setTracingActive, spanContextOf, startSpan, traceContext, traceparentOf, withAttemptSpan, type RecordedSpans } from '@app/observability';
import { jobFailed, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../../../../test/support/services.js';
import { WorkerModule } from '../worker.module.js';
import { JobRunner } from './job-runner.service.js';
import type { WorkDelivery } from './work-delivery.js';

/**
 * The spans of a worker's attempt (docs/adr/0012-tracing.md), recorded in this process: a delivery
 * continues the trace its work message was appended in, and a redelivery links to the attempt before.
 */
describe('worker traces', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let module: TestingModule;
  let runner: JobRunner;
  let spans: RecordedSpans;

  beforeAll(async () => {
    spans = recordSpansForTests();
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'traced-worker' });
    module = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    runner = module.get(JobRunner);
  });
  afterAll(async () => {
    await module?.close();
    await ns?.cleanup();
    await spans?.stop();
  });

  const stored = async (jobId: string): Promise<StoredJobEvent[]> => (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored] : []));
  const delivery = (request: WorkRequest, at: StoredJobEvent, deliveryCount: number): WorkDelivery => ({
    request,
    seq: at.seq,
    deliveryCount,
    firstOfJob: deliveryCount === 1,
    origin: { subject: at.subject, storedAt: at.storedAt, consumer: 'test-workers', trace: at.trace },
    heartbeat: () => undefined,
    ack: () => undefined,
    nak: () => undefined,
    release: () => undefined,
  });
  const named = (jobId: string, name: string) => spans.ended().filter((span) => span.attributes['framewire.job_id'] === jobId && span.name === name);

  it('continues the submission\'s trace: queue wait and attempt under its append, the attempt\'s appends and tool under the attempt', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    await inSpan('client', {}, () => store.append(submitted, 0));
    const [work] = await stored(submitted.jobId);
    expect(work!.trace?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    expect(await runner.run(delivery(submitted, work!, 1), new AbortController().signal)).toBe('completed');

    const [publish] = named(submitted.jobId, 'publish VideoSubmitted');
    const [wait] = named(submitted.jobId, 'queue wait');
    const [attempt] = named(submitted.jobId, 'attempt noop');
    expect(publish && wait && attempt).toBeTruthy();
    const traceId = publish!.spanContext().traceId;
    expect(spanContextOf(work!.trace!.traceparent)?.spanId).toBe(publish!.spanContext().spanId);
    for (const span of [wait!, attempt!]) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
    }
    expect(wait!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.type': 'receive', 'messaging.consumer.group.name': 'test-workers', 'messaging.nats.message.delivery_count': 1 });
    expect(attempt!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.type': 'process', 'framewire.attempt': 1, 'framewire.worker_id': 'traced-worker', 'framewire.outcome': 'completed', 'framewire.correlation_id': submitted.correlationId });
    // The queue wait runs from the message's storing to the attempt's start.
    expect(wait!.startTime[0] * 1000 + wait!.startTime[1] / 1e6).toBeLessThanOrEqual(attempt!.startTime[0] * 1000 + attempt!.startTime[1] / 1e6 + 1);

    for (const name of ['publish JobStarted', 'publish JobCompleted', 'tool noop']) {
      const [span] = named(submitted.jobId, name);
      expect(span?.parentSpanContext?.spanId).toBe(attempt!.spanContext().spanId);
    }
    // The attempt's events name it, for the next attempt's link.
    const started = (await stored(submitted.jobId)).find((s) => s.event.type === 'JobStarted');
    expect(started?.trace?.attempt).toBe(traceparentOf(attempt!.spanContext()));
  });

  it('links a redelivered job\'s attempt to the attempt before it, and starts its queue wait when that one ended', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const s0 = (await inSpan('client', {}, () => store.append(submitted, 0))).seq;
    // Attempt 1, as another worker ran it: started, then failed with a retry.
    const first = startSpan('attempt noop', {});
    const started = jobStarted(submitted, 1, 'other-worker');
    await traceContext.with(withAttemptSpan(traceContext.active(), first), async () => {
      const s1 = (await store.append(started, s0)).seq;
      await store.append({ ...jobFailed(started, 1, false, 'TOOL_FAILED'), data: { ...jobFailed(started, 1, false, 'TOOL_FAILED').data, retryDelayMs: 0 } }, s1);
    });
    first.end();
    const history = await stored(submitted.jobId);
    const failedAt = history.at(-1)!.storedAt.getTime();

    expect(await runner.run(delivery(submitted, history[0]!, 2), new AbortController().signal)).toBe('completed');

    const attempts = named(submitted.jobId, 'attempt noop').filter((span) => span.attributes['framewire.attempt'] === 2);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.links.map((link) => link.context.spanId)).toEqual([first.spanContext().spanId]);
    const [wait] = named(submitted.jobId, 'queue wait');
    expect(wait!.attributes['messaging.nats.message.delivery_count']).toBe(2);
    expect(Math.abs(wait!.startTime[0] * 1000 + Math.floor(wait!.startTime[1] / 1e6) - failedAt)).toBeLessThanOrEqual(1);
  });

  it('starts a trace of its own for work appended while tracing was off (no trace context in its headers)', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    setTracingActive(false);
    try {
      await store.append(submitted, 0);
    } finally {
      setTracingActive(true);
    }
    const [work] = await stored(submitted.jobId);
    expect(work!.trace).toBeUndefined();
    expect(named(submitted.jobId, 'publish VideoSubmitted')).toEqual([]);
    expect(await runner.run(delivery(submitted, work!, 1), new AbortController().signal)).toBe('completed');
    const [attempt] = named(submitted.jobId, 'attempt noop');
    expect(attempt).toBeDefined();
    expect(attempt!.parentSpanContext).toBeUndefined();
  });
});
