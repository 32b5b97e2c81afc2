import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { encodeEvent, jobSubjects } from '@app/contracts';
import { eventStreamConfig } from '@app/event-store';
import { videoSubmitted } from '../test/support/events.js';
import { freshName } from '../test/support/services.js';
import { generatedBytes, GiB, MiB } from './lib/bytes.js';
import { censusMeasurements, withFsyncCensus } from './lib/fsyncs.js';
import { comparisonLabel } from './lib/nats-server.js';
import { RawJobShape } from './lib/raw-job-shape.js';
import { distribution, perSecond, round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

/**
 * The physical limits, measured first in every run: what JetStream, PostgreSQL and the Object Store
 * can do on this machine with nothing of Framewire in the way. Every later figure is set beside one
 * of these. Messages carry the same JSON as a Framewire submission (about 500 bytes).
 */
const bench: Benchmark = {
  id: 'raw',
  title: 'Raw limits',
  timeoutMs: 8 * 60_000,
  async run(ctx) {
    const q = ctx.quick;
    const measurements: Measurement[] = [];
    const notes: string[] = [];
    const counts = { sync: q ? 50 : 3000, async: q ? 500 : 30_000 };
    measurements.push(...(await jetStreamLimits(ctx, counts, { census: true })));

    const raw = new RawJobShape(ctx);
    await raw.open();
    let latency: number[] = [];
    try {
      latency = await raw.latency(q ? 20 : 1000, q ? 5 : 50, q ? 2 : 5);
      const d = distribution(latency);
      for (const key of ['p50', 'p90', 'p99', 'max'] as const) {
        measurements.push({ name: `raw job shape enqueue→start ${key}`, unit: 'ms', value: round(d[key]), extra: { n: d.n } });
      }
      measurements.push(...(await rawJobThroughput(ctx, raw, { census: true })));
    } finally {
      await raw.close();
    }
    notes.push('raw job shape: a bare nats.js worker in its own process, 3 appends per job (submitted, started, completed), each with Nats-Msg-Id and expected last subject sequence.');
    notes.push(
      'events per fsync: the events appended to the stream (its last sequence before and after) over the fsync and fdatasync calls the nats-server process made meanwhile (all its files: stream blocks and consumer state), ' +
        'counted with perf on the syscall tracepoints (or strace when perf cannot, which slows the server); the raw job shape\'s count covers its worker phase (2 appends per job).',
    );

    measurements.push(await postgresUpserts(ctx, q ? 2000 : 100_000));
    measurements.push(await objectStorePut(ctx, q ? 8 * MiB : 2 * GiB));
    measurements.push(fsyncedAppends(ctx, q ? 50 : 3000));
    notes.push(
      'fsynced append: what one fsync costs on this disk (in the bench\'s scratch directory), the floor under an acknowledged write with `sync_interval: always` when nothing shares the fsync.',
    );
    const comparison = ctx.comparisonNats;
    if (comparison) {
      const other: BenchContext = { ...ctx, natsUrl: comparison.url };
      const label = comparisonLabel(comparison);
      measurements.push(...(await jetStreamLimits(other, counts, { census: false, label })));
      const rawThere = new RawJobShape(other);
      await rawThere.open();
      try {
        measurements.push(...(await rawJobThroughput(other, rawThere, { census: false, label })));
      } finally {
        await rawThere.close();
      }
      notes.push(`${label}: the same measurements on a second server started by the bench, so that the durable figures can be set beside the old default; no goal is judged on them.`);
    }

    return { id: 'raw', title: 'Raw limits', measurements, samples: { 'raw job shape': latency }, notes };
  },
};
export default bench;

/** `label` marks rows measured on the comparison server; `census` counts the server's fsyncs in each phase. */
interface RowOptions {
  census: boolean;
  label?: string;
}

const labelled = (name: string, label: string | undefined) => (label ? `${name} (${label})` : name);

/** Raw job shape throughput at concurrency 1 and 4, with the events per fsync of the worker phase at 4. */
async function rawJobThroughput(ctx: BenchContext, raw: RawJobShape, options: RowOptions): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const concurrency of [1, 4]) {
    const count = ctx.quick ? 50 : concurrency === 1 ? 10_000 : 20_000;
    await raw.enqueue(count);
    const censused = options.census && concurrency === 4;
    const { result, census } = await withFsyncCensus(censused ? ctx.nats : undefined, () => raw.lastSeq(), () => raw.work(count, concurrency));
    const name = (text: string) => labelled(text, options.label);
    measurements.push({ name: name(`raw job shape, concurrency ${concurrency}`), unit: 'jobs/s', value: round(result.jobsPerSecond, 0), extra: { jobs: count } });
    measurements.push({ name: name(`raw job shape worker CPU per job, concurrency ${concurrency}`), unit: 'ms', value: round(result.workerCpuMsPerJob, 4), extra: { jobs: count } });
    measurements.push(...censusMeasurements(`raw job shape, concurrency ${concurrency}`, census));
  }
  return measurements;
}

