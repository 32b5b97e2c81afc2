import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Webhook } from 'standardwebhooks';
import type { VideoSubmitted, WebhookWithSecret } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { setTracingActive, SpanKind, SpanStatusCode, recordSpansForTests, type RecordedSpans } from '@app/observability';
import { WebhooksService } from '../../apps/jobs/src/webhooks/webhooks.service.js';
import { jobCompleted, jobStarted, videoSubmitted } from '../support/events.js';
import { jobsTestConfig, startJobsService } from '../support/jobs-service.js';
import { eventually, freshName, freshNamespace, freshSchema, type TestNamespace, type TestSchema } from '../support/services.js';
import { webhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver.js';

const ALL = { kind: 'all' } as const;

/**
 * Each webhook delivery attempt as a span, with tracing on in this process (its spans kept in
 * memory): the jobs service in this process fans a job's events out and sends them to a real
 * receiver on loopback. Each test has its own tenant and receiver.
 */
describe('webhook delivery attempts in the trace of their event', () => {
  let tracing: RecordedSpans;
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let jobs: INestMicroservice;
  let webhooks: WebhooksService;
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    tracing = recordSpansForTests();
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    // Loopback http receivers, and a retry within a fraction of a second.
    const env = { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '200', WEBHOOK_TIMEOUT_MS: '5000' };
    jobs = await startJobsService(jobsTestConfig(ns, db, env), ns.subjects);
    webhooks = jobs.get(WebhooksService);
  });

  afterEach(() => setTracingActive(true));

  afterAll(async () => {
    await jobs?.close();
    await Promise.all(receivers.map((r) => r.close()));
    await ns.cleanup();
    await db.drop();
    await tracing.stop();
  });

  async function endpoint(answer: WebhookReceiver['answer'], query = ''): Promise<{ receiver: WebhookReceiver; hook: WebhookWithSecret; tenant: string }> {
    const receiver = await webhookReceiver(answer);
    receivers.push(receiver);
    const tenant = freshName('t');
    const hook = await webhooks.create({ scope: ALL, tenant, url: `${receiver.url}${query}`, events: ['job.completed'], description: '' });
    return { receiver, hook, tenant };
  }

  /** A job of `tenant` that starts and completes at once, appended as its worker would: each append is a trace of its own. */
  async function completedJob(tenant: string): Promise<{ submitted: VideoSubmitted; completedSeq: number }> {
    const submitted = videoSubmitted(randomUUID(), { tenant });
    const first = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const second = await store.append(started, first.seq);
    const completed = await store.append(jobCompleted(started), second.seq);
    return { submitted, completedSeq: completed.seq };
  }

  const spansNamed = (name: string, jobId: string) => tracing.ended().filter((s) => s.name === name && s.attributes['framewire.job_id'] === jobId);

  /** The job's `POST webhook` spans, by attempt, once there are `count`. */
  const attemptSpans = (jobId: string, count: number) =>
    eventually(async () => {
      const spans = spansNamed('POST webhook', jobId);
      return spans.length >= count ? spans.sort((a, b) => Number(a.attributes['framewire.webhook.attempt']) - Number(b.attributes['framewire.webhook.attempt'])) : undefined;
    }, 20_000, `${count} POST webhook span(s) of job ${jobId}`);

  const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
  const verify = (received: ReceivedWebhook, secret: string) => new Webhook(secret).verify(received.body, received.headers);

  it("makes each attempt a CLIENT span whose parent is the append of the event it tells of; the receiver gets the attempt's traceparent", async () => {
    const { receiver, hook, tenant } = await endpoint((_hook, before) => (before.length === 0 ? 503 : 200), '?token=s3cret');
    const { submitted } = await completedJob(tenant);
    const received = await receiver.waitFor(2);
    const spans = await attemptSpans(submitted.jobId, 2);
    const [append] = spansNamed('publish JobCompleted', submitted.jobId);

    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.spanContext().traceId).toBe(append!.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(append!.spanContext().spanId);
      expect(span.attributes).toMatchObject({
        'http.request.method': 'POST',
        'url.full': receiver.url,
        'server.address': '127.0.0.1',
        'framewire.webhook.delivery_id': received[0]!.id,
      });
    }
    expect(spans.map((s) => [s.attributes['framewire.webhook.attempt'], s.attributes['http.response.status_code'], s.status.code, s.attributes['error.type']])).toEqual([
      [1, 503, SpanStatusCode.ERROR, '503'],
      [2, 200, SpanStatusCode.UNSET, undefined],
    ]);
    // Each request carries its own attempt's span, and is signed as ever.
    expect(received.map((r) => r.traceparent)).toEqual(spans.map(traceparentOf));
    for (const r of received) expect(verify(r, hook.secret)).toEqual(r.json);
  });

  it("keeps a manual retry and a replay from the log in the event's trace", async () => {
    const { receiver, hook, tenant } = await endpoint(() => 200);
    const { submitted, completedSeq } = await completedJob(tenant);
    const [first] = await receiver.waitFor(1);
    await webhooks.retry({ scope: ALL, id: hook.id, delivery_id: first!.id });
    await receiver.waitFor(2);
    expect(await webhooks.replay({ scope: ALL, id: hook.id, from: String(completedSeq) })).toMatchObject({ queued: 1 });
    const received = await receiver.waitFor(3);

    const spans = await attemptSpans(submitted.jobId, 3);
    const [append] = spansNamed('publish JobCompleted', submitted.jobId);
    expect(spans.map((s) => [s.attributes['framewire.webhook.attempt'], s.parentSpanContext?.spanId])).toEqual([1, 2, 3].map((n) => [n, append!.spanContext().spanId]));
    expect(new Set(received.map((r) => r.id))).toEqual(new Set([first!.id]));
    expect(received.map((r) => r.traceparent)).toEqual(spans.map(traceparentOf));
  });

  it('starts a trace of its own for an event appended while tracing was off', async () => {
    const { receiver, tenant } = await endpoint(() => 200);
    setTracingActive(false);
    const { submitted } = await completedJob(tenant);
    setTracingActive(true);
    const [received] = await receiver.waitFor(1);
    const [span] = await attemptSpans(submitted.jobId, 1);
    expect(spansNamed('publish JobCompleted', submitted.jobId)).toEqual([]);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(received!.traceparent).toBe(traceparentOf(span!));
  });
});
