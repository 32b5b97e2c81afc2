import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore, type StoredJobEvent } from '@app/event-store';
import { fold } from '@app/job-state';
import { createLogger } from '@app/observability';
import { buildCatalog } from '@app/tools';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { videoSubmitted } from '../support/events.js';
import { eventually, freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../support/services.js';

/**
 * Retries of a transient failure, with a real worker (in this process) on a real stream: each failed
 * attempt is a JobFailed that says when the retry comes, the work message waits that long (nak with
 * a delay), and the last attempt's failure is final.
 */
describe('retries with backoff', () => {
  const MAX_ATTEMPTS = 3;
  let ns: TestNamespace;
  let store: EventStore;
  let worker: TestingModule;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'retry-worker', WORKER_MAX_DELIVER: String(MAX_ATTEMPTS) });
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
    // Full jitter over half the ceiling: 0.5-1 s after the first attempt, 1-2 s after the second; none after the last.
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

  it('gives the transcode pipeline its own attempt limit; the others take the workers\' default', async () => {
    const catalog = await buildCatalog([]);
    expect(catalog.pipeline('transcode')?.maxAttempts).toBe(3);
    expect(catalog.pipeline('probe')?.maxAttempts).toBeNull();
  });
});
