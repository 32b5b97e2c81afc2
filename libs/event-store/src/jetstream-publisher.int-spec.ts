import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, PubHeaders } from '@nats-io/jetstream';
import { ClosedConnectionError, headers, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import { freshName, freshNamespace, TEST_NATS_URL, type TestNamespace } from '../../../test/support/services.js';
import { JetStreamPublisher } from './jetstream-publisher.js';
import { connectNats, isNatsUnavailableError } from '@app/nats';
import { ensureEventStream } from './stream-setup.js';

const encoder = new TextEncoder();

describe('JetStreamPublisher against JetStream', () => {
  let ns: TestNamespace;
  let publisher: JetStreamPublisher;

  beforeAll(async () => {
    ns = await freshNamespace();
    await ensureEventStream(ns.nc, ns.subjects);
    publisher = new JetStreamPublisher(ns.nc, 2000);
  });
  afterAll(() => ns.cleanup());

  function withId(id: string, expectLast?: number) {
    const h = headers();
    h.set(PubHeaders.MsgIdHdr, id);
    if (expectLast !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(expectLast));
    return h;
  }

  it('answers each of many concurrent publishes with its own sequence, and a repeated id as a duplicate', async () => {
    const subjects = Array.from({ length: 50 }, (_, i) => ns.subjects.lifecycle(`${freshName('job')}-${i}`));
    const acks = await Promise.all(subjects.map((subject, i) => publisher.publish(subject, encoder.encode(`{"n":${i}}`), withId(`${subject}-id`))));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(50);
    expect(acks.every((a) => a.stream === ns.subjects.streamName && !a.duplicate)).toBe(true);
    // Each ack names the message that was published, not another one in flight.
    const jsm = await jetstreamManager(ns.nc);
    for (const i of [0, 23, 49]) expect((await jsm.streams.getMessage(ns.subjects.streamName, { seq: acks[i]!.seq }))?.subject).toBe(subjects[i]);
    const again = await publisher.publish(subjects[7]!, encoder.encode('{"n":7}'), withId(`${subjects[7]}-id`));
    expect(again).toEqual({ stream: ns.subjects.streamName, seq: acks[7]!.seq, duplicate: true });
  });

  it('rejects with the server\'s JetStream error when an expectation fails', async () => {
    const subject = ns.subjects.lifecycle(freshName('job'));
    await publisher.publish(subject, encoder.encode('{}'), withId(freshName('id'), 0));
    const refused = publisher.publish(subject, encoder.encode('{}'), withId(freshName('id'), 0));
    await expect(refused).rejects.toBeInstanceOf(JetStreamApiError);
    await expect(refused).rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
    await expect(refused.catch(isNatsUnavailableError)).resolves.toBe(false);
  });

  it('rejects with NoRespondersError when no stream takes the subject', async () => {
    const publishing = publisher.publish(`${freshName('nostream')}.x`, encoder.encode('{}'), withId(freshName('id')));
    await expect(publishing).rejects.toBeInstanceOf(NoRespondersError);
    await expect(publishing.catch(isNatsUnavailableError)).resolves.toBe(true);
  });

  it('rejects with TimeoutError when nothing answers in time, and ignores an answer that comes later', async () => {
    const subject = `${freshName('silent')}.x`;
    const late: string[] = [];
    const sub = ns.nc.subscribe(subject, {
      callback: (_e, msg) => {
        if (msg.reply) late.push(msg.reply);
      },
    });
    await ns.nc.flush();
    const quick = new JetStreamPublisher(ns.nc, 100);
    const publishing = quick.publish(subject, encoder.encode('{}'), withId(freshName('id')));
    await expect(publishing).rejects.toBeInstanceOf(TimeoutError);
    await expect(publishing.catch(isNatsUnavailableError)).resolves.toBe(true);
    // The answer arrives after the timeout: it is dropped, nothing throws.
    ns.nc.publish(late[0]!, JSON.stringify({ stream: 'x', seq: 1 }));
    await ns.nc.flush();
    sub.unsubscribe();
  });

  it('rejects what is in flight, and every later publish, once the connection is closed', async () => {
    const nc = await connectNats(TEST_NATS_URL, 'publisher-close-test');
    const own = new JetStreamPublisher(nc, 5000);
    const subject = `${freshName('silent')}.x`;
    const sub = ns.nc.subscribe(subject, { callback: () => undefined });
    await ns.nc.flush();
    const inFlight = own.publish(subject, encoder.encode('{}'), withId(freshName('id')));
    await nc.close();
    await expect(inFlight).rejects.toBeInstanceOf(ClosedConnectionError);
    await expect(own.publish(subject, encoder.encode('{}'), withId(freshName('id')))).rejects.toBeInstanceOf(ClosedConnectionError);
    sub.unsubscribe();
  });
});
