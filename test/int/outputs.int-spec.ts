import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import WebSocket from 'ws';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig, workerEnvSchema } from '@app/config';
import { NamespacedNatsServer } from '@app/event-store';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { JobsModule } from '../../apps/jobs/src/jobs.module.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { eventually, freshNamespace, freshSchema, streamLastSeq, TEST_NATS_URL, type TestNamespace, type TestSchema, IN_PROCESS_OPS } from '../support/services.js';
import { makeTextFile, makeVideo, mediaDir } from '../support/videos.js';

type Json = Record<string, any>;

/** A multipart body exactly as Python's requests writes one for `files={'file': ...}`. */
function pythonMultipart(bytes: Uint8Array, filename: string): { body: Buffer; contentType: string } {
  const boundary = randomBytes(16).toString('hex');
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, bytes, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A plain HTTP/1.1 request, as a small client library would send it. */
function rawRequest(url: string, method: string, body?: { body: Buffer; contentType: string }): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: body ? { 'Content-Type': body.contentType, 'Content-Length': String(body.body.length), 'User-Agent': 'python-requests/2.31.0' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as Json }));
    });
    req.on('error', reject);
    req.end(body?.body);
  });
}

/** Reads a whole SSE response into its events. */
async function readSse(res: Response): Promise<Array<{ id: string | null; event: string; data: Json }>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
      return { id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data')!) as Json };
    });
}

/**
 * The gateway's job outputs over real HTTP, with the jobs service and a worker in this process
 * against real NATS, PostgreSQL and ffmpeg: pipelines, results, artifacts, the upload with Range,
 * live updates over SSE and WebSocket, workers, and the seeds' routes driven like their client.
 */
