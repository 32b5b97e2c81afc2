import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import { EventStore } from '@app/event-store';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { flakyThenSlowFfprobe, makeVideo, mediaDir } from '../support/videos.js';
import { webhookReceiver } from '../support/webhook-receiver.js';

/**
 * OpenTelemetry traces as an operator's collector gets them (issue #20, docs/adr/0012-tracing.md):
 * the built gateway, jobs service and worker as OS processes, each exporting over OTLP/HTTP to a
 * receiver this test runs, which decodes what arrives. The gateway sends OTLP/JSON, the others the
 * default protobuf, so both encodings are read. One job's spans, from the HTTP request to the
 * projection and the webhook, must form one trace with the parents of the span contract.
 */
describe('traces end to end', () => {
  let receiver: OtlpReceiver;
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let system: TestSystem;
  let store: EventStore;
  let base = '';
  let clip = '';

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    clip = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
    store = new EventStore(ns.nc, ns.subjects);
    system = new TestSystem({
      NATS_URL: TEST_NATS_URL,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: db.schema,
      FRAMEWIRE_NAMESPACE: ns.namespace,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // Spans leave a tenth of a second after they end, not five seconds.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    system.start('jobs', 'jobs', { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1' });
    system.start('worker', 'worker', { WORKER_ID: 'traced-worker' });
    base = await system.startGateway('gateway', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', RATE_LIMIT_REQUESTS: '0' });
    await Promise.all([system.get('jobs').waitForLine(/jobs service ready/), system.get('worker').waitForLine(/worker pulling jobs/)]);
    await system.authenticate();
  }, 120_000);

  afterAll(async () => {
    await system?.stopAll();
    await receiver?.close();
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  async function submit(pipeline: string, headers: Record<string, string> = {}): Promise<{ jobId: string; correlationId: string }> {
    const res = await system.submitFile(base, clip, { pipeline }, headers);
    expect(res.status).toBe(202);
    return { jobId: ((await res.json()) as { job_id: string }).job_id, correlationId: res.headers.get('x-request-id') ?? '' };
  }

  /** Waits (on the event log, not over HTTP, which would make spans of its own) until the job's attempt `attempt` completed. */
  const completed = (jobId: string, attempt = 1) =>
    eventually(async () => {
      const events = (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored.event] : []));
      return events.some((e) => e.type === 'JobCompleted' && e.data.attempt === attempt) ? events : undefined;
    }, 30_000, `job ${jobId} to complete attempt ${attempt}`);

  const ofJob = (jobId: string) => (span: ReceivedSpan) => span.attributes['framewire.job_id'] === jobId;

  /** The job's trace: the one its VideoSubmitted append (made inside the HTTP request) belongs to. */
  const traceOf = async (jobId: string): Promise<string> =>
    (await receiver.waitFor((spans) => spans.find((s) => s.name === 'publish VideoSubmitted' && ofJob(jobId)(s)), 20_000, `publish VideoSubmitted of ${jobId}`)).traceId;

  /**
   * Waits until the trace holds a span of every name in `names` (or `settleMs` passes), and returns
   * its spans: the assertions then show all that is missing at once rather than the first.
   */
  async function settledTrace(traceId: string, names: string[], settleMs = 8_000): Promise<ReceivedSpan[]> {
    await receiver
      .waitFor((spans) => names.every((name) => spans.some((s) => s.traceId === traceId && s.name === name)), settleMs, names.join(', '))
      .catch(() => undefined);
    return receiver.trace(traceId);
  }

  /** Each span of the trace as "<kind> <service> <- <parent's name>" (root: "<- root"; a parent not received: "<- ?"), by name. */
  function shape(spans: ReceivedSpan[]): Record<string, string[]> {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const out: Record<string, Set<string>> = {};
    for (const span of spans) {
      const parent = span.parentSpanId ? (byId.get(span.parentSpanId)?.name ?? '?') : 'root';
      (out[span.name] ??= new Set()).add(`${SpanKind[span.kind]} ${span.service} <- ${parent}`);
    }
    return Object.fromEntries(Object.entries(out).map(([name, set]) => [name, [...set].sort()]));
  }

  const one = (spans: ReceivedSpan[], name: string) => spans.find((s) => s.name === name);
  const ancestors = (spans: ReceivedSpan[], span: ReceivedSpan | undefined): string[] => {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const names: string[] = [];
    for (let at = span?.parentSpanId ? byId.get(span.parentSpanId) : undefined; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) names.push(at.name);
    return names;
  };

  describe('one job submitted over HTTP (thumbnails: ffprobe, ffmpeg, artifacts)', () => {
    let jobId = '';
    let correlationId = '';
    let traceId = '';
    let spans: ReceivedSpan[] = [];

    beforeAll(async () => {
      ({ jobId, correlationId } = await submit('thumbnails'));
      await completed(jobId);
      traceId = await traceOf(jobId);
      spans = await settledTrace(traceId, ['POST /v1/jobs', 'upload video', 'queue wait', 'attempt thumbnails', 'tool thumbnails', 'ffmpeg', 'ffprobe', 'upload artifact', 'project VideoSubmitted', 'project JobStarted', 'project JobCompleted']);
    }, 60_000);

    const nats = { 'messaging.system': 'nats', 'messaging.destination.name': expect.any(String) };

    it('puts every span about the job into one trace', () => {
      expect(receiver.spans.filter(ofJob(jobId)).filter((s) => s.traceId !== traceId).map((s) => s.name)).toEqual([]);
    });

    it('has each span of the contract, from its service, of its kind, under its parent', () => {
      expect(shape(spans)).toMatchObject({
        'POST /v1/jobs': ['SERVER framewire-gateway <- root'],
        'upload video': ['INTERNAL framewire-gateway <- POST /v1/jobs'],
        'publish VideoSubmitted': ['PRODUCER framewire-gateway <- POST /v1/jobs'],
        'queue wait': ['CONSUMER framewire-worker <- publish VideoSubmitted'],
        'attempt thumbnails': ['CONSUMER framewire-worker <- publish VideoSubmitted'],
        'tool thumbnails': ['INTERNAL framewire-worker <- attempt thumbnails'],
        ffmpeg: ['INTERNAL framewire-worker <- tool thumbnails'],
        'upload artifact': [expect.stringMatching(/^INTERNAL framewire-worker <- (tool|attempt) thumbnails$/)],
        'publish JobCompleted': ['PRODUCER framewire-worker <- attempt thumbnails'],
        'project VideoSubmitted': ['CONSUMER framewire-jobs <- publish VideoSubmitted'],
        'project JobStarted': ['CONSUMER framewire-jobs <- publish JobStarted'],
        'project JobCompleted': ['CONSUMER framewire-jobs <- publish JobCompleted'],
      });
      // Where the contract leaves the parent open: JobStarted (the claim) and ffprobe (the media probe) lie under the work message's append and the attempt.
      expect(ancestors(spans, one(spans, 'publish JobStarted'))).toContain('publish VideoSubmitted');
      expect(ancestors(spans, one(spans, 'ffprobe'))).toContain('attempt thumbnails');
    });

    it('projects every event appended for the job, each in a span under its append', () => {
      const published = spans.filter((s) => s.kind === SpanKind.PRODUCER && s.name.startsWith('publish ') && !s.name.startsWith('publish batch '));
      const unprojected = published.filter((p) => !spans.some((s) => s.name === `project ${p.name.slice('publish '.length)}` && s.parentSpanId === p.spanId));
      expect(published.map((s) => s.name)).toEqual(expect.arrayContaining(['publish VideoSubmitted', 'publish JobStarted', 'publish JobCompleted']));
      expect(unprojected.map((s) => s.name)).toEqual([]);
      expect(one(spans, 'project JobCompleted')?.attributes).toMatchObject({
        ...nats,
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': expect.any(String),
        'messaging.nats.stream.sequence': expect.any(Number),
        'framewire.job_id': jobId,
        'framewire.event.type': 'JobCompleted',
      });
    });

    it('describes the request and the upload with the HTTP conventions, the correlation id and the job id', async () => {
      expect(one(spans, 'POST /v1/jobs')?.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/v1/jobs',
        'url.path': '/v1/jobs',
        'http.response.status_code': 202,
        'server.port': Number(new URL(base).port),
        'user_agent.original': expect.any(String),
        'framewire.correlation_id': correlationId,
        'framewire.job_id': jobId,
      });
      expect(one(spans, 'upload video')?.attributes).toMatchObject({ 'framewire.job_id': jobId, 'framewire.upload.bytes': (await stat(clip)).size });
    });

    it('describes each append as a NATS send of the job, from the service that made it', () => {
      expect(one(spans, 'publish VideoSubmitted')).toMatchObject({
        service: 'framewire-gateway',
        kind: SpanKind.PRODUCER,
        attributes: { ...nats, 'messaging.operation.type': 'send', 'framewire.job_id': jobId, 'framewire.correlation_id': correlationId, 'framewire.event.type': 'VideoSubmitted' },
      });
      const lifecycle = receiver.spans.filter((s) => ofJob(jobId)(s) && (s.name === 'publish JobStarted' || s.name === 'publish JobCompleted'));
      expect(lifecycle.map((s) => [s.name, s.service, s.kind, s.attributes['messaging.system'], s.attributes['framewire.correlation_id']]).sort()).toEqual([
        ['publish JobCompleted', 'framewire-worker', SpanKind.PRODUCER, 'nats', correlationId],
        ['publish JobStarted', 'framewire-worker', SpanKind.PRODUCER, 'nats', correlationId],
      ]);
    });

    it('describes the queue wait, the attempt and the tool with the messaging conventions and the job', () => {
      expect(one(spans, 'queue wait')?.attributes).toMatchObject({
        ...nats,
        'messaging.operation.type': 'receive',
        'messaging.operation.name': 'fetch',
        'messaging.consumer.group.name': expect.any(String),
        'messaging.nats.message.delivery_count': 1,
        'framewire.job_id': jobId,
      });
      expect(one(spans, 'attempt thumbnails')?.attributes).toMatchObject({
        ...nats,
        'messaging.operation.type': 'process',
        'framewire.attempt': 1,
        'framewire.pipeline': 'thumbnails',
        'framewire.job_id': jobId,
        'framewire.correlation_id': correlationId,
        'framewire.worker_id': 'traced-worker',
      });
      expect(one(spans, 'tool thumbnails')?.attributes).toMatchObject({ 'framewire.tool': 'thumbnails' });
      // The queue wait ends at the claim, before the attempt does.
      const [wait, attempt] = [one(spans, 'queue wait'), one(spans, 'attempt thumbnails')];
      expect(wait && attempt ? wait.endMs <= attempt.endMs : 'both spans').toBe(true);
    });

    it('gives ffmpeg and ffprobe their command, arguments only, and exit code, and each artifact upload its name and size', () => {
      const ffmpeg = one(spans, 'ffmpeg');
      expect(ffmpeg?.attributes).toMatchObject({ 'process.command': expect.stringMatching(/ffmpeg$/), 'process.exit.code': 0 });
      // The semantic conventions' process.command_args: the executable first, then each argument as it was passed (no shell line).
      const args = ffmpeg?.attributes['process.command_args'];
      expect(Array.isArray(args) ? args[0] : args).toBe(ffmpeg?.attributes['process.command']);
      expect(args).toEqual(expect.arrayContaining(['-i', '-filter_complex']));
      expect(one(spans, 'ffprobe')?.attributes).toMatchObject({ 'process.command': expect.stringMatching(/ffprobe$/), 'process.exit.code': 0 });
      const artifacts = spans.filter((s) => s.name === 'upload artifact').map((s) => s.attributes);
      expect(artifacts).toEqual(expect.arrayContaining([expect.objectContaining({ 'framewire.artifact.name': 'thumb-000000.jpg', 'framewire.artifact.bytes': expect.any(Number) })]));
      expect(spans.filter((s) => s.endMs < s.startMs).map((s) => s.name)).toEqual([]);
    });
  });

  it('continues the trace of a request that carries a traceparent header', async () => {
    const [traceId, parentId] = [randomBytes(16).toString('hex'), randomBytes(8).toString('hex')];
    const { jobId } = await submit('probe', { traceparent: `00-${traceId}-${parentId}-01` });
    expect(await traceOf(jobId)).toBe(traceId);
    const http = await receiver
      .waitFor((spans) => spans.find((s) => s.name === 'POST /v1/jobs' && s.traceId === traceId), 8_000, 'the HTTP span')
      .catch(() => undefined);
    expect(http && { traceId: http.traceId, parentSpanId: http.parentSpanId }).toEqual({ traceId, parentSpanId: parentId });
  });

  it('traces a webhook delivery as a client span of the event that made it, and sends its traceparent to the receiver', async () => {
    const rx = await webhookReceiver();
    try {
      const hook = await system.fetch(`${base}/v1/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: rx.url, events: ['job.completed'] }) });
      expect(hook.status).toBe(201);
      const { jobId } = await submit('probe');
      const [delivered] = await rx.waitFor(1, (h) => h.json.data['job_id'] === jobId, 30_000);
      const traceId = await traceOf(jobId);
      const spans = await settledTrace(traceId, ['POST webhook']);
      const post = one(spans, 'POST webhook');
      expect(shape(spans)['POST webhook']).toEqual(['CLIENT framewire-jobs <- publish JobCompleted']);
      expect(post?.attributes).toMatchObject({
        'http.request.method': 'POST',
        'url.full': rx.url,
        'server.address': '127.0.0.1',
        'http.response.status_code': 200,
        'framewire.webhook.delivery_id': expect.any(String),
        'framewire.webhook.attempt': 1,
      });
      expect(delivered!.traceparent).toBe(post ? `00-${traceId}-${post.spanId}-01` : 'a traceparent of the POST webhook span');
    } finally {
      await rx.close();
    }
  });

  // Last: it swaps the worker for one whose ffprobe fails once.
  it('shows a retried job as two attempt spans in one trace, the second linked to the first', async () => {
    await system.get('worker').stop();
    system.start('flaky', 'worker', { WORKER_ID: 'flaky-worker', FFPROBE_PATH: await flakyThenSlowFfprobe(media.dir, 1, 0) });
    await system.get('flaky').waitForLine(/worker pulling jobs/);
    const { jobId } = await submit('probe');
    const events = await completed(jobId, 2);
    expect(events.filter((e) => e.type === 'JobStarted').map((e) => e.data.attempt)).toEqual([1, 2]);
    const traceId = await traceOf(jobId);
    const attempts = await receiver
      .waitFor((spans) => {
        const found = spans.filter((s) => s.traceId === traceId && s.name === 'attempt probe');
        return found.length === 2 && found;
      }, 8_000, 'two attempt spans')
      .catch(() => receiver.trace(traceId).filter((s) => s.name === 'attempt probe'));
    const [first, second] = [...attempts].sort((a, b) => Number(a.attributes['framewire.attempt']) - Number(b.attributes['framewire.attempt']));
    expect(attempts.map((s) => s.attributes['framewire.attempt']).sort()).toEqual([1, 2]);
    expect(first?.status.code).toBe(2);
    expect(second?.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId }))).toEqual([{ traceId, spanId: first?.spanId }]);
    const waits = receiver.trace(traceId).filter((s) => s.name === 'queue wait');
    expect(waits.map((s) => s.attributes['messaging.nats.message.delivery_count']).sort()).toEqual([1, 2]);
  });
});
