import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { BlobStore } from '@app/blob-store';
import { EventStore } from '@app/event-store';
import { NO_JOB, runCommand } from '@app/job-commands';
import { NatsAvailability } from '@app/nats';
import { SystemClock, UuidV7Generator, idempotentJobId } from '@app/runtime';
import { buildCatalog } from '@app/tools';
import { publishAsNewerRelease, videoSubmitted } from '../../../../test/support/events.js';
import { freshName, freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { mp4Shell } from '../../../../test/support/videos.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
import { SubmitJobService, type SubmissionSource } from './submit-job.service.js';

/** How long the test stream remembers a Nats-Msg-Id (2 minutes in production). */
const SHORT_DUPLICATE_WINDOW_MS = 300;

/** A body with one file and these fields; it waits for `gate` before the file is read. */
function body(file: Uint8Array, fields: Record<string, string>, gate: Promise<void> = Promise.resolve(), reading?: () => void): SubmissionSource {
  return async (sink) => {
    reading?.();
    await gate;
    const file$ = await sink({ stream: Readable.from([Buffer.from(file)]), filename: 'clip.mp4', contentType: 'video/mp4', fieldsBefore: new Map(Object.entries(fields)) });
    return { fields: new Map(Object.entries(fields)), file: file$ };
  };
}

/**
 * Submissions against a real stream and Object Store, on a stream whose duplicate window is short, so
 * that two requests further apart than the production window of 2 minutes can be played in a second.
 */
describe('submitting a job against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let service: SubmitJobService;

  beforeAll(async () => {
    ns = await freshNamespace();
    const jsm = await jetstreamManager(ns.nc);
    const { config } = await jsm.streams.info(ns.subjects.streamName);
    await jsm.streams.update(ns.subjects.streamName, { ...config, duplicate_window: SHORT_DUPLICATE_WINDOW_MS * 1_000_000 });
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    service = new SubmitJobService(store, blobs, new SystemClock(), new UuidV7Generator(), new GatewayMetrics(new Registry()), await buildCatalog([]), new NatsAvailability(ns.nc));
  });
  afterAll(() => ns.cleanup());

  it('answers 422 IDEMPOTENCY_KEY_REUSED to a second body with the same key and another priority, further apart than the duplicate window, and runs the job once', async () => {
    const key = freshName('key-');
    const jobId = idempotentJobId('default', key);
    const command = (source: SubmissionSource) => ({ source, tenant: 'default', idempotencyKey: key, correlationId: freshName('req-') });

    // The second request has found no job for its key and is still uploading when the first one,
    // at another priority, is stored; it appends after the duplicate window has passed.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const slowStarted = new Promise<void>((resolve) => (reading = resolve));
    const slow = service.submit(command(body(mp4Shell(3), { pipeline: 'noop', priority: 'normal' }, gate, reading)));
    await slowStarted;
    const fast = await service.submit(command(body(mp4Shell(7), { pipeline: 'noop', priority: 'high' })));
    expect(fast).toMatchObject({ job_id: jobId, priority: 'high', replayed: false });
    await new Promise((resolve) => setTimeout(resolve, SHORT_DUPLICATE_WINDOW_MS * 3));
    release();

    await expect(slow).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const events = await store.readJob(jobId);
    expect(events.map((item) => (item.ok ? [item.stored.event.type, item.stored.event.type === 'VideoSubmitted' && item.stored.event.data.priority] : 'malformed'))).toEqual([['VideoSubmitted', 'high']]);
    // The refused upload is gone; the job's own is kept.
    const names = (await blobs.names()).filter((name) => name.startsWith(`uploads/${jobId}/`));
    expect(names).toHaveLength(1);
  });

  it('needs no read of the job before its append: a submission assumed to be new is refused by the server when the job was stored at another priority', async () => {
    const first = videoSubmitted(undefined, { priority: 'high' });
    await store.append(first, 0);
    const again = videoSubmitted(first.jobId, { priority: 'low' });
    const stamp = { at: again.occurredAt, nextId: () => again.eventId };
    const outcome = await runCommand(store, { kind: 'Submit', jobId: first.jobId, correlationId: 'req-x', data: again.data, stamp }, { assumed: NO_JOB });
    // Refused at the append, then decided again from the job's history: the first submission is the job.
    expect(outcome).toMatchObject({ kind: 'refused', decision: { reason: 'already-submitted' }, history: { submission: { event: { eventId: first.eventId } } } });
    expect((await store.readJob(first.jobId)).map((item) => item.ok && item.stored.event.eventId)).toEqual([first.eventId]);
  });

  it('answers a request whose key another request used while it uploaded as the first one was answered, past the duplicate window, storing one VideoSubmitted', async () => {
    const key = freshName('key-');
    const jobId = idempotentJobId('default', key);
    const command = (source: SubmissionSource) => ({ source, tenant: 'default', idempotencyKey: key, correlationId: freshName('req-') });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const slowStarted = new Promise<void>((resolve) => (reading = resolve));
    const slow = service.submit(command(body(mp4Shell(5), { pipeline: 'noop', priority: 'low' }, gate, reading)));
    await slowStarted;
    const fast = await service.submit(command(body(mp4Shell(5), { pipeline: 'noop', priority: 'low' })));
    expect(fast).toMatchObject({ job_id: jobId, replayed: false });
    await new Promise((resolve) => setTimeout(resolve, SHORT_DUPLICATE_WINDOW_MS * 3));
    release();

    expect(await slow).toMatchObject({ job_id: jobId, priority: 'low', replayed: true, submitted_at: fast.submitted_at });
    expect((await store.readJob(jobId)).map((item) => item.ok && item.stored.event.type)).toEqual(['VideoSubmitted']);
    // The replay's upload is gone; the job's own is kept.
    expect((await blobs.names()).filter((name) => name.startsWith(`uploads/${jobId}/`))).toHaveLength(1);
  });

  it("answers 503 JOB_HISTORY_UNREADABLE to a key whose job's submission this release cannot read, and stores nothing", async () => {
    const key = freshName('key-');
    const jobId = idempotentJobId('default', key);
    // A newer release stored the key's job (a rolling upgrade).
    await publishAsNewerRelease(ns.nc, ns.subjects.submitted(jobId, 'normal'), videoSubmitted(jobId), 0, 'VideoSubmitted');
    const submit = service.submit({ source: body(mp4Shell(3), { pipeline: 'noop' }), tenant: 'default', idempotencyKey: key, correlationId: freshName('req-') });
    await expect(submit).rejects.toMatchObject({ code: 'JOB_HISTORY_UNREADABLE' });
    expect((await store.readJob(jobId)).map((item) => item.ok)).toEqual([false]);
    expect((await blobs.names()).filter((name) => name.startsWith(`uploads/${jobId}/`))).toEqual([]);
  });
});
