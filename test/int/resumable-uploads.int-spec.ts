import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { BlobStore } from '@app/blob-store';
import * as tus from 'tus-js-client';
import { jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { ResumableUploadsService } from '../../apps/gateway/src/resumable/resumable-uploads.service.js';
import { startGateway } from '../support/gateway.js';
import { startJobsService } from '../support/jobs-service.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { mediaDir, mp4Shell } from '../support/videos.js';
import { uploadResumable } from '../../apps/cli/src/submit/resumable-upload.js';

const TUS = { 'Tus-Resumable': '1.0.0' };
const b64 = (text: string) => Buffer.from(text).toString('base64');
const sha256b64 = (data: Uint8Array) => createHash('sha256').update(data).digest('base64');

/**
 * Resumable uploads (tus) through two gateways on one NATS, against a real jobs service: the
 * protocol's reference client uploads half a file to one gateway and resumes on the other from the
 * offset it reports, and the job's video is the file; a checksum, a refused head, another tenant,
 * termination and expiry, each by raw requests.
 */
describe('resumable uploads (tus) over HTTP', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let jobs: INestMicroservice;
  let gateways: NestExpressApplication[] = [];
  let first = '';
  let second = '';
  let shortLived = '';
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let bravo: TestKey;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const env = { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace };
    jobs = await startJobsService(parseConfig(jobsEnvSchema, { ...IN_PROCESS_OPS, ...env, DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema }), ns.subjects);
    keys = await testKeys(db.schema);
    [acme, bravo] = await Promise.all([keys.create('acme'), keys.create('bravo')]);
    const a = await startGateway({ ...env, RPC_TIMEOUT_MS: '5000' });
    const b = await startGateway({ ...env, RPC_TIMEOUT_MS: '5000' });
    const c = await startGateway({ ...env, UPLOAD_EXPIRES_MS: '1000', UPLOAD_SWEEP_INTERVAL_MS: '3600000' });
    gateways = [a.app, b.app, c.app];
    [first, second, shortLived] = [a.base, b.base, c.base];
  }, 60_000);

  afterAll(async () => {
    for (const app of gateways) await app.close();
    await jobs?.close();
    await keys?.close();
    await ns?.cleanup();
    await db?.drop();
  });

  const create = (base: string, length: number, key: TestKey = acme, metadata = `filename ${b64('clip.mp4')}`) =>
    fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...TUS, ...key.headers, 'Upload-Length': String(length), 'Upload-Metadata': metadata } });
  const patch = (url: string, offset: number, body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}, key: TestKey = acme) =>
    fetch(url, { method: 'PATCH', body, headers: { ...TUS, ...key.headers, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), ...headers } });
  const head = (url: string, key: TestKey = acme) => fetch(url, { method: 'HEAD', headers: { ...TUS, ...key.headers } });
  const created = async (base: string, length: number) => {
    const res = await create(base, length);
    expect(res.status).toBe(201);
    return new URL(res.headers.get('location')!, base).toString();
  };
  /** The upload's state (its chunk set's nuid, its committed chunks), read while it exists. */
  const stateOf = async (url: string) => (await gateways[0]!.get(ResumableUploadsService).find(url.split('/').pop()!, 'acme'))!;
  /** Messages on a chunk set's subject in the video bucket, committed or not. */
  const chunksOf = async (nuid: string) => {
    const jsm = await jetstreamManager(ns.nc);
    const subject = `$O.${ns.subjects.videoBucket}.C.${nuid}`;
    const info = await jsm.streams.info(`OBJ_${ns.subjects.videoBucket}`, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  };

  it('resumes on another gateway from the offset it reports, and makes the job of the file, once', async () => {
    const file = Buffer.from(mp4Shell(7, 3 * 1024 * 1024));
    const metadata = { filename: 'clip.mp4', pipeline: 'probe', priority: 'high' };
    // Half of it to the first gateway, 256 KiB per PATCH; then the connection is gone.
    const uploadUrl = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(file, {
        endpoint: `${first}/v1/uploads`,
        headers: acme.headers,
        metadata,
        chunkSize: 256 * 1024,
        retryDelays: [],
        onProgress: (sent) => {
          if (sent >= file.length / 2) {
            void upload.abort().then(() => resolve(upload.url!));
          }
        },
        onError: reject,
        onSuccess: () => reject(new Error('the upload finished before it was cut off')),
      });
      upload.start();
    });
    const before = await head(uploadUrl);
    const offset = Number(before.headers.get('upload-offset'));
    expect(before.status).toBe(200);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(file.length);
    expect(before.headers.get('framewire-job-id')).toBeNull();

    // The same upload, continued through the second gateway, in bigger PATCHes.
    const resumedUrl = uploadUrl.replace(first, second);
    const resumedFrom: number[] = [];
    let jobIdOfFinalPatch: string | null = null;
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(file, {
        uploadUrl: resumedUrl,
        headers: acme.headers,
        metadata,
        chunkSize: 1024 * 1024,
        retryDelays: [],
        onAfterResponse: (req, res) => {
          if (req.getMethod() === 'HEAD') resumedFrom.push(Number(res.getHeader('Upload-Offset')));
          if (req.getMethod() === 'PATCH' && res.getHeader('Framewire-Job-Id')) jobIdOfFinalPatch = res.getHeader('Framewire-Job-Id') ?? null;
        },
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    expect(resumedFrom).toEqual([offset]);
    expect(jobIdOfFinalPatch).toMatch(/^[0-9a-f-]{36}$/);
    // HEAD afterwards, on either gateway, names the same job; the upload's chunks are now the job's video, exactly.
    for (const url of [uploadUrl, resumedUrl]) expect((await head(url)).headers.get('framewire-job-id')).toBe(jobIdOfFinalPatch);
    const done = await stateOf(uploadUrl);
    expect(await chunksOf(done.nuid)).toBe(done.chunks);

    const job = (await (await fetch(`${first}/v1/jobs/${jobIdOfFinalPatch}`, { headers: acme.headers })).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ pipeline: 'probe', priority: 'high' });
    const video = Buffer.from(await (await fetch(`${first}/v1/jobs/${jobIdOfFinalPatch}/video`, { headers: acme.headers })).arrayBuffer());
    expect(video.equals(file)).toBe(true);
    const submitted = (await store.readJob(jobIdOfFinalPatch!)).filter((item) => item.ok && item.stored.event.type === 'VideoSubmitted');
    expect(submitted).toHaveLength(1);
    // The job made again by a gateway that sees the upload complete finds the same job (idempotent).
    const service = gateways[1]!.get(ResumableUploadsService);
    expect(await service.complete(uploadUrl.split('/').pop()!, 'acme', 'test')).toBe(jobIdOfFinalPatch);
    // Even one whose job id was never recorded (the gateway died right after the job was made): one job, one object.
    const id = uploadUrl.split('/').pop()!;
    const kv = await new Kvm(ns.nc).open(ns.subjects.uploadsBucket);
    const entry = (await kv.get(id))!;
    await kv.update(id, JSON.stringify({ ...(JSON.parse(entry.string()) as object), jobId: null }), entry.revision);
    expect(await service.complete(id, 'acme', 'test')).toBe(jobIdOfFinalPatch);
    const blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    expect((await blobs.names()).filter((n) => n.startsWith(`uploads/${jobIdOfFinalPatch}/`))).toEqual([`uploads/${jobIdOfFinalPatch}/${id}`]);
    expect((await store.readJob(jobIdOfFinalPatch!)).filter((item) => item.ok && item.stored.event.type === 'VideoSubmitted')).toHaveLength(1);
  }, 60_000);

  it("lets `framewire submit`'s upload go on after its connection was dropped midway, from the gateway's offset", async () => {
    const media = await mediaDir();
    const cut = await cuttingProxy(first, 1_500_000);
    const proxy = cut.server;
    try {
      const path = join(media.dir, 'big.mp4');
      const file = Buffer.from(mp4Shell(9, 3 * 1024 * 1024));
      await writeFile(path, file);
      const options = { url: cut.url, apiKey: acme.key, json: true };
      const progress: number[] = [];
      const submitted = await uploadResumable(options, path, { pipeline: 'probe' }, (sent) => progress.push(sent), { retryDelays: [100, 300, 1000], stateFile: null });
      expect(cut.dropped()).toBe(true);
      expect(submitted).toMatchObject({ status: 'queued', pipeline: 'probe' });
      // It resumed instead of starting again (which would send the 1.5 MB cut off plus the whole file).
      expect(cut.forwarded()).toBeLessThan(file.length + 1_000_000);
      const video = Buffer.from(await (await fetch(`${first}/v1/jobs/${submitted.job_id}/video`, { headers: acme.headers })).arrayBuffer());
      expect(video.equals(file)).toBe(true);
    } finally {
      proxy.close();
      await media.cleanup();
    }
  }, 60_000);

  it('lets `framewire submit` run again on the same file resume the upload an earlier run left unfinished', async () => {
    const media = await mediaDir();
    const cut = await cuttingProxy(first, 1_500_000);
    try {
      const path = join(media.dir, 'again.mp4');
      const file = Buffer.from(mp4Shell(11, 3 * 1024 * 1024));
      await writeFile(path, file);
      const stateFile = join(media.dir, 'state', 'uploads.json');
      const options = { url: cut.url, apiKey: acme.key, json: true };
      // The first run gives up when its connection is cut (no retries: the process that died).
      await expect(uploadResumable(options, path, { pipeline: 'probe' }, () => undefined, { retryDelays: [], stateFile })).rejects.toBeDefined();
      expect(cut.dropped()).toBe(true);
      const remembered = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, { uploadUrl: string }>;
      expect(Object.values(remembered)).toHaveLength(1);
      const offset = Number((await head(new URL(Object.values(remembered)[0]!.uploadUrl, first).toString())).headers.get('upload-offset'));
      expect(offset).toBeGreaterThan(0);
      // Another run for another pipeline is another upload; the same one goes on from the offset.
      const before = cut.forwarded();
      const progress: number[] = [];
      const submitted = await uploadResumable(options, path, { pipeline: 'probe' }, (sent) => progress.push(sent), { retryDelays: [], stateFile });
      expect(submitted).toMatchObject({ status: 'queued', pipeline: 'probe' });
      expect(progress[0]).toBeGreaterThanOrEqual(offset);
      expect(cut.forwarded() - before).toBeLessThan(file.length - offset + 100_000);
      const video = Buffer.from(await (await fetch(`${first}/v1/jobs/${submitted.job_id}/video`, { headers: acme.headers })).arrayBuffer());
      expect(video.equals(file)).toBe(true);
      // Done: the run forgets it.
      expect(Object.values(JSON.parse(await readFile(stateFile, 'utf8')) as object)).toHaveLength(0);
    } finally {
      cut.server.close();
      await media.cleanup();
    }
  }, 60_000);

  it('refuses a PATCH whose body does not match its Upload-Checksum (460), keeping none of it', async () => {
    const file = mp4Shell(3, 4096);
    const url = await created(first, file.length);
    const { nuid } = await stateOf(url);
    const part = file.slice(0, 2048);
    const wrong = await patch(url, 0, part, { 'Upload-Checksum': `sha256 ${sha256b64(file.slice(1, 2049))}` });
    expect(wrong.status).toBe(460);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('CHECKSUM_MISMATCH');
    expect((await head(url)).headers.get('upload-offset')).toBe('0');
    // Not one chunk of it is left in the video bucket's chunk subject.
    expect(await chunksOf(nuid)).toBe(0);
    const right = await patch(url, 0, part, { 'Upload-Checksum': `sha256 ${sha256b64(part)}` });
    expect(right.status).toBe(204);
    expect(right.headers.get('upload-offset')).toBe('2048');
    expect(await chunksOf(nuid)).toBe(1);
    const wrongAgain = await patch(url, 2048, file.slice(2048, 3000), { 'Upload-Checksum': `sha256 ${sha256b64(part)}` });
    expect(wrongAgain.status).toBe(460);
    expect(await chunksOf(nuid)).toBe(1);
    const unsupported = await patch(url, 2048, file.slice(2048), { 'Upload-Checksum': `md5 ${Buffer.alloc(16).toString('base64')}` });
    expect(unsupported.status).toBe(400);
  });

  it('refuses an upload whose first bytes are not a video as soon as they arrive, and deletes it', async () => {
    const url = await created(first, 64 * 1024);
    const { nuid } = await stateOf(url);
    const res = await patch(url, 0, Buffer.alloc(32 * 1024, 'not a video '));
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA');
    expect((await head(url)).status).toBe(404);
    expect(await chunksOf(nuid)).toBe(0);
  });

  it('refuses at creation what the submission would refuse: an unknown pipeline, an unknown key, a bad priority', async () => {
    for (const metadata of [`pipeline ${b64('nope')}`, `colour ${b64('red')}`, `priority ${b64('urgent')}`]) {
      const res = await create(first, 100, acme, metadata);
      expect([metadata, res.status]).toEqual([metadata, 400]);
      expect(res.headers.get('content-type')).toMatch(/json/);
    }
  });

  it("keeps an upload to its creator's tenant: another tenant gets 404 for every request", async () => {
    const file = mp4Shell(5, 4096);
    const url = await created(first, file.length);
    expect((await head(url, bravo)).status).toBe(404);
    expect((await patch(url, 0, file, {}, bravo)).status).toBe(404);
    expect((await fetch(url, { method: 'DELETE', headers: { ...TUS, ...bravo.headers } })).status).toBe(404);
    expect((await head(url)).status).toBe(200);
    expect((await fetch(url, { method: 'HEAD', headers: TUS })).status).toBe(401);
  });

  it('terminates an upload: its state and bytes are gone', async () => {
    const file = mp4Shell(6, 8192);
    const url = await created(second, file.length);
    expect((await patch(url, 0, file.slice(0, 6000))).status).toBe(204);
    const { nuid } = await stateOf(url);
    expect(await chunksOf(nuid)).toBeGreaterThan(0);
    expect((await fetch(url, { method: 'DELETE', headers: { ...TUS, ...acme.headers } })).status).toBe(204);
    expect((await head(url)).status).toBe(404);
    expect(await chunksOf(nuid)).toBe(0);
  });

  it('deletes an expired upload (Upload-Expires), its bytes too, at the next sweep', async () => {
    const file = mp4Shell(8, 8192);
    const res = await create(shortLived, file.length);
    const url = new URL(res.headers.get('location')!, shortLived).toString();
    const expires = Date.parse(res.headers.get('upload-expires')!);
    expect(expires).toBeGreaterThan(Date.now() - 5000);
    expect((await patch(url, 0, file.slice(0, 5000))).status).toBe(204);
    const { nuid } = await stateOf(url);
    await eventually(async () => ((await head(url)).status === 410 ? true : undefined), 10_000, 'the upload to expire');
    const service = gateways[2]!.get(ResumableUploadsService);
    expect(await service.sweep()).toBeGreaterThanOrEqual(1);
    expect((await head(url)).status).toBe(404);
    expect(await chunksOf(nuid)).toBe(0);
  });
});

/** A TCP proxy to `base` that cuts the first connection once `afterBytes` of requests have gone through it. */
async function cuttingProxy(base: string, afterBytes: number) {
  let forwarded = 0;
  let dropped = false;
  const target = new URL(base);
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      if (!dropped && forwarded > afterBytes) {
        dropped = true;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, forwarded: () => forwarded, dropped: () => dropped };
}
