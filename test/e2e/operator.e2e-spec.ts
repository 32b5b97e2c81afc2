import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { testKeys, type TestKey } from '../support/keys.js';
import { serviceStarter, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir, mp4Shell } from '../support/videos.js';
import { webhookReceiver } from '../support/webhook-receiver.js';

const root = new URL('../..', import.meta.url).pathname;

/** Runs the built `framewire` CLI and collects its stdout and stderr apart. */
function framewire(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin', 'framewire.js'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The JSON log lines a service wrote. */
function logLines(service: ServiceProcess): Array<Record<string, unknown>> {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Sums a Prometheus sample over the series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : Number.NaN;
}

/**
 * What an operator uses around the API, against the built services as processes: the CLI, the
 * correlation id in every service's logs, metrics and health on each service, and the OpenAPI
 * document covering every route the gateway serves.
 */
describe('operating Framewire', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let base = '';
  let video = '';
  const services = new Map<string, ServiceProcess>();
  const ops = new Map<string, string>();
  /** The operator's admin key (the CLI's FRAMEWIRE_API_KEY), and a tenant's key. */
  let admin: TestKey;
  let tenant: TestKey;

  const start = serviceStarter(() => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace }), services);

  const cli = (args: string[], key: TestKey | null = admin) => framewire(args, { FRAMEWIRE_URL: base, ...(key ? { FRAMEWIRE_API_KEY: key.key } : {}) });

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    video = await makeVideo(join(media.dir, 'ops-clip.mp4'), { seconds: 1 });
    // The webhook receivers are on loopback, over http; retries come quickly.
    const jobs = start('jobs', 'jobs', { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1', WEBHOOK_RETRY_BASE_MS: '200' });
    const worker = start('worker', 'worker', { WORKER_ID: 'ops-worker' });
    const gateway = start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1' });
    const [listening] = await Promise.all([gateway.waitForLine(/gateway listening/), jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    const keys = await testKeys(db.schema);
    [admin, tenant] = await Promise.all([keys.create('ops', true, 'operator'), keys.create('studio')]);
    await keys.close();
    for (const [name, service] of [['jobs', jobs], ['worker', worker]] as const) {
      const line = JSON.parse(await service.waitForLine(/ops listening/)) as { opsPort: number };
      ops.set(name, `http://127.0.0.1:${line.opsPort}`);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('submits with the CLI, follows the job to the end, and lists it', async () => {
    const submitted = await cli(['submit', video, '--wait', '--json']);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout) as { job_id: string; status: string; result: { tools: { probe: { data: { width: number } } } } };
    expect(job).toMatchObject({ status: 'completed', result: { tools: { probe: { data: { width: 320 } } } } });

    const human = await cli(['submit', video, '--wait', '--priority', 'high']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^[0-9a-f-]{36} completed\n$/);
    expect(human.stderr).toMatch(/upload \|.*\| 100%/);
    expect(human.stderr).toMatch(/job +\|.*\| 100% completed/);

    const listed = await cli(['jobs', '--json', '--limit', '5']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { jobs: Array<{ job_id: string }> }).jobs.map((j) => j.job_id)).toContain(job.job_id);
    const table = await cli(['jobs', '--status', 'completed']);
    expect(table.stdout.split('\n')[0]).toMatch(/^JOB +STATUS +PROGRESS +PIPELINE/);
    expect(table.stdout).toContain(job.job_id);
  });

  it('reports a rejected request or a failed job with its code and a non-zero exit', async () => {
    const badParams = await cli(['submit', video, '--params', '[1,2]']);
    expect(badParams.code).toBe(1);
    expect(badParams.stderr).toContain('INVALID_PARAMS');

    const unknown = await cli(['submit', video, '--pipeline', 'nope', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'UNKNOWN_PIPELINE' } });

    const notVideo = join(media.dir, 'notes.mp4');
    await import('node:fs/promises').then((fs) => fs.writeFile(notVideo, 'not a video\n'));
    const refused = await cli(['submit', notVideo, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('UNSUPPORTED_MEDIA');
    // An MP4's boxes with nothing playable inside pass the door and fail in the worker.
    const hollow = join(media.dir, 'hollow.mp4');
    await import('node:fs/promises').then((fs) => fs.writeFile(hollow, mp4Shell(5)));
    const failed = await cli(['submit', hollow, '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/failed: INVALID_MEDIA/);

    const keyless = await cli(['jobs'], null);
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toContain('UNAUTHENTICATED');

    const nowhere = await framewire(['jobs'], { FRAMEWIRE_URL: 'http://127.0.0.1:9' });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('UNREACHABLE');

    // `workers` answers an admin key with the registry, and says why it cannot to a tenant's key: JSON either way.
    const workers = await cli(['workers', '--json']);
    expect(workers.code).toBe(0);
    expect((JSON.parse(workers.stdout) as { workers: Array<{ worker_id: string }> }).workers.map((w) => w.worker_id)).toEqual(['ops-worker']);
    const forbidden = await cli(['workers', '--json'], tenant);
    expect(forbidden.code).toBe(1);
    expect(JSON.parse(forbidden.stdout)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    // A tenant's key lists its own jobs only.
    const theirs = await cli(['jobs', '--json'], tenant);
    expect(JSON.parse(theirs.stdout)).toEqual({ jobs: [], next_cursor: null });

    for (const command of ['submit', 'jobs', 'workers']) {
      const help = await framewire([command, '--help'], {});
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('FRAMEWIRE_URL');
    }
  });

  it('logs one request id in the gateway, the jobs service and the worker', async () => {
    const requestId = `e2e-${randomUUID()}`;
    const form = new FormData();
    form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'traced.mp4');
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: { ...admin.headers, 'X-Request-Id': requestId } });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    const view = await eventually(async () => {
      const job = (await (await fetch(`${base}/v1/jobs/${jobId}`, { headers: admin.headers })).json()) as { status: string; correlation_id: string };
      return job.status === 'completed' ? job : undefined;
    }, 30_000, 'the traced job');
    expect(view.correlation_id).toBe(requestId);

    const tagged = (name: string) => logLines(services.get(name)!).filter((line) => line['correlationId'] === requestId);
    await eventually(async () => (tagged('jobs').some((l) => l['msg'] === 'projected JobCompleted') ? true : undefined), 10_000, 'the jobs service log');
    expect(tagged('gateway').map((l) => l['msg'])).toContain('request completed');
    expect(tagged('worker').map((l) => l['msg'])).toEqual(expect.arrayContaining(['job started', 'job completed']));
    expect(tagged('worker').every((l) => l['jobId'] === jobId)).toBe(true);
    expect(tagged('jobs').map((l) => l['msg'])).toEqual(['projected VideoSubmitted', 'projected JobStarted', 'projected JobCompleted']);
  });

  it('exposes metrics and health on every service', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: tenant.headers })).status).toBe(403);
    const gateway = await (await fetch(`${base}/metrics`, { headers: admin.headers })).text();
    expect(sample(gateway, 'framewire_jobs_submitted_total', { pipeline: 'probe' })).toBeGreaterThanOrEqual(3);
    // The CLI's two submissions came by the resumable upload (tus), the traced one by POST /v1/jobs.
    expect(sample(gateway, 'framewire_http_requests_total', { route: '/v1/jobs', method: 'POST', status: '202' })).toBeGreaterThanOrEqual(1);
    expect(sample(gateway, 'framewire_http_requests_total', { route: '/v1/uploads/:id', method: 'PATCH', status: '204' })).toBeGreaterThanOrEqual(2);
    expect(sample(gateway, 'framewire_http_request_duration_seconds_count', { route: '/v1/jobs/:id' })).toBeGreaterThan(0);

    const worker = await (await fetch(`${ops.get('worker')}/metrics`)).text();
    expect(sample(worker, 'framewire_jobs_completed_total', { pipeline: 'probe' })).toBeGreaterThanOrEqual(3);
    expect(sample(worker, 'framewire_jobs_failed_total', { code: 'INVALID_MEDIA', final: 'true' })).toBe(1);
    expect(sample(worker, 'framewire_job_queue_wait_seconds_count', { pipeline: 'probe' })).toBeGreaterThanOrEqual(3);
    expect(sample(worker, 'framewire_job_run_seconds_count', { outcome: 'completed' })).toBeGreaterThanOrEqual(3);

    const jobs = await (await fetch(`${ops.get('jobs')}/metrics`)).text();
    expect(sample(jobs, 'framewire_consumer_pending', { consumer: 'workers' })).toBe(0);
    expect(sample(jobs, 'framewire_consumer_ack_pending', { consumer: 'projector' })).toBe(0);
    const last = sample(jobs, 'framewire_stream_last_seq');
    expect(last).toBeGreaterThanOrEqual(12);
    await eventually(async () => {
      const text = await (await fetch(`${ops.get('jobs')}/metrics`)).text();
      return sample(text, 'framewire_projector_lag') === 0 ? true : undefined;
    }, 10_000, 'projector lag 0');
    expect(sample(jobs, 'framewire_projector_parked_events')).toBe(0);

    for (const url of [base, ops.get('jobs')!, ops.get('worker')!]) {
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ok', checks: { nats: { status: 'up' } } });
    }
    expect(await (await fetch(`${ops.get('jobs')}/health/ready`)).json()).toMatchObject({ checks: { postgres: { status: 'up' } } });

    const system = (await (await fetch(`${base}/v1/system`, { headers: admin.headers })).json()) as {
      stream: { last_seq: number };
      consumers: Array<{ name: string }>;
      projector: { lag: number; parked: unknown };
    };
    expect(system.consumers.map((c) => c.name).sort()).toEqual(['projector', 'webhooks', 'workers', 'workers-high', 'workers-low']);
    expect(system.projector.lag).toBe(0);
    expect(system.projector.parked).toEqual({ count: 0, recent: [] });
  });

  it('documents every route the gateway serves, with its error shapes, at /docs', async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    expect((await fetch(`${base}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    const doc = (await (await fetch(`${base}/docs/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; 'x-framewire-access'?: string }>> };
    expect(doc.openapi).toBe('3.1.0');
    // Nest logs each route it maps: every one of them must be in the document.
    const mapped = logLines(services.get('gateway')!)
      .map((line) => /^Mapped \{(.+), (\w+)\} route$/.exec(String(line['msg'])))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ path: m[1]!.replace(/:(\w+)/g, '{$1}'), method: m[2]!.toLowerCase() }));
    expect(mapped.length).toBeGreaterThanOrEqual(10);
    const missing = mapped.filter(({ path, method }) => !doc.paths[path]?.[method]).map(({ path, method }) => `${method} ${path}`);
    expect(missing).toEqual([]);
    // ... with who may call it: the public routes are the dashboard, the docs and the probes, and no others.
    const publicRoutes = mapped.filter(({ path, method }) => doc.paths[path]![method]!['x-framewire-access'] === 'public').map(({ path }) => path);
    expect(new Set(publicRoutes)).toEqual(new Set(['/', '/jobs/{id}', '/webhooks', '/docs', '/docs/openapi.json', '/docs/init.js', '/docs/assets/{file}', '/health/live', '/health/ready']));
    for (const { path, method } of mapped) {
      const operation = doc.paths[path]![method]!;
      // The media path takes no key at all: the signed link in its path is the whole authorization.
      const open = operation['x-framewire-access'] === 'public' || operation['x-framewire-access'] === 'media-link';
      expect([path, operation.security]).toEqual([path, open ? [] : expect.arrayContaining([{ apiKey: [] }])]);
    }
    // And the guard agrees with the document: a public route answers without a key, the others do not.
    for (const { path } of mapped.filter((m) => m.method === 'get' && !m.path.includes('{'))) {
      const status = (await fetch(`${base}${path}`, { method: 'HEAD' })).status;
      expect([path, status === 401]).toEqual([path, !publicRoutes.includes(path)]);
    }
  });

  it('registers a webhook with the CLI, which hears a job end (signed), lists its delivery, retries and replays it', async () => {
    const receiver = await webhookReceiver();
    try {
      const created = await cli(['webhooks', 'create', receiver.url, '--events', 'job.completed', '--json']);
      expect(created.code).toBe(0);
      const endpoint = JSON.parse(created.stdout) as { id: string; secret: string; tenant: string; events: string[]; url: string };
      expect(endpoint).toMatchObject({ url: receiver.url, tenant: admin.tenant, events: ['job.completed'], secret: expect.stringMatching(/^whsec_/) });

      // The job and the count below go over HTTP: each CLI run is a node process to start.
      const form = new FormData();
      form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'hooked.mp4');
      const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: admin.headers });
      expect(res.status).toBe(202);
      const { job_id: jobId } = (await res.json()) as { job_id: string };
      const [heard] = await receiver.waitFor(1, (r) => r.json.data.job_id === jobId);
      // Signed with the secret the CLI printed, as a receiver using the specification's library checks it.
      expect(new Webhook(endpoint.secret).verify(heard!.body, heard!.headers)).toMatchObject({ type: 'job.completed', data: { job_id: jobId, status: 'completed' } });
      expect(() => new Webhook(`whsec_${Buffer.from('not the secret').toString('base64')}`).verify(heard!.body, heard!.headers)).toThrow();

      // The receiver answers before the attempt is recorded: wait for the record (over HTTP, quicker than CLI runs).
      await eventually(async () => {
        const page = (await (await fetch(`${base}/v1/webhooks/${endpoint.id}/deliveries`, { headers: admin.headers })).json()) as { deliveries: Array<{ status: string }> };
        return page.deliveries[0]?.status === 'delivered' ? true : undefined;
      }, 10_000, 'the delivery recorded as delivered');
      const listing = await cli(['webhooks', 'deliveries', endpoint.id]);
      expect(listing.code).toBe(0);
      const [header, ...rows] = listing.stdout.trimEnd().split('\n');
      expect(header).toMatch(/^DELIVERY +EVENT +JOB +STATUS +ATTEMPTS +LAST +NEXT ATTEMPT +DELIVERED AT$/);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatch(new RegExp(`^${heard!.id} +job\\.completed +${jobId} +delivered +1 +200 +- +\\d{4}-`));

      // A retry sends the same delivery (its webhook-id) again, signed again.
      const retried = await cli(['webhooks', 'retry', endpoint.id, heard!.id]);
      expect(retried.code).toBe(0);
      expect(retried.stdout).toContain(`delivery ${heard!.id} (job.completed of job ${jobId}) queued again`);
      const [, again] = await receiver.waitFor(2, (r) => r.id === heard!.id);
      expect(new Webhook(endpoint.secret).verify(again!.body, again!.headers)).toMatchObject({ data: { job_id: jobId } });

      // A replay from the start of the log queues every job.completed of the endpoint's tenant, those
      // from before the endpoint existed too; the receiver gets them, this job's under its webhook-id.
      const listed = (await (await fetch(`${base}/v1/jobs?status=completed&limit=100`, { headers: admin.headers })).json()) as { jobs: Array<{ tenant: string }> };
      const completed = listed.jobs.filter((job) => job.tenant === endpoint.tenant).length;
      const before = receiver.received.length;
      const replayed = await cli(['webhooks', 'replay', endpoint.id, '--from', '1']);
      expect(replayed.code).toBe(0);
      expect(replayed.stdout).toMatch(new RegExp(`^queued ${completed} deliver(y|ies), from the events at stream sequences 1 to \\d+\n$`));
      const afterReplay = await eventually(async () => (receiver.received.length >= before + completed ? receiver.received.slice(before) : undefined), 10_000, 'the replayed deliveries');
      expect(afterReplay.map((r) => r.json.type)).toEqual(Array(completed).fill('job.completed'));
      expect(afterReplay.filter((r) => r.json.data.job_id === jobId).map((r) => r.id)).toEqual([heard!.id]);

      // An event type that does not exist is a usage error, refused before anything is sent.
      const usage = await cli(['webhooks', 'create', receiver.url, '--events', 'job.exploded']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('unknown event "job.exploded"');
    } finally {
      await receiver.close();
    }
  });
});
