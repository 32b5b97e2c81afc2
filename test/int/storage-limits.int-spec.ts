import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { jetstreamManager } from '@nats-io/jetstream';
import { jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { isStorageFullError } from '@app/nats';
import { videoSubmitted } from '../support/events.js';
import { startGateway } from '../support/gateway.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { freshNamespace, freshSchema, IN_PROCESS_OPS, objectNames, streamLastSeq, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { startJobsService } from '../support/jobs-service.js';
import { mp4Shell } from '../support/videos.js';

const BUCKET_MAX = 256 * 1024;
const STREAM_MAX = 16 * 1024;

/**
 * Size limits from config on a fresh namespace: the video bucket (NATS_BUCKET_MAX_BYTES) and the event
 * stream (NATS_STREAM_MAX_BYTES). A full store answers 507 STORAGE_FULL and leaves nothing behind.
 */
describe('storage limits', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: NestExpressApplication;
  let jobs: INestMicroservice;
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let base = '';

  const form = (video: Uint8Array<ArrayBuffer>) => {
    const body = new FormData();
    body.set('pipeline', 'noop');
    body.set('file', new Blob([video], { type: 'video/mp4' }), 'clip.mp4');
    return body;
  };
  const codeOf = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code;
  const bucketBytes = async () => (await (await jetstreamManager(ns.nc)).streams.info(`OBJ_${ns.subjects.videoBucket}`)).state.bytes;

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const env = { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobsConfig = parseConfig(jobsEnvSchema, {
      ...IN_PROCESS_OPS,
      ...env,
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      NATS_BUCKET_MAX_BYTES: String(BUCKET_MAX),
      NATS_STREAM_MAX_BYTES: String(STREAM_MAX),
    });
    jobs = await startJobsService(jobsConfig, ns.subjects);
    keys = await testKeys(db.schema);
    acme = await keys.create('acme');
    ({ app: gateway, base } = await startGateway({ ...env, RPC_TIMEOUT_MS: '2000', MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) }));
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns?.cleanup();
    await db?.drop();
  });

  it('applies the limits to the stream (refusing new events when full, never dropping old ones) and to the bucket', async () => {
    const jsm = await jetstreamManager(ns.nc);
    const stream = await jsm.streams.info(ns.subjects.streamName);
    expect([stream.config.max_bytes, stream.config.discard]).toEqual([STREAM_MAX, 'new']);
    const bucket = await jsm.streams.info(`OBJ_${ns.subjects.videoBucket}`);
    expect([bucket.config.max_bytes, bucket.config.discard]).toEqual([BUCKET_MAX, 'new']);
  });

  it('accepts an upload that fits', async () => {
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form(mp4Shell(3)), headers: acme.headers });
    expect(res.status).toBe(202);
  });

  it('answers 507 STORAGE_FULL before reading the body when Content-Length is more than the bucket has left', async () => {
    const before = { names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects) };
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form(mp4Shell(4, 2 * BUCKET_MAX)), headers: acme.headers });
    expect([res.status, await codeOf(res)]).toEqual([507, 'STORAGE_FULL']);
    expect({ names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects) }).toEqual(before);
  });

  it('answers 507 STORAGE_FULL when the bucket refuses the upload midway (no Content-Length), and leaves no chunk behind', async () => {
    const before = { names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects), bytes: await bucketBytes() };
    // Sent chunked (a stream body), so the gateway cannot tell the size before it reads.
    const request = new Request(`${base}/v1/jobs`, { method: 'POST', body: form(mp4Shell(5, BUCKET_MAX)) });
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      body: request.body,
      headers: { ...acme.headers, 'content-type': request.headers.get('content-type')! },
      duplex: 'half',
    } as RequestInit);
    expect([res.status, await codeOf(res)]).toEqual([507, 'STORAGE_FULL']);
    expect({ names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects), bytes: await bucketBytes() }).toEqual(before);
  });

  it('answers 507 STORAGE_FULL when the event stream refuses the VideoSubmitted, and deletes the upload', async () => {
    // Fill the stream up to its limit.
    for (let i = 0; ; i++) {
      try {
        await store.append(videoSubmitted(), 0);
      } catch (error) {
        expect(isStorageFullError(error)).toBe(true);
        break;
      }
      expect(i).toBeLessThan(100);
    }
    const before = { names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects) };
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form(mp4Shell(6)), headers: acme.headers });
    expect([res.status, await codeOf(res)]).toEqual([507, 'STORAGE_FULL']);
    expect({ names: await objectNames(ns.nc, ns.subjects), seq: await streamLastSeq(ns.nc, ns.subjects) }).toEqual(before);
    // Nothing old was dropped to make room: the first event is still there.
    expect((await (await jetstreamManager(ns.nc)).streams.info(ns.subjects.streamName)).state.first_seq).toBe(1);
  });
});
