/**
 * The raw job shape, the physical limit of a job on JetStream: a bare nats.js script with no
 * framework, no schema validation and no read model. One shared durable pull consumer delivers the
 * job; the handler appends "started" and "completed" to the job's lifecycle subject (each with a
 * Nats-Msg-Id and the expected last sequence over the job's whole subject tree, the guarantees
 * Framewire's appends carry), then acks. With the submission that makes 3 appends per job.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { now, onStop, peerEnv, runWithSlots, send, Tally } from './protocol.js';

const { mode, concurrency, expect } = peerEnv();
const stream = process.env['RAW_STREAM']!;
const prefix = process.env['RAW_PREFIX']!;
const nc = await connect({ servers: process.env['NATS_URL'] });
const js = jetstream(nc);
const consumer = await js.consumers.get(stream, process.env['RAW_CONSUMER']!);
const messages = await consumer.consume({ max_messages: Math.max(64, concurrency * 16) });
const tally = new Tally(expect);
const encoder = new TextEncoder();
onStop(async () => {
  await messages.close();
  await nc.drain();
});

async function append(jobId: string, type: string, expected: number): Promise<number> {
  const event = { eventId: randomUUID(), jobId, type, occurredAt: new Date().toISOString() };
  const ack = await js.publish(`${prefix}.${jobId}.lifecycle`, encoder.encode(JSON.stringify(event)), {
    msgID: event.eventId,
    expect: { lastSubjectSequence: expected, lastSubjectSequenceSubject: `${prefix}.${jobId}.>` },
  });
  return ack.seq;
}

send({ type: 'ready' });
await runWithSlots(messages, concurrency, async (msg: JsMsg) => {
  const job = msg.json<{ jobId: string }>();
  const started = await append(job.jobId, 'started', msg.seq);
  if (mode === 'latency') send({ type: 'started', id: job.jobId, t: now() });
  else tally.started();
  await append(job.jobId, 'completed', started);
  msg.ack();
  if (mode === 'throughput') tally.completed();
});
