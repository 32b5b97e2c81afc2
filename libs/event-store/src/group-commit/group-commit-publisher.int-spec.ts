import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, PubHeaders, type JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { eventually, freshName, freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { ConcurrencyError, EventStore } from '../event-store.js';
import { EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT } from './batch-rules.js';
import { GroupCommitPublisher } from './group-commit-publisher.js';

const encoder = new TextEncoder();
const MIN_BATCH = 4;

/**
 * Group commit against a real nats-server (2.12 or newer: TEST_NATS_URL). Publishes fired in one turn
 * are batched deterministically: the first MIN_BATCH go alone, the rest wait, and the first answer
 * sends them as one batch. The figures say which path each took.
 */
describe('GroupCommitPublisher against JetStream', () => {
  let ns: TestNamespace;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    ns = await freshNamespace();
    jsm = await jetstreamManager(ns.nc);
  });
  afterAll(() => ns.cleanup());

  function publisher(atomic = true, recheckMs?: number): GroupCommitPublisher {
    return new GroupCommitPublisher(ns.nc, 5000, { minBatch: MIN_BATCH, maxBatch: 100, atomicBatches: async () => atomic, recheckMs });
  }

  function message(options: { id?: string; expect?: number; over?: string; subject?: string } = {}) {
    const h = headers();
    const id = options.id ?? freshName('e');
    h.set(PubHeaders.MsgIdHdr, id);
    if (options.expect !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(options.expect));
    if (options.over) h.set(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, options.over);
    return { subject: options.subject ?? ns.subjects.lifecycle(freshName('job')), data: encoder.encode(`{"id":"${id}"}`), headers: h, id };
  }

  async function storedId(seq: number): Promise<string | undefined> {
    const msg = await jsm.streams.getMessage(ns.subjects.streamName, { seq });
    return msg?.header?.get(PubHeaders.MsgIdHdr);
  }

  it('stores many concurrent publishes once each, mostly in batches, and answers each with its own sequence', async () => {
    const gc = publisher();
    await expect(gc.atomicBatchesReady()).resolves.toBe(true);
    const before = (await jsm.streams.info(ns.subjects.streamName)).state.messages;
    const messages = Array.from({ length: 300 }, () => message({ expect: 0 }));
    const acks = await Promise.all(messages.map((m) => gc.publish(m.subject, m.data, m.headers)));

    expect(acks.every((a) => a.stream === ns.subjects.streamName && !a.duplicate)).toBe(true);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(300);
    expect((await jsm.streams.info(ns.subjects.streamName)).state.messages).toBe(before + 300);
    // Each ack names the very message that was published, batched or not.
    for (const i of [0, 1, MIN_BATCH, 57, 150, 299]) expect(await storedId(acks[i]!.seq)).toBe(messages[i]!.id);
    const figures = gc.figures();
    expect(figures.batches).toBeGreaterThan(0);
    expect(figures.batched + figures.alone).toBe(300);
    expect(figures.refusedBatches).toBe(0);
  });

  it('sends a lone publish at once, alone', async () => {
    const gc = publisher();
    await gc.atomicBatchesReady();
    const m = message({ expect: 0 });
    const ack = await gc.publish(m.subject, m.data, m.headers);
    expect(await storedId(ack.seq)).toBe(m.id);
    expect(gc.figures()).toEqual({ alone: 1, batches: 0, batched: 0, refusedBatches: 0 });
  });

  it('fails only the publish whose expected sequence does not hold; the others of its batch are stored', async () => {
    const gc = publisher();
    await gc.atomicBatchesReady();
    const taken = message({ expect: 0 });
    await gc.publish(taken.subject, taken.data, taken.headers);
    const first = Array.from({ length: MIN_BATCH }, () => message({ expect: 0 }));
    const waiting = Array.from({ length: 10 }, (_, i) => (i === 6 ? message({ subject: taken.subject, expect: 0 }) : message({ expect: 0 })));
    const outcomes = await Promise.allSettled([...first, ...waiting].map((m) => gc.publish(m.subject, m.data, m.headers)));

    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(outcomes[MIN_BATCH + 6]!.status).toBe('rejected');
    const reason = (outcomes[MIN_BATCH + 6] as PromiseRejectedResult).reason as JetStreamApiError;
    expect(reason).toBeInstanceOf(JetStreamApiError);
    expect(reason.code).toBe(JetStreamApiCodes.StreamWrongLastSequence);
    for (const [i, o] of outcomes.entries()) if (o.status === 'fulfilled') expect(await storedId(o.value.seq)).toBe([...first, ...waiting][i]!.id);
    expect(gc.figures().refusedBatches).toBe(1);
  });

  it('answers a message id the stream already holds as a duplicate with its first sequence, and stores the rest of its batch', async () => {
    const gc = publisher();
    await gc.atomicBatchesReady();
    const earlier = message();
    const { seq: earlierSeq } = await gc.publish(earlier.subject, earlier.data, earlier.headers);
    const first = Array.from({ length: MIN_BATCH }, () => message());
    const waiting = Array.from({ length: 8 }, (_, i) => (i === 3 ? message({ id: earlier.id, subject: earlier.subject }) : message()));
    const acks = await Promise.all([...first, ...waiting].map((m) => gc.publish(m.subject, m.data, m.headers)));

    expect(acks[MIN_BATCH + 3]).toEqual({ stream: ns.subjects.streamName, seq: earlierSeq, duplicate: true });
    expect(acks.filter((a) => a.duplicate)).toHaveLength(1);
    expect(gc.figures().refusedBatches).toBe(1);
  });

  it('stores a message id published twice at once only once: the second is a duplicate of the first', async () => {
    const gc = publisher();
    await gc.atomicBatchesReady();
    const first = Array.from({ length: MIN_BATCH }, () => message());
    const twice = message();
    const waiting = [...Array.from({ length: 5 }, () => message()), twice, ...Array.from({ length: 5 }, () => message()), { ...twice, headers: message({ id: twice.id }).headers }];
    const acks = await Promise.all([...first, ...waiting].map((m) => gc.publish(m.subject, m.data, m.headers)));

    const [a, b] = [acks[MIN_BATCH + 5]!, acks.at(-1)!];
    expect(a.duplicate).toBe(false);
    expect(b).toEqual({ stream: ns.subjects.streamName, seq: a.seq, duplicate: true });
    // Kept apart (takeBatch), so no batch was refused for it.
    expect(gc.figures().refusedBatches).toBe(0);
  });

  it('lets only one of two publishes racing on one subject tree win, although they wait together', async () => {
    // Without takeBatch's rule both would be stored: the server checks a wildcard against the
    // stream as it was before the batch (nats-server 2.15.1).
    const gc = publisher();
    await gc.atomicBatchesReady();
    const job = freshName('job');
    const tree = ns.subjects.ofJob(job);
    const first = Array.from({ length: MIN_BATCH }, () => message());
    const racing = [
      message({ subject: ns.subjects.lifecycle(job), expect: 0, over: tree }),
      ...Array.from({ length: 6 }, () => message()),
      message({ subject: ns.subjects.submitted(job, 'high'), expect: 0, over: tree }),
    ];
    const outcomes = await Promise.allSettled([...first, ...racing].map((m) => gc.publish(m.subject, m.data, m.headers)));

    const onTree = outcomes.slice(MIN_BATCH).filter((_, i) => i === 0 || i === racing.length - 1);
    expect(onTree.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    expect(gc.figures().batches).toBeGreaterThan(0);
  });

  it('sends everything alone to a stream without atomic batches, and batches once the stream allows them', async () => {
    await jsm.streams.update(ns.subjects.streamName, { allow_atomic: false });
    let asked = 0;
    const gc = new GroupCommitPublisher(ns.nc, 5000, {
      minBatch: MIN_BATCH,
      recheckMs: 0,
      atomicBatches: async () => {
        asked++;
        return (await jsm.streams.info(ns.subjects.streamName)).config.allow_atomic === true;
      },
    });
    try {
      await expect(gc.atomicBatchesReady()).resolves.toBe(false);
      const messages = Array.from({ length: 20 }, () => message({ expect: 0 }));
      const acks = await Promise.all(messages.map((m) => gc.publish(m.subject, m.data, m.headers)));
      expect(new Set(acks.map((a) => a.seq)).size).toBe(20);
      expect(gc.figures()).toMatchObject({ alone: 20, batches: 0 });

      await jsm.streams.update(ns.subjects.streamName, { allow_atomic: true });
      // An answer asked before the update may still be on its way: ask until the new one comes.
      await eventually(async () => ((await gc.atomicBatchesReady()) ? true : undefined), 10_000, 'batches allowed');
      const more = Array.from({ length: 20 }, () => message({ expect: 0 }));
      await Promise.all(more.map((m) => gc.publish(m.subject, m.data, m.headers)));
      expect(gc.figures().batches).toBeGreaterThan(0);
      expect(asked).toBeGreaterThanOrEqual(2);
    } finally {
      await jsm.streams.update(ns.subjects.streamName, { allow_atomic: true });
    }
  });

  it('falls back to sending alone when the stream refuses a batch because it does not take them', async () => {
    // The publisher believes the stream takes batches; the stream says otherwise (10174).
    await jsm.streams.update(ns.subjects.streamName, { allow_atomic: false });
    try {
      const gc = publisher(true, 60_000);
      await gc.atomicBatchesReady();
      const messages = Array.from({ length: 16 }, () => message({ expect: 0 }));
      const acks = await Promise.all(messages.map((m) => gc.publish(m.subject, m.data, m.headers)));
      for (const [i, ack] of acks.entries()) expect(await storedId(ack.seq)).toBe(messages[i]!.id);
      expect(gc.figures()).toMatchObject({ batches: 0, refusedBatches: 1 });
      // It stops trying until it asks the stream again.
      const later = Array.from({ length: 16 }, () => message({ expect: 0 }));
      await Promise.all(later.map((m) => gc.publish(m.subject, m.data, m.headers)));
      // 4 sent at once, the refused batch's 12 again alone, then all 16.
      expect(gc.figures()).toMatchObject({ batches: 0, refusedBatches: 1, alone: 4 + 12 + 16 });
    } finally {
      await jsm.streams.update(ns.subjects.streamName, { allow_atomic: true });
    }
  });
});

