import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore, type StoredJobEvent } from '@app/event-store';
import { fold } from '@app/job-state';
import { createLogger } from '@app/observability';
import { buildCatalog } from '@app/tools';
import { InFlightJobs } from '../../apps/worker/src/work/in-flight-jobs.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { jobCompleted, jobStarted, videoSubmitted } from '../support/events.js';
import { eventually, freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../support/services.js';

/**
 * Failed and contested attempts, with a real worker (in this process) on a real stream: each failed
 * attempt is a JobFailed that says when the retry comes, the work message waits that long (nak with
 * a delay), and the last attempt's failure is final; a tool past its timeout is stopped and counts as
 * a failed attempt, retried once (twice in a row is final); a worker whose job was taken over can
 * append nothing more.
 */
describe('retries, timeouts and a stale worker', () => {
  const MAX_ATTEMPTS = 3;
  let ns: TestNamespace;
  let store: EventStore;
  let worker: TestingModule;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'retry-worker', WORKER_MAX_DELIVER: String(MAX_ATTEMPTS), TOOL_TIMEOUT_MS: '1000', WORKER_CONCURRENCY: '2',
      // noop writes no files, so its attempts need no scratch directory: one that cannot be made changes nothing.
      WORK_DIR: '/nonexistent/framewire-scratch' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  });

  afterAll(async () => {
    await worker?.close();
    await ns.cleanup();
  });

  it('retries a transient failure with growing, jittered delays, then fails it for good', async () => {
    // A pipeline this worker lacks is transient: in a fleet being redeployed another worker may have it.
    const submitted = videoSubmitted(undefined, { pipeline: 'not-installed-here' });
    await store.append(submitted, 0);
    const stored = await eventually(async () => {
      const items = (await store.readJob(submitted.jobId)).flatMap((item) => (item.ok ? [item.stored] : []));
      const last = items.at(-1)?.event;
      return last?.type === 'JobFailed' && last.data.final ? items : undefined;
    }, 30_000, 'the last attempt to fail');
    expect(stored.map((s) => s.event.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed', 'JobStarted', 'JobFailed', 'JobStarted', 'JobFailed']);
    const failures = stored.filter((s): s is StoredJobEvent & { event: { type: 'JobFailed' } } => s.event.type === 'JobFailed');
    expect(failures.map((f) => [f.event.data.attempt, f.event.data.final, f.event.data.error.code])).toEqual([
      [1, false, 'UNKNOWN_PIPELINE'],
      [2, false, 'UNKNOWN_PIPELINE'],
      [3, true, 'UNKNOWN_PIPELINE'],
    ]);
    // Equal jitter (half the ceiling plus a random share of the other half): 0.5-1 s after the first attempt, 1-2 s after the second; none after the last.
    const [first, second, last] = failures.map((f) => f.event.data.retryDelayMs);
    expect(first).toBeGreaterThanOrEqual(500);
    expect(first).toBeLessThanOrEqual(1000);
    expect(second).toBeGreaterThanOrEqual(1000);
    expect(second).toBeLessThanOrEqual(2000);
    expect(last).toBeNull();
    // The work message really waited: each next attempt started no sooner than its delay allowed.
    for (const [index, failure] of failures.slice(0, 2).entries()) {
      const next = stored.filter((s) => s.event.type === 'JobStarted')[index + 1]!;
      expect(next.storedAt.getTime() - failure.storedAt.getTime()).toBeGreaterThanOrEqual(failure.event.data.retryDelayMs! - 5);
    }
    expect(fold(stored.map((s) => s.event))).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'UNKNOWN_PIPELINE' } });
  });

  const history = async (jobId: string) => (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored] : []));

  it('stops a tool that runs past its timeout and retries it once; a second timeout in a row is final, RESOURCE_LIMIT', async () => {
    // noop sleeps on its signal for 5 s; the tool timeout is 1 s.
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', params: { sleep_ms: 5000 } });
    await store.append(submitted, 0);
    const stored = await eventually(async () => {
      const items = await history(submitted.jobId);
      const last = items.at(-1)?.event;
      return last?.type === 'JobFailed' && last.data.final ? items : undefined;
    }, 30_000, 'the last attempt to time out');
    const failures = stored.flatMap((s) => (s.event.type === 'JobFailed' ? [s.event.data] : []));
    // The attempt limit is 3, but an input that outlasts the tool's time twice is not tried a third time.
    expect(failures.map((f) => [f.attempt, f.final, f.error.code])).toEqual([
      [1, false, 'TOOL_TIMEOUT'],
      [2, true, 'RESOURCE_LIMIT'],
    ]);
    expect(failures[0]!.error.message).toMatch(/tool "noop" ran longer than 1000 ms/);
    expect(failures[1]!.error.message).toBe('tool "noop" ran longer than 1000 ms (the attempt before was stopped for TOOL_TIMEOUT too: not retried again)');
    // Each attempt was stopped at its timeout, well before the 5 s sleep would have ended.
    const started = stored.filter((s) => s.event.type === 'JobStarted');
    const ended = stored.filter((s) => s.event.type === 'JobFailed');
    for (const [i, start] of started.entries()) expect(ended[i]!.storedAt.getTime() - start.storedAt.getTime()).toBeLessThan(5000);
  });

  it('lets a stale worker append nothing once its job was taken over: one terminal event, the new attempt\'s', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop', params: { sleep_ms: 800 } });
    await store.append(submitted, 0);
    const first = await eventually(async () => (await history(submitted.jobId)).find((s) => s.event.type === 'JobStarted'), 20_000, 'the first attempt');
    // Meanwhile the job is handed to another worker (as after a missed ack deadline): attempt 2.
    const takeover = jobStarted(first.event, 2, 'other-worker');
    const { seq } = await store.append(takeover, first.seq);
    // The stale worker finishes its sleep; its JobCompleted expects the sequence of its own JobStarted.
    const inFlight = worker.get(InFlightJobs);
    await eventually(async () => (inFlight.list().includes(submitted.jobId) ? undefined : true), 20_000, 'the stale attempt to end');
    expect((await history(submitted.jobId)).map((s) => s.event.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobStarted']);
    await store.append(jobCompleted(takeover, 2), seq);
    const stored = (await history(submitted.jobId)).map((s) => s.event);
    expect(stored.map((e) => [e.type, 'attempt' in e.data ? e.data.attempt : null])).toEqual([
      ['VideoSubmitted', null],
      ['JobStarted', 1],
      ['JobStarted', 2],
      ['JobCompleted', 2],
    ]);
    expect(fold(stored)).toMatchObject({ status: 'completed', attempts: 2, workerId: 'other-worker' });
  });

  it('gives the transcode pipeline its own attempt limit; the others take the workers\' default', async () => {
    const catalog = await buildCatalog([]);
    expect(catalog.pipeline('transcode')?.maxAttempts).toBe(3);
    expect(catalog.pipeline('probe')?.maxAttempts).toBeNull();
  });
});
