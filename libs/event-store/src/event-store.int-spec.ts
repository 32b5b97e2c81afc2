import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { jobCompleted, jobDeleted, jobFailed, jobRedriven, jobStarted, publishAsOlderRelease, videoSubmitted } from '../../../test/support/events.js';
import { jobSplit, partRequested, splitParts } from '../../../test/support/split-events.js';
import { jobSubjects } from '@app/contracts';
import { deleteNamespace, eventually, freshName, freshNamespace, type TestNamespace } from '../../../test/support/services.js';
import { ConcurrencyError, EventStore, storedAsFirstOfJob } from './event-store.js';
import { ensureEventStream } from './stream-setup.js';

describe('EventStore against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterAll(() => ns.cleanup());

  /** A job submitted, started and failed for good, with the sequences of its three events. */
  async function finallyFailedJob() {
    const submitted = videoSubmitted();
    const { seq: s0 } = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq: s1 } = await store.append(started, s0);
    const failed = jobFailed(started, 1, true, 'WORKER_ERROR');
    const { seq: s2 } = await store.append(failed, s1);
    return { submitted, failed, seqs: [s0, s1, s2] as const };
  }

  it('appends a split with its work requests all or nothing, each on its own subject, in consecutive sequences; a stale expectation stores none; a retry is a duplicate', async () => {
    const submitted = videoSubmitted();
    const { seq: s0 } = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq: s1 } = await store.append(started, s0);
    const split = jobSplit(started, splitParts(3));
    const batch = [split, ...split.data.parts.map((part) => partRequested(split, part))] as const;
    await expect(store.appendAtomic([...batch], s0)).rejects.toBeInstanceOf(ConcurrencyError);
    expect((await store.readJob(submitted.jobId)).length).toBe(2);

    const results = await store.appendAtomic([...batch], s1);
    expect(results.map((r) => r.seq)).toEqual([1, 2, 3, 4].map((i) => results[0]!.seq + i - 1));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    const stored = await store.readJob(submitted.jobId, s1);
    expect(stored.map((item) => (item.ok ? [item.stored.subject, item.stored.event.type] : null))).toEqual([
      [ns.subjects.split(submitted.jobId), 'JobSplit'],
      ...[0, 1, 2].map(() => [ns.subjects.partWork(submitted.jobId, 'normal'), 'PartRequested']),
    ]);
    // The same batch sent again (its answer lost): found right after the sequence it expected.
    const again = await store.appendAtomic([...batch], s1);
    expect(again).toEqual(results.map((r) => ({ seq: r.seq, duplicate: true })));
    expect((await store.readJob(submitted.jobId)).length).toBe(6);
  });

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

  it('appends the first event of a job only once: a second "first event" is rejected, at any priority', async () => {
    const first = videoSubmitted(undefined, { priority: 'high' });
    const { seq } = await store.append(first, 0);
    expect(seq).toBeGreaterThan(0);

    for (const priority of ['high', 'normal', 'low'] as const) {
      const impostor = videoSubmitted(first.jobId, { priority });
      await expect(store.append(impostor, 0)).rejects.toBeInstanceOf(ConcurrencyError);
    }
    const items = await store.readJob(first.jobId);
    expect(items.map((i) => i.ok && i.stored.event.eventId)).toEqual([first.eventId]);
  });

  it('stores a retried append once, using the event id as Nats-Msg-Id: a retry whose first try was stored is a duplicate, not a conflict', async () => {
    const submitted = videoSubmitted();
    const a = await store.append(submitted, 0);
    // nats-server 2.12+ refuses this retry by its expected sequence before it looks at its Nats-Msg-Id;
    // the store finds its own event right after the expected sequence and answers it as a duplicate.
    expect(await store.append(submitted, 0)).toEqual({ seq: a.seq, duplicate: true });
    expect(await store.append(submitted, a.seq)).toEqual({ seq: a.seq, duplicate: true });
    expect(await store.readJob(submitted.jobId)).toHaveLength(1);
  });

  it('still refuses a retry as a conflict once another event followed the expected one', async () => {
    const submitted = videoSubmitted();
    const { seq: submittedSeq } = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    await store.append(started, submittedSeq);
    // Another event of the job is what follows the expectation: a real conflict.
    await expect(store.append(jobCompleted(started), submittedSeq)).rejects.toBeInstanceOf(ConcurrencyError);
  });

  it('expects the job\'s last event over all of its subjects: an append after the submission expects the submission', async () => {
    const submitted = videoSubmitted();
    const { seq: submittedSeq } = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    // The lifecycle subject is empty, but the job is not.
    await expect(store.append(started, 0)).rejects.toMatchObject({ name: 'ConcurrencyError', subject: ns.subjects.ofJob(submitted.jobId), expectedSeq: 0 });
    const { seq } = await store.append(started, submittedSeq);
    expect(seq).toBeGreaterThan(submittedSeq);
  });

  it('lets exactly one of two appends racing on different subjects of one job win: a lifecycle event and a VideoSubmitted at another priority', async () => {
    const submitted = videoSubmitted(undefined, { priority: 'high' });
    const { seq: submittedSeq } = await store.append(submitted, 0);
    // Both decided from the same history: the job's last event is its submission.
    const started = jobStarted(submitted);
    const later = videoSubmitted(submitted.jobId, { priority: 'low' });
    const results = await Promise.allSettled([store.append(started, submittedSeq), store.append(later, submittedSeq)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => r.reason)).toEqual([expect.any(ConcurrencyError)]);
    const events = (await store.readJob(submitted.jobId)).map((i) => (i.ok ? i.stored.event.eventId : 'malformed'));
    expect(events).toHaveLength(2);
    expect([[submitted.eventId, started.eventId], [submitted.eventId, later.eventId]]).toContainEqual(events);
  });

  it('orders a redrive (work subject) and a deletion (lifecycle subject) decided from the same history: one wins', async () => {
    const { submitted, failed, seqs: [s0, s1, s2] } = await finallyFailedJob();
    const results = await Promise.allSettled([store.append(jobRedriven(submitted, failed, 2), s2), store.append(jobDeleted(failed, 1), s2)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await store.readJob(submitted.jobId)).toHaveLength(4);
  });

  it('reads the last message of each of a job\'s subjects together, and none for an unknown job', async () => {
    const submitted = videoSubmitted(undefined, { priority: 'high' });
    const { seq: s0 } = await store.append(submitted, 0);
    await store.append(videoSubmitted(), 0);
    const started = jobStarted(submitted);
    const { seq: s1 } = await store.append(started, s0);
    const entries = await store.lastPerSubjectOfJob(submitted.jobId);
    expect(entries.map(({ subject, seq, event }) => [subject, seq, event?.eventId]).sort()).toEqual(
      [
        [ns.subjects.submitted(submitted.jobId, 'high'), s0, submitted.eventId],
        [ns.subjects.lifecycle(submitted.jobId), s1, started.eventId],
      ].sort(),
    );
    expect(await store.lastPerSubjectOfJob(videoSubmitted().jobId)).toEqual([]);
  });

  it('tells a work message stored as its job\'s first event from one stored after events of its job, by the expectation stored with it', async () => {
    const jsm = await jetstreamManager(ns.nc);
    const firstOfJob = async (seq: number) => {
      const msg = (await jsm.direct.getMessage(ns.subjects.streamName, { seq }))!;
      return storedAsFirstOfJob(msg.subject, msg.header, ns.subjects);
    };
    const { submitted, failed, seqs: [s0, s1, s2] } = await finallyFailedJob();
    const { seq: s3 } = await store.append(jobRedriven(submitted, failed, 2), s2);
    // A release before the whole-job check expected 0 on the submission's own subject only.
    const older = videoSubmitted();
    const olderSeq = await publishAsOlderRelease(ns.nc, ns.subjects.submitted(older.jobId, 'normal'), older);
    expect(await Promise.all([s0, s1, s2, s3, olderSeq].map(firstOfJob))).toEqual([true, false, false, false, false]);
  });

  it('lets exactly one of two racing terminal events win on the lifecycle subject', async () => {
    const submitted = videoSubmitted();
    const { seq: submittedSeq } = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq: startedSeq } = await store.append(started, submittedSeq);

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
    const s0 = await store.append(submitted, 0);
    const other = videoSubmitted();
    await store.append(other, 0);
    const started = jobStarted(submitted);
    const s1 = await store.append(started, s0.seq);
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
    // The read's ordered consumer is deleted once it is done (the server would keep it 5 minutes).
    const jsm = await jetstreamManager(ns.nc);
    const ephemeral = (await jsm.consumers.list(ns.subjects.streamName).next()).filter((c) => !c.config.durable_name);
    expect(ephemeral).toEqual([]);
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
