import { FramewireUnderTest } from './lib/framewire.js';
import { enqueueToStart, StartWatch } from './lib/measure.js';
import { BullmqPeer, bullmqName } from './lib/peers.js';
import type { AppendFsync } from './lib/redis.js';
import { distribution, round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

/**
 * P1: from the moment the `VideoSubmitted` append is acknowledged to the moment the worker's
 * pipeline begins, on an idle system with one worker (one slot), one job at a time. The worker runs
 * as its own process with WORKER_PROBE_SUBJECT set: it reads the monotonic clock just before the
 * pipeline runs and publishes the reading on core NATS, which this process subtracts its own
 * reading at the ack from (both are `process.hrtime`, the system's monotonic clock). The raw job
 * shape (from the raw limits of this run) and BullMQ are measured the same way: ack of the enqueue
 * to the start of the handler, worker in its own process.
 */
/** The goals, as ratios to the raw job shape on the same server in the same run (issue 16). */
const GOALS: Partial<Record<'p50' | 'p90' | 'p99' | 'max', number>> = { p50: 1.2, p99: 1.5 };

const bench: Benchmark = {
  id: 'p1',
  title: 'Enqueue to start, idle, 1 worker',
  timeoutMs: 4 * 60_000,
  async run(ctx) {
    const count = ctx.quick ? 20 : 1000;
    const warmup = ctx.quick ? 5 : 50;
    const gapMs = ctx.quick ? 2 : 5;

    const framewire = await framewireLatency(ctx, { jobsService: true, count, warmup, gapMs });
    const workerAlone = await framewireLatency(ctx, { jobsService: false, count, warmup, gapMs });

    // BullMQ twice: its long-standing setup (AOF fsynced every second) and at equal durability (always).
    const bull: Record<AppendFsync, number[]> = { everysec: [], always: [] };
    for (const appendfsync of ['everysec', 'always'] as const) {
      const bullmq = new BullmqPeer(ctx, appendfsync);
      try {
        await bullmq.open();
        bull[appendfsync] = await bullmq.latency(count, warmup, gapMs);
      } finally {
        await bullmq.close();
      }
    }

    const raw = ctx.earlier?.('raw')?.samples?.['raw job shape'] ?? [];
    const f = distribution(framewire);
    const r = raw.length ? distribution(raw) : undefined;
    const measurements: Measurement[] = [];
    for (const key of ['p50', 'p90', 'p99', 'max'] as const) {
      const limit = GOALS[key];
      measurements.push({
        name: `Framewire enqueue→start ${key}`,
        unit: 'ms',
        value: round(f[key]),
        ...(r ? { baseline: { name: `raw job shape ${key}`, value: round(r[key]) } } : {}),
        ...(limit !== undefined ? { goal: `≤ ${limit}× raw job shape`, ...(r ? { met: f[key] <= limit * r[key] } : {}) } : {}),
        extra: { n: f.n },
      });
    }
    const alone = distribution(workerAlone);
    for (const key of ['p50', 'p99'] as const) {
      measurements.push({
        name: `Framewire worker alone (no jobs service) ${key}`,
        unit: 'ms',
        value: round(alone[key]),
        ...(r ? { baseline: { name: `raw job shape ${key}`, value: round(r[key]) } } : {}),
        extra: { n: alone.n },
      });
    }
    for (const appendfsync of ['always', 'everysec'] as const) {
      const b = distribution(bull[appendfsync]);
      for (const key of ['p50', 'p99'] as const) {
        measurements.push({
          name: `Framewire enqueue→start ${key}, beside ${bullmqName(appendfsync)}`,
          unit: 'ms',
          value: round(f[key]),
          baseline: { name: `${bullmqName(appendfsync)} ${key}`, value: round(b[key]) },
          extra: { n: b.n, bullmq: b },
        });
      }
    }
    const notes = [
      `${count} jobs after ${warmup} warm-up jobs, each submitted ${gapMs} ms after the previous one started; noop pipeline, WORKER_CONCURRENCY=1, jobs service running (it projects each event as it arrives, on the same cores).`,
      'Framewire worker alone: the same without the jobs service, to tell the worker\'s own path from the projector\'s competition for the CPU.',
      'BullMQ: a redis-server started by the benchmark with appendonly yes and appendfsync always (fsynced before each reply, as `sync_interval: always`) or everysec (a crash loses up to a second); Queue.add awaited, then the processor start in a separate worker process.',
    ];
    const series = { Framewire: framewire, 'Framewire worker alone': workerAlone, 'raw job shape': raw, [bullmqName('always')]: bull.always, [bullmqName('everysec')]: bull.everysec };
    for (const [name, samples] of Object.entries(series)) {
      const early = samples.filter((v) => v < 0).length;
      if (early) notes.push(`${name}: in ${early} of ${samples.length} jobs the handler began before the enqueuer had read its ack (a negative sample; both clocks are the same monotonic clock).`);
    }
    if (!r) notes.push('the raw limits of this run are missing, so there is no raw job shape baseline');
    return { id: 'p1', title: 'Enqueue to start, idle, 1 worker', measurements, samples: series, notes };
  },
};
export default bench;

async function framewireLatency(
  ctx: BenchContext,
  options: { jobsService: boolean; count: number; warmup: number; gapMs: number },
): Promise<number[]> {
  const fw = await new FramewireUnderTest(ctx).open();
  try {
    const probe = `${fw.namespace}.bench.probe`;
    const watch = new StartWatch();
    const sub = fw.nc.subscribe(probe, {
      callback: (_err, msg) => {
        const { jobId, hrtimeNs } = msg.json<{ jobId: string; hrtimeNs: string }>();
        watch.record(jobId, BigInt(hrtimeNs));
      },
    });
    await fw.nc.flush();
    if (options.jobsService) await fw.startJobs();
    await fw.start('worker', 'worker', { WORKER_CONCURRENCY: '1', WORKER_PROBE_SUBJECT: probe });
    const samples = await enqueueToStart({
      enqueue: async () => {
        const event = fw.noopJob();
        await fw.store.append(event, 0);
        return { id: event.jobId, acked: process.hrtime.bigint() };
      },
      watch,
      count: options.count,
      warmup: options.warmup,
      gapMs: options.gapMs,
      signal: ctx.signal,
    });
    sub.unsubscribe();
    return samples;
  } finally {
    await fw.close();
  }
}
