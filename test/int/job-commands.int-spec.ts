import { jetstreamManager } from '@nats-io/jetstream';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import type { JobEvent, JobScope, VideoSubmitted } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { fold } from '@app/job-state';
import { createLogger } from '@app/observability';
import { SystemClock, UuidV7Generator } from '@app/runtime';
import { WORK_CONSUMER } from '../../apps/worker/src/work/work.consumer.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../support/events.js';
import { jobSplit, splitParts } from '../support/split-events.js';
import { eventually, freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';
import { QueryError } from '../../apps/jobs/src/rpc/rpc-answer.js';
import { JobCommandsService } from '../../apps/jobs/src/commands/job-commands.service.js';
import { JobObjectsService } from '../../apps/jobs/src/deletion/job-objects.service.js';
import { JobsMetrics } from '../../apps/jobs/src/ops/jobs.metrics.js';

const ALL: JobScope = { kind: 'all' };

/**
 * Cancel and redrive against a real stream, with a real worker (in this process) running the noop
 * pipeline: what ends up in the stream is the contract.
 */
describe('cancel and redrive', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let commands: JobCommandsService;
  let worker: TestingModule | null = null;

  const events = async (jobId: string): Promise<JobEvent[]> => (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored.event] : []));
  const types = async (jobId: string) => (await events(jobId)).map((e) => e.type);
  const settled = async () => {
    const info = await (await jetstreamManager(ns.nc)).consumers.info(ns.subjects.streamName, WORK_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0 ? info : undefined;
  };
  /** The stream sequence of each job's submission: what its first lifecycle append expects. */
  const submittedSeq = new Map<string, number>();
  const submitNoop = async (params: Record<string, unknown> = {}, tenant = 'default'): Promise<VideoSubmitted> => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', params, tenant });
    const { seq } = await store.append(submitted, 0);
    submittedSeq.set(submitted.jobId, seq);
    return submitted;
  };
  const refusal = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => (error instanceof QueryError ? error.code : String(error)));
  const stopWorker = async () => {
    await worker?.close();
    worker = null;
  };
  /** A job whose first run ended before the worker saw it: appended while no worker runs. */
  const submitEnded = async (end: 'failed' | 'completed') => {
    await stopWorker();
    const submitted = await submitNoop();
    const started = jobStarted(submitted, 1, 'old-worker');
    const { seq } = await store.append(started, submittedSeq.get(submitted.jobId)!);
    const ending = end === 'failed' ? jobFailed(started, 1, true, 'WORKER_ERROR') : jobCompleted(started);
    await store.append(ending, seq);
    await startWorker();
    await eventually(settled, 20_000, 'the worker to skip the ended job');
    return { submitted, ending };
  };
  const startWorker = async () => {
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'cancel-worker', WORKER_CONCURRENCY: '2' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  };

  beforeAll(async () => {
    // The service is made by hand here, outside a Nest app with the services' JSON logger.
    Logger.overrideLogger(false);
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    const blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    commands = new JobCommandsService(store, new SystemClock(), new UuidV7Generator(), new JobObjectsService(blobs), new JobsMetrics(new Registry(), store));
  });

  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
  });

  it('cancels a queued job at once, and no worker ever starts it', async () => {
    const queued = await submitNoop();
    expect(await commands.cancel(queued.jobId, ALL, 'key_test', 'not needed')).toMatchObject({ job_id: queued.jobId, status: 'cancelled' });
    await startWorker();
    await eventually(settled, 20_000, 'the worker to take and ack the work message');
    const stored = await events(queued.jobId);
    expect(stored.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobCancelRequested', 'JobCancelled']);
    expect(stored[1]).toMatchObject({ causationId: queued.eventId, data: { attempt: 0, reason: 'not needed', requestedBy: 'key_test' } });
    expect(stored[2]).toMatchObject({ causationId: stored[1]!.eventId, data: { attempt: 0, cancelledBy: 'jobs-service' } });
    expect(fold(stored)).toMatchObject({ status: 'cancelled', attempts: 0 });
  });

  it('stops a running job: its worker aborts the tool and appends JobCancelled', async () => {
    // noop sleeps 10 s on its signal: a stand-in for a long ffmpeg run.
    const running = await submitNoop({ sleep_ms: 10_000 });
    await eventually(async () => ((await types(running.jobId)).includes('JobStarted') ? true : undefined), 20_000, 'the job to start');
    expect(await commands.cancel(running.jobId, ALL, 'key_test', null)).toMatchObject({ status: 'cancelling' });
    // Asking again while it stops: the same answer, no second request.
    expect(await commands.cancel(running.jobId, ALL, 'key_test', null)).toMatchObject({ status: 'cancelling' });
    const ended = await eventually(async () => {
      const list = await store.readJob(running.jobId);
      const last = list.at(-1);
      return last?.ok && last.stored.event.type === 'JobCancelled' ? list : undefined;
    }, 20_000, 'the worker to cancel the job');
    const stored = ended.flatMap((item) => (item.ok ? [item.stored] : []));
    expect(stored.map((s) => s.event.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelled']);
    expect(stored[3]!.event).toMatchObject({ data: { attempt: 1, cancelledBy: 'cancel-worker' } });
    // Stopped, not finished: it ended well before the 10 s sleep would have.
    expect(stored[3]!.storedAt.getTime() - stored[1]!.storedAt.getTime()).toBeLessThan(10_000);
    await eventually(settled, 10_000, 'the ack');
    expect(await refusal(commands.cancel(running.jobId, ALL, null, null))).toBe('JOB_ALREADY_ENDED');
  });

  it('kills a running ffmpeg when its job is cancelled, and leaves no ffmpeg behind', async () => {
    // A transcode far bigger than its input (30 s upscaled to 1080p at the medium preset) runs long enough to be cancelled mid-encode.
    const media = await mediaDir();
    try {
      const path = await makeVideo(join(media.dir, 'long.mp4'), { seconds: 30, width: 320, height: 240 });
      const blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
      const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { height: 1080, preset: 'medium' } });
      const blob = await blobs.putBytes(`uploads/${submitted.jobId}/1`, await readFile(path), 'video/mp4');
      submitted.data.video = { ...submitted.data.video, bucket: blob.bucket, objectName: blob.name, size: blob.size, sha256: blob.sha256 };
      await store.append(submitted, 0);
      // ffmpeg is encoding once the transcode reports progress.
      await eventually(async () => ((await events(submitted.jobId)).some((e) => e.type === 'JobProgressed' && e.data.currentTool === 'transcode' && e.data.currentFrame > 0) ? true : undefined), 30_000, 'the transcode to report progress');
      expect(await ffmpegChildren()).not.toEqual([]);
      await commands.cancel(submitted.jobId, ALL, null, null);
      const stored = await eventually(async () => {
        const items = (await store.readJob(submitted.jobId)).flatMap((item) => (item.ok ? [item.stored] : []));
        return items.at(-1)?.event.type === 'JobCancelled' ? items : undefined;
      }, 20_000, 'the transcode to be cancelled');
      expect(stored.map((s) => s.event.type)).not.toContain('JobCompleted');
      expect(await ffmpegChildren()).toEqual([]);
      const asked = stored.find((s) => s.event.type === 'JobCancelRequested')!;
      process.stdout.write(`cancel of a running transcode: JobCancelled ${stored.at(-1)!.storedAt.getTime() - asked.storedAt.getTime()} ms after JobCancelRequested\n`);
    } finally {
      await media.cleanup();
    }
  });

  it('redrives a failed job as a new attempt, linked by causation id, which then completes', async () => {
    // Its first run failed for good (the worker takes the work message and finds it ended).
    const { submitted, ending: failed } = await submitEnded('failed');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed']);

    const outcome = await commands.redrive(submitted.jobId, ALL, 'key_ops');
    expect(outcome).toMatchObject({ job_id: submitted.jobId, status: 'queued', attempt: 2, caused_by: failed.eventId });
    const stored = await eventually(async () => {
      const list = await events(submitted.jobId);
      return list.at(-1)?.type === 'JobCompleted' ? list : undefined;
    }, 20_000, 'the redriven job to complete');
    expect(stored.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed', 'JobRedriven', 'JobStarted', 'JobCompleted']);
    const [, , , redriven, restarted, completed] = stored;
    expect(redriven).toMatchObject({ causationId: failed.eventId, correlationId: submitted.correlationId, data: { firstAttempt: 2, requestedBy: 'key_ops', pipeline: 'noop' } });
    expect(restarted).toMatchObject({ causationId: redriven!.eventId, data: { attempt: 2, workerId: 'cancel-worker' } });
    expect(completed).toMatchObject({ data: { attempt: 2 } });
    expect(fold(stored)).toMatchObject({ status: 'completed', attempts: 2, error: null });
    // Completed: nothing to redrive.
    expect(await refusal(commands.redrive(submitted.jobId, ALL, null))).toBe('JOB_NOT_RETRYABLE');
  });

  it('redrives a cancelled job; a second redrive before it runs is refused', async () => {
    const { submitted } = await submitEnded('completed');
    expect(await refusal(commands.redrive(submitted.jobId, ALL, null))).toBe('JOB_NOT_RETRYABLE');

    const queued = await submitNoop({ sleep_ms: 10_000 }, 'acme');
    await eventually(async () => ((await types(queued.jobId)).includes('JobStarted') ? true : undefined), 20_000, 'the job to start');
    await commands.cancel(queued.jobId, { kind: 'tenant', tenant: 'acme' }, null, null);
    await eventually(async () => ((await types(queued.jobId)).at(-1) === 'JobCancelled' ? true : undefined), 20_000, 'the cancel');
    await eventually(settled, 10_000, 'the ack');

    // Another tenant cannot see it, so cannot redrive or cancel it either.
    expect(await refusal(commands.redrive(queued.jobId, { kind: 'tenant', tenant: 'other' }, null))).toBe('JOB_NOT_FOUND');
    expect(await refusal(commands.cancel(queued.jobId, { kind: 'tenant', tenant: 'other' }, null, null))).toBe('JOB_NOT_FOUND');
    // Stop the worker so the redrive stays queued while it is redriven again, then cancelled.
    await stopWorker();
    expect(await commands.redrive(queued.jobId, { kind: 'tenant', tenant: 'acme' }, null)).toMatchObject({ attempt: 2 });
    expect(await refusal(commands.redrive(queued.jobId, ALL, null))).toBe('JOB_NOT_RETRYABLE');
    // A queued redrive is cancelled at once, like any job that is not running.
    expect(await commands.cancel(queued.jobId, ALL, null, null)).toMatchObject({ status: 'cancelled' });
    await startWorker();
    await eventually(settled, 20_000, 'the worker to skip the cancelled redrive');
    const stored = await events(queued.jobId);
    expect(stored.map((e) => e.type)).toEqual([
      'VideoSubmitted',
      'JobStarted',
      'JobCancelRequested',
      'JobCancelled',
      'JobRedriven',
      'JobCancelRequested',
      'JobCancelled',
    ]);
    expect(fold(stored)).toMatchObject({ status: 'cancelled', attempts: 1 });
  });

  it('refuses an unknown job', async () => {
    expect(await refusal(commands.cancel('00000000-0000-4000-8000-000000000000', ALL, null, null))).toBe('JOB_NOT_FOUND');
    expect(await refusal(commands.redrive('00000000-0000-4000-8000-000000000000', ALL, null))).toBe('JOB_NOT_FOUND');
  });

  it('cancels a job running in parts at once, and nudges the workers that make its parts', async () => {
    // Its attempt cut it in two (issue #19), as a worker would; no worker runs here, the nudge is what is looked at.
    await stopWorker();
    const submitted = await submitNoop();
    const started = jobStarted(submitted, 1, 'split-worker');
    const { seq } = await store.append(started, submittedSeq.get(submitted.jobId)!);
    await store.append(jobSplit(started, splitParts(2)), seq);
    const nudged: string[] = [];
    const sub = ns.nc.subscribe(ns.subjects.cancelRequested, { callback: (_error, msg) => void nudged.push((JSON.parse(msg.string()) as { job_id: string }).job_id) });
    await ns.nc.flush();
    try {
      expect(await commands.cancel(submitted.jobId, ALL, 'key_test', null)).toMatchObject({ status: 'cancelled' });
      await eventually(async () => (nudged.includes(submitted.jobId) ? true : undefined), 10_000, 'the cancel nudge');
    } finally {
      sub.unsubscribe();
    }
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobSplit', 'JobCancelRequested', 'JobCancelled']);
  });
});

/** The ffmpeg processes this test process started (the in-process worker's), as `ps` lists them. */
async function ffmpegChildren(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((line) => /\bffmpeg\b/.test(line));
}
