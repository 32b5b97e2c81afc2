import { FramewireUnderTest } from './lib/framewire.js';
import { BullmqPeer, GraphilePeer, type Peer, type Throughput } from './lib/peers.js';
import { cpuMs } from './lib/proc.js';
import { round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

const CONCURRENCIES = [1, 4] as const;

interface FramewireThroughput extends Throughput {
  jobsCpuMsPerJob: number;
}

/**
 * P2: no-op jobs per second from submit through completed and projected, with the jobs already
 * enqueued (as the peers were measured), at concurrency 1 and 4. Framewire: the jobs are appended
 * while no worker runs, then one worker process starts with WORKER_CONCURRENCY=c; the clock runs
 * from the first `JobStarted` (its time in the stream) to the moment the read model's checkpoint
 * reaches the last event (polled every 5 ms). Peers: from the first handler start to the last
 * completion, reported by their worker process. The raw job shape comes from the raw limits.
 * CPU per job of each worker process (from /proc) is reported too: it is steadier than the rates
 * when the machine is busy.
 */
const bench: Benchmark = {
  id: 'p2',
  title: 'End-to-end throughput, no-op jobs',
  timeoutMs: 6 * 60_000,
  async run(ctx) {
    const counts = { 1: ctx.quick ? 50 : 10_000, 4: ctx.quick ? 50 : 20_000 };
    const framewire: Record<number, FramewireThroughput> = {};
    for (const c of CONCURRENCIES) {
      framewire[c] = await framewireThroughput(ctx, counts[c], c);
      ctx.log(`Framewire, concurrency ${c}: ${round(framewire[c]!.jobsPerSecond, 0)} jobs/s`);
    }
    const peers: Record<string, Record<number, Throughput>> = {};
    // BENCH_SKIP_PEERS=1 measures Framewire alone, for profiling it (the peers take most of the time).
    const peerList: Peer[] = process.env['BENCH_SKIP_PEERS'] === '1' ? [] : [new BullmqPeer(ctx), new GraphilePeer(ctx)];
    for (const peer of peerList) {
      peers[peer.name] = {};
      try {
        await peer.open();
        for (const c of CONCURRENCIES) {
          if (ctx.signal?.aborted) break;
          peers[peer.name]![c] = await peer.throughput(counts[c], c);
          ctx.log(`${peer.name}, concurrency ${c}: ${round(peers[peer.name]![c]!.jobsPerSecond, 0)} jobs/s`);
        }
      } finally {
        await peer.close();
      }
    }
    const raw = ctx.earlier?.('raw');
    const rawFigure = (name: string) => raw?.measurements.find((m) => m.name === name)?.value;
    const measurements: Measurement[] = [];
    for (const c of CONCURRENCIES) {
      const fw = framewire[c]!;
      const value = round(fw.jobsPerSecond, 0);
      const name = `Framewire, concurrency ${c}`;
      const rawRate = rawFigure(`raw job shape, concurrency ${c}`);
      if (rawRate) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `raw job shape c${c}`, value: rawRate }, goal: '≥ 0.9× raw job shape', met: value >= 0.9 * rawRate });
      const gw = peers['graphile-worker']?.[c];
      if (gw) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `graphile-worker c${c}`, value: round(gw.jobsPerSecond, 0) }, goal: '≥ 2× graphile-worker', met: value >= 2 * gw.jobsPerSecond });
      const bull = peers['BullMQ']?.[c];
      if (bull) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `BullMQ c${c}`, value: round(bull.jobsPerSecond, 0) }, goal: 'level with BullMQ (≥ 0.95×)', met: value >= 0.95 * bull.jobsPerSecond });
      if (!rawRate && !gw && !bull) measurements.push({ name, unit: 'jobs/s', value });
      const rawCpu = rawFigure(`raw job shape worker CPU per job, concurrency ${c}`);
      measurements.push({
        name: `Framewire worker CPU per job, concurrency ${c}`,
        unit: 'ms',
        value: round(fw.workerCpuMsPerJob, 4),
        ...(rawCpu ? { baseline: { name: `raw job shape worker c${c}`, value: rawCpu } } : {}),
        extra: { bullmqWorker: bull && round(bull.workerCpuMsPerJob, 4), graphileWorker: gw && round(gw.workerCpuMsPerJob, 4) },
      });
      measurements.push({ name: `Framewire jobs service (projector) CPU per job, concurrency ${c}`, unit: 'ms', value: round(fw.jobsCpuMsPerJob, 4) });
    }
    return {
      id: 'p2',
      title: 'End-to-end throughput, no-op jobs',
      measurements,
      notes: [
        `${counts[1]} jobs at concurrency 1 and ${counts[4]} at concurrency 4, enqueued before the workers start; one worker process; Framewire counts a job once it is projected into PostgreSQL.`,
        'BullMQ on its own redis-server with appendonly yes, appendfsync everysec, default job options; graphile-worker 0.18 with default options in a fresh schema (PostgreSQL syncs every commit).',
        'CPU per job is the worker process\'s user+system time over the run divided by the jobs (10 ms resolution); the servers (nats-server, redis-server, PostgreSQL) are not counted.',
      ],
    };
  },
};
export default bench;

async function framewireThroughput(ctx: BenchContext, count: number, concurrency: number): Promise<FramewireThroughput> {
  const fw = await new FramewireUnderTest(ctx).open();
  try {
    const jobs = await fw.startJobs();
    const { lastSubmitted, lastEvent } = await fw.enqueueNoop(count);
    // The projector first takes in the submissions, so the clock starts on a read model that is level
    // with the queue, as in a system that has been running.
    await fw.projectedThrough(lastSubmitted, 60_000, 20);
    const jobsCpuBefore = await cpuMs(jobs.child.pid!);
    const worker = await fw.start('worker', 'worker', { WORKER_CONCURRENCY: String(concurrency) });
    const workerCpuBefore = await cpuMs(worker.child.pid!);
    const end = await fw.projectedThrough(lastEvent, 300_000);
    const [workerCpuAfter, jobsCpuAfter] = await Promise.all([cpuMs(worker.child.pid!), cpuMs(jobs.child.pid!)]);
    const endWall = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint() - end) / 1e6;
    const firstStarted = await fw.store.bySeq(lastSubmitted + 1);
    if (!firstStarted?.ok || firstStarted.stored.event.type !== 'JobStarted') throw new Error(`sequence ${lastSubmitted + 1} is not a JobStarted`);
    const startWall = firstStarted.stored.storedAt.getTime();
    return {
      jobsPerSecond: (count * 1000) / (endWall - startWall),
      workerCpuMsPerJob: (workerCpuAfter - workerCpuBefore) / count,
      jobsCpuMsPerJob: (jobsCpuAfter - jobsCpuBefore) / count,
    };
  } finally {
    await fw.close();
  }
}
