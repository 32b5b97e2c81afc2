import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { WebhookDeliveriesPage, WebhookEndpointView, WebhookWithSecret } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { jobCompleted, jobStarted, videoSubmitted } from '../support/events.js';
import { startGateway } from '../support/gateway.js';
import { jobsTestConfig, startJobsService } from '../support/jobs-service.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { eventually, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';

/** A public address that nothing here answers on: URLs to it pass the policy, and their attempts fail. */
const PUBLIC_URL = 'https://93.184.215.14/hook';

/**
 * The webhook API through the gateway and the jobs service in this process, with the production URL
 * policy (https only, no private networks): what is refused, what one tenant sees of another's
 * endpoints, and the deliveries the fan-out stores for a job's events.
 */
describe('webhooks through the gateway (production URL policy)', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: NestExpressApplication;
  let jobs: INestMicroservice;
  let base = '';
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let bravo: TestKey;
  let admin: TestKey;

  const call = async (method: string, path: string, key: TestKey, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...key.headers, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    jobs = await startJobsService(jobsTestConfig(ns, db, { WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_RETRY_BASE_MS: '60000' }), ns.subjects);
    keys = await testKeys(db.schema);
    [acme, bravo, admin] = await Promise.all([keys.create('acme'), keys.create('bravo'), keys.create('ops', true)]);
    ({ app: gateway, base } = await startGateway({ NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace, RPC_TIMEOUT_MS: '5000' }));
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns.cleanup();
    await db.drop();
  });

  it.each([
    ['http://93.184.215.14/hook', 'WEBHOOK_URL_FORBIDDEN', /WEBHOOK_ALLOW_HTTP/],
    ['https://127.0.0.1/hook', 'WEBHOOK_URL_FORBIDDEN', /loopback/],
    ['https://localhost/hook', 'WEBHOOK_URL_FORBIDDEN', /loopback/],
    ['https://[::1]/hook', 'WEBHOOK_URL_FORBIDDEN', /loopback/],
    ['https://10.1.2.3/hook', 'WEBHOOK_URL_FORBIDDEN', /private/],
    ['https://169.254.169.254/latest/meta-data', 'WEBHOOK_URL_FORBIDDEN', /metadata/],
    ['https://[::ffff:192.168.1.1]/hook', 'WEBHOOK_URL_FORBIDDEN', /private/],
    ['ftp://93.184.215.14/hook', 'INVALID_WEBHOOK_URL', /https/],
    ['https://user:pw@93.184.215.14/hook', 'INVALID_WEBHOOK_URL', /./],
    ['not a url', 'INVALID_WEBHOOK_URL', /./],
  ])('refuses %s with 400 %s and stores nothing', async (url, code, message) => {
    const res = await call('POST', '/v1/webhooks', acme, { url });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.message).toMatch(message);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect((await call('GET', '/v1/webhooks', acme)).body['webhooks']).toEqual([]);
  });

  it('refuses a body that is not JSON, an unknown event type, an unknown field, and another tenant for a tenant key', async () => {
    expect((await call('POST', '/v1/webhooks', acme, `url=${PUBLIC_URL}`, 'application/x-www-form-urlencoded')).body.error?.code).toBe('UNSUPPORTED_CONTENT_TYPE');
    expect((await call('POST', '/v1/webhooks', acme, { url: PUBLIC_URL, events: ['job.exploded'] })).body.error?.code).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/v1/webhooks', acme, { url: PUBLIC_URL, secret: 'mine' })).body.error?.code).toBe('VALIDATION_FAILED');
    const other = await call('POST', '/v1/webhooks', acme, { url: PUBLIC_URL, tenant: 'bravo' });
    expect(other.status).toBe(403);
    expect(other.body.error?.code).toBe('FORBIDDEN');
    expect((await call('GET', '/v1/webhooks', admin)).body['webhooks']).toEqual([]);
  });

  it("keeps each tenant's endpoints to itself; an admin key creates one for any tenant and sees them all", async () => {
    const created = await call('POST', '/v1/webhooks', admin, { url: PUBLIC_URL, tenant: 'bravo', description: 'bravo billing' });
    expect(created.status).toBe(201);
    const endpoint = created.body as unknown as WebhookWithSecret;
    expect(endpoint).toMatchObject({ tenant: 'bravo', url: PUBLIC_URL, events: ['job.completed', 'job.failed', 'job.cancelled'], enabled: true, description: 'bravo billing' });
    expect(Buffer.from(endpoint.secret.replace(/^whsec_/, ''), 'base64')).toHaveLength(32);

    const seen = await call('GET', `/v1/webhooks/${endpoint.id}`, bravo);
    expect(seen.status).toBe(200);
    expect(seen.body).not.toHaveProperty('secret');
    for (const [method, path, body] of [
      ['GET', `/v1/webhooks/${endpoint.id}`, undefined],
      ['PATCH', `/v1/webhooks/${endpoint.id}`, { enabled: false }],
      ['DELETE', `/v1/webhooks/${endpoint.id}`, undefined],
      ['POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, undefined],
      ['GET', `/v1/webhooks/${endpoint.id}/deliveries`, undefined],
      ['POST', `/v1/webhooks/${endpoint.id}/replay`, { from: '1' }],
    ] as const) {
      const res = await call(method, path, acme, body);
      expect([method, path, res.status, res.body.error?.code]).toEqual([method, path, 404, 'WEBHOOK_NOT_FOUND']);
    }
    expect((await call('GET', '/v1/webhooks', acme)).body['webhooks']).toEqual([]);
    expect(((await call('GET', '/v1/webhooks', admin)).body['webhooks'] as WebhookEndpointView[]).map((w) => w.id)).toContain(endpoint.id);
    expect((await call('GET', '/v1/webhooks/not-a-uuid', bravo)).body.error?.code).toBe('WEBHOOK_NOT_FOUND');
  });

  it('changes, rotates and deletes an endpoint; a change to a forbidden URL changes nothing', async () => {
    const { body } = await call('POST', '/v1/webhooks', acme, { url: PUBLIC_URL });
    const id = String(body['id']);
    const refused = await call('PATCH', `/v1/webhooks/${id}`, acme, { url: 'https://10.0.0.1/x' });
    expect(refused.body.error?.code).toBe('WEBHOOK_URL_FORBIDDEN');
    expect((await call('GET', `/v1/webhooks/${id}`, acme)).body['url']).toBe(PUBLIC_URL);
    expect((await call('PATCH', `/v1/webhooks/${id}`, acme, {})).body.error?.code).toBe('VALIDATION_FAILED');

    const changed = await call('PATCH', `/v1/webhooks/${id}`, acme, { events: ['job.started'], description: 'starts', enabled: false });
    expect(changed.body).toMatchObject({ events: ['job.started'], description: 'starts', enabled: false, disabled_reason: null });
    expect((await call('POST', `/v1/webhooks/${id}/replay`, acme, { from: '1' })).body.error?.code).toBe('WEBHOOK_DISABLED');

    const rotated = await call('POST', `/v1/webhooks/${id}/rotate-secret`, acme);
    expect(rotated.status).toBe(200);
    expect(rotated.body['secret']).not.toBe(body['secret']);
    expect(Date.parse(String(rotated.body['previous_secret_expires_at'])) - Date.now()).toBeGreaterThan(23 * 3_600_000);

    expect((await call('POST', `/v1/webhooks/${id}/replay`, acme, { from: 'yesterday' })).body.error?.code).toBe('INVALID_REPLAY_FROM');
    expect((await call('POST', `/v1/webhooks/${id}/deliveries/${randomUUID()}/retry`, acme)).body.error?.code).toBe('WEBHOOK_DISABLED');
    await call('PATCH', `/v1/webhooks/${id}`, acme, { enabled: true });
    expect((await call('POST', `/v1/webhooks/${id}/deliveries/${randomUUID()}/retry`, acme)).body.error?.code).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
    expect((await call('GET', `/v1/webhooks/${id}/deliveries?cursor=xyz`, acme)).body.error?.code).toBe('INVALID_CURSOR');

    expect(await call('DELETE', `/v1/webhooks/${id}`, acme)).toEqual({ status: 200, body: { id, deleted: true } });
    expect((await call('GET', `/v1/webhooks/${id}`, acme)).status).toBe(404);
  });

  it("stores a delivery for each event an endpoint hears of its tenant's jobs, from the events stored after it was made", async () => {
    // A job that ended before the endpoint existed: not sent.
    const before = videoSubmitted(randomUUID(), { tenant: 'acme' });
    await appendJob(before);
    const { body } = await call('POST', '/v1/webhooks', acme, { url: PUBLIC_URL, events: ['job.started', 'job.completed'] });
    const id = String(body['id']);
    const mine = videoSubmitted(randomUUID(), { tenant: 'acme' });
    const theirs = videoSubmitted(randomUUID(), { tenant: 'bravo' });
    await appendJob(mine);
    await appendJob(theirs);

    const page = await eventually(async () => {
      const res = (await call('GET', `/v1/webhooks/${id}/deliveries`, acme)).body as unknown as WebhookDeliveriesPage;
      // Both stored, and the first attempt made (nothing answers on the public address here).
      return res.deliveries.length === 2 && res.deliveries.some((d) => d.attempts > 0) ? res : undefined;
    }, 20_000, 'two deliveries, one attempted');
    expect(page.deliveries.map((d) => [d.job_id, d.event_type])).toEqual([
      [mine.jobId, 'job.completed'],
      [mine.jobId, 'job.started'],
    ]);
    // The job's completed waits for its started, which failed and waits for its retry.
    const [completed, started] = page.deliveries;
    expect(started).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(started!.last_error).toBeTruthy();
    expect(Date.parse(started!.next_attempt_at!)).toBeGreaterThan(Date.now());
    expect(completed).toMatchObject({ status: 'pending', attempts: 0 });

    // A replay from the start of the log sends the earlier job's events too.
    const replay = await call('POST', `/v1/webhooks/${id}/replay`, acme, { from: '1' });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ queued: 4, from_seq: 1, truncated: false });
    const after = (await call('GET', `/v1/webhooks/${id}/deliveries`, acme)).body as unknown as WebhookDeliveriesPage;
    expect(new Set(after.deliveries.map((d) => d.job_id))).toEqual(new Set([before.jobId, mine.jobId]));
  });

  /** A job that starts and completes at once, appended as its worker would. */
  async function appendJob(submitted: ReturnType<typeof videoSubmitted>): Promise<void> {
    const first = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const second = await store.append(started, first.seq);
    await store.append(jobCompleted(started), second.seq);
  }
});
