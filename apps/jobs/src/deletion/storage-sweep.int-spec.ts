import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { ArtifactRef, JobEvent, VideoSubmitted } from '@app/contracts';
import { jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import { Clock } from '@app/runtime';
import { jobCancelled, jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../../test/support/services.js';
import { JobCommandsService } from '../commands/job-commands.service.js';
import { JobsModule } from '../jobs.module.js';
import { StorageSweepService } from './storage-sweep.service.js';

const DAY = 86_400_000;
const GRACE_MS = 5 * 60_000;
const bytes = (text: string) => new TextEncoder().encode(text);

/** A clock the test moves: the sweep's "now". */
class TestClock extends Clock {
  at = new Date();
  now(): Date {
    return new Date(this.at);
  }
}

/**
 * The storage sweep of a real jobs service (NATS, PostgreSQL), with the clock injected: retention
 * after N days, and garbage (chunks of an upload cut off midway, uploads never submitted, files of
 * attempts that never ended) removed only once older than the grace period, live objects never.
 */
describe('storage sweep', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let blobs: BlobStore;
  let app: TestingModule | null = null;
  const clock = new TestClock();

  const startJobs = async (env: Record<string, string> = {}) => {
    const config = parseConfig(jobsEnvSchema, {
      ...IN_PROCESS_OPS,
      NATS_URL: TEST_NATS_URL,
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      FRAMEWIRE_NAMESPACE: ns.namespace,
      // The test runs each sweep itself.
      STORAGE_SWEEP_INTERVAL_MS: String(DAY),
      STORAGE_GC_GRACE_MS: String(GRACE_MS),
      ...env,
    });
    app = await Test.createTestingModule({ imports: [JobsModule.forRoot(config, createLogger('jobs', 'silent'))] })
      .overrideProvider(Clock)
      .useValue(clock)
      .compile();
    await app.init();
    return app.get(StorageSweepService);
  };
  const stopJobs = async () => {
    await app?.close();
    app = null;
  };
  const now = () => new Date().toISOString();
  const append = async (event: JobEvent, expected: number) => (await store.append({ ...event, occurredAt: now() }, expected)).seq;
  const projected = (jobId: string, check: (row: Record<string, unknown>) => boolean = () => true) =>
    eventually(async () => {
      const [row] = await db.query(`SELECT * FROM jobs WHERE job_id = $1`, [jobId]);
      return row && check(row) ? row : undefined;
    }, 20_000, `job ${jobId} in the read model`);
  const submit = async (data: Partial<VideoSubmitted['data']> = {}): Promise<VideoSubmitted> => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', ...data });
    const upload = await blobs.putBytes(submitted.data.video.objectName, bytes('video'), 'video/mp4');
    const event: VideoSubmitted = { ...submitted, occurredAt: now(), data: { ...submitted.data, video: { ...submitted.data.video, bucket: upload.bucket, size: upload.size, sha256: upload.sha256 } } };
    submittedSeq.set(event.jobId, (await store.append(event, 0)).seq);
    return event;
  };
  /** The stream sequence of each job's submission: what its first lifecycle append expects. */
  const submittedSeq = new Map<string, number>();
  const artifact = async (jobId: string, attempt: number, name: string): Promise<ArtifactRef> => {
    const stored = await blobs.putBytes(`artifacts/${jobId}/${attempt}/${name}`, bytes(name), 'image/jpeg');
    return { name, bucket: stored.bucket, objectName: stored.name, size: stored.size, contentType: 'image/jpeg', sha256: stored.sha256 };
  };
  const completedJob = async () => {
    const submitted = await submit();
    const started = jobStarted(submitted);
    const seq = await append(started, submittedSeq.get(submitted.jobId)!);
    const completed = jobCompleted(started);
    completed.data.artifacts = [await artifact(submitted.jobId, 1, 'thumb-000000.jpg')];
    await append(completed, seq);
    return submitted;
  };

  beforeEach(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    clock.at = new Date();
  });
  afterEach(async () => {
    await stopJobs();
    await ns.cleanup();
    await db.drop();
  });

  it('deletes ended jobs once JOB_RETENTION_DAYS have passed since their end, through the DELETE path, across a restart', async () => {
    const sweeper = await startJobs({ JOB_RETENTION_DAYS: '30' });
    const done = await completedJob();
    const running = await submit();
    await append(jobStarted(running), submittedSeq.get(running.jobId)!);
    await projected(done.jobId, (row) => row['status'] === 'completed');
    await projected(running.jobId, (row) => row['status'] === 'running');

    clock.at = new Date(Date.now() + 29 * DAY);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, retentionDeleted: 0 });
    const kept = await store.lastLifecycle(done.jobId);
    expect(kept?.ok && kept.stored.event.type).toBe('JobCompleted');

    // The schedule is the data itself: a restarted service finds the same jobs.
    await stopJobs();
    const restarted = await startJobs({ JOB_RETENTION_DAYS: '30' });
    clock.at = new Date(Date.now() + 31 * DAY);
    expect(await restarted.sweep()).toMatchObject({ ran: true, retentionDeleted: 1, pendingDeleted: 0 });
    const last = await store.lastLifecycle(done.jobId);
    expect(last?.ok && last.stored.event).toMatchObject({ type: 'JobDeleted', data: { reason: 'retention', requestedBy: null, attempt: 1 } });
    const names = await blobs.names();
    expect(names.filter((n) => n.includes(done.jobId))).toEqual([]);
    // A running job has no end yet: retention never touches it, nor its upload.
    expect(names).toContain(running.data.video.objectName);
    const runningLast = await store.lastLifecycle(running.jobId);
    expect(runningLast?.ok && runningLast.stored.event.type).toBe('JobStarted');
    // The read model drops it from the list: its row is a tombstone.
    await projected(done.jobId, (row) => row['deleted_at'] !== null);
  });

  it('finishes the deletion of a running job that ended while no jobs service followed it (stopped after the 202, started again)', async () => {
    await startJobs();
    const running = await submit();
    const started = jobStarted(running);
    await append(started, submittedSeq.get(running.jobId)!);
    expect(await app!.get(JobCommandsService).delete(running.jobId, { kind: 'all' }, 'key_a')).toMatchObject({ status: 'deleting' });
    const asked = await store.lastLifecycle(running.jobId);
    if (!asked?.ok) throw new Error('no lifecycle event after the DELETE');
    expect(asked.stored.event).toMatchObject({ type: 'JobCancelRequested', data: { deletion: true } });
    // The jobs service goes away while the job stops; the worker then appends its end.
    await stopJobs();
    await append(jobCancelled(asked.stored.event, 1, 'worker-1'), asked.stored.seq);

    const sweeper = await startJobs();
    await projected(running.jobId, (row) => row['status'] === 'cancelled' && row['delete_request'] !== null);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, pendingDeleted: 1 });
    const last = await store.lastLifecycle(running.jobId);
    expect(last?.ok && last.stored.event).toMatchObject({ type: 'JobDeleted', data: { reason: 'request', requestedBy: 'key_a' } });
    expect(await blobs.info(running.data.video.objectName)).toBeNull();
    await projected(running.jobId, (row) => row['deleted_at'] !== null);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, pendingDeleted: 0 });
  });

  it('keeps every job when JOB_RETENTION_DAYS is unset', async () => {
    const sweeper = await startJobs();
    const done = await completedJob();
    await projected(done.jobId, (row) => row['status'] === 'completed');
    clock.at = new Date(Date.now() + 3650 * DAY);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, retentionDeleted: 0 });
    expect(await blobs.names()).toContain(done.data.video.objectName);
  });

  it('removes chunks of an upload cut off midway, uploads never submitted and files of attempts that never ended, once past the grace period; live objects stay', async () => {
    const sweeper = await startJobs();
    // Live: a completed job's upload and artifact.
    const done = await completedJob();
    // A job whose first attempt died after writing an artifact; its second attempt runs and has written one.
    const retried = await submit();
    const first = jobStarted(retried, 1, 'dead-worker');
    let seq = await append(first, submittedSeq.get(retried.jobId)!);
    seq = await append(jobFailed(first, 1, false, 'WORKER_ERROR'), seq);
    const second = jobStarted(retried, 2, 'live-worker');
    await append(second, seq);
    const stale = await artifact(retried.jobId, 1, 'thumb-000000.jpg');
    const current = await artifact(retried.jobId, 2, 'thumb-000000.jpg');
    // An upload whose VideoSubmitted never came (the gateway stopped in between).
    const unsubmitted = await blobs.putBytes(`uploads/${randomUUID()}/${randomUUID()}`, bytes('orphan upload'), 'video/mp4');
    // An upload cut off midway: chunks on a chunk subject, and no metadata ever written.
    const js = jetstream(ns.nc);
    const nuid = `CUTOFF${randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase()}`;
    for (let i = 0; i < 3; i++) await js.publish(`$O.${ns.subjects.videoBucket}.C.${nuid}`, new Uint8Array(1024).fill(i));
    // Something Framewire does not name: never touched.
    const foreign = await blobs.putBytes('notes/readme.txt', bytes('keep me'), 'text/plain');
    await projected(done.jobId, (row) => row['status'] === 'completed');
    await projected(retried.jobId, (row) => row['attempts'] === 2);
    const everything = [done.data.video.objectName, ...(await blobs.names()).filter((n) => n.startsWith(`artifacts/${done.jobId}`)), retried.data.video.objectName, stale.objectName, current.objectName, unsubmitted.name, foreign.name];

    // Within the grace period nothing is garbage yet: an upload or an attempt may be in progress.
    expect(await sweeper.sweep()).toMatchObject({ ran: true, objects: { 'deleted-job': 0, 'unsubmitted-upload': 0, 'stale-attempt': 0 }, orphanChunkSets: 0 });
    expect(await blobs.names()).toEqual(expect.arrayContaining(everything));
    expect((await blobs.survey(new Date(Date.now() + DAY))).orphans.map((o) => o.nuid)).toContain(nuid);

    clock.at = new Date(Date.now() + 2 * GRACE_MS);
    expect(await sweeper.sweep()).toMatchObject({
      ran: true,
      objects: { 'deleted-job': 0, 'unsubmitted-upload': 1, 'stale-attempt': 1 },
      orphanChunkSets: 1,
      orphanChunks: 3,
    });
    const left = await blobs.names();
    expect(left).not.toContain(stale.objectName);
    expect(left).not.toContain(unsubmitted.name);
    expect(left).toEqual(expect.arrayContaining([done.data.video.objectName, retried.data.video.objectName, current.objectName, foreign.name]));
    expect((await blobs.survey(new Date(Date.now() + DAY))).orphans.map((o) => o.nuid)).not.toContain(nuid);
    // The live objects still read back whole (their chunks were not purged).
    const read = await blobs.open(current.objectName);
    const chunks: Buffer[] = [];
    for await (const chunk of read!.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('thumb-000000.jpg');
  });

  it('lists the bucket for garbage at most once per grace period, not at every sweep', async () => {
    const sweeper = await startJobs();
    const start = clock.at.getTime();
    const unsubmitted = await blobs.putBytes(`uploads/${randomUUID()}/${randomUUID()}`, bytes('orphan upload'), 'video/mp4');
    // Half a grace period in: the bucket is listed, and the upload is too young to be garbage.
    clock.at = new Date(start + GRACE_MS / 2);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, surveyed: true, objects: { 'unsubmitted-upload': 0 } });
    // Past the upload's grace period, but less than one since the last listing: this sweep does not list the bucket.
    clock.at = new Date(start + GRACE_MS + 60_000);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, surveyed: false, objects: { 'unsubmitted-upload': 0 } });
    expect(await blobs.names()).toContain(unsubmitted.name);
    // A grace period after the last listing, the next one finds it.
    clock.at = new Date(start + GRACE_MS * 1.5 + 60_000);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, surveyed: true, objects: { 'unsubmitted-upload': 1 } });
    expect(await blobs.names()).not.toContain(unsubmitted.name);
  });

  it("leaves a live resumable upload's chunks alone however idle it is, and purges them once it expired", async () => {
    const sweeper = await startJobs();
    const start = clock.at.getTime();
    // Uploads as a gateway keeps them (docs/adr/0009): state in the uploads KV bucket, bytes as chunks
    // in the video bucket under the upload's nuid, no metadata until the last byte arrives.
    const kv = await new Kvm(ns.nc).create(ns.subjects.uploadsBucket, { history: 1 });
    const js = jetstream(ns.nc);
    const upload = async (expiresAt: Date) => {
      const id = randomUUID();
      const nuid = `TUS${randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase()}`;
      await kv.create(id, JSON.stringify({ id, tenant: 'acme', nuid, expiresAt: expiresAt.toISOString(), jobId: null }));
      for (let i = 0; i < 2; i++) await js.publish(`$O.${ns.subjects.videoBucket}.C.${nuid}`, new Uint8Array(1024).fill(i));
      return { id, nuid };
    };
    // One live for a day, one that expires a grace period from now (and that no gateway swept).
    const live = await upload(new Date(start + DAY));
    const expiring = await upload(new Date(start + GRACE_MS));
    const chunksOf = async (nuid: string) => (await blobs.survey(new Date(Date.now() + DAY))).orphans.find((o) => o.nuid === nuid)?.chunks ?? 0;
    expect(await chunksOf(live.nuid)).toBe(2);
    // Two grace periods later both chunk sets are old enough to look cut off: only the expired one goes.
    clock.at = new Date(start + 2 * GRACE_MS);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, surveyed: true, orphanChunkSets: 1, orphanChunks: 2 });
    expect(await chunksOf(live.nuid)).toBe(2);
    expect(await chunksOf(expiring.nuid)).toBe(0);
    // Once its state is gone (terminated, or swept by a gateway), the next listing purges what is left.
    await kv.purge(live.id);
    clock.at = new Date(start + 4 * GRACE_MS);
    expect(await sweeper.sweep()).toMatchObject({ ran: true, surveyed: true, orphanChunkSets: 1 });
    expect(await chunksOf(live.nuid)).toBe(0);
  });

  it('lets one instance sweep at a time: another one that holds the lock makes this one skip its turn', async () => {
    const sweeper = await startJobs();
    const key = `framewire-storage-sweep:${db.schema}`;
    expect(await db.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [key])).toEqual([{ locked: true }]);
    expect(await sweeper.sweep()).toMatchObject({ ran: false });
    await db.query(`SELECT pg_advisory_unlock(hashtext($1))`, [key]);
    expect(await sweeper.sweep()).toMatchObject({ ran: true });
  });

  it('gives the bucket its NATS_BUCKET_MAX_BYTES again when another service made it again without one', async () => {
    const limit = 64 * 1024 * 1024;
    const sweeper = await startJobs({ NATS_BUCKET_MAX_BYTES: String(limit) });
    const jsm = await jetstreamManager(ns.nc);
    const bucketStream = `OBJ_${ns.subjects.videoBucket}`;
    expect((await jsm.streams.info(bucketStream)).config.max_bytes).toBe(limit);
    // As after NATS lost its data and a gateway (which owns no limit) made the bucket again.
    await jsm.streams.update(bucketStream, { max_bytes: -1 });
    expect(await sweeper.sweep()).toMatchObject({ ran: true });
    expect((await jsm.streams.info(bucketStream)).config.max_bytes).toBe(limit);
  });
});