describe('job outputs and live updates over HTTP', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let gateway: INestApplication;
  let jobs: INestMicroservice;
  let worker: TestingModule | null = null;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let clip: Uint8Array;
  let base = '';

  const env = () => ({ NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace });
  const get = async (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
  const json = async (path: string) => {
    const res = await get(path);
    return { status: res.status, body: (await res.json()) as Json };
  };

  async function submit(bytes: Uint8Array, pipeline: string, params: Json = {}): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', pipeline);
    form.set('params', JSON.stringify(params));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form });
    const body = (await res.json()) as Json;
    expect(res.status).toBe(202);
    return body['job_id'] as string;
  }

  const completed = (id: string) =>
    eventually(async () => {
      const { body } = await json(`/v1/jobs/${id}`);
      return body['status'] === 'completed' || body['status'] === 'failed' ? body : undefined;
    }, 30_000, `job ${id} to end`);

  async function startWorker() {
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, ...env(), WORKER_ID: 'outputs-worker', WORKER_CONCURRENCY: '2', RESULT_INLINE_MAX_BYTES: '4096' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    clip = await readFile(await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 2, width: 320, height: 240, fps: 25, audio: true }));
    const jobsConfig = parseConfig(jobsEnvSchema, { ...IN_PROCESS_OPS, ...env(), DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    const jobsRef = await Test.createTestingModule({ imports: [JobsModule.forRoot(jobsConfig, createLogger('jobs', 'silent'))] }).compile();
    jobs = jobsRef.createNestMicroservice({ strategy: new NamespacedNatsServer(ns.subjects.rpcPrefix, { servers: [TEST_NATS_URL], queue: 'framewire-jobs' }), logger: false });
    await jobs.listen();
    const config = parseConfig(gatewayEnvSchema, { ...env(), PORT: '0', HOST: '127.0.0.1', PROCESS_WAIT_MS: '30000' });
    const gatewayRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
    gateway = gatewayRef.createNestApplication({ logger: false });
    await gateway.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(gateway.getHttpServer().address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await gateway?.close();
    await jobs?.close();
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('lists pipelines with their tools and the JSON schema of their params', async () => {
    const { status, body } = await json('/v1/pipelines');
    expect(status).toBe(200);
    const byName = new Map((body['pipelines'] as Json[]).map((p) => [p['name'], p]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(['noop', 'probe', 'thumbnails', 'scenes', 'frame-stats', 'transcode', 'analyze']));
    const thumbnails = byName.get('thumbnails')!;
    expect(thumbnails['tools']).toEqual([expect.objectContaining({ name: 'thumbnails', version: '1.0.0' })]);
    expect(thumbnails['params_schema']).toMatchObject({ type: 'object', additionalProperties: false, properties: { frame_stride: { type: 'integer', minimum: 1, default: 30 } } });
    expect(byName.get('analyze')!['tools'].map((t: Json) => t['name'])).toEqual(['probe', 'thumbnails', 'scenes', 'frame-stats']);
    expect((body['tools'] as Json[]).find((t) => t['name'] === 'noop')).toMatchObject({ source: 'builtin', reads_input: false });
  });

  it('refuses params that do not fit the pipeline with 400 before anything is stored or published', async () => {
    const before = await streamLastSeq(ns.nc, ns.subjects);
    const form = new FormData();
    form.set('file', new Blob([clip as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', 'thumbnails');
    form.set('params', JSON.stringify({ frame_stride: 0 }));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'INVALID_PARAMS', message: expect.stringContaining('frame_stride') } });
    expect(await streamLastSeq(ns.nc, ns.subjects)).toBe(before);
  });

  it('streams a job live over SSE: the snapshot first, then status, progress and the end, then closes; the result is 409 until then', async () => {
    const id = await submit(clip, 'thumbnails', { frame_stride: 10, thumbnail_width: 160 });
    const early = await json(`/v1/jobs/${id}/result`);
    expect(early).toEqual({ status: 409, body: { error: { code: 'JOB_NOT_COMPLETED', message: expect.any(String) } } });
    const res = await get(`/v1/jobs/${id}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reading = readSse(res);
    // No worker ran yet: the snapshot says queued. The worker starts now, while the stream is open.
    await startWorker();
    const events = await reading;
    expect(events[0]).toMatchObject({ event: 'status', data: { job_id: id, status: 'queued' } });
    expect(events.map((e) => e.event)).toContain('status');
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { job_id: id, status: 'completed', artifacts: expect.arrayContaining([expect.objectContaining({ name: 'thumb-000000.jpg', content_type: 'image/jpeg' })]) } });
    expect(events.find((e) => e.data['status'] === 'running')).toBeDefined();
    // Ids are stream sequences, in order, with nothing between the snapshot and the live events missed.
    const ids = events.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    const result = await json(`/v1/jobs/${id}/result`);
    expect(result.status).toBe(200);
    expect(result.body['frames'].map((f: Json) => f['frame_index'])).toEqual([0, 10, 20, 30, 40]);
    // A finished job's stream gives the snapshot and the end at once.
    const again = await readSse(await get(`/v1/jobs/${id}/stream`));
    expect(again.map((e) => e.event)).toEqual(['status', 'completed']);
  });

  it('lists and serves artifacts with their content type, and refuses names that are not plain file names', async () => {
    const id = await submit(clip, 'thumbnails', { frame_stride: 25, thumbnail_width: 160 });
    await completed(id);
    const list = await json(`/v1/jobs/${id}/artifacts`);
    expect(list.body['artifacts']).toEqual([
      { name: 'thumb-000000.jpg', size: expect.any(Number), content_type: 'image/jpeg' },
      { name: 'thumb-000025.jpg', size: expect.any(Number), content_type: 'image/jpeg' },
      { name: 'sprite-001.jpg', size: expect.any(Number), content_type: 'image/jpeg' },
    ]);
    const res = await get(`/v1/jobs/${id}/artifacts/thumb-000025.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBe(list.body['artifacts'][1]['size']);
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect((await json(`/v1/jobs/${id}/artifacts/nope.jpg`)).body).toMatchObject({ error: { code: 'ARTIFACT_NOT_FOUND' } });
    const traversal = await json(`/v1/jobs/${id}/artifacts/..%2F..%2Fuploads%2Fx`);
    expect(traversal).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARTIFACT_NAME' } } });
  });

  it('serves a result too large for the event from the Object Store', async () => {
    const id = await submit(clip, 'frame-stats', { frame_stride: 1, max_frames: 50 });
    const view = await completed(id);
    expect(view['result_location']).toBe('object_store');
    expect(view['result']).toBeNull();
    const result = await json(`/v1/jobs/${id}/result`);
    expect(result.status).toBe(200);
    expect(result.body['frames']).toHaveLength(50);
  });

  it('streams the original upload whole or by Range (206, byte-exact), and answers 416 outside it', async () => {
    // 400 KiB spans several 128 KiB Object Store chunks; noop never reads it.
    const upload = new Uint8Array(Buffer.concat([Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70]), randomBytes(400 * 1024)]));
    const id = await submit(upload, 'noop');
    const whole = await get(`/v1/jobs/${id}/video`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(upload))).toBe(true);
    const size = upload.length;
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=131000-132000', 131000, 132000],
      ['bytes=300000-', 300000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=10-${size + 1000}`, 10, size - 1],
    ] as const) {
      const res = await get(`/v1/jobs/${id}/video`, { Range: range });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(upload.subarray(start, end + 1)))).toBe(true);
    }
    const outside = await get(`/v1/jobs/${id}/video`, { Range: `bytes=${size}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(await outside.json()).toMatchObject({ error: { code: 'RANGE_NOT_SATISFIABLE' } });
  });

  it('sends the seeds\' WebSocket messages until the job ends, then closes; refuses an unknown job', async () => {
    const id = await submit(clip, 'probe');
    await completed(id);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws/jobs/${id}`);
    const messages: Json[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Json));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1000);
    expect(messages.at(-1)).toEqual({ job_id: id, status: 'completed', current_frame: expect.any(Number), total_frames: null, percent: 100 });
    const refused = await new Promise<number>((resolve) => {
      const unknown = new WebSocket(`${base.replace('http', 'ws')}/v1/ws/jobs/00000000-0000-4000-8000-000000000000`);
      unknown.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      unknown.on('error', () => undefined);
    });
    expect(refused).toBe(404);
  });

  it('lists the live workers from their heartbeats', async () => {
    const { body } = await json('/v1/workers');
    expect(body['workers']).toEqual([expect.objectContaining({ worker_id: 'outputs-worker', concurrency: 2, pid: process.pid, in_flight: expect.any(Array), pipelines: expect.arrayContaining(['thumbnails']) })]);
  });

  it('serves the seeds\' routes to a client that sends plain multipart over HTTP', async () => {
    const submitted = await rawRequest(`${base}/v1/video/submit?pipeline_id=thumbnails&frame_stride=20&max_frames=3`, 'POST', pythonMultipart(clip, 'clip.mp4'));
    expect(submitted).toEqual({ status: 200, json: { job_id: expect.any(String) } });
    const id = submitted.json['job_id'] as string;
    const status = await rawRequest(`${base}/v1/video/status/${id}`, 'GET');
    expect(status.json).toEqual({ job_id: id, status: expect.stringMatching(/^(pending|running|completed)$/), progress: expect.any(Number), created_at: expect.any(String), updated_at: expect.any(String) });
    await completed(id);
    expect((await rawRequest(`${base}/v1/video/status/${id}`, 'GET')).json).toMatchObject({ status: 'completed', progress: 100 });
    const results = await rawRequest(`${base}/v1/video/results/${id}`, 'GET');
    expect(results.status).toBe(200);
    expect(results.json['results']).toEqual([0, 20, 40].map((frame_index) => ({ frame_index, result: expect.objectContaining({ thumbnail: expect.any(String), timestamp: frame_index / 25 }) })));

    const fake = pythonMultipart(await readFile(await makeTextFile(join(media.dir, 'fake.mp4'))), 'fake.mp4');
    const before = await streamLastSeq(ns.nc, ns.subjects);
    expect(await rawRequest(`${base}/v1/video/submit`, 'POST', fake)).toEqual({ status: 400, json: { detail: 'Invalid MP4 file', error: { code: 'INVALID_MP4', message: 'Invalid MP4 file' } } });
    expect(await streamLastSeq(ns.nc, ns.subjects)).toBe(before);

    const processed = await rawRequest(`${base}/v1/video/process?pipeline_id=frame-stats&frame_stride=25`, 'POST', pythonMultipart(clip, 'clip.mp4'));
    expect(processed.status).toBe(200);
    expect(processed.json['results']).toEqual([0, 25].map((frame_index) => ({ frame_index, result: expect.objectContaining({ mean_luma: expect.any(Number), black: false }) })));

    const health = await rawRequest(`${base}/v1/worker/health`, 'GET');
    expect(health.json).toEqual({ alive: true, last_heartbeat: expect.any(String) });
    const missing = await rawRequest(`${base}/v1/video/results/00000000-0000-4000-8000-000000000000`, 'GET');
    expect(missing).toEqual({ status: 404, json: { detail: expect.any(String), error: { code: 'JOB_NOT_FOUND', message: expect.any(String) } } });
  });
});
