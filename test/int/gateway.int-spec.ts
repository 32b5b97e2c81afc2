import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore, NamespacedNatsServer } from '@app/event-store';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { JobsModule } from '../../apps/jobs/src/jobs.module.js';
import { freshNamespace, freshSchema, objectNames, streamLastSeq, TEST_NATS_URL, type TestNamespace, type TestSchema, IN_PROCESS_OPS } from '../support/services.js';

/**
 * The gateway over real HTTP, against real NATS (stream and Object Store) and a jobs service on
 * PostgreSQL: what a client sees when it submits and reads jobs, and what a rejected request leaves
 * behind (nothing).
 */
describe('gateway over HTTP', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: INestApplication;
  let jobs: INestMicroservice;
  let base = '';

  const clip = new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, ...new Array(64).fill(7)]);
  const other = new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x6d, 0x70, 0x34, 0x32, ...new Array(64).fill(9)]);

  function form(fields: Record<string, string | Uint8Array<ArrayBuffer>> = { file: clip }): FormData {
    const body = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === 'string') body.set(name, value);
      else body.set(name, new Blob([value], { type: 'video/mp4' }), 'clip.mp4');
    }
    return body;
  }

  const post = (body: FormData | string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/jobs`, { method: 'POST', body, headers });

  async function submittedEvents(jobId: string) {
    const items = await store.readJob(jobId);
    return items.filter((item) => item.ok && item.stored.event.type === 'VideoSubmitted');
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const env = { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobsConfig = parseConfig(jobsEnvSchema, { ...IN_PROCESS_OPS, ...env, DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    const jobsRef = await Test.createTestingModule({ imports: [JobsModule.forRoot(jobsConfig, createLogger('jobs', 'silent'))] }).compile();
    jobs = jobsRef.createNestMicroservice({
      strategy: new NamespacedNatsServer(ns.subjects.rpcPrefix, { servers: [TEST_NATS_URL], queue: 'framewire-jobs' }),
      logger: false,
    });
    await jobs.listen();

    const config = parseConfig(gatewayEnvSchema, { ...env, PORT: '0', HOST: '127.0.0.1', RPC_TIMEOUT_MS: '2000', MAX_UPLOAD_BYTES: '4096' });
    const gatewayRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
    gateway = gatewayRef.createNestApplication({ logger: false });
    await gateway.listen(0, '127.0.0.1');
    const address = gateway.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await ns.cleanup();
    await db.drop();
  });

  it('accepts an upload with 202, Location and a queued job that can be read at once', async () => {
    const res = await post(form({ file: clip, pipeline: 'probe', priority: 'high' }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ status: 'queued', pipeline: 'probe', priority: 'high' });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${body['job_id']}`);

    const read = await fetch(`${base}/v1/jobs/${body['job_id']}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ job_id: body['job_id'], status: 'queued', priority: 'high', tenant: 'default' });

    const events = await submittedEvents(body['job_id']!);
    expect(events).toHaveLength(1);
    const stored = events[0]!.ok ? events[0]!.stored : null;
    expect(stored?.subject).toBe(ns.subjects.submitted(body['job_id']!, 'high'));
    expect(stored?.event).toMatchObject({ version: 2, data: { priority: 'high', video: { size: clip.length, filename: 'clip.mp4' } } });
  });

  it('gives a repeated Idempotency-Key the same job and stores one VideoSubmitted', async () => {
    const key = `key-${Date.now()}`;
    const first = await post(form(), { 'Idempotency-Key': key });
    const second = await post(form(), { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const a = (await first.json()) as { job_id: string };
    const b = (await second.json()) as { job_id: string };
    expect(b.job_id).toBe(a.job_id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await submittedEvents(a.job_id)).toHaveLength(1);
  });

  it('lets one of several racing requests with the same key make the job, whatever priority each asked for', async () => {
    const key = `race-${Date.now()}`;
    const priorities = ['high', 'normal', 'low', 'normal'];
    const replies = await Promise.all(priorities.map((priority) => post(form({ file: clip, priority }), { 'Idempotency-Key': key })));
    const accepted = await Promise.all(replies.filter((r) => r.status === 202).map((r) => r.json() as Promise<{ job_id: string }>));
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((body) => body.job_id)).size).toBe(1);
    for (const reply of replies.filter((r) => r.status !== 202)) {
      expect(reply.status).toBe(422);
      expect(await reply.json()).toEqual({ error: { code: 'IDEMPOTENCY_KEY_REUSED', message: expect.any(String) } });
    }
    expect(await submittedEvents(accepted[0]!.job_id)).toHaveLength(1);
  });

  it('refuses a key reused for a different upload with 422', async () => {
    const key = `reuse-${Date.now()}`;
    expect((await post(form(), { 'Idempotency-Key': key })).status).toBe(202);
    const res = await post(form({ file: other }), { 'Idempotency-Key': key });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('rejects bad submissions with a JSON error, publishing nothing and keeping no object', async () => {
    const seqBefore = await streamLastSeq(ns.nc, ns.subjects);
    const objectsBefore = (await objectNames(ns.nc, ns.subjects)).sort();
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['no file', () => post(form({ pipeline: 'probe' })), 400, 'FILE_REQUIRED'],
      ['an empty file', () => post(form({ file: new Uint8Array(0) })), 400, 'EMPTY_FILE'],
      ['an unknown pipeline', () => post(form({ file: clip, pipeline: 'mine-bitcoin' })), 400, 'UNKNOWN_PIPELINE'],
      ['params that are not JSON', () => post(form({ file: clip, params: '{nope' })), 400, 'INVALID_PARAMS'],
      ['params the pipeline does not take', () => post(form({ file: clip, params: '{"frame_stride":2}' })), 400, 'INVALID_PARAMS'],
      ['an unknown priority', () => post(form({ file: clip, priority: 'urgent' })), 400, 'VALIDATION_FAILED'],
      ['an unknown field', () => post(form({ file: clip, colour: 'red' })), 400, 'UNEXPECTED_FIELD'],
      ['a file over MAX_UPLOAD_BYTES', () => post(form({ file: new Uint8Array(5000) })), 413, 'PAYLOAD_TOO_LARGE'],
      ['a body that is not multipart', () => post('{"file":"x"}', { 'Content-Type': 'application/json' }), 415, 'UNSUPPORTED_CONTENT_TYPE'],
      ['a bad Idempotency-Key', () => post(form(), { 'Idempotency-Key': 'has spaces in it' }), 400, 'INVALID_IDEMPOTENCY_KEY'],
    ];
    for (const [what, send, status, code] of cases) {
      const res = await send();
      const body = (await res.json()) as { error?: { code: string; message: string } };
      expect({ what, status: res.status, code: body.error?.code }).toEqual({ what, status, code });
      expect(Object.keys(body)).toEqual(['error']);
      expect(JSON.stringify(body)).not.toMatch(/\bat .+\.(js|ts):\d+/);
    }
    expect(await streamLastSeq(ns.nc, ns.subjects)).toBe(seqBefore);
    expect((await objectNames(ns.nc, ns.subjects)).sort()).toEqual(objectsBefore);
  });

  it('answers a malformed id with 400, an unknown job with 404 and an unknown route with 404, all as JSON', async () => {
    const malformed = await fetch(`${base}/v1/jobs/not-a-uuid`);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('INVALID_JOB_ID');
    const unknown = await fetch(`${base}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
    const noEvents = await fetch(`${base}/v1/jobs/00000000-0000-4000-8000-000000000000/events`);
    expect(noEvents.status).toBe(404);
    const route = await fetch(`${base}/v1/nothing-here`);
    expect(route.status).toBe(404);
    expect(((await route.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('lists jobs newest first with a cursor, and validates the query', async () => {
    const page1 = (await (await fetch(`${base}/v1/jobs?limit=2`)).json()) as { jobs: Array<{ job_id: string; created_at: string }>; next_cursor: string | null };
    expect(page1.jobs).toHaveLength(2);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = (await (await fetch(`${base}/v1/jobs?limit=2&cursor=${encodeURIComponent(page1.next_cursor!)}`)).json()) as typeof page1;
    expect(page2.jobs.map((j) => j.job_id)).not.toContain(page1.jobs[0]!.job_id);
    expect(page1.jobs[0]!.created_at >= page1.jobs[1]!.created_at).toBe(true);
    const bad = await fetch(`${base}/v1/jobs?limit=0`);
    expect(bad.status).toBe(400);
  });

  it('answers 503 with Retry-After when the jobs service does not reply', async () => {
    await jobs.close();
    const res = await fetch(`${base}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE');
  });
});
