import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test, type TestingModule } from '@nestjs/testing';
import { AckPolicy, jetstream, jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { jobsEnvSchema, parseConfig, workerEnvSchema } from '@app/config';
import { encodeEvent, jobSubjects, type JobSubjects } from '@app/contracts';
import { ConsumerFilterError, EventStore } from '@app/event-store';
import { connectNats, inboxPrefixOf, natsClientOptions, renderNatsAuthorization, type NatsConnection, type ServiceRole } from '@app/nats';
import { NamespacedNatsServer } from '@app/rpc';
import { createLogger } from '@app/observability';
import { JobsModule } from '../../apps/jobs/src/jobs.module.js';
import { liveUploadChunkSets } from '../../apps/jobs/src/deletion/live-uploads.js';
import { WORK_CONSUMERS } from '../../apps/worker/src/work/work.consumer.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { ResumableUploadsService } from '../../apps/gateway/src/resumable/resumable-uploads.service.js';
import { startGateway } from '../support/gateway.js';
import { jobCompleted, jobStarted } from '../support/events.js';
import { testKeys } from '../support/keys.js';
import { freeTcpPort } from '../support/processes.js';
import { testNatsServerBinary } from '../support/servers.js';
import { eventually, freshName, freshSchema, IN_PROCESS_OPS, type TestSchema } from '../support/services.js';
import { mp4Shell } from '../support/videos.js';

/**
 * The permission set of deploy/nats (natsPermissions), enforced by a nats-server that this test
 * starts: every service runs as its own user and still does its whole job (submit, run, project,
 * read, verify keys, revoke), while the gateway's user cannot append a lifecycle event, touch the
 * stream, or answer the jobs service's requests.
 */
describe('NATS permissions per service', () => {
  let dir: string;
  let server: ChildProcess;
  let url = '';
  let subjects: JobSubjects;
  let db: TestSchema;
  const passwords: Record<ServiceRole | 'admin', string> = {
    gateway: randomBytes(12).toString('hex'),
    jobs: randomBytes(12).toString('hex'),
    worker: randomBytes(12).toString('hex'),
    admin: randomBytes(12).toString('hex'),
  };
  const connections: NatsConnection[] = [];
  let jobs: INestMicroservice;
  let worker: TestingModule;
  let gateway: NestExpressApplication;
  let base = '';
  let key = '';
  let adminKey = '';
  let oldWorkConsumer: ConsumerInfo;

  const connectAs = async (role: ServiceRole | 'admin') => {
    const nc = await connectNats(url, `perm-test-${role}`, { user: role, pass: passwords[role], inboxPrefix: role === 'admin' ? undefined : inboxPrefixOf(role) });
    connections.push(nc);
    return nc;
  };
  const env = (role: ServiceRole) => ({ ...IN_PROCESS_OPS, NATS_URL: url, NATS_USER: role, NATS_PASSWORD: passwords[role], FRAMEWIRE_NAMESPACE: subjects.namespace, LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framewire-nats-perm-'));
    const port = await freeTcpPort();
    subjects = jobSubjects(freshName('p'));
    const config = [`listen: 127.0.0.1:${port}`, `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))}, sync_interval: always }`, renderNatsAuthorization(subjects, passwords)].join('\n');
    await writeFile(join(dir, 'nats.conf'), config);
    server = spawn(await testNatsServerBinary(), ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
    url = `nats://127.0.0.1:${port}`;
    await eventually(async () => (await connectAs('admin').then(() => true).catch(() => undefined)), 10_000, 'nats-server');
    db = await freshSchema();

    // The jobs service first: it owns (creates) the stream; the others only wait for it.
    const jobsConfig = parseConfig(jobsEnvSchema, { ...env('jobs'), DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    const jobsRef = await Test.createTestingModule({ imports: [JobsModule.forRoot(jobsConfig, createLogger('jobs', 'silent'))] }).compile();
    jobs = jobsRef.createNestMicroservice({
      strategy: new NamespacedNatsServer(subjects.rpcPrefix, {
        ...natsClientOptions(url, { user: 'jobs', pass: passwords.jobs, inboxPrefix: inboxPrefixOf('jobs') }),
        queue: 'framewire-jobs',
      }),
      logger: false,
    });
    await jobs.listen();

    // An installation upgraded under compose: the normal-priority work consumer was made by an older
    // version for the old work subject. The worker, as its own user, must make it again.
    const jsm = await jetstreamManager(await connectAs('admin'));
    await eventually(async () => (await jsm.streams.info(subjects.streamName).catch(() => undefined)) && true, 30_000, 'the event stream');
    oldWorkConsumer = await jsm.consumers.add(subjects.streamName, {
      durable_name: WORK_CONSUMERS.normal,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${subjects.namespace}.job.*.submitted`,
    });

    const workerConfig = parseConfig(workerEnvSchema, { ...env('worker'), WORKER_ID: 'perm-worker', WORKER_CONCURRENCY: '1' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(workerConfig, createLogger('worker', 'silent'))] }).compile();
    await worker.init();

    ({ app: gateway, base } = await startGateway({ ...env('gateway'), RPC_TIMEOUT_MS: '3000' }));

    const keys = await testKeys(db.schema);
    key = (await keys.create('acme')).key;
    adminKey = (await keys.create('ops', true)).key;
    await keys.close();
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await worker?.close();
    await jobs?.close();
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    // The server flushes its store on SIGTERM: wait for it to be gone before removing the store.
    if (server && server.exitCode === null && server.signalCode === null) {
      const gone = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    }
    await db?.drop();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });

  const auth = () => ({ Authorization: `Bearer ${key}` });
  const submit = async () => {
    const form = new FormData();
    form.set('file', new Blob([mp4Shell(3)], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', 'noop');
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: auth() });
    expect(res.status).toBe(202);
    return ((await res.json()) as { job_id: string }).job_id;
  };

  it("lets the gateway run a resumable upload (its own KV buckets, chunks in the video bucket) to a job, expiry sweep included", async () => {
    const file = mp4Shell(4, 600 * 1024);
    const tus = { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${key}` };
    const created = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...tus, 'Upload-Length': String(file.length), 'Upload-Metadata': `pipeline ${Buffer.from('probe').toString('base64')}` } });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get('location')!, base).toString();
    const patch = (offset: number, body: Uint8Array<ArrayBuffer>) => fetch(url, { method: 'PATCH', body, headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) } });
    expect((await patch(0, file.slice(0, 300 * 1024))).status).toBe(204);
    const head = await fetch(url, { method: 'HEAD', headers: tus });
    expect(head.headers.get('upload-offset')).toBe(String(300 * 1024));
    const last = await patch(300 * 1024, file.slice(300 * 1024));
    expect(last.status).toBe(204);
    expect(last.headers.get('framewire-job-id')).toMatch(/^[0-9a-f-]{36}$/);
    const sweep = gateway.get(ResumableUploadsService);
    expect(await sweep.sweep()).toBe(0);
    // A PATCH refused by its checksum deletes its chunks by sequence; a termination purges them; the
    // jobs service's storage sweep reads the live uploads' chunk sets, read only.
    const other = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { ...tus, 'Upload-Length': String(file.length) } });
    const otherUrl = new URL(other.headers.get('location')!, base).toString();
    const wrong = await fetch(otherUrl, { method: 'PATCH', body: file.slice(0, 1000), headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Upload-Checksum': `sha256 ${Buffer.alloc(32).toString('base64')}` } });
    expect(wrong.status).toBe(460);
    expect((await fetch(otherUrl, { method: 'PATCH', body: file.slice(0, 1000), headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' } })).status).toBe(204);
    const { nuid } = (await sweep.find(otherUrl.split('/').pop()!, 'acme'))!;
    expect(await liveUploadChunkSets(await connectAs('jobs'), subjects, new Date())).toContain(nuid);
    expect((await fetch(otherUrl, { method: 'DELETE', headers: tus })).status).toBe(204);
  });

  it('runs a job end to end with every service as its own user', async () => {
    const jobId = await submit();
    const done = await eventually(async () => {
      const res = await fetch(`${base}/v1/jobs/${jobId}`, { headers: auth() });
      const view = (await res.json()) as { status: string };
      return view.status === 'completed' ? view : undefined;
    }, 30_000, 'the job to complete');
    expect(done).toMatchObject({ status: 'completed', tenant: 'acme', worker_id: 'perm-worker' });
    const events = (await (await fetch(`${base}/v1/jobs/${jobId}/events`, { headers: auth() })).json()) as {
      events: Array<{ type: string }>;
    };
    expect(events.events.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    // The gateway reads the workers' registry as its own user (it may not create or write it).
    const workers = (await (await fetch(`${base}/v1/workers`, { headers: { Authorization: `Bearer ${adminKey}` } })).json()) as { workers: Array<{ worker_id: string }> };
    expect(workers.workers.map((w) => w.worker_id)).toEqual(['perm-worker']);
    expect(await (await fetch(`${base}/v1/worker/health`, { headers: auth() })).json()).toMatchObject({ alive: true });
  });

  it("lets the gateway (GET /v1/system) and the jobs service (metrics) read the stream's figures and its consumers", async () => {
    const res = await fetch(`${base}/v1/system`, { headers: { Authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    const view = (await res.json()) as { stream: { name: string }; consumers: Array<{ name: string }> };
    expect(view.stream.name).toBe(subjects.streamName);
    expect(view.consumers.map((c) => c.name)).toEqual(expect.arrayContaining(['projector', 'workers', 'workers-high', 'workers-low']));
    const figures = await new EventStore(await connectAs('jobs'), subjects, 2000).figures();
    expect(figures.consumers.map((c) => c.name)).toEqual(expect.arrayContaining(['projector', 'workers']));
  });

  it('lets the gateway follow a job live (ordered consumers for SSE), read only', async () => {
    const jobId = await submit();
    const nc = await connectAs('gateway');
    const store = new EventStore(nc, subjects);
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const item of store.followJob(jobId, 0, abort.signal)) {
      if (item.ok) seen.push(item.stored.event.type);
      if (seen.includes('JobCompleted')) abort.abort();
    }
    expect(seen).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('refuses the gateway a lifecycle append (JobCompleted), and any change to the stream', async () => {
    const jobId = await submit();
    const admin = await connectAs('admin');
    const adminStore = new EventStore(admin, subjects);
    // Let the worker finish, so the stream is quiet.
    await eventually(async () => ((await adminStore.lastLifecycle(jobId))?.ok ? true : undefined), 30_000, 'the worker');
    await eventually(async () => ((await adminStore.readJob(jobId)).length === 3 ? true : undefined), 30_000, 'the terminal event');
    const lastSeq = await adminStore.lastSeq();

    const nc = await connectAs('gateway');
    const submitted = (await adminStore.firstSubmission(jobId))!;
    if (!submitted.ok) throw new Error('unreadable submission');
    const forged = jobCompleted(jobStarted(submitted.stored.event), 2, { forged: true });
    const js = jetstream(nc, { timeout: 2000 });
    await expect(js.publish(subjects.lifecycle(jobId), encodeEvent(forged), { msgID: forged.eventId })).rejects.toThrow(/permission|timeout|no responders/i);
    // A core publish is dropped by the server too.
    nc.publish(subjects.lifecycle(jobId), encodeEvent(forged));
    await nc.flush().catch(() => undefined);

    const jsm = await jetstreamManager(admin);
    const gatewayJsm = await jetstreamManager(await connectAs('gateway'), { timeout: 2000 });
    await expect(gatewayJsm.streams.purge(subjects.streamName)).rejects.toThrow();
    await expect(gatewayJsm.streams.delete(subjects.streamName)).rejects.toThrow();
    await expect(gatewayJsm.streams.update(subjects.streamName, { max_age: 1_000_000_000 })).rejects.toThrow();
    await expect(gatewayJsm.consumers.delete(subjects.streamName, 'workers')).rejects.toThrow();

    expect((await jsm.streams.info(subjects.streamName)).state.last_seq).toBe(lastSeq);
    expect((await adminStore.readJob(jobId)).map((i) => (i.ok ? i.stored.event.type : 'malformed'))).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('lets the worker make its consumer again when the filter changed (an upgrade), so normal-priority jobs run', async () => {
    const jsm = await jetstreamManager(await connectAs('admin'));
    const now = await jsm.consumers.info(subjects.streamName, WORK_CONSUMERS.normal);
    expect(now.config.filter_subjects).toEqual([subjects.submittedWith('normal'), subjects.partWorkWith('normal')]);
    expect(now.created).not.toBe(oldWorkConsumer.created);

    const form = new FormData();
    form.set('file', new Blob([mp4Shell(3)], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', 'noop');
    form.set('priority', 'normal');
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: auth() });
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    const done = await eventually(async () => {
      const view = (await (await fetch(`${base}/v1/jobs/${jobId}`, { headers: auth() })).json()) as { status: string };
      return view.status === 'completed' ? view : undefined;
    }, 30_000, 'the normal-priority job to complete');
    expect(done).toMatchObject({ status: 'completed', priority: 'normal' });
  });

  it("lets the worker delete only its own work consumers, never the projector's", async () => {
    const workerJsm = await jetstreamManager(await connectAs('worker'), { timeout: 2000 });
    const adminJsm = await jetstreamManager(await connectAs('admin'));
    const projector = await adminJsm.consumers.info(subjects.streamName, 'projector');
    await expect(workerJsm.consumers.delete(subjects.streamName, 'projector')).rejects.toThrow();
    await expect(workerJsm.consumers.delete(subjects.advisoryStreamName, 'dead-letters')).rejects.toThrow();
    await expect(workerJsm.consumers.delete(subjects.streamName, 'not-a-work-consumer')).rejects.toThrow(/permission|timeout/i);
    expect((await adminJsm.consumers.info(subjects.streamName, 'projector')).created).toBe(projector.created);
    expect((await adminJsm.consumers.info(subjects.advisoryStreamName, 'dead-letters')).config.durable_name).toBe('dead-letters');
  });

  it("refuses the gateway and the worker any change to another service's durable consumer, and pulls from it", async () => {
    const adminJsm = await jetstreamManager(await connectAs('admin'));
    const before = Object.fromEntries(
      await Promise.all(['workers', 'workers-high', 'workers-low', 'projector'].map(async (name) => [name, (await adminJsm.consumers.info(subjects.streamName, name)).config] as const)),
    );
    const gatewayNc = await connectAs('gateway');
    const gatewayJsm = await jetstreamManager(gatewayNc, { timeout: 2000 });
    const workerJsm = await jetstreamManager(await connectAs('worker'), { timeout: 2000 });
    // Re-pointing the work consumer's filter would leave every normal job waiting; max_deliver 1 would dead-letter them.
    await expect(gatewayJsm.consumers.update(subjects.streamName, 'workers', { max_deliver: 1 })).rejects.toThrow();
    await expect(gatewayJsm.consumers.add(subjects.streamName, { durable_name: 'workers', ack_policy: AckPolicy.Explicit, filter_subject: `${subjects.namespace}.nothing` })).rejects.toThrow();
    await expect(gatewayJsm.consumers.update(subjects.streamName, 'projector', { max_ack_pending: 1 })).rejects.toThrow();
    await expect(workerJsm.consumers.update(subjects.streamName, 'projector', { max_ack_pending: 1 })).rejects.toThrow();
    await expect(workerJsm.consumers.add(subjects.streamName, { durable_name: 'projector', ack_policy: AckPolicy.Explicit, filter_subject: `${subjects.namespace}.nothing` })).rejects.toThrow();
    // Pulling a job without acking it would delay it by the ack wait, and use up its deliveries.
    const pull = JSON.stringify({ batch: 1, no_wait: true });
    await expect(gatewayNc.request(`$JS.API.CONSUMER.MSG.NEXT.${subjects.streamName}.workers`, pull, { timeout: 2000 })).rejects.toThrow();
    await expect(gatewayNc.request(`$JS.API.CONSUMER.MSG.NEXT.${subjects.streamName}.projector`, pull, { timeout: 2000 })).rejects.toThrow();
    for (const [name, config] of Object.entries(before)) expect((await adminJsm.consumers.info(subjects.streamName, name)).config).toEqual(config);
  });

  it('fails loudly, and leaves the consumer alone, when a changed filter cannot be made again for lack of rights', async () => {
    const adminJsm = await jetstreamManager(await connectAs('admin'));
    const name = freshName('old-durable');
    const oldFilter = `${subjects.namespace}.job.*.submitted`;
    const before = await adminJsm.consumers.add(subjects.streamName, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: oldFilter });
    const workerStore = new EventStore(await connectAs('worker'), subjects, 2000);
    const attempt = workerStore.ensureDurableConsumer({ durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: subjects.submittedWith('normal') }, []);
    await expect(attempt).rejects.toBeInstanceOf(ConsumerFilterError);
    await expect(attempt).rejects.toThrow(`$JS.API.CONSUMER.DELETE.${subjects.streamName}.${name}`);
    const after = await adminJsm.consumers.info(subjects.streamName, name);
    expect({ filter: after.config.filter_subject, created: after.created }).toEqual({ filter: oldFilter, created: before.created });
  });

  it("refuses the gateway the jobs service's requests, and the worker a work request", async () => {
    const gatewayNc = await connectAs('gateway');
    // Subscribing to the jobs service's subjects would let it answer queries in its place.
    const errors: string[] = [];
    void (async () => {
      for await (const s of gatewayNc.status()) if (s.type === 'error') errors.push(String((s as { error?: Error }).error?.message ?? s));
    })();
    gatewayNc.subscribe(`${subjects.rpcPrefix}.>`);
    await gatewayNc.flush().catch(() => undefined);
    await eventually(async () => (errors.some((e) => /permission/i.test(e)) ? true : undefined), 5_000, 'a permissions violation');

    const workerNc = await connectAs('worker');
    const js = jetstream(workerNc, { timeout: 2000 });
    await expect(js.publish(subjects.submitted('00000000-0000-4000-8000-000000000001', 'high'), new TextEncoder().encode('{}'))).rejects.toThrow();
  });
});
