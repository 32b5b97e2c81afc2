import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { gatewayEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger, SpanKind, recordSpansForTests, type RecordedSpans } from '@app/observability';
import { rebuildIntoSchema } from '@app/replay';
import { qualified } from '@app/read-model';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { configureHttp } from '../../apps/gateway/src/http/http-setup.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { jobsTestConfig, startJobsService } from '../support/jobs-service.js';
import { eventually, freshName, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { mp4Shell } from '../support/videos.js';

/**
 * Tracing on in this process (an in-memory exporter): a request to the gateway is one SERVER span
 * that continues the caller's `traceparent`, holds the upload and the `VideoSubmitted` append, and
 * names its route; the request's log line carries its trace; the job's trace id reaches the read
 * model and GET /v1/jobs/{id}, and a rebuild from the stream finds it again; the dashboard learns
 * where to link it.
 */
describe('traces of gateway requests', () => {
  let tracing: RecordedSpans;
  let ns: TestNamespace;
  let db: TestSchema;
  let gateway: NestExpressApplication;
  let jobs: INestMicroservice;
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let base = '';
  const logText: string[] = [];
  const logLines = () => logText.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const clip = mp4Shell(7);

  const traceIdHex = () => randomBytes(16).toString('hex');
  const spanIdHex = () => randomBytes(8).toString('hex');

  async function submit(headers: Record<string, string> = {}): Promise<Response> {
    const body = new FormData();
    body.set('file', new Blob([clip], { type: 'video/mp4' }), 'clip.mp4');
    return fetch(`${base}/v1/jobs`, { method: 'POST', body, headers: { ...acme.headers, ...headers } });
  }

  /** The request's SERVER span, once it has ended (it ends when the response is done). */
  const serverSpan = (name: string, traceId?: string) =>
    eventually(async () => tracing.ended().find((s) => s.kind === SpanKind.SERVER && s.name === name && (!traceId || s.spanContext().traceId === traceId)), 5000, `the span ${name}`);
  const childrenOf = (parent: ReadableSpan) => tracing.ended().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  beforeAll(async () => {
    tracing = recordSpansForTests();
    ns = await freshNamespace();
    db = await freshSchema();
    keys = await testKeys(db.schema);
    acme = await keys.create('acme');
    // The gateway with an info logger whose lines this test reads back; first, since nestjs-pino's
    // request logger is one per process (made by the first app that asks for it).
    const lines = new Writable({ write: (chunk: Buffer, _enc, done) => (logText.push(chunk.toString()), done()) });
    const config = parseConfig(gatewayEnvSchema, { PORT: '0', HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace, TRACE_UI_URL: 'http://127.0.0.1:16686' });
    const moduleRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'info', 'json', lines))] }).compile();
    gateway = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    configureHttp(gateway, config);
    await gateway.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(gateway.getHttpServer().address() as { port: number }).port}`;
    jobs = await startJobsService(jobsTestConfig(ns, db), ns.subjects);
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns?.cleanup();
    await db?.drop();
    await tracing?.stop();
  });

  beforeEach(() => tracing.reset());

  it("continues the caller's trace: the request's span holds the upload and the VideoSubmitted append, and the job keeps the trace id", async () => {
    const [traceId, callerSpan] = [traceIdHex(), spanIdHex()];
    const res = await submit({ traceparent: `00-${traceId}-${callerSpan}-01` });
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };

    const server = await serverSpan('POST /v1/jobs', traceId);
    expect(server.parentSpanContext?.spanId).toBe(callerSpan);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/jobs',
      'url.path': '/v1/jobs',
      'http.response.status_code': 202,
      'framewire.job_id': jobId,
      'framewire.correlation_id': res.headers.get('x-request-id'),
    });
    expect(server.attributes['server.port']).toBe(Number(new URL(base).port));
    const children = childrenOf(server);
    const upload = children.find((s) => s.name === 'upload video');
    expect(upload?.attributes).toMatchObject({ 'framewire.job_id': jobId, 'framewire.upload.bytes': clip.byteLength });
    expect(children.find((s) => s.name === 'publish VideoSubmitted')?.kind).toBe(SpanKind.PRODUCER);

    // The request's log line (pino-http's) is written inside its span.
    const requestLine = await eventually(async () => logLines().find((l) => l['msg'] === 'request completed' && l['trace_id'] === traceId), 5000, 'the request log line');
    expect(requestLine['span_id']).toBe(server.spanContext().spanId);

    // The read model's row, and the API's view of it, name the trace.
    const row = await eventually(async () => (await db.query<{ trace_id: string | null }>('SELECT trace_id FROM jobs WHERE job_id = $1', [jobId]))[0], 10_000, 'the row');
    expect(row.trace_id).toBe(traceId);
    const view = (await (await fetch(`${base}/v1/jobs/${jobId}`, { headers: acme.headers })).json()) as { trace_id: string | null };
    expect(view.trace_id).toBe(traceId);
    const read = await serverSpan('GET /v1/jobs/:id');
    expect(read.attributes).toMatchObject({ 'http.route': '/v1/jobs/:id', 'framewire.job_id': jobId, 'http.response.status_code': 200 });
    expect(read.parentSpanContext).toBeUndefined();
  });

  it('a request without a traceparent starts a trace of its own; a path no route answers is named by its method alone', async () => {
    const res = await submit();
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    const server = await serverSpan('POST /v1/jobs');
    expect(server.parentSpanContext).toBeUndefined();
    const row = await eventually(async () => (await db.query<{ trace_id: string | null }>('SELECT trace_id FROM jobs WHERE job_id = $1', [jobId]))[0], 10_000, 'the row');
    expect(row.trace_id).toBe(server.spanContext().traceId);

    expect((await fetch(`${base}/v1/no-such-route/${jobId}`, { headers: acme.headers })).status).toBe(404);
    const unmatched = await serverSpan('GET');
    expect(unmatched.attributes['http.route']).toBeUndefined();
    expect(unmatched.attributes['url.path']).toBe(`/v1/no-such-route/${jobId}`);
    expect(unmatched.attributes['http.response.status_code']).toBe(404);
  });

  it('a resumable upload: each PATCH stores its bytes under an upload chunk span, and the last one makes the job under upload video', async () => {
    const metadata = `filename ${Buffer.from('clip.mp4').toString('base64')}`;
    const tus = { 'Tus-Resumable': '1.0.0', ...acme.headers };
    const created = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...tus, 'Upload-Length': String(clip.byteLength), 'Upload-Metadata': metadata } });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get('location')!, base).toString();
    const half = clip.byteLength / 2;
    const patch = (from: number, to: number) =>
      fetch(url, { method: 'PATCH', body: clip.slice(from, to), headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(from) } });
    expect((await patch(0, half)).status).toBe(204);
    const last = await patch(half, clip.byteLength);
    expect(last.status).toBe(204);
    const jobId = last.headers.get('framewire-job-id');

    const patches = await eventually(async () => {
      const found = tracing.ended().filter((s) => s.name === 'PATCH /v1/uploads/:id');
      return found.length === 2 ? found : undefined;
    }, 5000, 'both PATCH spans');
    const chunks = patches.map((p) => childrenOf(p).find((s) => s.name === 'upload chunk')?.attributes);
    expect(chunks).toEqual([
      expect.objectContaining({ 'framewire.upload.offset': 0, 'framewire.upload.bytes': half }),
      expect.objectContaining({ 'framewire.upload.offset': half, 'framewire.upload.bytes': clip.byteLength - half }),
    ]);
    const finalPatch = patches.find((p) => p.attributes['framewire.job_id'] === jobId)!;
    expect(childrenOf(finalPatch).find((s) => s.name === 'upload video')?.attributes).toMatchObject({ 'framewire.job_id': jobId, 'framewire.upload.bytes': clip.byteLength });
    expect(childrenOf(finalPatch).map((s) => s.name)).toContain('publish VideoSubmitted');
  });

  it("tells the dashboard, behind a key, where a job's trace is shown (TRACE_UI_URL as a link template)", async () => {
    expect((await fetch(`${base}/v1/dashboard/settings`)).status).toBe(401);
    const settings = await fetch(`${base}/v1/dashboard/settings`, { headers: acme.headers });
    expect(await settings.json()).toEqual({ trace_link: 'http://127.0.0.1:16686/trace/{trace_id}' });
  });

  it("a rebuild of the read model from the stream finds every job's trace id again (the headers are in the stream)", async () => {
    const traceId = traceIdHex();
    const { job_id: jobId } = (await (await submit({ traceparent: `00-${traceId}-${spanIdHex()}-01` })).json()) as { job_id: string };
    const schema = freshName(`${db.schema}_r`);
    const { DataSource } = await import('typeorm');
    const ds = new DataSource({ type: 'postgres', url: db.url });
    await ds.initialize();
    try {
      await rebuildIntoSchema({ store: new EventStore(ns.nc, ns.subjects), ds, schema, url: db.url });
      const rows: { trace_id: string | null }[] = await ds.query(`SELECT trace_id FROM ${qualified(schema, 'jobs')} WHERE job_id = $1`, [jobId]);
      expect(rows).toEqual([{ trace_id: traceId }]);
    } finally {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    }
  });
});
