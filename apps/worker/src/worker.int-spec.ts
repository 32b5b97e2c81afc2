import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JobPriority } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { WorkerRegistry } from '@app/worker-registry';
import { createLogger } from '@app/observability';
import { jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { eventually, freshNamespace, type TestNamespace, IN_PROCESS_OPS, TEST_NATS_URL } from '../../../test/support/services.js';
import { ffprobe, makeTextFile, makeVideo, mediaDir } from '../../../test/support/videos.js';
import { WORK_CONSUMER } from './work/work.consumer.js';
import { WorkerModule } from './worker.module.js';

/** One worker, in this process, against a real stream and Object Store, running real ffprobe. */
describe('worker against JetStream and ffprobe', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let worker: TestingModule;
  let media: Awaited<ReturnType<typeof mediaDir>>;

  async function submit(path: string) {
    const submitted = videoSubmitted();
    const blob = await blobs.putBytes(`uploads/${submitted.jobId}/1`, await readFile(path), 'video/mp4');
    submitted.data.video = { ...submitted.data.video, bucket: blob.bucket, objectName: blob.name, size: blob.size, sha256: blob.sha256 };
    const { seq } = await store.append(submitted, 0);
    return Object.assign(submitted, { seq });
  }

  const types = async (jobId: string) => (await store.readJob(jobId)).map((item) => (item.ok ? item.stored.event.type : 'malformed'));
  const settled = async () => {
    const info = await (await jetstreamManager(ns.nc)).consumers.info(ns.subjects.streamName, WORK_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0 ? info : undefined;
  };

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
  });

  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
    await media.cleanup();
  });

  it('acks a redelivered job that already ended without running it again', async () => {
    // The job ended, but its ack was lost: the work message is still there when the worker starts.
    const submitted = await submit(await makeTextFile(join(media.dir, 'ended.mp4')));
    const started = jobStarted(submitted);
    const { seq } = await store.append(started, submitted.seq);
    await store.append(jobCompleted(started), seq);

    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'int-worker', WORKER_CONCURRENCY: '2' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();

    await eventually(settled, 20_000, 'the work consumer to settle');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('announces itself in the worker registry with its concurrency and pipelines', async () => {
    const registry = await WorkerRegistry.open(ns.nc, ns.subjects.workersBucket);
    const [entry] = await registry.list();
    expect(entry).toMatchObject({ worker_id: 'int-worker', pid: process.pid, concurrency: 2, in_flight: [] });
    expect(entry!.pipelines).toEqual(expect.arrayContaining(['probe', 'noop']));
    expect(Date.parse(entry!.last_heartbeat)).toBeGreaterThanOrEqual(Date.parse(entry!.started_at));
  });

  it('probes a real MP4 and records what ffprobe says, then acks', async () => {
    const path = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 1, width: 320, height: 240, fps: 25, audio: true });
    const submitted = await submit(path);
    const ended = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.length === 3 ? items : undefined;
    }, 30_000, 'the job to end');
    const [, started, completed] = ended.map((item) => (item.ok ? item.stored.event : null));
    expect(started).toMatchObject({ type: 'JobStarted', causationId: submitted.eventId, data: { workerId: 'int-worker', attempt: 1 } });
    const truth = await ffprobe(path);
    expect(completed).toMatchObject({
      type: 'JobCompleted',
      causationId: started!.eventId,
      correlationId: submitted.correlationId,
      data: { attempt: 1, result: { tools: { probe: { data: { width: 320, height: 240, codec: 'h264', fps: 25, size: Number(truth.format.size), frame_count: 25 } } } } },
    });
    const probe = completed?.type === 'JobCompleted' ? (completed.data.result as { tools: { probe: { data: { audio: unknown } } } }).tools.probe.data : null;
    expect(probe?.audio).toMatchObject({ codec: 'aac' });
    expect(await eventually(settled, 10_000, 'the ack')).toBeTruthy();
  });

  it('fails a file that is not a video with INVALID_MEDIA, final, on the first attempt', async () => {
    const submitted = await submit(await makeTextFile(join(media.dir, 'fake.mp4')));
    const ended = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.length === 3 ? items : undefined;
    }, 30_000, 'the job to fail');
    const failed = ended[2]!.ok ? ended[2]!.stored.event : null;
    expect(failed).toMatchObject({ type: 'JobFailed', data: { attempt: 1, final: true, error: { code: 'INVALID_MEDIA' } } });
    expect(await eventually(settled, 10_000, 'the ack')).toBeTruthy();
  });

  it('runs the noop pipeline without reading the video, so a missing upload does not matter', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    submitted.data.video = { ...submitted.data.video, objectName: `uploads/${submitted.jobId}/never-stored` };
    await store.append(submitted, 0);
    const ended = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.length === 3 ? items : undefined;
    }, 30_000, 'the noop job to end');
    expect(ended.map((item) => (item.ok ? item.stored.event.type : 'malformed'))).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    expect(ended[2]!.ok && ended[2]!.stored.event.data).toMatchObject({ result: { total_frames: null, frames: [], summary: { frame_count: 0 }, tools: { noop: { summary: {} } } }, artifacts: [] });
  });

  it('terminates a malformed work message, and the server\'s MSG_TERMINATED advisory says why', async () => {
    const advisories = ns.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${ns.subjects.streamName}.${WORK_CONSUMER}`, { max: 1 });
    await ns.nc.flush();
    const { seq } = await jetstream(ns.nc).publish(ns.subjects.submitted('job-not-json', 'normal'), '{"type":');
    let advisory: { stream_seq?: number; reason?: string } | undefined;
    for await (const msg of advisories) advisory = msg.json();
    expect(advisory?.stream_seq).toBe(seq);
    expect(advisory?.reason).toMatch(/^malformed work message: /);
    await eventually(settled, 20_000, 'the work consumer to settle');
  });

  it('continues the attempts of a job whose lifecycle began before this message was first delivered', async () => {
    // A work message not stored as its job's first event (as a release before the whole-job check
    // could store a submission): the worker reads the history before it claims, and claims attempt 2.
    // The work message goes in last, so that the running worker cannot take it before the history is there.
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const started = jobStarted(submitted, 1, 'gone-worker');
    const first = await store.append(started, 0);
    const failed = await store.append(jobFailed(started, 1, false, 'WORKER_ERROR'), first.seq);
    await store.append(submitted, failed.seq);
    const ended = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.length === 5 ? items : undefined;
    }, 30_000, 'the second attempt to end');
    const events = ended.map((item) => (item.ok ? item.stored.event : null));
    expect(events.map((e) => e?.type)).toEqual(['JobStarted', 'JobFailed', 'VideoSubmitted', 'JobStarted', 'JobCompleted']);
    expect(events[3]).toMatchObject({ data: { attempt: 2, workerId: 'int-worker' } });
    expect(events[4]).toMatchObject({ data: { attempt: 2 } });
  });

  // Last here: the failure is transient, so the job is retried after this test and the work consumer does not settle.
  it('fails an attempt whose download proves corrupt (its SHA-256) with the download\'s error, even though ffprobe read the file along and found a video', async () => {
    // A real MP4 as the Object Store's chunks, made an object with a digest that is not its content's.
    const bytes = await readFile(await makeVideo(join(media.dir, 'corrupt.mp4'), { seconds: 1, width: 160, height: 120, fps: 10 }));
    const nuid = `corrupt${Date.now()}`;
    const js = jetstream(ns.nc);
    const chunks = Math.ceil(bytes.length / 65_536);
    for (let i = 0; i < chunks; i++) await js.publish(`$O.${ns.subjects.videoBucket}.C.${nuid}`, bytes.subarray(i * 65_536, (i + 1) * 65_536));
    const submitted = videoSubmitted();
    const blob = await blobs.adopt(`uploads/${submitted.jobId}/1`, { nuid, size: bytes.length, chunks, digest: `SHA-256=${Buffer.alloc(32).toString('base64url')}=`, maxChunkSize: 65_536 }, 'video/mp4');
    submitted.data.video = { ...submitted.data.video, bucket: blob.bucket, objectName: blob.name, size: blob.size, sha256: blob.sha256 };
    await store.append(submitted, 0);
    const failed = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.map((item) => (item.ok ? item.stored.event : null)).find((event) => event?.type === 'JobFailed');
    }, 30_000, 'the attempt to fail');
    expect(failed).toMatchObject({ type: 'JobFailed', data: { attempt: 1, error: { code: 'WORKER_ERROR', message: expect.stringContaining('does not match its SHA-256 digest') } } });
  });
});

describe('a work consumer left by an older version', () => {
  let ns: TestNamespace;
  let worker: TestingModule | null = null;

  beforeAll(async () => {
    ns = await freshNamespace();
  });
  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
  });

  it('is made again with the current filter when the worker starts, and new jobs reach the waiting worker at once', async () => {
    // The work subject used to end at `.submitted`; a durable made then would never see a job now.
    const jsm = await jetstreamManager(ns.nc);
    const old = await jsm.consumers.add(ns.subjects.streamName, { durable_name: WORK_CONSUMER, ack_policy: AckPolicy.Explicit, filter_subject: `${ns.namespace}.job.*.submitted` });
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'upgraded-worker' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();

    // Made again, not updated in place: nats-server 2.9 would keep waking it for the old filter.
    const now = await jsm.consumers.info(ns.subjects.streamName, WORK_CONSUMER);
    expect(now.config.filter_subjects).toEqual([ns.subjects.submittedWith('normal'), ns.subjects.partWorkWith('normal')]);
    expect(now.created).not.toBe(old.created);
    const store = new EventStore(ns.nc, ns.subjects);
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    await store.append(submitted, 0);
    const ended = await eventually(async () => {
      const items = await store.readJob(submitted.jobId);
      return items.length === 3 ? items : undefined;
    }, 20_000, 'the job to be worked on');
    expect(ended.map((item) => (item.ok ? item.stored.event.type : 'malformed'))).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });
});

describe('priorities', () => {
  let ns: TestNamespace;
  let worker: TestingModule | undefined;

  beforeAll(async () => {
    ns = await freshNamespace();
  });
  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
  });

  it('starts a backlog high first, then shares turns so that normal and low still progress', async () => {
    // A backlog of each priority, appended before any worker runs, low first so that stream order alone would start it first.
    const store = new EventStore(ns.nc, ns.subjects);
    const jobs = new Map<string, JobPriority>();
    for (const priority of ['low', 'normal', 'high'] as const) {
      for (let i = 0; i < 7; i++) {
        const submitted = videoSubmitted(undefined, { pipeline: 'noop', priority });
        await store.append(submitted, 0);
        jobs.set(submitted.jobId, priority);
      }
    }
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'priority-worker', WORKER_CONCURRENCY: '1' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();

    // The order in which the one slot started them: the stream order of their JobStarted events.
    const started = await eventually(async () => {
      const order: JobPriority[] = [];
      await store.readRange(1, await store.lastSeq(), async (items) => {
        for (const item of items) if (item.ok && item.stored.event.type === 'JobStarted') order.push(jobs.get(item.stored.event.jobId)!);
      });
      return order.length === jobs.size ? order : undefined;
    }, 30_000, 'every job to start');
    expect(started.slice(0, 7)).toEqual(['high', 'normal', 'high', 'low', 'high', 'normal', 'high']);
    // No starvation: low started long before high ran dry.
    expect(started.indexOf('low')).toBeLessThan(started.lastIndexOf('high'));
    expect(started.filter((p) => p === 'high')).toHaveLength(7);
  });

  it('starts a new job of any priority at once on an idle worker', async () => {
    const store = new EventStore(ns.nc, ns.subjects);
    for (const priority of ['low', 'high', 'normal'] as const) {
      const submitted = videoSubmitted(undefined, { pipeline: 'noop', priority });
      await store.append(submitted, 0);
      const ended = await eventually(async () => {
        const items = await store.readJob(submitted.jobId);
        return items.length === 3 ? items : undefined;
      }, 5_000, `the ${priority} job to be worked on`);
      expect(ended.map((item) => (item.ok ? item.stored.event.type : 'malformed'))).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    }
  });
});
