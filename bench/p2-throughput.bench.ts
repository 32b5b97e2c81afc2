import { FramewireUnderTest } from './lib/framewire.js';
import { BullmqPeer, GraphilePeer, type Peer } from './lib/peers.js';
import { round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

const CONCURRENCIES = [1, 4] as const;

/**
 * P2: no-op jobs per second from submit through completed and projected, with the jobs already
 * enqueued (as the peers were measured), at concurrency 1 and 4. Framewire: the jobs are appended
 * while no worker runs, then one worker process starts with WORKER_CONCURRENCY=c; the clock runs
 * from the first `JobStarted` (its time in the stream) to the moment the read model's checkpoint
 * reaches the last event (polled every 5 ms). Peers: from the first handler start to the last
 * completion, reported by their worker process. The raw job shape comes from the raw limits.
 */
const bench: Benchmark = {
  id: 'p2',
  title: 'End-to-end throughput, no-op jobs',
  timeoutMs: 6 * 60_000,
  async run(ctx) {
    const counts = { 1: ctx.quick ? 50 : 10_000, 4: ctx.quick ? 50 : 20_000 };
    const framewire: Record<number, number> = {};
    for (const c of CONCURRENCIES) {
      framewire[c] = await framewireThroughput(ctx, counts[c], c);
      ctx.log(`Framewire, concurrency ${c}: ${round(framewire[c]!, 0)} jobs/s`);
    }
    const peers: Record<string, Record<number, number>> = {};
    for (const peer of [new BullmqPeer(ctx), new GraphilePeer(ctx)] as Peer[]) {
      peers[peer.name] = {};
      try {
        await peer.open();
        for (const c of CONCURRENCIES) {
          if (ctx.signal?.aborted) break;
          peers[peer.name]![c] = await peer.throughput(counts[c], c);
          ctx.log(`${peer.name}, concurrency ${c}: ${round(peers[peer.name]![c]!, 0)} jobs/s`);
        }
      } finally {
        await peer.close();
      }
    }
    const raw = ctx.earlier?.('raw');
    const measurements: Measurement[] = [];
    for (const c of CONCURRENCIES) {
      const value = round(framewire[c]!, 0);
      const name = `Framewire, concurrency ${c}`;
      const rawRate = raw?.measurements.find((m) => m.name === `raw job shape, concurrency ${c}`)?.value;
      if (rawRate) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `raw job shape c${c}`, value: rawRate }, goal: '≥ 0.9× raw job shape', met: value >= 0.9 * rawRate });
      const gw = peers['graphile-worker']?.[c];
      if (gw) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `graphile-worker c${c}`, value: round(gw, 0) }, goal: '≥ 2× graphile-worker', met: value >= 2 * gw });
      const bull = peers['BullMQ']?.[c];
      if (bull) measurements.push({ name, unit: 'jobs/s', value, baseline: { name: `BullMQ c${c}`, value: round(bull, 0) }, goal: 'level with BullMQ (≥ 0.95×)', met: value >= 0.95 * bull });
      if (!rawRate && !gw && !bull) measurements.push({ name, unit: 'jobs/s', value });
    }
    return {
      id: 'p2',
      title: 'End-to-end throughput, no-op jobs',
      measurements,
      notes: [
        `${counts[1]} jobs at concurrency 1 and ${counts[4]} at concurrency 4, enqueued before the workers start; one worker process; Framewire counts a job once it is projected into PostgreSQL.`,
        'BullMQ on its own redis-server with appendonly yes, appendfsync everysec, default job options; graphile-worker 0.18 with default options in a fresh schema (PostgreSQL syncs every commit).',
      ],
    };
  },
};
export default bench;

async function framewireThroughput(ctx: BenchContext, count: number, concurrency: number): Promise<number> {
  const fw = await new FramewireUnderTest(ctx).open();
  try {
    await fw.startJobs();
    const lastSubmitted = await fw.enqueueNoop(count);
    // Every job ends with 3 events; wait for the projector to have the submissions, so that the
    // clock starts on a read model that is level with the queue, as a system that has been running.
    await fw.projectedThrough(lastSubmitted, 60_000, 20);
    await fw.start('worker', 'worker', { WORKER_CONCURRENCY: String(concurrency) });
    const end = await fw.projectedThrough(lastSubmitted + 2 * count, 300_000);
    const endWall = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint() - end) / 1e6;
    const firstStarted = await fw.store.bySeq(lastSubmitted + 1);
    if (!firstStarted?.ok || firstStarted.stored.event.type !== 'JobStarted') throw new Error(`sequence ${lastSubmitted + 1} is not a JobStarted`);
    const startWall = firstStarted.stored.storedAt.getTime();
    return (count * 1000) / (endWall - startWall);
  } finally {
    await fw.close();
  }
}
