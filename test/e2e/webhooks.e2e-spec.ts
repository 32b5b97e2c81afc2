import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { testKeys, type TestKey } from '../support/keys.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem, submitFile } from '../support/system.js';
import { makeVideo, mediaDir } from '../support/videos.js';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver.js';

/**
 * Signed webhooks as an integrator meets them: the built gateway, jobs service and worker as OS
 * processes, real receivers on loopback, and every signature checked by the `standardwebhooks`
 * package (the reference implementation), never by Framewire's own code. One set of services serves
 * every test; only the restart test stops them. Each test has its own tenant, so its endpoints hear
 * its own jobs only.
 */
describe('webhooks, end to end', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let system: TestSystem;
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let base = '';
  let clip = '';
  /** Endpoints made by the running test, deleted after it (so no later test's jobs are sent to its closed receiver). */
  const made: Array<{ key: TestKey; id: string }> = [];
  const receivers: WebhookReceiver[] = [];

  // Loopback http receivers, and retries in a fraction of a second rather than 5 s.
  const JOBS_ENV = {
    WEBHOOK_ALLOW_HTTP: '1',
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1',
    WEBHOOK_RETRY_BASE_MS: '200',
    WEBHOOK_RETRY_MAX_MS: '1000',
    WEBHOOK_TIMEOUT_MS: '2000',
  };

  async function startServices(): Promise<void> {
    system.start('jobs', 'jobs', JOBS_ENV);
    system.start('worker', 'worker', { WORKER_CONCURRENCY: '2' });
    base = await system.startGateway('gateway', { RATE_LIMIT_REQUESTS: '0' });
    await Promise.all([system.get('jobs').waitForLine(/jobs service ready/), system.get('worker').waitForLine(/worker pulling jobs/)]);
  }

  async function api(key: TestKey, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const init: RequestInit = { method, headers: { ...key.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  async function receiver(listening = true): Promise<WebhookReceiver> {
    const made = await WebhookReceiver.create();
    receivers.push(made);
    if (listening) await made.listen();
    return made;
  }

  async function createHook(key: TestKey, url: string, events?: string[]): Promise<{ id: string; secret: string }> {
    const res = await api(key, 'POST', '/v1/webhooks', { url, ...(events ? { events } : {}) });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_/);
    made.push({ key, id: res.body.id });
    return { id: res.body.id, secret: res.body.secret };
  }

  async function submit(key: TestKey): Promise<string> {
    const res = await submitFile(base, clip, {}, key.headers);
    expect(res.status).toBe(202);
    return ((await res.json()) as { job_id: string }).job_id;
  }

  const completed = (key: TestKey, jobId: string) =>
    eventually(async () => {
      const view = (await api(key, 'GET', `/v1/jobs/${jobId}`)).body;
      return view?.status === 'completed' ? view : undefined;
    }, 60_000, `job ${jobId} to complete`);

  async function deliveries(key: TestKey, hookId: string): Promise<any[]> {
    const res = await api(key, 'GET', `/v1/webhooks/${hookId}/deliveries?limit=100`);
    expect(res.status).toBe(200);
    return res.body.deliveries;
  }

  /** Resolves with the received requests `pick` returns once it returns some. */
  const arrives = (pick: () => ReceivedWebhook[], what: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const hooks = pick();
      return hooks.length > 0 ? hooks : undefined;
    }, timeoutMs, what);

  /** The payload as the reference verifier accepts it with `secret` (it throws on a bad signature). */
  const verify = (hook: ReceivedWebhook, secret: string) => new Webhook(secret).verify(hook.body, hook.headers);

  let tenants = 0;
  const tenantKey = () => keys.create(`wh${++tenants}`);

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    clip = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
    keys = await testKeys(db.schema);
    system = new TestSystem({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace });
    await startServices();
  }, 120_000);

  afterEach(async () => {
    for (const { key, id } of made.splice(0)) await api(key, 'DELETE', `/v1/webhooks/${id}`).catch(() => undefined);
    for (const r of receivers.splice(0)) await r.close();
  });

  afterAll(async () => {
    await system?.stopAll();
    await keys?.close();
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('sends a signed job.started, then job.completed, with the job as GET /v1/jobs/{id} shows it', async () => {
    const key = await tenantKey();
    const rx = await receiver();
    const hook = await createHook(key, rx.url, ['job.started', 'job.completed']);
    const jobId = await submit(key);
    await completed(key, jobId);

    const [done] = await arrives(() => rx.of(jobId, 'job.completed'), 'job.completed');
    const started = rx.of(jobId, 'job.started');
    expect(started).toHaveLength(1);
    // Sent in stream order: the start reached the receiver before the end.
    expect(rx.received.indexOf(started[0]!)).toBeLessThan(rx.received.indexOf(done!));
    for (const sent of [started[0]!, done!]) {
      expect(verify(sent, hook.secret)).toEqual(sent.json);
      expect(Number(sent.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
    }
    expect(done!.json).toMatchObject({ type: 'job.completed', timestamp: expect.any(String), data: { job_id: jobId, status: 'completed', progress: 100 } });
    expect(started[0]!.json).toMatchObject({ type: 'job.started', data: { job_id: jobId, status: 'running' } });
    expect(started[0]!.id).not.toBe(done!.id);
    // A receiver signed for another secret refuses it.
    expect(() => verify(done!, `whsec_${Buffer.alloc(32, 7).toString('base64')}`)).toThrow();
    // Nothing of another type (job.progress, say) was sent to an endpoint that did not ask for it.
    expect(new Set(rx.received.map((h) => h.json.type))).toEqual(new Set(['job.started', 'job.completed']));
  });

  it('retries a receiver that answers 503 twice, with the same webhook-id, and records the delivery delivered after 3 attempts', async () => {
    const key = await tenantKey();
    const rx = await receiver();
    rx.answer = (_hook, before) => (before.length < 2 ? 503 : 200);
    const hook = await createHook(key, rx.url, ['job.completed']);
    const jobId = await submit(key);
    await completed(key, jobId);

    const sent = await eventually(async () => {
      const hooks = rx.of(jobId, 'job.completed');
      return hooks.some((h) => h.answered === 200) ? hooks : undefined;
    }, 30_000, 'the third attempt');
    expect(sent.map((h) => h.answered)).toEqual([503, 503, 200]);
    expect(new Set(sent.map((h) => h.id)).size).toBe(1);
    for (const attempt of sent) verify(attempt, hook.secret);

    const delivery = await eventually(async () => {
      const found = (await deliveries(key, hook.id)).find((d) => d.id === sent[0]!.id);
      return found?.status === 'delivered' ? found : undefined;
    }, 10_000, 'the delivery recorded delivered');
    expect(delivery).toMatchObject({ job_id: jobId, event_type: 'job.completed', status: 'delivered', attempts: 3, last_status_code: 200, next_attempt_at: null });
  });

  it('delivers to a receiver that was down (its port closed) once it listens again on the same port', async () => {
    const key = await tenantKey();
    const rx = await receiver(false);
    const hook = await createHook(key, rx.url, ['job.completed']);
    const jobId = await submit(key);
    await completed(key, jobId);

    // Tried and refused at least twice while down: pending, with the connection error kept.
    const pending = await eventually(async () => {
      const found = (await deliveries(key, hook.id)).find((d) => d.job_id === jobId);
      return found && found.attempts >= 2 ? found : undefined;
    }, 20_000, 'failed attempts while the receiver is down');
    expect(pending).toMatchObject({ status: 'pending', last_status_code: null, last_error: expect.any(String) });
    expect(pending.next_attempt_at).not.toBeNull();
    expect(rx.received).toEqual([]);

    await rx.listen();
    const [sent] = await arrives(() => rx.of(jobId, 'job.completed'), 'the delivery after the receiver came back');
    expect(sent!.id).toBe(pending.id);
    verify(sent!, hook.secret);
    const delivered = await eventually(async () => {
      const found = (await deliveries(key, hook.id)).find((d) => d.id === pending.id);
      return found?.status === 'delivered' ? found : undefined;
    }, 10_000, 'the delivery recorded delivered');
    expect(delivered.attempts).toBeGreaterThan(pending.attempts);
  });

  it("sends one tenant's jobs to its own endpoints only, and hides its endpoints from another tenant", async () => {
    const [acme, globex] = [await tenantKey(), await tenantKey()];
    const [rxAcme, rxGlobex] = [await receiver(), await receiver()];
    const acmeHook = await createHook(acme, rxAcme.url, ['job.started', 'job.completed']);
    const globexHook = await createHook(globex, rxGlobex.url, ['job.started', 'job.progress', 'job.completed', 'job.failed', 'job.cancelled']);
    const jobId = await submit(acme);
    await completed(acme, jobId);
    await arrives(() => rxAcme.of(jobId, 'job.completed'), "acme's job.completed");
    // The sender polls every second: two more passes with nothing sent to globex.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(rxGlobex.received).toEqual([]);
    expect(await deliveries(globex, globexHook.id)).toEqual([]);

    // Globex cannot see, change, page, retry, rotate or replay acme's endpoint: it does not exist for it.
    expect((await api(acme, 'GET', `/v1/webhooks/${acmeHook.id}`)).status).toBe(200);
    const acmeDelivery = (await deliveries(acme, acmeHook.id))[0];
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/v1/webhooks/${acmeHook.id}`],
      ['PATCH', `/v1/webhooks/${acmeHook.id}`, { description: 'mine now' }],
      ['GET', `/v1/webhooks/${acmeHook.id}/deliveries`],
      ['POST', `/v1/webhooks/${acmeHook.id}/deliveries/${acmeDelivery.id}/retry`],
      ['POST', `/v1/webhooks/${acmeHook.id}/rotate-secret`],
      ['POST', `/v1/webhooks/${acmeHook.id}/replay`, { from: '1' }],
      ['DELETE', `/v1/webhooks/${acmeHook.id}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(globex, method, path, body);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({ method, path, status: 404, code: 'WEBHOOK_NOT_FOUND' });
    }
    expect((await api(globex, 'GET', '/v1/webhooks')).body.webhooks.map((w: { id: string }) => w.id)).toEqual([globexHook.id]);
    // Nor register an endpoint in acme's name.
    const posing = await api(globex, 'POST', '/v1/webhooks', { url: rxGlobex.url, tenant: acme.tenant });
    expect({ status: posing.status, code: posing.body?.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect((await api(acme, 'GET', '/v1/webhooks')).body.webhooks.map((w: { id: string }) => w.id)).toEqual([acmeHook.id]);
    // ... and acme's endpoint is as it was: not renamed, not deleted, its secret not rotated.
    expect((await api(acme, 'GET', `/v1/webhooks/${acmeHook.id}`)).body).toMatchObject({ id: acmeHook.id, description: '', previous_secret_expires_at: null });
  });

  it('refuses a cloud metadata URL (400 WEBHOOK_URL_FORBIDDEN), an ftp URL and a body that is not JSON, creating nothing', async () => {
    const key = await tenantKey();
    const before = (await api(key, 'GET', '/v1/webhooks')).body.webhooks;
    // The metadata address however it is written: plain, IPv4-mapped IPv6, decimal, and ECS's.
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:169.254.169.254]/', 'http://2852039166/', 'http://169.254.170.2/v2/credentials']) {
      const res = await api(key, 'POST', '/v1/webhooks', { url });
      expect({ url, status: res.status, body: res.body }).toEqual({ url, status: 400, body: { error: { code: 'WEBHOOK_URL_FORBIDDEN', message: expect.any(String) } } });
    }
    const ftp = await api(key, 'POST', '/v1/webhooks', { url: 'ftp://127.0.0.1/hooks' });
    expect(ftp).toEqual({ status: 400, body: { error: { code: 'INVALID_WEBHOOK_URL', message: expect.any(String) } } });

    const rx = await receiver();
    for (const [type, body] of [['text/plain', JSON.stringify({ url: rx.url })], ['application/x-www-form-urlencoded', `url=${encodeURIComponent(rx.url)}`]] as const) {
      const res = await fetch(`${base}/v1/webhooks`, { method: 'POST', headers: { ...key.headers, 'content-type': type }, body });
      expect({ type, status: res.status, code: ((await res.json()) as { error?: { code?: string } }).error?.code }).toEqual({ type, status: 415, code: 'UNSUPPORTED_CONTENT_TYPE' });
    }
    expect((await api(key, 'GET', '/v1/webhooks')).body.webhooks).toEqual(before);

    // An endpoint cannot be moved onto a forbidden URL either: it keeps the one it had.
    const hook = await createHook(key, rx.url);
    const moved = await api(key, 'PATCH', `/v1/webhooks/${hook.id}`, { url: 'http://169.254.169.254/latest/meta-data/' });
    expect({ status: moved.status, code: moved.body?.error?.code }).toEqual({ status: 400, code: 'WEBHOOK_URL_FORBIDDEN' });
    expect((await api(key, 'GET', `/v1/webhooks/${hook.id}`)).body.url).toBe(rx.url);
  });

  it('signs with the old and the new secret after a rotation, each verifying alone', async () => {
    const key = await tenantKey();
    const rx = await receiver();
    const hook = await createHook(key, rx.url, ['job.completed']);
    const rotated = await api(key, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: hook.id, secret: expect.stringMatching(/^whsec_/), previous_secret_expires_at: expect.any(String) });
    expect(rotated.body.secret).not.toBe(hook.secret);
    // The old secret's grace (24 h by default) ends in the future.
    expect(Date.parse(rotated.body.previous_secret_expires_at)).toBeGreaterThan(Date.now() + 3_600_000);

    const jobId = await submit(key);
    await completed(key, jobId);
    const [sent] = await arrives(() => rx.of(jobId, 'job.completed'), 'the delivery after the rotation');
    const signatures = sent!.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    // Each signature alone, under its own secret: a receiver holding either one accepts the message.
    const [first, second] = signatures;
    const alone = (signature: string) => ({ ...sent!, headers: { ...sent!.headers, 'webhook-signature': signature } });
    expect(verify(alone(first!), rotated.body.secret)).toEqual(sent!.json);
    expect(verify(alone(second!), hook.secret)).toEqual(sent!.json);
    expect(() => verify(alone(first!), hook.secret)).toThrow();
    expect(() => verify(alone(second!), rotated.body.secret)).toThrow();
    // And the whole header with either secret.
    expect(verify(sent!, hook.secret)).toEqual(sent!.json);
    expect(verify(sent!, rotated.body.secret)).toEqual(sent!.json);
  });

  it('sends a delivered delivery again on the retry route and on a replay, with the same webhook-id each time', async () => {
    const key = await tenantKey();
    const rx = await receiver();
    const hook = await createHook(key, rx.url, ['job.completed']);
    const since = new Date(Date.now() - 1000).toISOString();
    const jobId = await submit(key);
    await completed(key, jobId);
    const [first] = await arrives(() => rx.of(jobId, 'job.completed'), 'the first delivery');
    const delivered = await eventually(async () => {
      const found = (await deliveries(key, hook.id)).find((d) => d.id === first!.id);
      return found?.status === 'delivered' ? found : undefined;
    }, 10_000, 'the delivery recorded delivered');
    expect(delivered.attempts).toBe(1);

    const retried = await api(key, 'POST', `/v1/webhooks/${hook.id}/deliveries/${first!.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: first!.id, status: 'pending' });
    const afterRetry = await arrives(() => (rx.of(jobId).length >= 2 ? rx.of(jobId) : []), 'the retried delivery');
    expect(afterRetry.map((h) => h.id)).toEqual([first!.id, first!.id]);
    expect(afterRetry[1]!.body).toBe(first!.body);
    verify(afterRetry[1]!, hook.secret);

    // This tenant has one job, with one event the endpoint hears: a replay from the start queues it again.
    const replay = await api(key, 'POST', `/v1/webhooks/${hook.id}/replay`, { from: '1' });
    expect(replay).toEqual({ status: 202, body: { queued: 1, from_seq: 1, to_seq: expect.any(Number), truncated: false } });
    const afterReplay = await arrives(() => (rx.of(jobId).length >= 3 ? rx.of(jobId) : []), 'the replayed delivery');
    expect(afterReplay.map((h) => h.id)).toEqual([first!.id, first!.id, first!.id]);
    verify(afterReplay[2]!, hook.secret);
    const record = await eventually(async () => {
      const found = (await deliveries(key, hook.id)).find((d) => d.id === first!.id);
      return found?.status === 'delivered' && found.attempts === 3 ? found : undefined;
    }, 10_000, 'three attempts recorded');
    expect(record).toMatchObject({ job_id: jobId, status: 'delivered', attempts: 3 });
    expect(await deliveries(key, hook.id)).toHaveLength(1);

    // From a time: the job's event was stored after `since`, so it is sent once more; a `from` that is neither is refused.
    const fromTime = await api(key, 'POST', `/v1/webhooks/${hook.id}/replay`, { from: since });
    expect(fromTime).toEqual({ status: 202, body: { queued: 1, from_seq: expect.any(Number), to_seq: expect.any(Number), truncated: false } });
    await arrives(() => (rx.of(jobId).length >= 4 ? rx.of(jobId) : []), 'the delivery replayed from a time');
    expect(new Set(rx.of(jobId).map((h) => h.id))).toEqual(new Set([first!.id]));
    const bad = await api(key, 'POST', `/v1/webhooks/${hook.id}/replay`, { from: 'yesterday' });
    expect({ status: bad.status, code: bad.body?.error?.code }).toEqual({ status: 400, code: 'INVALID_REPLAY_FROM' });
  });

  // Last: it kills the services that the tests above share.
  it('loses no delivery across a crash of every service while the receiver is down', async () => {
    const key = await tenantKey();
    const rx = await receiver(false);
    const hook = await createHook(key, rx.url, ['job.completed']);
    const jobIds = await Promise.all([submit(key), submit(key), submit(key)]);
    await Promise.all(jobIds.map((id) => completed(key, id)));

    // No clean shutdown: whatever the fan-out had not acked, and every lease, dies with the process. Such
    // work comes back only once it times out: an event in the fan-out after the consumer's ack wait
    // (30 s), a delivery claimed for an attempt after its lease (WEBHOOK_TIMEOUT_MS + 30 s). Usually
    // nothing is in flight at the kill and this test takes seconds; when something is, half a minute.
    for (const name of ['gateway', 'worker', 'jobs']) expect(await system.get(name).stop('SIGKILL')).toBe('SIGKILL');
    await startServices();
    await rx.listen();

    const sent = await eventually(async () => {
      const all = jobIds.map((id) => rx.of(id, 'job.completed'));
      return all.every((hooks) => hooks.length > 0) ? all : undefined;
    }, 75_000, "every job's job.completed");
    for (const [i, hooks] of sent.entries()) {
      // At least once: a copy sent twice carries the same id.
      expect(new Set(hooks.map((h) => h.id)).size).toBe(1);
      expect(verify(hooks[0]!, hook.secret)).toMatchObject({ type: 'job.completed', data: { job_id: jobIds[i], status: 'completed' } });
    }
    const recorded = await eventually(async () => {
      const all = await deliveries(key, hook.id);
      return all.length === 3 && all.every((d) => d.status === 'delivered') ? all : undefined;
    }, 10_000, 'three deliveries recorded delivered');
    expect(new Set(recorded.map((d) => d.job_id))).toEqual(new Set(jobIds));
  }, 120_000);
});
