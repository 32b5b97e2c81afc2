import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import type { JobEvent, WorkRequest } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { createLogger } from '@app/observability';
import { jobCancelled, jobCancelRequested, jobFailed, jobStarted, publishAsNewerRelease, publishAsOlderRelease, redrivenDuringBackoff, videoSubmitted } from '../../../../test/support/events.js';
import { freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../../../../test/support/services.js';
import { WorkerModule } from '../worker.module.js';
import { JobRunner } from './job-runner.service.js';
import type { WorkDelivery } from './work-delivery.js';

/**
 * A delivery that records what the runner does with it, instead of a JetStream message. A submission
 * appended by this release was stored as its job's first event (`firstOfJob`).
 */
function delivery(request: WorkRequest, seq: number, deliveryCount: number, firstOfJob = request.type === 'VideoSubmitted') {
  const done = { acks: 0, naks: [] as number[] };
  const d: WorkDelivery = {
    request,
    seq,
    deliveryCount,
    firstOfJob,
    heartbeat: () => undefined,
    ack: () => void done.acks++,
    nak: (delayMs) => void done.naks.push(delayMs),
    release: () => undefined,
  };
  return { delivery: d, done };
}

/**
 * The job runner on deliveries that it is handed directly, against a real stream: what a delivery of
 * a work request does to a job whose history the test has written first.
 */
describe('job runner against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let module: TestingModule;
  let runner: JobRunner;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'runner-worker' });
    // Compiled, not started: no consumer pulls work; the test hands the runner its deliveries.
    module = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    runner = module.get(JobRunner);
  });
  afterAll(async () => {
    await module?.close();
    await ns.cleanup();
  });

  const types = async (jobId: string) => (await store.readJob(jobId)).map((item) => (item.ok ? item.stored.event.type : 'malformed'));
  const append = async (event: JobEvent, expected: number) => (await store.append(event, expected)).seq;

  it('acks and skips a delivery older than the job latest work request (its run was cancelled and redriven meanwhile)', async () => {
    // The first run failed once and waited for its retry; it was cancelled, then redriven, and the
    // redriven attempt runs. Then the old work message comes back from its backoff.
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await redrivenDuringBackoff(append, submitted);

    const stale = delivery(submitted, submittedSeq, 2);
    await runner.run(stale.delivery, new AbortController().signal);
    expect(stale.done).toEqual({ acks: 1, naks: [] });
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed', 'JobCancelRequested', 'JobCancelled', 'JobRedriven', 'JobStarted']);
  });

  it('reads the history before it claims a submission not stored as its job\'s first event: a later one an older release stored is skipped, never run', async () => {
    // A release that checked each priority's subject alone stored a second VideoSubmitted for the same
    // Idempotency-Key, at another priority, after the job's first attempt had failed once.
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', priority: 'high' });
    const s0 = await append(submitted, 0);
    const started = jobStarted(submitted, 1, 'w-1');
    const s1 = await append(started, s0);
    await append(jobFailed(started, 1, false, 'WORKER_ERROR'), s1);
    const later = videoSubmitted(submitted.jobId, { pipeline: 'noop', priority: 'low' });
    const laterSeq = await publishAsOlderRelease(ns.nc, ns.subjects.submitted(later.jobId, 'low'), later);

    // Its first delivery: it is the job's last event, so a claim that assumed it is the job's first would be stored.
    const first = delivery(later, laterSeq, 1, false);
    expect(await runner.run(first.delivery, new AbortController().signal)).toBe('skipped');
    expect(first.done).toEqual({ acks: 1, naks: [] });
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed', 'VideoSubmitted']);
  });

  /**
   * Runs `first` against the stream right before the runner's first append of a JobCancelled, as if
   * the jobs service (or a DELETE) appended in the moment between the runner's read and its append.
   */
  const beforeWorkerCancels = (first: (expected: number) => Promise<void>) => {
    const runnerStore = module.get(EventStore);
    const append = runnerStore.append.bind(runnerStore);
    let done = false;
    const spy = jest.spyOn(runnerStore, 'append').mockImplementation(async (event, expected) => {
      if (!done && event.type === 'JobCancelled') {
        done = true;
        await first(expected);
      }
      return append(event, expected);
    });
    return () => spy.mockRestore();
  };

  it('acks a waiting job whose cancel the jobs service settled while the runner was settling it too', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await append(submitted, 0);
    const asked = jobCancelRequested(submitted, 0);
    await append(asked, submittedSeq);
    const restore = beforeWorkerCancels(async (expected) => void (await append(jobCancelled(asked, 0), expected)));
    try {
      const redelivered = delivery(submitted, submittedSeq, 2);
      expect(await runner.run(redelivered.delivery, new AbortController().signal)).toBe('skipped');
      expect(redelivered.done).toEqual({ acks: 1, naks: [] });
    } finally {
      restore();
    }
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobCancelRequested', 'JobCancelled']);
  });

  it('settles after the newest cancel request when a DELETE asks again while the runner settles a cancel, and acks', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await append(submitted, 0);
    const asked = jobCancelRequested(submitted, 0);
    await append(asked, submittedSeq);
    const restore = beforeWorkerCancels(async (expected) => void (await append(jobCancelRequested(asked, 0, 'key_test', true), expected)));
    try {
      const first = delivery(submitted, submittedSeq, 1);
      expect(await runner.run(first.delivery, new AbortController().signal)).toBe('skipped');
      expect(first.done).toEqual({ acks: 1, naks: [] });
    } finally {
      restore();
    }
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobCancelRequested', 'JobCancelRequested', 'JobCancelled']);
  });

  it('leaves alone a job whose last lifecycle event it cannot read: no append, no ack, a nak with a delay', async () => {
    // A newer release appended an event type this one does not know (a rolling upgrade).
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await append(submitted, 0);
    const started = jobStarted(submitted, 1, 'newer-worker');
    const seq = await append(started, submittedSeq);
    await publishAsNewerRelease(ns.nc, ns.subjects.lifecycle(submitted.jobId), started, seq);

    const redelivered = delivery(submitted, submittedSeq, 2);
    await runner.run(redelivered.delivery, new AbortController().signal);
    expect(redelivered.done.acks).toBe(0);
    expect(redelivered.done.naks).toHaveLength(1);
    expect(redelivered.done.naks[0]).toBeGreaterThan(0);
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'malformed']);
  });
});
