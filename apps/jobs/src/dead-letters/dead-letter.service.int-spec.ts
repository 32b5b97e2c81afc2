import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { SystemClock } from '@app/runtime';
import { jobStarted, publishAsNewerRelease, redrivenDuringBackoff, videoSubmitted } from '../../../../test/support/events.js';
import { freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { DeadLetterService } from './dead-letter.service.js';
import type { MaxDeliveriesAdvisory } from './max-deliveries.advisory.js';

/**
 * The dead-letter rule on advisories the test writes itself, against a real stream: which job
 * histories a MAX_DELIVERIES advisory may end, and which it must leave alone.
 */
describe('dead-letter service against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let service: DeadLetterService;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    service = new DeadLetterService(store, new SystemClock());
  });
  afterAll(() => ns.cleanup());

  const types = async (jobId: string) => (await store.readJob(jobId)).map((item) => (item.ok ? item.stored.event.type : 'malformed'));
  const append = async (event: JobEvent, expected: number) => (await store.append(event, expected)).seq;
  const advisory = (streamSeq: number): MaxDeliveriesAdvisory => ({
    type: 'io.nats.jetstream.advisory.v1.max_deliver',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    stream: ns.subjects.streamName,
    consumer: 'workers',
    stream_seq: streamSeq,
    deliveries: 5,
  });

  it('skips an advisory about a work message older than the job latest work request (a redriven run is not dead-lettered)', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await redrivenDuringBackoff(append, submitted);

    // The old message's deliveries ran out (it ping-ponged with the redriven attempt).
    expect(await service.record(advisory(submittedSeq))).toBe('stale');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed', 'JobCancelRequested', 'JobCancelled', 'JobRedriven', 'JobStarted']);
  });

  it('leaves for a later release an advisory about a job whose last lifecycle event it cannot read', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const submittedSeq = await append(submitted, 0);
    const started = jobStarted(submitted, 1);
    const seq = await append(started, submittedSeq);
    await publishAsNewerRelease(ns.nc, ns.subjects.lifecycle(submitted.jobId), started, seq);

    expect(await service.record(advisory(submittedSeq))).toBe('unreadable');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'malformed']);
  });
});
