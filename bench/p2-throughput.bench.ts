import { FramewireUnderTest } from './lib/framewire.js';
import { censusMeasurements, withFsyncCensus, type FsyncCensus } from './lib/fsyncs.js';
import { comparisonLabel } from './lib/nats-server.js';
import { BullmqPeer, bullmqName, GraphilePeer, type Peer, type Throughput } from './lib/peers.js';
import { OtlpReceiver } from '../test/support/otlp-receiver.js';
import { cpuMs } from './lib/proc.js';
import { round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

const CONCURRENCIES = [1, 4] as const;

interface FramewireThroughput extends Throughput {
  jobsCpuMsPerJob: number;
  /** Events appended and the server's fsyncs while the worker ran. */
  census?: FsyncCensus;
}

interface TracedThroughput extends FramewireThroughput {
  /** Spans the receiver got from the worker and the jobs service, per job (what the SDK did not drop). */
  spansPerJob: number;
  exportRequests: number;
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
  // Framewire and three peers at two concurrencies, and Framewire again on the comparison server.
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const counts = { 1: ctx.quick ? 50 : 10_000, 4: ctx.quick ? 50 : 20_000 };
    const framewire: Record<number, FramewireThroughput> = {};
    for (const c of CONCURRENCIES) {
      framewire[c] = await framewireThroughput(ctx, counts[c], c, { census: c === 4 });
      ctx.log(`Framewire, concurrency ${c}: ${round(framewire[c]!.jobsPerSecond, 0)} jobs/s`);
    }
    // The same runs with tracing on (issue 20), right after those without, so that both meet the machine alike.
    const traced: Record<number, TracedThroughput> = {};
    for (const c of CONCURRENCIES) {
      traced[c] = await tracedThroughput(ctx, counts[c], c);
      ctx.log(`Framewire, concurrency ${c}, tracing on: ${round(traced[c]!.jobsPerSecond, 0)} jobs/s, ${round(traced[c]!.spansPerJob, 2)} spans per job`);
    }
    const peers: Record<string, Record<number, Throughput>> = {};
    // BENCH_SKIP_PEERS=1 measures Framewire alone, for profiling it (the peers take most of the time).
    const graphile = new GraphilePeer(ctx);
    const peerList: Peer[] = process.env['BENCH_SKIP_PEERS'] === '1' ? [] : [new BullmqPeer(ctx, 'always'), new BullmqPeer(ctx, 'everysec'), graphile];
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
    // Last, and given up (with a note) when the budget runs out, so that it never costs the rows above.
    const comparison = ctx.comparisonNats;
    const elsewhere: Record<number, FramewireThroughput> = {};
    let comparisonCut = false;
    if (comparison) {
      try {
        for (const c of CONCURRENCIES) {
          elsewhere[c] = await framewireThroughput({ ...ctx, natsUrl: comparison.url }, counts[c], c, { census: false });
          ctx.log(`Framewire on nats-server ${comparison.version}, concurrency ${c}: ${round(elsewhere[c]!.jobsPerSecond, 0)} jobs/s`);
        }
      } catch (error) {
        if (!ctx.signal?.aborted) throw error;
        comparisonCut = true;
      }
    }

    const raw = ctx.earlier?.('raw');
    const rawFigure = (name: string) => raw?.measurements.find((m) => m.name === name)?.value;
    const measurements: Measurement[] = [];
    const bullAlways = bullmqName('always');
    const bullEverysec = bullmqName('everysec');
    for (const c of CONCURRENCIES) {
      const fw = framewire[c]!;
      const value = round(fw.jobsPerSecond, 0);
      const name = `Framewire, concurrency ${c}`;
      // The goals are set at concurrency 4 (issue 16), one row each; at 1 each baseline is shown once, without a goal.
      const beside = (baselineName: string, baseline: number | undefined, goals: { text: string; ratio: number }[] = []) => {
        if (!baseline) return;
        const row = { name, unit: 'jobs/s', value, baseline: { name: baselineName, value: round(baseline, 0) } };
        if (c !== 4 || goals.length === 0) measurements.push(row);
        else for (const g of goals) measurements.push({ ...row, goal: g.text, met: value >= g.ratio * baseline });
      };
      const rawRate = rawFigure(`raw job shape, concurrency ${c}`);
      beside(`raw job shape c${c}, same server`, rawRate, [{ text: '≥ 0.9× raw job shape', ratio: 0.9 }]);
      beside(`graphile-worker c${c}`, peers['graphile-worker']?.[c]?.jobsPerSecond, [
        { text: '≥ 1× graphile-worker', ratio: 1 },
        { text: 'stretch: ≥ 1.5× graphile-worker', ratio: 1.5 },
      ]);
      beside(`${bullAlways} c${c}`, peers[bullAlways]?.[c]?.jobsPerSecond, [{ text: `≥ 1× ${bullAlways}`, ratio: 1 }]);
      beside(`${bullEverysec} c${c} (less durable)`, peers[bullEverysec]?.[c]?.jobsPerSecond);
      if (!measurements.some((m) => m.name === name)) measurements.push({ name, unit: 'jobs/s', value });
      measurements.push(...censusMeasurements(`Framewire worker phase, concurrency ${c}`, fw.census));
      const rawCpu = rawFigure(`raw job shape worker CPU per job, concurrency ${c}`);
      measurements.push({
        name: `Framewire worker CPU per job, concurrency ${c}`,
        unit: 'ms',
        value: round(fw.workerCpuMsPerJob, 4),
        ...(rawCpu ? { baseline: { name: `raw job shape worker c${c}`, value: rawCpu } } : {}),
        extra: {
          bullmqAlwaysWorker: peers[bullAlways]?.[c] && round(peers[bullAlways][c].workerCpuMsPerJob, 4),
          bullmqEverysecWorker: peers[bullEverysec]?.[c] && round(peers[bullEverysec][c].workerCpuMsPerJob, 4),
          graphileWorker: peers['graphile-worker']?.[c] && round(peers['graphile-worker'][c].workerCpuMsPerJob, 4),
        },
      });
      measurements.push({ name: `Framewire jobs service (projector) CPU per job, concurrency ${c}`, unit: 'ms', value: round(fw.jobsCpuMsPerJob, 4) });
    }
    measurements.push(...tracingMeasurements(framewire, traced));
    if (comparison) {
      const label = comparisonLabel(comparison);
      for (const c of CONCURRENCIES) {
        const fw = elsewhere[c];
        if (!fw) continue;
        const rawRate = rawFigure(`raw job shape, concurrency ${c} (${label})`);
        measurements.push({
          name: `Framewire, concurrency ${c} (${label})`,
          unit: 'jobs/s',
          value: round(fw.jobsPerSecond, 0),
          ...(rawRate ? { baseline: { name: `raw job shape c${c}, same server`, value: rawRate } } : {}),
          extra: { workerCpuMsPerJob: round(fw.workerCpuMsPerJob, 4), jobsCpuMsPerJob: round(fw.jobsCpuMsPerJob, 4) },
        });
      }
    }
    return {
      id: 'p2',
      title: 'End-to-end throughput, no-op jobs',
      measurements,
      notes: [
        `${counts[1]} jobs at concurrency 1 and ${counts[4]} at concurrency 4, enqueued before the workers start; one worker process; Framewire counts a job once it is projected into PostgreSQL.`,
        `Equal durability: ${bullAlways} (its own redis-server, appendonly yes, fsynced before each reply) and graphile-worker 0.18 (default options, a fresh schema; PostgreSQL with ${graphile.durability}: each commit is fsynced before it returns). ${bullEverysec} is the benchmark's long-standing peer: a crash loses up to a second of acknowledged jobs.`,
        'events per fsync: the events Framewire appended while the worker ran (2 per job) over the fsync and fdatasync calls the nats-server process made meanwhile (all its files, consumer state included).',
        'CPU per job is the worker process\'s user+system time over the run divided by the jobs (10 ms resolution); the servers (nats-server, redis-server, PostgreSQL) are not counted.',
        `tracing on: the same runs with the worker and the jobs service exporting spans (OTLP/HTTP protobuf, the SDK's default batching) to a receiver in the bench process on loopback, which decodes and counts them; the jobs were appended by the bench without a trace context, so each job's worker spans start a trace. Tracing off is the rows above (today's P2): the goal "off costs nothing measurable" compares them with earlier runs of P2.`,
        ...(comparison ? [`${comparisonLabel(comparison)}: Framewire as above on a second server started by the bench; no goal is judged on it.`] : []),
        ...(comparisonCut ? ['the comparison server\'s rows are incomplete: the benchmark\'s time budget ran out while they were measured.'] : []),
      ],
    };
  },
};
export default bench;

