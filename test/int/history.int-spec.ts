import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { JobEvent } from '@app/contracts';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { fold, toJobView } from '@app/job-state';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { jobCompleted, jobFailed, jobProgressed, jobStarted, videoSubmitted } from '../support/events.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { startJobsService } from '../support/jobs-service.js';
import { freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';

/** A job's history over HTTP: as-of views folded from the stream, and the event list with after_seq paging. */
describe('job history over HTTP', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: INestApplication;
  let jobs: INestMicroservice;
  let base = '';
  let owner: TestKey;
  let stranger: TestKey;
  const history: Array<{ event: JobEvent; seq: number }> = [];

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const env = { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobsConfig = parseConfig(jobsEnvSchema, { ...IN_PROCESS_OPS, ...env, DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    jobs = await startJobsService(jobsConfig, ns.subjects);
    const keys = await testKeys(db.schema);
    owner = await keys.create('default');
    stranger = await keys.create('acme');
    await keys.close();
    const config = parseConfig(gatewayEnvSchema, { ...env, PORT: '0', HOST: '127.0.0.1', RPC_TIMEOUT_MS: '3000' });
    const gatewayRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
    gateway = gatewayRef.createNestApplication({ logger: false });
    await gateway.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(gateway.getHttpServer().address() as { port: number }).port}`;

    // Five events of one job, with other jobs' events in between.
    const append = async (event: JobEvent, expected: number) => {
      const { seq } = await store.append(event, expected);
      history.push({ event, seq });
      await store.append(videoSubmitted(), 0);
      return seq;
    };
    const submitted = videoSubmitted();
    const s0 = await append(submitted, 0);
    const started = jobStarted(submitted, 1, 'w-1');
    const s = await append(started, s0);
    // Stored times have millisecond resolution, and a time names every event stored in its
    // millisecond: keep event 2 alone in its own so that the as-of-time test can name it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const failed = jobFailed(started, 1, false, 'WORKER_ERROR');
    const f = await append(failed, s);
    const again = jobStarted(failed, 2, 'w-2');
    const a = await append(again, f);
    const progressed = jobProgressed(again, 40, 2);
    await append(progressed, a);
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await ns.cleanup();
    await db.drop();
  });

  const jobId = () => history[0]!.event.jobId;
  const get = async (path: string, key: TestKey = owner) => {
    const res = await fetch(`${base}${path}`, { headers: key.headers });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('GET /v1/jobs/{id}?as_of=N is the fold of the first N events, for every N', async () => {
    for (let n = 1; n <= history.length; n++) {
      const { status, body } = await get(`/v1/jobs/${jobId()}?as_of=${n}`);
      expect(status).toBe(200);
      const expected = toJobView(fold(history.slice(0, n).map((h) => h.event))!, history[n - 1]!.seq);
      expect(body).toEqual({ ...expected, as_of: { requested: String(n), event: n, seq: history[n - 1]!.seq, stored_at: expect.any(String), events_total: 5 } });
    }
  });

  it('as_of=seq:N and as_of=<time> name the state after the last event at or before them', async () => {
    const between = history[2]!.seq + 1; // another job's event
    expect((await get(`/v1/jobs/${jobId()}?as_of=seq:${between}`)).body).toMatchObject({ status: 'queued', attempts: 1, as_of: { event: 3 } });
    const events = (await get(`/v1/jobs/${jobId()}/events`)).body['events'] as Array<{ stored_at: string }>;
    const at = encodeURIComponent(events[1]!.stored_at);
    expect((await get(`/v1/jobs/${jobId()}?as_of=${at}`)).body).toMatchObject({ status: 'running', worker_id: 'w-1', as_of: { event: 2 } });
  });

  it('answers a point before the job with 404 JOB_NOT_FOUND, past its end with 404 EVENT_NOT_FOUND, and garbage with 400', async () => {
    expect(await get(`/v1/jobs/${jobId()}?as_of=seq:${history[0]!.seq - 1}`)).toEqual({
      status: 404,
      body: { error: { code: 'JOB_NOT_FOUND', message: expect.stringContaining('did not exist yet') } },
    });
    expect(await get(`/v1/jobs/${jobId()}?as_of=2000-01-01T00:00:00Z`)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await get(`/v1/jobs/${videoSubmitted().jobId}?as_of=1`)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await get(`/v1/jobs/${jobId()}?as_of=6`)).toMatchObject({ status: 404, body: { error: { code: 'EVENT_NOT_FOUND' } } });
    expect(await get(`/v1/jobs/${jobId()}?as_of=soon`)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_AS_OF' } } });
    expect(await get(`/v1/jobs/${jobId()}?as_of=0`)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_AS_OF' } } });
  });

  it('pages GET /v1/jobs/{id}/events with after_seq: every event of the job once, in order, and nothing of other jobs', async () => {
    const pages: Array<Array<{ seq: number; eventId: string }>> = [];
    let after = 0;
    for (;;) {
      const { status, body } = await get(`/v1/jobs/${jobId()}/events?after_seq=${after}&limit=2`);
      expect(status).toBe(200);
      pages.push(body['events']);
      if (body['next_after_seq'] === null) break;
      expect(body['next_after_seq']).toBe(body['events'].at(-1).seq);
      after = body['next_after_seq'];
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((e) => e.eventId)).toEqual(history.map((h) => h.event.eventId));
    expect(pages.flat().map((e) => e.seq)).toEqual(history.map((h) => h.seq));
    // Past the last event: an empty page, not a 404; an unknown job is a 404.
    expect(await get(`/v1/jobs/${jobId()}/events?after_seq=${history.at(-1)!.seq}`)).toMatchObject({ status: 200, body: { events: [], next_after_seq: null } });
    expect(await get(`/v1/jobs/${videoSubmitted().jobId}/events`)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    expect(await get(`/v1/jobs/${jobId()}/events?after_seq=-1`)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
  });

  it('answers another tenant\'s as-of view and events as for a job that does not exist', async () => {
    for (const path of [`/v1/jobs/${jobId()}?as_of=1`, `/v1/jobs/${jobId()}?as_of=seq:${history[0]!.seq}`, `/v1/jobs/${jobId()}/events`]) {
      const { status, body } = await get(path, stranger);
      expect({ path, status, code: body['error']?.code }).toEqual({ path, status: 404, code: 'JOB_NOT_FOUND' });
    }
    expect((await get(`/v1/jobs/${jobId()}?as_of=1`)).status).toBe(200);
  });
});
