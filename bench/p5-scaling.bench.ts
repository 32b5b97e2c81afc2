import { FramewireUnderTest } from './lib/framewire.js';
import { perSecond, round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

const WORKERS = [1, 2, 4] as const;

/**
 * P5: jobs per second with 1, 2 and 4 worker processes (one slot each) on an I/O-bound pipeline:
 * noop with `sleep_ms`, a timer standing for a call to an external service. All workers are up and
 * pulling before the jobs are appended; the clock runs from the first append to the moment the read
 * model has every job completed.
 */
const bench: Benchmark = {
  id: 'p5',
  title: 'Scaling worker processes, I/O-bound pipeline',
  timeoutMs: 5 * 60_000,
  async run(ctx) {
    const sleepMs = ctx.quick ? 5 : 50;
    const perWorker = ctx.quick ? 5 : 150;
    const rates: Record<number, number> = {};
    for (const workers of WORKERS) {
      rates[workers] = await scaling(ctx, workers, workers * perWorker, sleepMs);
      ctx.log(`${workers} worker(s): ${round(rates[workers]!, 1)} jobs/s`);
    }
    const one = round(rates[1]!, 2);
    const measurements: Measurement[] = [{ name: '1 worker process', unit: 'jobs/s', value: one, extra: { ceiling: 1000 / sleepMs } }];
    for (const workers of [2, 4] as const) {
      const value = round(rates[workers]!, 2);
      const goal = workers === 4 ? { goal: '≥ 3.8× one worker', met: value >= 3.8 * rates[1]! } : {};
      measurements.push({ name: `${workers} worker processes`, unit: 'jobs/s', value, baseline: { name: '1 worker process', value: one }, ...goal, extra: { ceiling: (workers * 1000) / sleepMs } });
    }
    return {
      id: 'p5',
      title: 'Scaling worker processes, I/O-bound pipeline',
      measurements,
      notes: [`noop with sleep_ms ${sleepMs}, WORKER_CONCURRENCY=1 per process, ${perWorker} jobs per worker process; the ideal is ${round(1000 / sleepMs, 1)} jobs/s per process.`],
    };
  },
};
export default bench;

async function scaling(ctx: BenchContext, workers: number, count: number, sleepMs: number): Promise<number> {
  const fw = await new FramewireUnderTest(ctx).open();
  try {
    await fw.startJobs();
    for (let i = 1; i <= workers; i++) await fw.start(`worker-${i}`, 'worker', { WORKER_CONCURRENCY: '1', WORKER_ID: `bench-worker-${i}` });
    const t0 = process.hrtime.bigint();
    const { lastEvent } = await fw.enqueueNoop(count, { sleep_ms: sleepMs });
    const end = await fw.projectedThrough(lastEvent, 240_000);
    return perSecond(count, t0, end);
  } finally {
    await fw.close();
  }
}