/** Tracing on beside off at each concurrency: the rate, and the CPU per job of the worker and of the jobs service. */
function tracingMeasurements(off: Record<number, FramewireThroughput>, on: Record<number, TracedThroughput>): Measurement[] {
  return CONCURRENCIES.flatMap((c) => {
    const [without, traced] = [off[c]!, on[c]!];
    const beside = (name: string, unit: string, value: number, baseline: number, digits: number, extra?: Record<string, unknown>): Measurement => ({
      name: `${name}, concurrency ${c}, tracing on`,
      unit,
      value: round(value, digits),
      baseline: { name: `tracing off c${c}, same run`, value: round(baseline, digits) },
      ...(extra ? { extra } : {}),
    });
    return [
      beside('Framewire', 'jobs/s', traced.jobsPerSecond, without.jobsPerSecond, 0, { spansPerJob: round(traced.spansPerJob, 2), exportRequests: traced.exportRequests }),
      beside('Framewire worker CPU per job', 'ms', traced.workerCpuMsPerJob, without.workerCpuMsPerJob, 4),
      beside('Framewire jobs service (projector) CPU per job', 'ms', traced.jobsCpuMsPerJob, without.jobsCpuMsPerJob, 4),
    ];
  });
}

/** P2's run with the worker and the jobs service exporting their spans over OTLP/HTTP to a receiver on loopback. */
async function tracedThroughput(ctx: BenchContext, count: number, concurrency: number): Promise<TracedThroughput> {
  const receiver = await OtlpReceiver.start({ keep: false });
  try {
    const run = await framewireThroughput(ctx, count, concurrency, { census: false, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
    // framewireThroughput stopped the services, which flushed what their exporters still held.
    if (receiver.failures.length > 0) throw new Error(`the OTLP receiver could not decode an export: ${receiver.failures[0]}`);
    return { ...run, spansPerJob: receiver.count / count, exportRequests: receiver.requests };
  } finally {
    await receiver.close();
  }
}

async function framewireThroughput(ctx: BenchContext, count: number, concurrency: number, options: { census: boolean; env?: Record<string, string> }): Promise<FramewireThroughput> {
  const fw = await new FramewireUnderTest(ctx).open();
  const env = options.env ?? {};
  try {
    const jobs = await fw.startJobs(env);
    const { lastSubmitted, lastEvent } = await fw.enqueueNoop(count);
    // The projector first takes in the submissions, so the clock starts on a read model that is level
    // with the queue, as in a system that has been running.
    await fw.projectedThrough(lastSubmitted, 60_000, 20, ctx.signal);
    const jobsCpuBefore = await cpuMs(jobs.child.pid!);
    const { result, census } = await withFsyncCensus(options.census ? ctx.nats : undefined, () => fw.store.lastSeq(), async () => {
      const worker = await fw.start('worker', 'worker', { WORKER_CONCURRENCY: String(concurrency), ...env });
      const workerCpuBefore = await cpuMs(worker.child.pid!);
      const end = await fw.projectedThrough(lastEvent, 300_000, 5, ctx.signal);
      return { worker, workerCpuBefore, end };
    });
    const { worker, workerCpuBefore, end } = result;
    const [workerCpuAfter, jobsCpuAfter] = await Promise.all([cpuMs(worker.child.pid!), cpuMs(jobs.child.pid!)]);
    const endWall = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint() - end) / 1e6;
    const firstStarted = await fw.store.bySeq(lastSubmitted + 1);
    if (!firstStarted?.ok || firstStarted.stored.event.type !== 'JobStarted') throw new Error(`sequence ${lastSubmitted + 1} is not a JobStarted`);
    const startWall = firstStarted.stored.storedAt.getTime();
    return {
      jobsPerSecond: (count * 1000) / (endWall - startWall),
      workerCpuMsPerJob: (workerCpuAfter - workerCpuBefore) / count,
      jobsCpuMsPerJob: (jobsCpuAfter - jobsCpuBefore) / count,
      ...(census ? { census } : {}),
    };
  } finally {
    await fw.close();
  }
}
