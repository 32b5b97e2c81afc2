import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { jobSubjects } from '@app/contracts';
import { deleteNamespace, eventually, freshName, freshNamespace, type TestNamespace } from '../../../test/support/services.js';
import { ConcurrencyError, EventStore } from './event-store.js';
import { ensureEventStream } from './stream-setup.js';

describe('EventStore against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterAll(() => ns.cleanup());

  it('creates a file-backed stream with Limits retention, idempotently and concurrently', async () => {
    const infos = await Promise.all([1, 2, 3].map(() => ensureEventStream(ns.nc, ns.subjects)));
    for (const info of infos) {
      expect(info.config).toMatchObject({
        name: ns.subjects.streamName,
        subjects: [ns.subjects.all],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        allow_direct: true,
      });
    }
    const jsm = await jetstreamManager(ns.nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names(ns.subjects.all)) names.push(name);
    expect(names).toEqual([ns.subjects.streamName]);
  });

  it('never leaves an event stream without its advisory capture: the capture is made first', async () => {
    // A namespace whose advisory subjects another stream already holds: the capture cannot be made.
    const other = jobSubjects(freshName('t'));
    const jsm = await jetstreamManager(ns.nc);
    const blocker = `${other.streamName}_BLOCKER`;
    await jsm.streams.add({ name: blocker, subjects: [other.maxDeliveriesAdvisories], storage: StorageType.Memory });
    try {
      await expect(ensureEventStream(ns.nc, other)).rejects.toThrow();
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names).not.toContain(other.streamName);
    } finally {
      await jsm.streams.delete(blocker);
      await deleteNamespace(ns.nc, other);
    }
  });

  it('appends the first event of a job only once: a second "first event" is rejected', async () => {
    const first = videoSubmitted();
    const { seq } = await store.append(first, 0);
    expect(seq).toBeGreaterThan(0);

    const impostor = videoSubmitted(first.jobId);
    await expect(store.append(impostor, 0)).rejects.toBeInstanceOf(ConcurrencyError);
    const items = await store.readJob(first.jobId);
    expect(items.map((i) => i.ok && i.stored.event.eventId)).toEqual([first.eventId]);
  });

  it('stores a retried append once, using the event id as Nats-Msg-Id', async () => {
    const submitted = videoSubmitted();
    const a = await store.append(submitted, 0);
    const b = await store.append(submitted, 0);
    expect(b).toEqual({ seq: a.seq, duplicate: true });
    expect(await store.readJob(submitted.jobId)).toHaveLength(1);
  });

  it('lets exactly one of two racing terminal events win on the lifecycle subject', async () => {
    const submitted = videoSubmitted();
    await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq: startedSeq } = await store.append(started, 0);

    const results = await Promise.allSettled([
      store.append(jobCompleted(started), startedSeq),
      store.append(jobFailed(started, 1, true, 'WORKER_ERROR'), startedSeq),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(ConcurrencyError);

    const events = (await store.readJob(submitted.jobId)).map((i) => (i.ok ? i.stored.event.type : 'malformed'));
    expect(events.slice(0, 2)).toEqual(['VideoSubmitted', 'JobStarted']);
    expect(events).toHaveLength(3);
  });

  it('reads a job in stream order, with paging, and finds its last events by direct get', async () => {
    const submitted = videoSubmitted();
    await store.append(submitted, 0);
    const other = videoSubmitted();
    await store.append(other, 0);
    const started = jobStarted(submitted);
    const s1 = await store.append(started, 0);
    const completed = jobCompleted(started);
    const s2 = await store.append(completed, s1.seq);

    const all = await store.readJob(submitted.jobId);
    expect(all.map((i) => i.ok && i.stored.event.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    const seqs = all.map((i) => (i.ok ? i.stored.seq : 0));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    const page = await store.readJob(submitted.jobId, seqs[0], 1);
    expect(page.map((i) => i.ok && i.stored.event.eventId)).toEqual([started.eventId]);

    const last = await store.lastLifecycle(submitted.jobId);
    expect(last?.ok && last.stored.seq).toBe(s2.seq);
    const first = await store.firstSubmission(submitted.jobId);
    expect(first?.ok && first.stored.event.eventId).toBe(submitted.eventId);
    expect(await store.lastLifecycle(videoSubmitted().jobId)).toBeNull();
    expect(await store.firstSubmission(videoSubmitted().jobId)).toBeNull();
    expect(await store.readJob(videoSubmitted().jobId)).toEqual([]);
  });

  it('reports a malformed message instead of throwing when reading it back', async () => {
    const jobId = videoSubmitted().jobId;
    await ns.nc.request(ns.subjects.submitted(jobId, 'normal'), new TextEncoder().encode('{"type":"VideoSubmitted"}'));
    const items = await store.readJob(jobId);
    expect(items).toHaveLength(1);
    expect(items[0]!.ok).toBe(false);
  });

  it('reads a range of the stream in batches, in order, with an ordered consumer', async () => {
    const from = (await store.lastSeq()) + 1;
    for (let i = 0; i < 25; i++) await store.append(videoSubmitted(), 0);
    const to = await store.lastSeq();
    const seen: number[] = [];
    const batches: number[] = [];
    await store.readRange(from, to, async (items) => {
      batches.push(items.length);
      seen.push(...items.map((i) => (i.ok ? i.stored.seq : i.malformed.seq)));
    }, 10);
    expect(seen).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i));
    expect(Math.max(...batches)).toBeLessThanOrEqual(10);
  });

  it('ends a range read with an error when the stream is deleted under it (stopIfGone), instead of waiting for it to come back', async () => {
    const own = await freshNamespace();
    try {
      const reader = new EventStore(own.nc, own.subjects);
      // More than the reader buffers, so that most of the range is still unread when the stream goes.
      const total = 3000;
      for (let i = 0; i < total; i++) await reader.append(videoSubmitted(), 0);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let batches = 0;
      const reading = reader.readRange(1, total, async () => {
        batches += 1;
        if (batches === 1) await held;
      }, 100, { stopIfGone: true });
      const outcome = reading.then(
        () => 'read to the end',
        (error: Error) => `failed: ${error.message}`,
      );
      await eventually(async () => (batches === 1 ? true : undefined), 10_000, 'the first batch');
      await (await jetstreamManager(own.nc)).streams.delete(own.subjects.streamName);
      release();
      // Without stopIfGone the read waits for a stream of that name for ever; with it, it ends within
      // about two of its heartbeats (10 s). The bound only tells the two apart.
      const bound = new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 45_000).unref());
      expect(await Promise.race([outcome, bound])).toMatch(/^failed: /);
      expect(batches).toBeLessThan(total / 100);
    } finally {
      await own.cleanup();
    }
  }, 90_000);
});