async function jetStreamLimits(ctx: BenchContext, counts: { sync: number; async: number }, options: RowOptions): Promise<Measurement[]> {
  const subjects = jobSubjects(freshName('rawjs'));
  const nc = await connect({ servers: ctx.natsUrl });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add(eventStreamConfig(subjects));
  const payload = encodeEvent(videoSubmitted(undefined, { pipeline: 'noop' }));
  const subject = (i: number) => subjects.lifecycle(`job${i}`);
  const lastSeq = async () => (await jsm.streams.info(subjects.streamName)).state.last_seq;
  const server = options.census ? ctx.nats : undefined;
  const window = 256;
  try {
    const syncRun = await withFsyncCensus(server, lastSeq, async () => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < counts.sync; i++) await js.publish(subject(i), payload);
      return perSecond(counts.sync, t0, process.hrtime.bigint());
    });
    const sync = syncRun.result;

    const windowedRun = await withFsyncCensus(server, lastSeq, async () => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < counts.async; i += window) {
        await Promise.all(Array.from({ length: Math.min(window, counts.async - i) }, (_, k) => js.publish(subject(i + k), payload, { msgID: randomUUID() })));
      }
      return perSecond(counts.async, t0, process.hrtime.bigint());
    });
    const windowed = windowedRun.result;

    const total = counts.sync + counts.async;
    await jsm.consumers.add(subjects.streamName, { durable_name: 'limit', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 10_000 });
    const consumer = await js.consumers.get(subjects.streamName, 'limit');
    const messages = await consumer.consume({ max_messages: 1000 });
    let seen = 0;
    const t0 = process.hrtime.bigint();
    for await (const msg of messages) {
      seen += 1;
      if (seen < total) msg.ack();
      else {
        await msg.ackAck();
        break;
      }
    }
    const consumed = perSecond(total, t0, process.hrtime.bigint());
    await messages.close();
    const name = (text: string) => labelled(text, options.label);
    return [
      { name: name('JetStream sync publish'), unit: 'msg/s', value: round(sync, 0), extra: { messages: counts.sync } },
      ...censusMeasurements('JetStream sync publish', syncRun.census),
      { name: name(`JetStream async publish, ${window} in flight, msgID`), unit: 'msg/s', value: round(windowed, 0), extra: { messages: counts.async } },
      ...censusMeasurements(`JetStream async publish, ${window} in flight`, windowedRun.census),
      { name: name('JetStream durable pull consume + ack'), unit: 'msg/s', value: round(consumed, 0), extra: { messages: total } },
    ];
  } finally {
    await jsm.streams.delete(subjects.streamName).catch(() => undefined);
    await nc.close();
  }
}

/** Columns shaped like the read model's `jobs` table, written the way the projection writer writes them. */
const COLUMNS = `job_id uuid, status text, tenant text, priority text, pipeline text, params jsonb, video jsonb, progress double precision,
  attempts integer, worker_id text, created_at timestamptz, updated_at timestamptz, started_at timestamptz, completed_at timestamptz,
  duration_ms integer, error jsonb, result jsonb, correlation_id text, last_seq bigint`;

