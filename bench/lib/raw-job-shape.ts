import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeEvent, jobSubjects, type JobSubjects } from '@app/contracts';
import { eventStreamConfig } from '@app/event-store';
import { videoSubmitted } from '../../test/support/events.js';
import { freshName } from '../../test/support/services.js';
import { is, runScript, type ChildScript } from './child.js';
import { enqueueToStart, StartWatch } from './measure.js';
import type { BenchContext } from './types.js';
import type { PeerMessage } from '../peers/protocol.js';
import { scriptThroughput, type Peer, type Throughput } from './peers.js';

const CONSUMER = 'workers';

/**
 * The raw job shape: a stream configured like Framewire's event log, one shared durable pull
 * consumer, and bench/peers/raw-job-worker.ts in its own process appending started and completed.
 * The submissions carry the same JSON as Framewire's, so message sizes match.
 */
export class RawJobShape implements Peer {
  readonly name = 'raw job shape';
  private readonly subjects: JobSubjects = jobSubjects(freshName('raw'));
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private worker: ChildScript<PeerMessage> | null = null;

  constructor(private readonly ctx: BenchContext) {}

  async open(): Promise<void> {
    this.nc = await connect({ servers: this.ctx.natsUrl });
    this.js = jetstream(this.nc);
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.add(eventStreamConfig(this.subjects));
    await jsm.consumers.add(this.subjects.streamName, {
      durable_name: CONSUMER,
      filter_subject: this.subjects.allSubmitted,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000_000_000,
      max_ack_pending: 10_000,
    });
  }

  private async submit(): Promise<{ id: string; seq: number }> {
    const event = videoSubmitted(undefined, { pipeline: 'noop' });
    const ack = await this.js.publish(this.subjects.submitted(event.jobId, 'normal'), encodeEvent(event), {
      msgID: event.eventId,
      expect: { lastSubjectSequence: 0, lastSubjectSequenceSubject: this.subjects.ofJob(event.jobId) },
    });
    return { id: event.jobId, seq: ack.seq };
  }

  private async startWorker(mode: 'latency' | 'throughput', concurrency: number, expect: number) {
    this.worker = runScript<PeerMessage>('raw-job-worker.ts', {
      NATS_URL: this.ctx.natsUrl,
      RAW_STREAM: this.subjects.streamName,
      RAW_PREFIX: `${this.subjects.namespace}.job`,
      RAW_CONSUMER: CONSUMER,
      MODE: mode,
      CONCURRENCY: String(concurrency),
      EXPECT: String(expect),
    });
    await this.worker.next(is('ready'));
    return this.worker;
  }

  async latency(count: number, warmup: number, gapMs: number): Promise<number[]> {
    const worker = await this.startWorker('latency', 1, 0);
    const watch = new StartWatch();
    worker.child.on('message', (m: PeerMessage) => m.type === 'started' && watch.record(m.id, BigInt(m.t)));
    try {
      return await enqueueToStart({
        enqueue: async () => {
          const { id } = await this.submit();
          return { id, acked: process.hrtime.bigint() };
        },
        watch,
        count,
        warmup,
        gapMs,
        signal: this.ctx.signal,
      });
    } finally {
      await worker.stop();
    }
  }

  /** Jobs per second with `count` jobs already enqueued, from the first start to the last completion. */
  async throughput(count: number, concurrency: number): Promise<Throughput> {
    await this.enqueue(count);
    return this.work(count, concurrency);
  }

  /** Submits `count` jobs, 256 in flight at a time. */
  async enqueue(count: number): Promise<void> {
    for (let i = 0; i < count; i += 256) await Promise.all(Array.from({ length: Math.min(256, count - i) }, () => this.submit()));
  }

  /** Starts a worker with `concurrency` slots and measures it until it has done the `count` jobs enqueued. */
  async work(count: number, concurrency: number): Promise<Throughput> {
    const worker = await this.startWorker('throughput', concurrency, count);
    try {
      return await scriptThroughput(worker, count);
    } finally {
      await worker.stop();
    }
  }

  /** The stream's last sequence: what has been appended so far. */
  async lastSeq(): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    return (await jsm.streams.info(this.subjects.streamName)).state.last_seq;
  }

  async close(): Promise<void> {
    await this.worker?.stop();
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.delete(this.subjects.streamName).catch(() => undefined);
    await this.nc.close();
  }
}
