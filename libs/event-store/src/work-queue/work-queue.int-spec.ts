import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import { freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue against JetStream', () => {
  let ns: TestNamespace;
  let queue: WorkQueue;

  beforeAll(async () => {
    ns = await freshNamespace();
    queue = new WorkQueue(ns.nc, ns.subjects);
    await queue.ensureConsumers({ ackWaitMs: 30_000, maxDeliver: 5 });
  });
  afterAll(() => ns.cleanup());

  it('terminates a message with its reason, which the server puts in its MSG_TERMINATED advisory, and never delivers it again', async () => {
    const puller = queue.puller();
    try {
      const advisories = ns.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${ns.subjects.streamName}.>`, { max: 1 });
      await ns.nc.flush();
      expect(await puller.pull('low')).toBeNull();

      const { seq } = await jetstream(ns.nc).publish(ns.subjects.submitted('job-malformed', 'low'), 'not json');
      const pulled = await puller.pull('low');
      expect(pulled?.seq).toBe(seq);
      pulled!.term('malformed work message: not JSON\nsecond line');

      let advisory: { stream_seq?: number; reason?: string } | undefined;
      for await (const msg of advisories) advisory = msg.json();
      expect(advisory).toMatchObject({ stream_seq: seq, reason: 'malformed work message: not JSON second line' });
      expect(await puller.pull('low')).toBeNull();
    } finally {
      puller.close();
    }
  });
});
