import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import {
  hashApiKey,
  JobQuery,
  KeyQuery,
  type GetJobReply,
  type JobEvent,
  type JobEventsReply,
  type JobFilesReply,
  type JobScope,
  type ListJobsReply,
  type ProjectionState,
  type RpcReply,
  type VerifyKeyReply,
} from '@app/contracts';
import { EventStore } from '@app/event-store';
import { METRICS_REGISTRY } from '@app/observability';
import { jobCompleted, jobFailed, jobStarted, publishAsOlderRelease, videoSubmitted } from '../../../test/support/events.js';
import { testKeys } from '../../../test/support/keys.js';
import { eventually, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../test/support/services.js';
import { jobsTestConfig, startJobsService } from '../../../test/support/jobs-service.js';
import { PROJECTOR_CONSUMER } from './projection/job.projector.js';

describe('jobs service against NATS and PostgreSQL', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let client: ClientProxy;
  let app: INestMicroservice | null = null;

  async function startJobs(): Promise<INestMicroservice> {
    const microservice = await startJobsService(jobsTestConfig(ns, db, { PROJECTOR_BATCH_SIZE: '50' }), ns.subjects);
    await answering();
    return microservice;
  }

  /** listen() resolves before the server has seen the subscription; wait until a query gets a reply. */
  const answering = () =>
    eventually(() => ask<GetJobReply>(JobQuery.Get, { job_id: randomUUID() }).then(() => true, () => undefined), 10_000, 'the jobs service to answer');

  async function stopJobs(): Promise<void> {
    await app?.close();
    app = null;
  }

  const ask = <T>(pattern: string, payload: unknown) => firstValueFrom(client.send<T>(ns.subjects.rpc(pattern), payload));
  const ALL: JobScope = { kind: 'all' };
  const getJob = async (jobId: string, scope: JobScope = ALL) => {
    const reply = await ask<GetJobReply>(JobQuery.Get, { job_id: jobId, scope });
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.value.job;
  };
  const rows = () => db.query(`SELECT * FROM jobs ORDER BY job_id`);
  const checkpoint = async () => Number((await db.query(`SELECT last_seq FROM projection_checkpoints`))[0]?.['last_seq'] ?? 0);
  const projectedThrough = async (seq: number) => ((await checkpoint()) >= seq ? true : undefined);

  // Every test gets its own stream and schema, so one test's history never leaks into another's rows.
  beforeAll(async () => {
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_NATS_URL] } });
    await client.connect();
  });
  beforeEach(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterEach(async () => {
    await stopJobs();
    await ns.cleanup();
    await db.drop();
  });
  afterAll(() => client.close());

  /** A completed job, a failed job and a queued one, appended to the stream. */
  async function appendHistory() {
    const done = videoSubmitted();
    const d = await store.append(done, 0);
    const doneStarted = jobStarted(done);
    const s = await store.append(doneStarted, d.seq);
    await store.append(jobCompleted(doneStarted, 1, { width: 320, height: 240 }), s.seq);
    const bad = videoSubmitted();
    const a = await store.append(bad, 0);
    const badStarted = jobStarted(bad);
    const b = await store.append(badStarted, a.seq);
    await store.append(jobFailed(badStarted, 1, true, 'INVALID_MEDIA'), b.seq);
    const waiting = videoSubmitted();
    const last = await store.append(waiting, 0);
    return { done, bad, waiting, lastSeq: last.seq };
  }

  it('projects the stream into rows and answers get, list and events over request/reply', async () => {
    const { done, bad, waiting, lastSeq } = await appendHistory();
    app = await startJobs();
    await eventually(() => projectedThrough(lastSeq), 20_000, 'projection');

    expect(await getJob(done.jobId)).toMatchObject({ status: 'completed', result: { width: 320, height: 240 }, attempts: 1, progress: 100 });
    expect(await getJob(bad.jobId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_MEDIA' } });
    expect(await getJob(waiting.jobId)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await getJob(videoSubmitted().jobId)).toBeNull();

    const failedOnly = await ask<ListJobsReply>(JobQuery.List, { status: 'failed', scope: ALL });
    expect(failedOnly.ok && failedOnly.value.jobs.map((j) => j.job_id)).toEqual([bad.jobId]);

    // Newest first, two pages of two and one.
    const page1 = await ask<ListJobsReply>(JobQuery.List, { limit: 2, scope: ALL });
    if (!page1.ok) throw new Error(page1.error.message);
    expect(page1.value.jobs.map((j) => j.job_id)).toEqual([waiting.jobId, bad.jobId]);
    const page2 = await ask<ListJobsReply>(JobQuery.List, { limit: 2, cursor: page1.value.next_cursor, scope: ALL });
    expect(page2.ok && page2.value.jobs.map((j) => j.job_id)).toEqual([done.jobId]);
    expect(page2.ok && page2.value.next_cursor).toBeNull();

    const events = await ask<JobEventsReply>(JobQuery.Events, { job_id: done.jobId, scope: ALL });
    expect(events.ok && events.value.events.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('answers a malformed query or a foreign cursor with an error code, not a crash', async () => {
    app = await startJobs();
    const bad = await ask<GetJobReply>(JobQuery.Get, { job_id: 'not-a-uuid', scope: ALL });
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    // A query without a scope is refused: no caller gets every tenant by leaving it out.
    const unscoped = await ask<GetJobReply>(JobQuery.Get, { job_id: videoSubmitted().jobId });
    expect(unscoped).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const cursor = await ask<ListJobsReply>(JobQuery.List, { cursor: 'bm9wZQ', scope: ALL });
    expect(cursor).toMatchObject({ ok: false, error: { code: 'INVALID_CURSOR' } });
  });

  it("answers a job outside the caller's tenant exactly like a job that does not exist", async () => {
    const mine = videoSubmitted(undefined, { tenant: 'acme' });
    const theirs = videoSubmitted(undefined, { tenant: 'bravo' });
    await store.append(mine, 0);
    const { seq } = await store.append(theirs, 0);
    app = await startJobs();
    const acme: JobScope = { kind: 'tenant', tenant: 'acme' };

    // Before and after the projector has the rows: read-your-writes folds from the stream, with the same rule.
    for (const when of ['unprojected', 'projected']) {
      if (when === 'projected') await eventually(() => projectedThrough(seq), 20_000, 'projection');
      expect(await getJob(mine.jobId, acme)).toMatchObject({ job_id: mine.jobId, tenant: 'acme' });
      expect(await getJob(theirs.jobId, acme)).toBeNull();
      expect(await getJob(theirs.jobId)).toMatchObject({ tenant: 'bravo' });
    }
    const listed = await ask<ListJobsReply>(JobQuery.List, { scope: acme });
    expect(listed.ok && listed.value.jobs.map((j) => j.job_id)).toEqual([mine.jobId]);
    const foreign = await ask<JobEventsReply>(JobQuery.Events, { job_id: theirs.jobId, scope: acme });
    const unknown = await ask<JobEventsReply>(JobQuery.Events, { job_id: videoSubmitted().jobId, scope: acme });
    expect(foreign).toMatchObject({ ok: false, error: { code: 'JOB_NOT_FOUND' } });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'JOB_NOT_FOUND' } });
    // Where a job's files are (upload, result, artifacts) is a job query like the others: scoped.
    const files = (jobId: string, scope: JobScope) => ask<JobFilesReply>(JobQuery.Files, { job_id: jobId, scope });
    expect(await files(mine.jobId, acme)).toMatchObject({ ok: true, value: { files: { job_id: mine.jobId, video: { objectName: mine.data.video.objectName } } } });
    expect(await files(theirs.jobId, acme)).toEqual({ ok: true, value: { files: null } });
    expect(await files(theirs.jobId, ALL)).toMatchObject({ ok: true, value: { files: { job_id: theirs.jobId } } });
    expect(await ask<JobFilesReply>(JobQuery.Files, { job_id: theirs.jobId })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('verifies API keys by hash: active keys give their principal, revoked and unknown ones null', async () => {
    app = await startJobs();
    const keys = await testKeys(db.schema);
    try {
      const key = await keys.create('acme', false, 'ci');
      const verify = (hash: string) => ask<VerifyKeyReply>(KeyQuery.Verify, { key_hash: hash });
      expect(await verify(hashApiKey(key.key))).toEqual({ ok: true, value: { principal: { key_id: key.keyId, tenant: 'acme', admin: false, name: 'ci' } } });
      expect(await verify(hashApiKey(`fwk_${'B'.repeat(43)}`))).toEqual({ ok: true, value: { principal: null } });
      expect(await verify('not-a-hash')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      await keys.repo.revoke(key.keyId);
      expect(await verify(hashApiKey(key.key))).toEqual({ ok: true, value: { principal: null } });
      // The plain key is stored nowhere; only its hash is.
      const rows = await db.query(`SELECT * FROM "${db.schema}_auth".api_keys`);
      expect(JSON.stringify(rows)).not.toContain(key.key);
    } finally {
      await keys.close();
    }
  });

  it('reads a job that has no row yet from its events (read-your-writes)', async () => {
    app = await startJobs();
    const submitted = videoSubmitted();
    const { seq } = await store.append(submitted, 0);
    await eventually(() => projectedThrough(seq), 20_000, 'projection');
    await db.query(`DELETE FROM jobs WHERE job_id = $1`, [submitted.jobId]);
    expect(await getJob(submitted.jobId)).toMatchObject({ job_id: submitted.jobId, status: 'queued', last_seq: seq });
  });

  it('leaves rows unchanged when every event is delivered again', async () => {
    const { lastSeq } = await appendHistory();
    app = await startJobs();
    await eventually(() => projectedThrough(lastSeq), 20_000, 'projection');
    await stopJobs();
    const before = await rows();

    // Replace the durable consumer with one that delivers the whole stream again.
    const jsm = await jetstreamManager(ns.nc);
    await jsm.consumers.delete(ns.subjects.streamName, PROJECTOR_CONSUMER);
    await jsm.consumers.add(ns.subjects.streamName, {
      durable_name: PROJECTOR_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: ns.subjects.all,
    });
    app = await startJobs();
    await eventually(async () => {
      const info = await jsm.consumers.info(ns.subjects.streamName, PROJECTOR_CONSUMER);
      return info.delivered.stream_seq >= lastSeq && info.num_ack_pending === 0 ? true : undefined;
    }, 20_000, 'redelivery to be acked');
    expect(await rows()).toEqual(before);
    expect(await checkpoint()).toBe(lastSeq);
  });

  it('rebuilds a dropped read model from the stream, equal to the one it replaces', async () => {
    const { lastSeq } = await appendHistory();
    app = await startJobs();
    await eventually(() => projectedThrough(lastSeq), 20_000, 'projection');
    await stopJobs();
    const before = await rows();
    await db.query(`DROP SCHEMA "${db.schema}" CASCADE`);

    app = await startJobs();
    await eventually(() => projectedThrough(lastSeq), 20_000, 'rebuild');
    expect(await rows()).toEqual(before);
  });

  it('terminates a malformed message and keeps projecting what follows', async () => {
    app = await startJobs();
    const jobId = videoSubmitted().jobId;
    await ns.nc.request(ns.subjects.lifecycle(jobId), new TextEncoder().encode('not json'));
    const after = videoSubmitted();
    const { seq } = await store.append(after, 0);
    await eventually(() => projectedThrough(seq), 20_000, 'projection past the malformed message');
    expect(await getJob(after.jobId)).toMatchObject({ status: 'queued' });
    const jsm = await jetstreamManager(ns.nc);
    const info = await jsm.consumers.info(ns.subjects.streamName, PROJECTOR_CONSUMER);
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_redelivered).toBe(0);
  });

  it('projects a burst of live events to the very last one, holding no partial batch back', async () => {
    app = await startJobs();
    await eventually(async () => ((await db.query(`SELECT to_regclass('projection_checkpoints') AS t`))[0]?.['t'] ? true : undefined), 10_000, 'the schema');
    let last = 0;
    for (let i = 0; i < 10; i++) {
      const acks = await Promise.all(Array.from({ length: 100 }, () => store.append(videoSubmitted(), 0)));
      last = Math.max(last, ...acks.map((ack) => ack.seq));
    }
    // Nothing else is appended: the projector must close its last batch on its own.
    await eventually(() => projectedThrough(last), 10_000, `the checkpoint to reach ${last}`);
    expect(Number((await db.query(`SELECT count(*) AS n FROM jobs`))[0]!['n'])).toBe(1000);
  });

  describe('no single event stops the read model', () => {
    it('parks an event whose row PostgreSQL refuses, and projects every later event of every tenant', async () => {
      app = await startJobs();
      const first = videoSubmitted(undefined, { tenant: 'acme' });
      const f = await store.append(first, 0);
      // Valid by its schema, refused by PostgreSQL (there is no year 0 in a timestamptz): before parking, the projector stopped here for good.
      const poison = { ...videoSubmitted(undefined, { tenant: 'acme' }), occurredAt: '0000-01-01T00:00:00Z' };
      const { seq: poisonSeq } = await store.append(poison, 0);
      const other = videoSubmitted(undefined, { tenant: 'bravo' });
      await store.append(other, 0);
      const started = jobStarted(first);
      const s = await store.append(started, f.seq);
      const { seq: last } = await store.append(jobCompleted(started), s.seq);

      await eventually(() => projectedThrough(last), 20_000, 'projection past the poison event');
      expect(await getJob(first.jobId)).toMatchObject({ status: 'completed' });
      const listed = await ask<ListJobsReply>(JobQuery.List, { scope: { kind: 'tenant', tenant: 'bravo' } });
      expect(listed.ok && listed.value.jobs.map((j) => j.job_id)).toEqual([other.jobId]);
      expect(await db.query(`SELECT seq::int, job_id, event_type, error_code FROM parked_events`)).toEqual([
        { seq: poisonSeq, job_id: poison.jobId, event_type: 'VideoSubmitted', error_code: '22008' },
      ]);
      const jsm = await jetstreamManager(ns.nc);
      expect((await jsm.consumers.info(ns.subjects.streamName, PROJECTOR_CONSUMER)).num_ack_pending).toBe(0);

      // Listed for /v1/system and counted for Prometheus (the error log line: see replay-cli.e2e-spec.ts).
      const projection = await ask<RpcReply<ProjectionState>>(JobQuery.Projection, {});
      expect(projection).toMatchObject({
        ok: true,
        value: { checkpoint: last, parked: { count: 1, recent: [{ seq: poisonSeq, job_id: poison.jobId, event_id: poison.eventId, event_type: 'VideoSubmitted', error_code: '22008' }] } },
      });
      const metrics = await app.get<Registry>(METRICS_REGISTRY).getSingleMetricAsString('framewire_projector_parked_events');
      expect(metrics).toMatch(/^framewire_projector_parked_events({[^}]*})? 1$/m);
    });

    it('projects events that a release before clean text stored with a lone surrogate or a NUL escape, cleaned, parking nothing', async () => {
      app = await startJobs();
      // Raw JSON, as the gateway of such a release published it: a filename that decodes to a lone
      // surrogate (filename*=utf-16le''%3D%D8), a params string and key with NUL.
      const poisoned: JobEvent = videoSubmitted(undefined, { params: { label: 'a\u0000b', ['k\u0000']: '\ude00' } });
      poisoned.data.video.filename = '\ud83d';
      await publishAsOlderRelease(ns.nc, ns.subjects.submitted(poisoned.jobId, 'normal'), poisoned);
      const after = videoSubmitted(undefined, { tenant: 'bravo' });
      const { seq } = await store.append(after, 0);

      await eventually(() => projectedThrough(seq), 20_000, 'projection past the event with ill-formed text');
      expect(await getJob(poisoned.jobId)).toMatchObject({ video: { filename: '\ufffd' }, params: { label: 'ab', k: '\ufffd' } });
      expect(await getJob(after.jobId)).toMatchObject({ status: 'queued' });
      expect(await db.query(`SELECT * FROM parked_events`)).toEqual([]);
    });
  });
});