describe('EventStore.append with group commit', () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects, 5000, { minBatch: MIN_BATCH });
  });
  afterAll(() => ns.cleanup());

  it('makes the stream with atomic batches allowed', async () => {
    const jsm = await jetstreamManager(ns.nc);
    expect((await jsm.streams.info(ns.subjects.streamName)).config.allow_atomic).toBe(true);
    await expect(store.groupCommitReady()).resolves.toBe(true);
  });

  it('still throws a ConcurrencyError for the one append that lost, when it waited in a batch', async () => {
    await store.groupCommitReady();
    const submitted = Array.from({ length: 12 }, () => videoSubmitted());
    const submittedSeqs = await Promise.all(submitted.map(async (e) => (await store.append(e, 0)).seq));
    // Every append expects the job's last sequence over its whole subject tree: here its submission.
    const started = await Promise.all(submitted.map(async (s, i) => {
      const e = jobStarted(s);
      return { e, ...(await store.append(e, submittedSeqs[i]!)) };
    }));
    // Each job's next event expects its JobStarted; the tenth expects the sequence before it (stale).
    const progressed = started.map(({ e, seq }, i) => ({ event: jobStarted(e, 2), expect: i === 9 ? seq - 1 : seq }));
    const results = await Promise.allSettled(progressed.map(({ event, expect }) => store.append(event, expect)));

    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((results[9] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    for (const [i, r] of results.entries()) if (i !== 9) expect(r).toMatchObject({ status: 'fulfilled', value: { duplicate: false } });
    const figures = store.groupCommitFigures()!;
    expect(figures.batches).toBeGreaterThan(0);
    expect(figures.refusedBatches).toBe(1);
  });
});