async function postgresUpserts(ctx: BenchContext, rows: number): Promise<Measurement> {
  const schema = freshName('bench_raw_');
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  await client.connect();
  const names = COLUMNS.split(',').map((c) => c.trim().split(/\s+/)[0]!);
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`CREATE TABLE "${schema}".jobs (${COLUMNS.replace('job_id uuid', 'job_id uuid PRIMARY KEY')})`);
    const batch = 500;
    const sql = `INSERT INTO "${schema}".jobs (${names.join(', ')}) SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${COLUMNS})
      ON CONFLICT (job_id) DO UPDATE SET ${names.filter((n) => n !== 'job_id').map((n) => `${n} = EXCLUDED.${n}`).join(', ')}`;
    // Half the rows are new and half update a row of the batch before, as a projection's are.
    const ids = Array.from({ length: Math.ceil(rows / 2) }, () => randomUUID());
    const now = new Date().toISOString();
    const record = (i: number) => ({
      job_id: ids[i % ids.length],
      status: i < ids.length ? 'queued' : 'completed',
      tenant: 'default',
      priority: 'normal',
      pipeline: 'noop',
      params: {},
      video: { bucket: 'b', objectName: `uploads/${ids[i % ids.length]}/x`, filename: 'clip.mp4', size: 1234, contentType: 'video/mp4', sha256: 'a'.repeat(64) },
      progress: i < ids.length ? 0 : 100,
      attempts: i < ids.length ? 0 : 1,
      worker_id: i < ids.length ? null : 'worker-1',
      created_at: now,
      updated_at: now,
      started_at: i < ids.length ? null : now,
      completed_at: i < ids.length ? null : now,
      duration_ms: i < ids.length ? null : 1,
      error: null,
      result: i < ids.length ? null : {},
      correlation_id: `req-${i}`,
      last_seq: i + 1,
    });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rows; i += batch) {
      const records = Array.from({ length: Math.min(batch, rows - i) }, (_, k) => record(i + k));
      await client.query(sql, [JSON.stringify(records)]);
    }
    const rate = perSecond(rows, t0, process.hrtime.bigint());
    return { name: 'PostgreSQL upsert, jsonb_to_recordset, 500 rows per statement', unit: 'rows/s', value: round(rate, 0), extra: { rows } };
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await client.end();
  }
}

/**
 * The disk's cost of a durable write: append a record as large as a submission to a file in the
 * scratch directory and fsync it, one at a time. With `sync_interval: always` every acknowledged
 * JetStream write waits for such an fsync (the events-per-fsync rows tell how many writes share
 * one), so this bounds what `always` costs a publisher that waits for each ack.
 */
function fsyncedAppends(ctx: BenchContext, count: number): Measurement {
  const path = join(ctx.workDir, 'fsync-probe.bin');
  const fd = openSync(path, 'w');
  const record = Buffer.alloc(encodeEvent(videoSubmitted()).length, 0x2a);
  try {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      writeSync(fd, record);
      fsyncSync(fd);
    }
    const ms = performance.now() - started;
    return { name: `fsynced ${record.length}-byte append, one at a time`, unit: 'ms', value: round(ms / count, 4), extra: { appends: count, per_second: round((count / ms) * 1000, 0) } };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

async function objectStorePut(ctx: BenchContext, bytes: number): Promise<Measurement> {
  const nc = await connect({ servers: ctx.natsUrl });
  const bucket = freshName('rawobj');
  const store = await new Objm(nc).create(bucket, { storage: StorageType.File });
  try {
    const t0 = process.hrtime.bigint();
    await store.put({ name: 'large' }, Readable.toWeb(generatedBytes(bytes)) as unknown as ReadableStream<Uint8Array>);
    const rate = perSecond(bytes / MiB, t0, process.hrtime.bigint());
    return { name: `Object Store put, ${bytes / MiB} MiB`, unit: 'MiB/s', value: round(rate, 1), extra: { bytes } };
  } finally {
    await store.destroy().catch(() => undefined);
    await nc.close();
  }
}
