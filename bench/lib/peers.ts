import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Logger as GraphileLogger, makeWorkerUtils, runMigrations, type WorkerUtils } from 'graphile-worker';
import { is, runScript, type ChildScript } from './child.js';
import { enqueueToStart, StartWatch } from './measure.js';
import { cpuMs } from './proc.js';
import { OwnRedis, type AppendFsync } from './redis.js';
import { perSecond } from './stats.js';
import type { BenchContext } from './types.js';
import { freshName } from '../../test/support/services.js';
import type { PeerMessage } from '../peers/protocol.js';

/** What every peer offers: enqueue-to-start latency and throughput of no-op jobs, worker in its own process. */
export interface Peer {
  readonly name: string;
  open(): Promise<void>;
  latency(count: number, warmup: number, gapMs: number): Promise<number[]>;
  throughput(count: number, concurrency: number): Promise<Throughput>;
  close(): Promise<void>;
}

export interface Throughput {
  jobsPerSecond: number;
  /** CPU time of the worker process per job, from /proc: steadier than rates on a busy machine. */
  workerCpuMsPerJob: number;
}

/** Runs a worker script in throughput mode until it reports `count` jobs done. */
export async function scriptThroughput(worker: ChildScript<PeerMessage>, count: number): Promise<Throughput> {
  const cpuBefore = await cpuMs(worker.child.pid!);
  const done = await worker.next(is('done'), 180_000);
  const cpuAfter = await cpuMs(worker.child.pid!);
  return { jobsPerSecond: perSecond(done.count, BigInt(done.first), BigInt(done.last)), workerCpuMsPerJob: (cpuAfter - cpuBefore) / count };
}

abstract class ScriptPeer implements Peer {
  abstract readonly name: string;
  protected worker: ChildScript<PeerMessage> | null = null;
  constructor(protected readonly ctx: BenchContext) {}

  abstract open(): Promise<void>;
  abstract close(): Promise<void>;
  protected abstract script: string;
  protected abstract env(): Record<string, string>;
  /** Enqueues one job; resolves with its id once the queue acknowledged it. */
  protected abstract enqueueOne(): Promise<string>;
  protected abstract enqueueMany(count: number): Promise<void>;

  private async startWorker(mode: 'latency' | 'throughput', concurrency: number, expect: number) {
    this.worker = runScript<PeerMessage>(this.script, { ...this.env(), MODE: mode, CONCURRENCY: String(concurrency), EXPECT: String(expect) });
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
          const id = await this.enqueueOne();
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
      this.worker = null;
    }
  }

  async throughput(count: number, concurrency: number): Promise<Throughput> {
    await this.enqueueMany(count);
    const worker = await this.startWorker('throughput', concurrency, count);
    try {
      return await scriptThroughput(worker, count);
    } finally {
      await worker.stop();
      this.worker = null;
    }
  }
}

/**
 * BullMQ on a redis-server of its own with the append-only file on, fsynced every second (the
 * benchmark's long-standing peer) or before every reply (`always`: durability equal to
 * `sync_interval: always`).
 */
export class BullmqPeer extends ScriptPeer {
  readonly name: string;
  protected script = 'bullmq-worker.ts';
  private readonly redis: OwnRedis;
  private queue!: Queue;
  private readonly queueName = freshName('bench');

  constructor(ctx: BenchContext, appendfsync: AppendFsync = 'everysec') {
    super(ctx);
    this.redis = new OwnRedis(appendfsync);
    this.name = bullmqName(appendfsync);
  }

  async open(): Promise<void> {
    await this.redis.start(this.ctx.workDir);
    this.queue = new Queue(this.queueName, { connection: { host: '127.0.0.1', port: this.redis.port } });
    await this.queue.waitUntilReady();
  }

  protected env() {
    return { REDIS_PORT: String(this.redis.port), QUEUE: this.queueName };
  }

  protected async enqueueOne(): Promise<string> {
    const job = await this.queue.add('noop', {});
    return job.id!;
  }

  protected async enqueueMany(count: number): Promise<void> {
    for (let i = 0; i < count; i += 500) {
      await this.queue.addBulk(Array.from({ length: Math.min(500, count - i) }, () => ({ name: 'noop', data: {} })));
    }
  }

  async close(): Promise<void> {
    await this.worker?.stop();
    await this.queue?.close();
    await this.redis.stop();
  }
}

/** A BullMQ peer's name in the table, with its durability. */
export const bullmqName = (appendfsync: AppendFsync): string => `BullMQ, appendfsync ${appendfsync}`;

/** graphile-worker in a fresh schema of the benchmark database (its durability is the database's: synchronous_commit). */
export class GraphilePeer extends ScriptPeer {
  readonly name = 'graphile-worker';
  protected script = 'graphile-worker.ts';
  private readonly schema = freshName('bench_gw_');
  private utils!: WorkerUtils;

  /** The database's durability settings, read at open, e.g. "synchronous_commit=on, fsync=on". */
  durability = 'unknown';

  async open(): Promise<void> {
    await runMigrations({ connectionString: this.ctx.databaseUrl, schema: this.schema, logger: silent() });
    this.utils = await makeWorkerUtils({ connectionString: this.ctx.databaseUrl, schema: this.schema, logger: silent() });
    this.durability = await this.utils.withPgClient(async (client) => {
      const show = async (name: string) => String((await client.query(`SHOW ${name}`)).rows[0]?.[name]);
      return `synchronous_commit=${await show('synchronous_commit')}, fsync=${await show('fsync')}`;
    });
  }

  protected env() {
    return { DATABASE_URL: this.ctx.databaseUrl, GRAPHILE_SCHEMA: this.schema };
  }

  protected async enqueueOne(): Promise<string> {
    const id = randomUUID();
    await this.utils.addJob('noop', { id });
    return id;
  }

  protected async enqueueMany(count: number): Promise<void> {
    for (let i = 0; i < count; i += 500) {
      await this.utils.addJobs(Array.from({ length: Math.min(500, count - i) }, () => ({ identifier: 'noop', payload: { id: randomUUID() } })));
    }
  }

  async close(): Promise<void> {
    await this.worker?.stop();
    if (this.utils) {
      await this.utils.withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`)).catch(() => undefined);
      await this.utils.release();
    }
  }
}

function silent() {
  // graphile-worker's Logger takes a factory of log functions; this one drops everything.
  return new GraphileLogger(() => () => undefined);
}
