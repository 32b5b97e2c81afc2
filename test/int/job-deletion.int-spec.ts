import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import type { ArtifactRef, JobEvent, JobScope, VideoSubmitted } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { fold } from '@app/job-state';
import { createLogger } from '@app/observability';
import { SystemClock, UuidV7Generator } from '@app/runtime';
import { WORK_CONSUMER } from '../../apps/worker/src/work/work.consumer.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { JobCommandsService } from '../../apps/jobs/src/commands/job-commands.service.js';
import { JobObjectsService } from '../../apps/jobs/src/deletion/job-objects.service.js';
import { JobsMetrics } from '../../apps/jobs/src/ops/jobs.metrics.js';
import { QueryError } from '../../apps/jobs/src/rpc/rpc-answer.js';
import { jobCancelled, jobCompleted, jobRedriven, jobStarted, videoSubmitted } from '../support/events.js';
import { eventually, freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../support/services.js';

const ALL: JobScope = { kind: 'all' };
const TENANT_A: JobScope = { kind: 'tenant', tenant: 'tenant-a' };
const TENANT_B: JobScope = { kind: 'tenant', tenant: 'tenant-b' };
const bytes = (text: string) => new TextEncoder().encode(text);

/**
 * DELETE of a job against a real stream and bucket, with a real worker (in this process) running the
 * noop pipeline: the objects that leave the bucket and the events in the stream are the contract.
 */
describe('job deletion', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let commands: JobCommandsService;
  let worker: TestingModule | null = null;

  const events = async (jobId: string): Promise<JobEvent[]> => (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored.event] : []));
  const types = async (jobId: string) => (await events(jobId)).map((e) => e.type);
  const settled = async () => {
    const info = await (await jetstreamManager(ns.nc)).consumers.info(ns.subjects.streamName, WORK_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0 ? info : undefined;
  };
  const refusal = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => (error instanceof QueryError ? error.code : String(error)));
  const startWorker = async () => {
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'delete-worker', WORKER_CONCURRENCY: '2' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  };
  const stopWorker = async () => {
    await worker?.close();
    worker = null;
  };
  /** A job submitted with a real upload in the bucket. */
  const submit = async (data: Partial<VideoSubmitted['data']> = {}): Promise<VideoSubmitted> => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', tenant: 'tenant-a', ...data });
    const upload = await blobs.putBytes(submitted.data.video.objectName, bytes('not really a video'), 'video/mp4');
    const withVideo: VideoSubmitted = { ...submitted, data: { ...submitted.data, video: { ...submitted.data.video, bucket: upload.bucket, size: upload.size, sha256: upload.sha256 } } };
    submittedSeq.set(withVideo.jobId, (await store.append(withVideo, 0)).seq);
    return withVideo;
  };
  /** The stream sequence of each job's submission: what its first lifecycle append expects. */
  const submittedSeq = new Map<string, number>();

  beforeAll(async () => {
    Logger.overrideLogger(false);
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    commands = new JobCommandsService(store, new SystemClock(), new UuidV7Generator(), new JobObjectsService(blobs), new JobsMetrics(new Registry(), store));
  });

  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
  });

  it('deletes a completed job: its upload, stored result and artifacts leave the bucket, JobDeleted is appended, and it is gone for every command', async () => {
    const submitted = await submit();
    const jobId = submitted.jobId;
    const started = jobStarted(submitted, 1, 'old-worker');
    const { seq: startedSeq } = await store.append(started, submittedSeq.get(jobId)!);
    const artifacts: ArtifactRef[] = [];
    for (const name of ['thumb-000000.jpg', 'sprite-000.jpg']) {
      const stored = await blobs.putBytes(`artifacts/${jobId}/1/${name}`, bytes(name), 'image/jpeg');
      artifacts.push({ name, bucket: stored.bucket, objectName: stored.name, size: stored.size, contentType: 'image/jpeg', sha256: stored.sha256 });
    }
    const result = await blobs.putBytes(`results/${jobId}/1.json`, bytes('{"large":true}'), 'application/json');
    const completed = jobCompleted(started, 1);
    completed.data = { ...completed.data, result: null, resultRef: { bucket: result.bucket, objectName: result.name, size: result.size, contentType: 'application/json', sha256: result.sha256 }, artifacts };
    await store.append(completed, startedSeq);
    // Another job's objects, which must stay.
    const other = await submit();
    const otherArtifact = await blobs.putBytes(`artifacts/${other.jobId}/1/thumb-000000.jpg`, bytes('other'), 'image/jpeg');

    // Another tenant cannot delete it, and learns nothing: the answer of a job that does not exist.
    expect(await refusal(commands.delete(jobId, TENANT_B, 'key_b'))).toBe('JOB_NOT_FOUND');
    expect(await types(jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);

    const outcome = await commands.delete(jobId, TENANT_A, 'key_a');
    expect(outcome).toEqual({ job_id: jobId, status: 'deleted', deleted_seq: expect.any(Number), objects_deleted: 4 });
    const stored = await events(jobId);
    expect(stored.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted', 'JobDeleted']);
    expect(stored[3]).toMatchObject({ causationId: completed.eventId, correlationId: submitted.correlationId, data: { attempt: 1, reason: 'request', requestedBy: 'key_a' } });
    expect(fold(stored)).toMatchObject({ status: 'completed', deletedAt: stored[3]!.occurredAt, artifacts: [], resultRef: null });

    const names = await blobs.names();
    expect(names.filter((name) => name.includes(jobId))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining([other.data.video.objectName, otherArtifact.name]));

    // Deleted is deleted: again, or any other command, is the answer of an unknown job.
    expect(await refusal(commands.delete(jobId, TENANT_A, 'key_a'))).toBe('JOB_NOT_FOUND');
    expect(await refusal(commands.delete(jobId, ALL, null))).toBe('JOB_NOT_FOUND');
    expect(await refusal(commands.cancel(jobId, ALL, null, null))).toBe('JOB_NOT_FOUND');
    expect(await refusal(commands.redrive(jobId, ALL, null))).toBe('JOB_NOT_FOUND');
    expect(await types(jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted', 'JobDeleted']);
  });

  it('deletes a queued job at once; the worker that then receives its work acks it and never starts it', async () => {
    await stopWorker();
    const queued = await submit();
    expect(await commands.delete(queued.jobId, ALL, 'key_admin')).toMatchObject({ status: 'deleted', objects_deleted: 1 });
    await startWorker();
    await eventually(settled, 20_000, 'the worker to take and ack the work message');
    expect(await types(queued.jobId)).toEqual(['VideoSubmitted', 'JobDeleted']);
  });

  it('skips a work request that comes after the deletion (a redrive that a release before the whole-job check let race it)', async () => {
    await stopWorker();
    const submitted = await submit();
    const { deleted_seq: deletedSeq } = await commands.delete(submitted.jobId, ALL, null);
    const deleted = (await events(submitted.jobId)).at(-1)!;
    // A redrive that read the job before it was deleted: its work request lands after JobDeleted.
    // (This release's redrive expects the job's last event, so it would be refused instead.)
    await store.append(jobRedriven(submitted, deleted, 1), deletedSeq!);
    await startWorker();
    await eventually(settled, 20_000, 'the worker to take and ack both work messages');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobDeleted', 'JobRedriven']);
    expect(fold(await events(submitted.jobId))).toMatchObject({ status: 'queued', deletedAt: expect.any(String) });
  });

  it('answers a DELETE repeated while the job stops with the same 202, and asks the worker only once', async () => {
    // No worker runs here, so nothing stops the job between the two requests: it is running until its end is appended below.
    await stopWorker();
    const submitted = await submit();
    await store.append(jobStarted(submitted, 1, 'absent-worker'), submittedSeq.get(submitted.jobId)!);
    expect(await commands.delete(submitted.jobId, TENANT_A, 'key_a')).toEqual({ job_id: submitted.jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 });
    expect(await commands.delete(submitted.jobId, TENANT_A, 'key_b')).toEqual({ job_id: submitted.jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 });
    const asked = await events(submitted.jobId);
    expect(asked.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested']);
    // The worker stops the job; the deletion asked first is then finished.
    const request = await store.lastLifecycle(submitted.jobId);
    await store.append(jobCancelled(asked[2]!, 1, 'absent-worker'), request?.ok ? request.stored.seq : 0);
    const stored = await eventually(async () => {
      const list = await events(submitted.jobId);
      return list.at(-1)?.type === 'JobDeleted' ? list : undefined;
    }, 20_000, 'the stopped job to be deleted');
    expect(stored.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelled', 'JobDeleted']);
    expect(stored[4]).toMatchObject({ data: { reason: 'request', requestedBy: 'key_a' } });
  });

  it('stops a running job first (202 deleting), and deletes it as soon as its worker has stopped it', async () => {
    if (!worker) await startWorker();
    // noop sleeps on its signal: a stand-in for a long ffmpeg run.
    const running = await submit({ params: { sleep_ms: 10_000 } });
    await eventually(async () => ((await types(running.jobId)).includes('JobStarted') ? true : undefined), 20_000, 'the job to start');
    expect(await commands.delete(running.jobId, TENANT_A, 'key_a')).toEqual({ job_id: running.jobId, status: 'deleting', deleted_seq: null, objects_deleted: 0 });
    const stored = await eventually(async () => {
      const list = await events(running.jobId);
      return list.at(-1)?.type === 'JobDeleted' ? list : undefined;
    }, 20_000, 'the job to be stopped, then deleted');
    expect(stored.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelled', 'JobDeleted']);
    expect(stored[2]).toMatchObject({ data: { deletion: true, requestedBy: 'key_a' } });
    expect(stored[3]).toMatchObject({ data: { cancelledBy: 'delete-worker' } });
    // Who asked is carried over from the request that stopped it.
    expect(stored[4]).toMatchObject({ data: { reason: 'request', requestedBy: 'key_a' } });
    expect(await blobs.info(running.data.video.objectName)).toBeNull();
    await eventually(settled, 10_000, 'the ack');
  });
});
