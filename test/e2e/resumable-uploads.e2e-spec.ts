import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tus from 'tus-js-client';
import { freeTcpPort } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { ffmpeg, mediaDir } from '../support/videos.js';

const TUS = { 'Tus-Resumable': '1.0.0' };

/**
 * Resumable uploads with the built gateway as a process: tus-js-client (the protocol's reference
 * client) is halfway through a file when the gateway is SIGKILLed; the gateway is started again on
 * the same address, and the client, retrying, asks for the offset and resumes from it. The job is
 * made once, named on the final PATCH and by HEAD, runs on a worker, and its video is the file.
 */
describe('resumable uploads across a gateway crash', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let system: TestSystem;
  let port = 0;
  let base = '';
  let video = '';

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    // A few MB of video, sent 128 KiB per PATCH: many PATCHes before and after the crash.
    // Noise does not compress: a few MB in two seconds of video.
    video = join(media.dir, 'clip.mp4');
    await ffmpeg(['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25,noise=alls=80:allf=t', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', video]);
    system = new TestSystem({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace });
    system.start('jobs', 'jobs');
    system.start('worker', 'worker', { WORKER_CONCURRENCY: '1' });
    port = await freeTcpPort();
    base = await system.startGateway('gateway', { PORT: String(port) });
    await Promise.all([system.get('jobs').waitForLine(/jobs service ready/), system.get('worker').waitForLine(/worker pulling jobs/)]);
    await system.authenticate();
  }, 90_000);

  afterAll(async () => {
    await system?.stopAll('SIGKILL');
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('resumes from the offset the restarted gateway reports, and the stored video is byte-identical to the file', async () => {
    const file = await readFile(video);
    expect(file.length).toBeGreaterThan(1024 * 1024);
    const heads: number[] = [];
    const patchOffsets: number[] = [];
    let killedAt = -1;
    let jobOfFinalPatch: string | undefined;
    const restart: { done?: Promise<string> } = {};
    const uploadUrl = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(file, {
        endpoint: `${base}/v1/uploads`,
        headers: system.authHeaders,
        metadata: { filename: 'clip.mp4', pipeline: 'probe' },
        chunkSize: 128 * 1024,
        // Retried through the crash and the restart (a few seconds).
        retryDelays: [200, 500, 1000, 1000, 2000, 2000, 3000, 3000, 5000, 5000, 5000, 10_000, 10_000],
        onBeforeRequest: (req) => {
          if (req.getMethod() === 'PATCH') patchOffsets.push(Number(req.getHeader('Upload-Offset')));
        },
        onAfterResponse: (req, res) => {
          if (req.getMethod() === 'HEAD') heads.push(Number(res.getHeader('Upload-Offset')));
          if (req.getMethod() === 'PATCH') jobOfFinalPatch = res.getHeader('Framewire-Job-Id') ?? jobOfFinalPatch;
        },
        onProgress: (sent) => {
          if (killedAt < 0 && sent >= file.length / 2) {
            killedAt = sent;
            // Killed mid-upload, then started again on the same port while the client retries.
            restart.done = system
              .get('gateway')
              .stop('SIGKILL')
              .then(() => system.startGateway('gateway', { PORT: String(port) }));
          }
        },
        onError: reject,
        onSuccess: () => resolve(upload.url!),
      });
      upload.start();
    });
    expect(await restart.done).toBe(base);
    expect(killedAt).toBeGreaterThan(0);
    // The client asked the restarted gateway where to go on, and went on from exactly there.
    expect(heads.length).toBeGreaterThanOrEqual(1);
    const resumedFrom = heads[heads.length - 1]!;
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThan(file.length);
    expect(patchOffsets).toContain(resumedFrom);
    expect(patchOffsets[patchOffsets.indexOf(resumedFrom) - 1]).toBeLessThanOrEqual(resumedFrom);

    expect(jobOfFinalPatch).toMatch(/^[0-9a-f-]{36}$/);
    const head = await system.fetch(uploadUrl, { method: 'HEAD', headers: TUS });
    expect(head.headers.get('framewire-job-id')).toBe(jobOfFinalPatch);
    const job = await eventually(async () => {
      const view = (await (await system.fetch(`${base}/v1/jobs/${jobOfFinalPatch}`)).json()) as { status: string };
      return view.status === 'completed' ? view : undefined;
    }, 60_000, 'the job to complete');
    expect(job).toMatchObject({ status: 'completed', pipeline: 'probe' });
    const stored = Buffer.from(await (await system.fetch(`${base}/v1/jobs/${jobOfFinalPatch}/video`)).arrayBuffer());
    expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(file).digest('hex'));
    const list = (await (await system.fetch(`${base}/v1/jobs`)).json()) as { jobs: unknown[] };
    // One job, however many PATCHes and retries it took.
    expect(list.jobs).toHaveLength(1);
  }, 120_000);

  it('refuses a PATCH with a wrong checksum (460) and keeps the offset', async () => {
    const file = await readFile(video);
    const created = await system.fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(file.length) } });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get('location')!, base).toString();
    const part = file.subarray(0, 64 * 1024);
    const wrong = createHash('sha256').update('something else').digest('base64');
    const res = await system.fetch(url, { method: 'PATCH', body: part, headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Upload-Checksum': `sha256 ${wrong}` } });
    expect(res.status).toBe(460);
    expect((await system.fetch(url, { method: 'HEAD', headers: TUS })).headers.get('upload-offset')).toBe('0');
  });

  it('deletes an upload that expired (a gateway with UPLOAD_EXPIRES_MS=1000): it is gone', async () => {
    const short = await system.startGateway('short-lived', { PORT: '0', UPLOAD_EXPIRES_MS: '1000', UPLOAD_SWEEP_INTERVAL_MS: '500' });
    const file = await readFile(video);
    const created = await system.fetch(`${short}/v1/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(file.length) } });
    expect(created.headers.get('upload-expires')).toBeTruthy();
    const url = new URL(created.headers.get('location')!, short).toString();
    const patched = await system.fetch(url, { method: 'PATCH', body: file.subarray(0, 200_000), headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' } });
    expect(patched.status).toBe(204);
    await eventually(async () => ((await system.fetch(url, { method: 'HEAD', headers: TUS })).status === 404 ? true : undefined), 20_000, 'the expired upload to be swept');
  }, 60_000);
});
