import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { Backoff } from '@app/runtime';
import { videoSubmitted } from '../../../test/support/events.js';
import { eventually, freshName, freshNamespace, type TestNamespace } from '../../../test/support/services.js';
import { consumeLoop } from './consume-loop.js';
import { EventStore } from './event-store.js';

describe('consumeLoop against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterAll(() => ns.cleanup());

  it('hands every message over, opens its durable consumer again when it is deleted, and ends on abort', async () => {
    const name = freshName('loop');
    const seen: number[] = [];
    const errors: unknown[] = [];
    let opened = 0;
    const stop = new AbortController();
    const loop = consumeLoop({
      signal: stop.signal,
      backoff: new Backoff(10, 100),
      open: async () => {
        await store.ensureDurableConsumer({ durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: ns.subjects.all }, []);
        opened += 1;
        return store.consumeDurable(name, { max_messages: 8, abort_on_missing_resource: true });
      },
      handle: async (msg) => {
        seen.push(msg.seq);
        msg.ack();
      },
      onError: (error) => errors.push(error),
    });

    const first = await store.append(videoSubmitted(), 0);
    await eventually(async () => (seen.includes(first.seq) ? true : undefined), 10_000, 'the first message');
    await (await jetstreamManager(ns.nc)).consumers.delete(ns.subjects.streamName, name);
    await eventually(async () => (opened >= 2 ? true : undefined), 10_000, 'the consumer to be opened again');
    const second = await store.append(videoSubmitted(), 0);
    await eventually(async () => (seen.includes(second.seq) ? true : undefined), 10_000, 'a message after the new consumer opened');
    expect(errors.length).toBeGreaterThanOrEqual(1);

    // Abort closes the open consumer and ends the loop (this await would otherwise time out), without a third round.
    stop.abort();
    await loop;
    expect(opened).toBe(2);
  });

  it('after a handler fails, opens the consumer again and hands the message over again (the live feed resuming where it stopped)', async () => {
    const first = await store.append(videoSubmitted(), 0);
    const seen: number[] = [];
    const errors: unknown[] = [];
    let opened = 0;
    let failed = false;
    let resumeAt: number | null = first.seq;
    const stop = new AbortController();
    const loop = consumeLoop({
      signal: stop.signal,
      backoff: new Backoff(10, 100),
      open: () => {
        opened += 1;
        return store.consumeOrdered(resumeAt, { max_messages: 8 });
      },
      handle: async (msg) => {
        // A lookup that fails on the first delivery (NATS slow, say): the round ends, and the next resumes at this message.
        if (!failed) {
          failed = true;
          throw new Error('the lookup failed');
        }
        seen.push(msg.seq);
        resumeAt = msg.seq + 1;
      },
      onError: (error) => errors.push(error),
    });

    await eventually(async () => (seen.includes(first.seq) ? true : undefined), 10_000, 'the message handed over again');
    expect(opened).toBe(2);
    expect(errors).toEqual([new Error('the lookup failed')]);
    stop.abort();
    await loop;
  });
});
