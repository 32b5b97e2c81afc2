import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { configureHttp } from '../../apps/gateway/src/http/http-setup.js';
import { startGateway } from '../support/gateway.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, objectNames, streamLastSeq, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { startJobsService } from '../support/jobs-service.js';
import { isoBox, mp4Shell } from '../support/videos.js';
import { jobStarted, publishAsNewerRelease, videoSubmitted } from '../support/events.js';
import { multipart, rawRequest, send } from '../support/raw-http.js';

/**
 * The gateway over real HTTP, against real NATS (stream and Object Store) and a jobs service on
 * PostgreSQL: what a client sees when it submits and reads jobs with an API key, what another tenant
 * sees of them (nothing), and what a rejected request leaves behind (nothing).
 */
describe('gateway over HTTP', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: NestExpressApplication;
  let jobs: INestMicroservice;
  let base = '';
  let keys: Awaited<ReturnType<typeof testKeys>>;
  /** Tenant acme's key, used by default; bravo's; an admin's. */
  let acme: TestKey;
  let bravo: TestKey;
  let admin: TestKey;

  const clip = mp4Shell(7);
  const other = mp4Shell(9);

  function form(fields: Record<string, string | Uint8Array<ArrayBuffer>> = { file: clip }): FormData {
    const body = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === 'string') body.set(name, value);
      else body.set(name, new Blob([value], { type: 'video/mp4' }), 'clip.mp4');
    }
    return body;
  }

  const post = (body: FormData | string, headers: Record<string, string> = {}, key: TestKey = acme) =>
    fetch(`${base}/v1/jobs`, { method: 'POST', body, headers: { ...key.headers, ...headers } });
  const get = (path: string, key: TestKey | null = acme, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers: { ...(key?.headers ?? {}), ...headers } });
  const codeOf = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code;

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
    jobs = await startJobsService(jobsConfig, ns.subjects);
    keys = await testKeys(db.schema);
    [acme, bravo, admin] = await Promise.all([keys.create('acme'), keys.create('bravo'), keys.create('ops', true)]);

    ({ app: gateway, base } = await startGateway({ ...env, RPC_TIMEOUT_MS: '2000', MAX_UPLOAD_BYTES: '4096', CORS_ORIGINS: 'https://app.example.com' }));
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns.cleanup();
    await db.drop();
  });

  it('accepts an upload with 202, Location and a queued job that can be read at once', async () => {
    const res = await post(form({ file: clip, pipeline: 'probe', priority: 'high' }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ status: 'queued', pipeline: 'probe', priority: 'high' });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${body['job_id']}`);

    const read = await get(`/v1/jobs/${body['job_id']}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ job_id: body['job_id'], status: 'queued', priority: 'high', tenant: 'acme' });

    const events = await submittedEvents(body['job_id']!);
    expect(events).toHaveLength(1);
    const stored = events[0]!.ok ? events[0]!.stored : null;
    expect(stored?.subject).toBe(ns.subjects.submitted(body['job_id']!, 'high'));
    expect(stored?.event).toMatchObject({
      version: 2,
      data: { tenant: 'acme', priority: 'high', video: { size: clip.length, filename: 'clip.mp4', contentType: 'video/mp4' } },
    });
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
      ['a file over MAX_UPLOAD_BYTES', () => post(form({ file: mp4Shell(7, 5000) })), 413, 'PAYLOAD_TOO_LARGE'],
      ['a body that is not multipart', () => post('{"file":"x"}', { 'Content-Type': 'application/json' }), 415, 'UNSUPPORTED_CONTENT_TYPE'],
      ['a bad Idempotency-Key', () => post(form(), { 'Idempotency-Key': 'has spaces in it' }), 400, 'INVALID_IDEMPOTENCY_KEY'],
      ['a text file named .mp4', () => post(form({ file: new TextEncoder().encode('this is not a video\n') as Uint8Array<ArrayBuffer> })), 415, 'UNSUPPORTED_MEDIA'],
      ['an MP4 cut off inside its mdat box', () => post(form({ file: clip.slice(0, clip.length - 10) })), 422, 'INVALID_MEDIA'],
      ['an MP4 without a moov box', () => post(form({ file: new Uint8Array([...isoBox('ftyp', new Uint8Array(8)), ...isoBox('mdat', new Uint8Array(40))]) })), 422, 'INVALID_MEDIA'],
      ['no API key', () => post(form(), {}, { key: '', keyId: '', tenant: '', headers: {} }), 401, 'UNAUTHENTICATED'],
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
    const malformed = await get(`/v1/jobs/not-a-uuid`);
    expect(malformed.status).toBe(400);
    expect(await codeOf(malformed)).toBe('INVALID_JOB_ID');
    const unknown = await get(`/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(await codeOf(unknown)).toBe('JOB_NOT_FOUND');
    const noEvents = await get(`/v1/jobs/00000000-0000-4000-8000-000000000000/events`);
    expect(noEvents.status).toBe(404);
    const route = await get(`/v1/nothing-here`);
    expect(route.status).toBe(404);
    expect(await codeOf(route)).toBe('NOT_FOUND');
  });

  it('lists jobs newest first with a cursor, and validates the query', async () => {
    const page1 = (await (await get(`/v1/jobs?limit=2`)).json()) as { jobs: Array<{ job_id: string; created_at: string }>; next_cursor: string | null };
    expect(page1.jobs).toHaveLength(2);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = (await (await get(`/v1/jobs?limit=2&cursor=${encodeURIComponent(page1.next_cursor!)}`)).json()) as typeof page1;
    expect(page2.jobs.map((j) => j.job_id)).not.toContain(page1.jobs[0]!.job_id);
    expect(page1.jobs[0]!.created_at >= page1.jobs[1]!.created_at).toBe(true);
    const bad = await get(`/v1/jobs?limit=0`);
    expect(bad.status).toBe(400);
  });

  it("keeps tenants apart: another tenant's job is 404 everywhere, and an admin key sees every tenant", async () => {
    const res = await post(form({ file: mp4Shell(11) }), {}, acme);
    const { job_id: jobId } = (await res.json()) as { job_id: string };

    for (const path of [`/v1/jobs/${jobId}`, `/v1/jobs/${jobId}/events`, `/v1/jobs/${jobId}/events?after_seq=1`]) {
      const foreign = await get(path, bravo);
      expect({ path, status: foreign.status, code: await codeOf(foreign) }).toEqual({ path, status: 404, code: 'JOB_NOT_FOUND' });
    }
    // Exactly what an id that was never used gets: nothing tells bravo the job exists.
    const never = await get(`/v1/jobs/00000000-0000-4000-8000-000000000000`, bravo);
    expect(await never.json()).toEqual({ error: { code: 'JOB_NOT_FOUND', message: 'no job 00000000-0000-4000-8000-000000000000' } });

    await eventually(async () => {
      const listed = (await (await get(`/v1/jobs?limit=100`, admin)).json()) as { jobs: Array<{ job_id: string }> };
      return listed.jobs.some((j) => j.job_id === jobId) ? true : undefined;
    }, 10_000, 'the job in the admin list');
    const bravoList = (await (await get(`/v1/jobs?limit=100`, bravo)).json()) as { jobs: Array<{ job_id: string }> };
    expect(bravoList.jobs).toEqual([]);
    const acmeList = (await (await get(`/v1/jobs?limit=100`, acme)).json()) as { jobs: Array<{ job_id: string; tenant: string }> };
    expect(acmeList.jobs.map((j) => j.job_id)).toContain(jobId);
    expect(new Set(acmeList.jobs.map((j) => j.tenant))).toEqual(new Set(['acme']));

    expect((await get(`/v1/jobs/${jobId}`, admin)).status).toBe(200);
    expect((await get(`/v1/jobs/${jobId}/events`, admin)).status).toBe(200);

    // Idempotency keys are per tenant: the same key from bravo makes bravo's own job.
    const key = `shared-${Date.now()}`;
    const a = (await (await post(form(), { 'Idempotency-Key': key }, acme)).json()) as { job_id: string };
    const b = (await (await post(form(), { 'Idempotency-Key': key }, bravo)).json()) as { job_id: string };
    expect(b.job_id).not.toBe(a.job_id);
    expect((await get(`/v1/jobs/${a.job_id}`, bravo)).status).toBe(404);
  });

  it('refuses missing, malformed, unknown and revoked keys with 401, and drops a revoked key from its cache at once', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no header', {}],
      ['another scheme', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['an empty bearer', { Authorization: 'Bearer ' }],
      ['not a Framewire key', { Authorization: 'Bearer hunter2' }],
      ['an unknown key', { Authorization: `Bearer fwk_${'A'.repeat(43)}` }],
    ];
    for (const [what, headers] of cases) {
      const res = await get('/v1/jobs', null, headers);
      expect({ what, status: res.status, code: await codeOf(res) }).toEqual({ what, status: 401, code: 'UNAUTHENTICATED' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="framewire"/);
    }
    expect((await get('/v1/jobs', null, { Authorization: `bearer ${acme.key}` })).status).toBe(200);

    const doomed = await keys.create('acme', false, 'doomed');
    expect((await get('/v1/jobs', doomed)).status).toBe(200); // now cached in the gateway
    await keys.repo.revoke(doomed.keyId);
    ns.nc.publish(ns.subjects.keyRevoked, JSON.stringify({ key_id: doomed.keyId }));
    await eventually(async () => ((await get('/v1/jobs', doomed)).status === 401 ? true : undefined), 5_000, 'the revoked key to be refused');
  });

  it('sends security headers, and CORS headers only to allowed origins', async () => {
    const res = await get('/v1/jobs', acme, { Origin: 'https://app.example.com' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const foreign = await get('/v1/jobs', acme, { Origin: 'https://evil.example.net' });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${base}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    // The files a media link in the path opens are for players on any origin, whatever CORS_ORIGINS lists.
    const media = `${base}/v1/jobs/${randomUUID()}/media/not-a-token/master.m3u8`;
    const mediaPreflight = await fetch(media, { method: 'OPTIONS', headers: { Origin: 'https://evil.example.net', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' } });
    expect([mediaPreflight.status, mediaPreflight.headers.get('access-control-allow-origin'), mediaPreflight.headers.get('access-control-allow-headers')]).toEqual([204, '*', expect.stringMatching(/\bRange\b/)]);
    const mediaRefused = await fetch(media, { headers: { Origin: 'https://evil.example.net' } });
    expect([mediaRefused.status, mediaRefused.headers.get('access-control-allow-origin')]).toEqual([401, '*']);
    // The docs page (public) gets the same strict policy: scripts from this origin only, no framing.
    const docs = await get('/docs', null);
    expect(docs.status).toBe(200);
    const csp = docs.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(docs.headers.get('x-frame-options')).toBe('DENY');
    expect(docs.headers.get('referrer-policy')).toBe('no-referrer');
    expect(docs.headers.get('cache-control')).toBe('no-cache');
  });

  it('leaves the probes and the docs public, and keeps metrics, system figures and workers for admin keys', async () => {
    for (const path of ['/health/live', '/health/ready', '/docs/openapi.json', '/docs/init.js']) {
      expect([path, (await get(path, null)).status]).toEqual([path, 200]);
    }
    for (const path of ['/metrics', '/v1/system', '/v1/workers']) {
      expect([path, (await get(path, null)).status]).toEqual([path, 401]);
      const refused = await get(path, acme);
      expect([path, refused.status, await codeOf(refused)]).toEqual([path, 403, 'FORBIDDEN']);
      expect([path, (await get(path, admin)).status]).toEqual([path, 200]);
    }
    for (const path of ['/v1/pipelines', '/v1/worker/health', '/v1/stream/jobs']) {
      expect([path, (await get(path, null)).status]).toEqual([path, 401]);
    }
  });

  it('with AUTH_MODE=off (a dev setting) takes every request as an admin of the default tenant, and says so; its upload cap counts per client address', async () => {
    const lines: string[] = [];
    const config = parseConfig(gatewayEnvSchema, { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace, AUTH_MODE: 'off', MAX_CONCURRENT_UPLOADS_PER_KEY: '1' });
    const ref = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
    const open = ref.createNestApplication<NestExpressApplication>({ logger: { log: () => undefined, error: () => undefined, warn: (m: unknown) => void lines.push(String(m)) } });
    configureHttp(open, config);
    await open.listen(0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${(open.getHttpServer().address() as { port: number }).port}`;
      const listed = await fetch(`${url}/v1/jobs?limit=100`);
      expect(listed.status).toBe(200);
      // An admin's view: acme's and bravo's jobs alike.
      const tenants = new Set(((await listed.json()) as { jobs: Array<{ tenant: string }> }).jobs.map((j) => j.tenant));
      expect(tenants).toEqual(new Set(['acme', 'bravo']));
      expect(lines.join('\n')).toMatch(/AUTH_MODE=off: API keys are NOT checked/);

      // Every request acts for the same principal, so the upload cap counts per client address: one
      // client's stalled upload holds its own slot, not every client's.
      const port = (open.getHttpServer().address() as { port: number }).port;
      const { body, contentType } = multipart([{ name: 'file', data: clip, filename: 'clip.mp4' }, { name: 'pipeline', data: 'noop' }]);
      const head = `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const upload = (from: string) => rawRequest(port, (socket) => send(socket, Buffer.concat([Buffer.from(head, 'latin1'), body])), 10_000, from);
      let letGo!: () => void;
      const hold = new Promise<void>((resolve) => (letGo = resolve));
      const stalled = rawRequest(port, async (socket) => {
        await send(socket, head);
        await send(socket, body.subarray(0, Math.floor(body.length / 2)));
        await hold;
        socket.destroy();
      }, 15_000, '127.0.0.2');
      try {
        // The stalled client's next upload is refused once the stalled one holds its slot.
        await eventually(async () => ((await upload('127.0.0.2'))?.status === 429 ? true : undefined), 10_000, 'the stalled upload to hold its slot');
        expect((await upload('127.0.0.3'))?.status).toBe(202);
      } finally {
        letGo();
        await stalled;
      }
    } finally {
      await open.close();
    }
  });

  it('answers cancel, retry and delete of a job whose history it cannot read with 503 JOB_HISTORY_UNREADABLE, and appends nothing', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', tenant: 'acme' });
    const s = await store.append(submitted, 0);
    const started = jobStarted(submitted, 1, 'newer-worker');
    const { seq } = await store.append(started, s.seq);
    // A newer release ended the job with an event this one does not know (a rolling upgrade).
    await publishAsNewerRelease(ns.nc, ns.subjects.lifecycle(submitted.jobId), started, seq, 'JobArchived');
    const path = `/v1/jobs/${submitted.jobId}`;
    for (const [method, url] of [
      ['POST', `${path}/cancel`],
      ['POST', `${path}/retry`],
      ['DELETE', path],
    ] as const) {
      const res = await fetch(`${base}${url}`, { method, headers: acme.headers });
      expect({ method, url, status: res.status, code: await codeOf(res) }).toEqual({ method, url, status: 503, code: 'JOB_HISTORY_UNREADABLE' });
    }
    expect((await store.readJob(submitted.jobId)).map((item) => (item.ok ? item.stored.event.type : 'malformed'))).toEqual(['VideoSubmitted', 'JobStarted', 'malformed']);
  });

  it('answers 503 with Retry-After when the jobs service does not reply', async () => {
    await jobs.close();
    const res = await get(`/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE');
  });
});
