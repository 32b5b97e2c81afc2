import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import WebSocket from 'ws';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig, workerEnvSchema } from '@app/config';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, streamLastSeq, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { startJobsService } from '../support/jobs-service.js';
import { ffmpeg, isoBox, makeTextFile, makeVideo, mediaDir } from '../support/videos.js';

type Json = Record<string, any>;

/** A multipart body exactly as Python's requests writes one for `files={'file': ...}`. */
function pythonMultipart(bytes: Uint8Array, filename: string): { body: Buffer; contentType: string } {
  const boundary = randomBytes(16).toString('hex');
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, bytes, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A plain HTTP/1.1 request, as a small client library would send it (with its API key). */
function rawRequest(url: string, method: string, key: TestKey, body?: { body: Buffer; contentType: string }): Promise<{ status: number; json: Json }> {
  const headers = { ...key.headers, 'User-Agent': 'python-requests/2.31.0', ...(body ? { 'Content-Type': body.contentType, 'Content-Length': String(body.body.length) } : {}) };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
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

/** A live SSE stream read as it arrives: the events so far, and a way to wait for one. */
function follow(res: Response) {
  const events: Array<{ event: string; data: Json }> = [];
  const reader = res.body!.getReader();
  let buffer = '';
  const done = (async () => {
    for (;;) {
      const { value, done: ended } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (ended) return;
      buffer += Buffer.from(value!).toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
        const data = field('data');
        if (data !== undefined) events.push({ event: field('event') ?? 'message', data: JSON.parse(data) as Json });
      }
    }
  })();
  return {
    events,
    until: (what: string, test: (e: Array<{ event: string; data: Json }>) => boolean) => eventually(async () => (test(events) ? true : undefined), 30_000, what),
    close: async () => {
      await reader.cancel().catch(() => undefined);
      await done;
    },
  };
}

/**
 * The gateway's job outputs over real HTTP, with the jobs service and a worker in this process
 * against real NATS, PostgreSQL and ffmpeg: pipelines, results, artifacts, the upload with Range,
 * media links, live updates over SSE and WebSocket, the live feed of every job, workers, and the
 * seeds' routes driven like their client; each with an API key, and what another tenant sees of it
 * (404, as for no job).
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
  let keys: Awaited<ReturnType<typeof testKeys>>;
  /** Tenant acme's key, used by default; bravo's (another tenant); an admin's. */
  let acme: TestKey;
  let bravo: TestKey;
  let admin: TestKey;

  const env = () => ({ ...IN_PROCESS_OPS, NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace });
  const get = async (path: string, headers: Record<string, string> = {}, key: TestKey | null = acme) => fetch(`${base}${path}`, { headers: { ...(key?.headers ?? {}), ...headers } });
  const json = async (path: string, key: TestKey | null = acme) => {
    const res = await get(path, {}, key);
    return { status: res.status, body: (await res.json()) as Json };
  };

  const submit = (bytes: Uint8Array, pipeline: string, params: Json = {}) => submitAs(acme, bytes, pipeline, params);

  async function submitAs(key: TestKey, bytes: Uint8Array, pipeline: string, params: Json = {}): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', pipeline);
    form.set('params', JSON.stringify(params));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: key.headers });
    const body = (await res.json()) as Json;
    expect(res.status).toBe(202);
    return body['job_id'] as string;
  }

  const completed = (id: string) =>
    eventually(async () => {
      const { body } = await json(`/v1/jobs/${id}`);
      return body['status'] === 'completed' || body['status'] === 'failed' ? body : undefined;
    }, 30_000, `job ${id} to end`);

  async function stopWorker() {
    await worker?.close();
    worker = null;
  }

  async function startWorker() {
    const config = parseConfig(workerEnvSchema, { ...env(), WORKER_ID: 'outputs-worker', WORKER_CONCURRENCY: '2', RESULT_INLINE_MAX_BYTES: '4096' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    clip = await readFile(await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 2, width: 320, height: 240, fps: 25, audio: true }));
    const jobsConfig = parseConfig(jobsEnvSchema, { ...env(), DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    jobs = await startJobsService(jobsConfig, ns.subjects);
    keys = await testKeys(db.schema);
    [acme, bravo, admin] = await Promise.all([keys.create('acme'), keys.create('bravo'), keys.create('ops', true)]);
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
    await keys?.close();
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
    expect(thumbnails['tools']).toEqual([expect.objectContaining({ name: 'thumbnails', version: '1.1.0' })]);
    expect(thumbnails['params_schema']).toMatchObject({ type: 'object', additionalProperties: false, properties: { frame_stride: { type: 'integer', minimum: 1, default: 30 } } });
    expect(byName.get('analyze')!['tools'].map((t: Json) => t['name'])).toEqual(['probe', 'thumbnails', 'scenes', 'frame-stats']);
    expect(thumbnails['media_limits']).toEqual({});
    expect((body['tools'] as Json[]).find((t) => t['name'] === 'noop')).toMatchObject({ source: 'builtin', reads_input: false });
  });

  it('refuses params that do not fit the pipeline with 400 before anything is stored or published', async () => {
    const before = await streamLastSeq(ns.nc, ns.subjects);
    const form = new FormData();
    form.set('file', new Blob([clip as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', 'thumbnails');
    form.set('params', JSON.stringify({ frame_stride: 0 }));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: acme.headers });
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
    // Another tenant: the job does not exist, for its result and its stream alike; an admin sees it.
    expect(await json(`/v1/jobs/${id}/result`, bravo)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    const foreign = await get(`/v1/jobs/${id}/stream`, {}, bravo);
    expect([foreign.status, foreign.headers.get('content-type'), await foreign.json()]).toEqual([404, expect.stringContaining('application/json'), { error: { code: 'JOB_NOT_FOUND', message: expect.any(String) } }]);
    expect((await get(`/v1/jobs/${id}/stream`, {}, null)).status).toBe(401);
    expect((await json(`/v1/jobs/${id}/result`, admin)).status).toBe(200);
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
      { name: 'storyboard.vtt', size: expect.any(Number), content_type: 'text/vtt' },
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
    expect(await json(`/v1/jobs/${id}/artifacts/thumb%00.jpg`)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARTIFACT_NAME' } } });
    // Another tenant sees neither the list nor a file: 404, as for no job.
    expect(await json(`/v1/jobs/${id}/artifacts`, bravo)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await json(`/v1/jobs/${id}/artifacts/thumb-000025.jpg`, bravo)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect((await get(`/v1/jobs/${id}/artifacts/thumb-000025.jpg`, {}, null)).status).toBe(401);
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
    // 400 KiB spans several 128 KiB Object Store chunks; noop never reads it. A whole MP4 box
    // structure (ftyp, moov, mdat) with random bytes inside passes the upload guard.
    const upload = new Uint8Array(Buffer.concat([isoBox('ftyp', Buffer.from('isom\0\0\x02\0isommp41', 'latin1')), isoBox('moov', randomBytes(64)), isoBox('mdat', randomBytes(400 * 1024))]));
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
    expect(await json(`/v1/jobs/${id}/video`, bravo)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect((await get(`/v1/jobs/${id}/video`, {}, null)).status).toBe(401);
  });

  it('opens a job\'s video, artifacts and stream with its media link, without a key, and nothing else with it', async () => {
    const id = await submit(clip, 'thumbnails', { frame_stride: 25, thumbnail_width: 160 });
    const other = await submit(clip, 'noop');
    await Promise.all([completed(id), completed(other)]);
    const issued = await fetch(`${base}/v1/jobs/${id}/media-links`, { method: 'POST', headers: acme.headers });
    expect(issued.status).toBe(200);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const links = (await issued.json()) as Json;
    expect(links).toMatchObject({ job_id: id, token: expect.any(String), video_url: `/v1/jobs/${id}/video?token=${encodeURIComponent(links['token'])}` });
    expect(Date.parse(links['expires_at']) - Date.now()).toBeGreaterThan(10 * 60_000);
    expect(links['artifacts']).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'thumb-000000.jpg', url: expect.stringContaining(`/v1/jobs/${id}/artifacts/thumb-000000.jpg?token=`) })]));

    // What a <video> element does: Range requests with no Authorization header.
    const head = await get(links['video_url'], { Range: 'bytes=0-99' }, null);
    expect(head.status).toBe(206);
    expect(Buffer.from(await head.arrayBuffer()).equals(Buffer.from(clip.subarray(0, 100)))).toBe(true);
    const thumb = await get(links['artifacts'][0]['url'], {}, null);
    expect([thumb.status, thumb.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    const stream = await readSse(await get(`/v1/jobs/${id}/stream?token=${encodeURIComponent(links['token'])}`, {}, null));
    expect(stream.map((e) => e.event)).toEqual(['status', 'completed']);

    // The token opens this job only, only on its media routes, and not once altered.
    const token = encodeURIComponent(links['token']);
    for (const path of [`/v1/jobs/${other}/video?token=${token}`, `/v1/jobs/${id}/result?token=${token}`, `/v1/jobs/${id}?token=${token}`, `/v1/jobs/${id}/video?token=${token}x`, `/v1/jobs/${id}/video?token=${token}&token=${token}`]) {
      const res = await get(path, {}, null);
      expect([path, res.status, ((await res.json()) as Json)['error']['code']]).toEqual([path, 401, 'UNAUTHENTICATED']);
    }
    // Another tenant can neither ask for the job's links nor learn that it exists.
    const foreign = await fetch(`${base}/v1/jobs/${id}/media-links`, { method: 'POST', headers: bravo.headers });
    expect([foreign.status, ((await foreign.json()) as Json)['error']['code']]).toEqual([404, 'JOB_NOT_FOUND']);
  });

  it('sends the seeds\' WebSocket messages until the job ends, then closes; refuses an unknown job', async () => {
    const id = await submit(clip, 'probe');
    await completed(id);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws/jobs/${id}`, { headers: acme.headers });
    const messages: Json[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Json));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1000);
    expect(messages.at(-1)).toEqual({ job_id: id, status: 'completed', current_frame: expect.any(Number), total_frames: null, percent: 100 });
    // Refused before the upgrade, with the JSON error: no key, a bad key, another tenant's job, an unknown job.
    const refusal = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: Json; challenge: string | undefined }>((resolve) => {
        const socket = new WebSocket(`${base.replace('http', 'ws')}${path}`, { headers });
        socket.on('unexpected-response', (_req, res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json, challenge: res.headers['www-authenticate'] }));
        });
        socket.on('error', () => undefined);
      });
    expect(await refusal(`/v1/ws/jobs/${id}`, {})).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } }, challenge: expect.stringContaining('Bearer') });
    expect(await refusal(`/v1/ws/jobs/${id}`, { Authorization: `Bearer fwk_${'A'.repeat(43)}` })).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(await refusal(`/v1/ws/jobs/${id}`, bravo.headers)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await refusal('/v1/ws/jobs/00000000-0000-4000-8000-000000000000', acme.headers)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await refusal('/v1/ws/jobs/not-a-uuid', acme.headers)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JOB_ID' } } });
    // A browser cannot set headers on a WebSocket: the job's media link opens it.
    const { token } = (await (await fetch(`${base}/v1/jobs/${id}/media-links`, { method: 'POST', headers: acme.headers })).json()) as { token: string };
    const linked = new WebSocket(`${base.replace('http', 'ws')}/v1/ws/jobs/${id}?token=${encodeURIComponent(token)}`);
    const last = await new Promise<Json | undefined>((resolve) => {
      let seen: Json | undefined;
      linked.on('message', (data) => (seen = JSON.parse(String(data)) as Json));
      linked.on('close', () => resolve(seen));
    });
    expect(last).toMatchObject({ job_id: id, status: 'completed' });
  });

  it('lists the live workers from their heartbeats to an admin key (other keys: 403)', async () => {
    expect(await json('/v1/workers')).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const { body } = await json('/v1/workers', admin);
    expect(body['workers']).toEqual([expect.objectContaining({ worker_id: 'outputs-worker', concurrency: 2, pid: process.pid, in_flight: expect.any(Array), pipelines: expect.arrayContaining(['thumbnails']) })]);
  });

  it('serves the seeds\' routes to a client that sends plain multipart over HTTP', async () => {
    const submitted = await rawRequest(`${base}/v1/video/submit?pipeline_id=thumbnails&frame_stride=20&max_frames=3`, 'POST', acme, pythonMultipart(clip, 'clip.mp4'));
    expect(submitted).toEqual({ status: 200, json: { job_id: expect.any(String) } });
    const id = submitted.json['job_id'] as string;
    // Submitted as the key's tenant, like /v1/jobs.
    expect((await json(`/v1/jobs/${id}`)).body).toMatchObject({ tenant: 'acme' });
    const status = await rawRequest(`${base}/v1/video/status/${id}`, 'GET', acme);
    expect(status.json).toEqual({ job_id: id, status: expect.stringMatching(/^(pending|running|completed)$/), progress: expect.any(Number), created_at: expect.any(String), updated_at: expect.any(String) });
    await completed(id);
    expect((await rawRequest(`${base}/v1/video/status/${id}`, 'GET', acme)).json).toMatchObject({ status: 'completed', progress: 100 });
    const results = await rawRequest(`${base}/v1/video/results/${id}`, 'GET', acme);
    expect(results.status).toBe(200);
    expect(results.json['results']).toEqual([0, 20, 40].map((frame_index) => ({ frame_index, result: expect.objectContaining({ thumbnail: expect.any(String), timestamp: frame_index / 25 }) })));

    const fake = pythonMultipart(await readFile(await makeTextFile(join(media.dir, 'fake.mp4'))), 'fake.mp4');
    const before = await streamLastSeq(ns.nc, ns.subjects);
    expect(await rawRequest(`${base}/v1/video/submit`, 'POST', acme, fake)).toEqual({ status: 400, json: { detail: 'Invalid MP4 file', error: { code: 'INVALID_MP4', message: 'Invalid MP4 file' } } });
    // The same answer for an empty file and for a container /v1/jobs would take (WebM): the seeds take MP4/MOV only.
    expect((await rawRequest(`${base}/v1/video/submit`, 'POST', acme, pythonMultipart(new Uint8Array(0), 'empty.mp4'))).json).toMatchObject({ detail: 'Invalid MP4 file' });
    const webm = new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, ...Buffer.from('webm'.padEnd(60, ' '))]);
    expect((await rawRequest(`${base}/v1/video/submit`, 'POST', acme, pythonMultipart(webm, 'clip.webm'))).json).toMatchObject({ detail: 'Invalid MP4 file' });
    // An MP4 cut short is the upload guard's own 422, with the seeds' detail.
    const truncated = await rawRequest(`${base}/v1/video/submit`, 'POST', acme, pythonMultipart(clip.subarray(0, Math.floor(clip.length / 2)), 'cut.mp4'));
    expect(truncated).toMatchObject({ status: 422, json: { detail: expect.any(String), error: { code: 'INVALID_MEDIA' } } });
    expect(await streamLastSeq(ns.nc, ns.subjects)).toBe(before);
    // Without a key the seeds' routes answer 401 in both shapes.
    expect(await rawRequest(`${base}/v1/video/status/${id}`, 'GET', { headers: {} } as TestKey)).toMatchObject({ status: 401, json: { detail: expect.any(String), error: { code: 'UNAUTHENTICATED' } } });
    // Another tenant's job is 404 on the seeds' routes too.
    expect(await rawRequest(`${base}/v1/video/status/${id}`, 'GET', bravo)).toMatchObject({ status: 404, json: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await rawRequest(`${base}/v1/video/results/${id}`, 'GET', bravo)).toMatchObject({ status: 404, json: { error: { code: 'JOB_NOT_FOUND' } } });

    const processed = await rawRequest(`${base}/v1/video/process?pipeline_id=frame-stats&frame_stride=25`, 'POST', bravo, pythonMultipart(clip, 'clip.mp4'));
    expect(processed.status).toBe(200);
    expect(processed.json['results']).toEqual([0, 25].map((frame_index) => ({ frame_index, result: expect.objectContaining({ mean_luma: expect.any(Number), black: false }) })));

    expect((await json(`/v1/jobs/${processed.json['job_id']}`, bravo)).body).toMatchObject({ tenant: 'bravo' });
    // A job that fails while the route waits for it is 422 JOB_FAILED, as documented: an MP4 with no video stream.
    const soundOnly = join(media.dir, 'sound-only.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '1', '-c:a', 'aac', soundOnly]);
    const failed = await rawRequest(`${base}/v1/video/process?pipeline_id=frame-stats`, 'POST', bravo, pythonMultipart(await readFile(soundOnly), 'sound-only.mp4'));
    expect(failed).toEqual({ status: 422, json: { detail: expect.stringContaining('INVALID_MEDIA'), error: { code: 'JOB_FAILED', message: expect.stringContaining('no video stream') } } });

    const health = await rawRequest(`${base}/v1/worker/health`, 'GET', acme);
    expect(health.json).toEqual({ alive: true, last_heartbeat: expect.any(String) });
    const missing = await rawRequest(`${base}/v1/video/results/00000000-0000-4000-8000-000000000000`, 'GET', acme);
    expect(missing).toEqual({ status: 404, json: { detail: expect.any(String), error: { code: 'JOB_NOT_FOUND', message: expect.any(String) } } });
  });

  it('sends each key the live changes of its own tenant\'s jobs only (an admin key, every tenant\'s)', async () => {
    // Two jobs submitted while no worker runs, before the feed opens: their tenant is looked up.
    await stopWorker();
    const before = [await submit(clip, 'noop'), await submitAs(bravo, clip, 'noop')];
    const feeds = new Map<TestKey, ReturnType<typeof follow>>();
    for (const key of [acme, bravo, admin]) {
      const res = await get('/v1/stream/jobs', {}, key);
      expect(res.status).toBe(200);
      const feed = follow(res);
      await feed.until('ready', (events) => events.some((e) => e.event === 'ready'));
      feeds.set(key, feed);
    }
    expect((await get('/v1/stream/jobs', {}, null)).status).toBe(401);
    // Two more while the feed is open: their tenant comes with their VideoSubmitted.
    const after = [await submit(clip, 'noop'), await submitAs(bravo, clip, 'noop')];
    await startWorker();
    const [acmeJobs, bravoJobs] = [[before[0]!, after[0]!], [before[1]!, after[1]!]];
    const finished = (ids: string[]) => (events: Array<{ event: string; data: Json }>) => ids.every((id) => events.some((e) => e.data['job_id'] === id && e.data['status'] === 'completed'));
    try {
      await feeds.get(admin)!.until('every job completed in the admin feed', finished([...acmeJobs, ...bravoJobs]));
      await feeds.get(acme)!.until('acme\'s jobs completed in its feed', finished(acmeJobs));
      await feeds.get(bravo)!.until('bravo\'s jobs completed in its feed', finished(bravoJobs));
      const seen = (key: TestKey) => feeds.get(key)!.events.filter((e) => e.event === 'job').map((e) => e.data);
      expect(new Set(seen(acme).map((c) => c['job_id']))).toEqual(new Set(acmeJobs));
      expect(new Set(seen(bravo).map((c) => c['job_id']))).toEqual(new Set(bravoJobs));
      expect(seen(acme).every((c) => c['tenant'] === 'acme')).toBe(true);
      expect(seen(bravo).every((c) => c['tenant'] === 'bravo')).toBe(true);
      // The job submitted before the feed opened shows its whole life, started to completed.
      expect(seen(acme).filter((c) => c['job_id'] === before[0]).map((c) => c['type'])).toEqual(expect.arrayContaining(['JobStarted', 'JobCompleted']));
      expect(new Set(seen(admin).map((c) => c['tenant']))).toEqual(new Set(['acme', 'bravo']));
    } finally {
      await Promise.all([...feeds.values()].map((feed) => feed.close()));
    }
  });
});
