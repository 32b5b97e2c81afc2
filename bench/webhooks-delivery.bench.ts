import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JobEvent, WebhookEventType, WebhookWithSecret } from '@app/contracts';
import { jobCompleted, jobProgressed, jobStarted } from '../test/support/events.js';
import { freeTcpPort } from '../test/support/processes.js';
import { WebhookSink } from '../test/support/webhook-sink.js';
import { FramewireUnderTest } from './lib/framewire.js';
import { cpuMs } from './lib/proc.js';
import { distribution, epochMsOf, latencyMeasurements, round, steadyRate } from './lib/stats.js';
import type { BenchContext, Benchmark } from './lib/types.js';

/** The jobs service may call a receiver on loopback over http. */
const WEBHOOK_ENV = { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1' };
const ALL_EVENTS: WebhookEventType[] = ['job.started', 'job.progress', 'job.completed', 'job.failed', 'job.cancelled'];
/**
 * Endpoints of the backlog: 8 with WEBHOOK_ENDPOINT_CONCURRENCY's default of 8 in flight each make
 * WEBHOOK_CONCURRENCY's default of 64, so the service's own cap binds, not one endpoint's.
 */
const ENDPOINTS = 8;
/** Deliveries a synthetic job owes each endpoint: job.started, job.progress, job.completed. */
const HEARD_PER_JOB = 3;

/**
 * Webhooks: (a) from the moment a `JobCompleted` is stored in the stream (its stored time, as GET
 * /v1/jobs/{id}/events shows it, read here with nanoseconds) to the moment the receiver has the whole
 * delivery (this process's clock; same machine), one noop job at a time through a worker, the
 * endpoint hearing job.completed only; (b) the deliveries per second one jobs service sustains from
 * a backlog: the service is stopped, synthetic jobs' lifecycles are appended (4 events each, 3 of
 * them heard by each of 8 endpoints hearing every type), the service is started again, and the
 * receiver counts what arrives between 10% and 90% of it; once with the fan-out and the sender at
 * work together, once with the receiver holding every request until the fan-out is done (its rate,
 * then the sender's from deliveries already stored). The receiver (node:http, on loopback,
 * answering 200 at once, checking each signature) runs in this process.
 */
const bench: Benchmark = {
  id: 'webhooks',
  title: 'Webhook delivery: latency and rate',
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const count = ctx.quick ? 20 : 200;
    const warmup = ctx.quick ? 3 : 20;
    const backlogJobs = ctx.quick ? 10 : 500;

    const latency = await deliveryLatency(ctx, count, warmup);
    ctx.log(`stored→received p50 ${round(distribution(latency.fromStored).p50)} ms over ${latency.fromStored.length} jobs`);
    const together = await deliveryRate(ctx, backlogJobs, false);
    ctx.log(`together: ${together.deliveries} deliveries, ${round(together.steadyPerSecond, 0)}/s at steady state`);
    const gated = await deliveryRate(ctx, backlogJobs, true);
    ctx.log(`gated: fan-out ${round(gated.fanoutEventsPerSecond ?? Number.NaN, 0)} events/s; sender ${round(gated.steadyPerSecond, 0)} deliveries/s`);

    const unsigned = latency.unsigned + together.unsigned + gated.unsigned;
    if (unsigned > 0) throw new Error(`${unsigned} deliveries without a valid signature`);
    const extra = (rate: RateResult) => ({
      deliveries: rate.deliveries,
      endpoints: ENDPOINTS,
      overallPerSecond: round(rate.overallPerSecond, 0),
      maxQueueDepth: rate.maxQueueDepth,
      duplicates: rate.duplicates,
      jobsCpuMsPerDelivery: round(rate.jobsCpuMsPerDelivery, 4),
    });
    return {
      id: 'webhooks',
      title: 'Webhook delivery: latency and rate',
      measurements: [
        ...latencyMeasurements('JobCompleted stored→webhook received', latency.fromStored),
        ...latencyMeasurements('JobCompleted occurredAt→webhook received', latency.fromOccurred).filter((m) => / p(50|99)$/.test(m.name)),
        { name: 'webhook deliveries per second, one jobs service, backlog in the stream', unit: 'deliveries/s', value: round(together.steadyPerSecond, 0), extra: extra(together) },
        { name: 'webhook fan-out, lifecycle events per second (deliveries held)', unit: 'events/s', value: round(gated.fanoutEventsPerSecond ?? Number.NaN, 0), extra: { deliveriesPerEvent: ENDPOINTS } },
        { name: 'webhook sender, deliveries per second from a stored backlog', unit: 'deliveries/s', value: round(gated.steadyPerSecond, 0), extra: extra(gated) },
        { name: 'jobs service CPU per webhook delivery (backlog in the stream)', unit: 'ms', value: round(together.jobsCpuMsPerDelivery, 4) },
      ],
      samples: { 'JobCompleted stored→webhook received': latency.fromStored },
      notes: [
        `Latency: ${count} noop jobs after ${warmup} warm-up jobs, one at a time (the next ${GAP_MS} ms after the last was received), one worker (WORKER_CONCURRENCY=1), one endpoint hearing job.completed. The start is the stream's stored time of the JobCompleted (nats-server's clock, nanoseconds); the occurredAt rows start from the worker's clock when it made the event, before the append.`,
        `Rates: ${backlogJobs} synthetic noop lifecycles (4 events, 3 of them heard) appended while the jobs service was stopped, ${together.deliveries} deliveries to ${ENDPOINTS} endpoints hearing every type (default WEBHOOK_CONCURRENCY and WEBHOOK_ENDPOINT_CONCURRENCY); receipts per second between 10% and 90% of them. "Backlog in the stream": the fan-out and the sender at once (overall, from the service's start to the last receipt: ${round(together.overallPerSecond, 0)}/s; largest queue depth ${together.maxQueueDepth}). "Held"/"stored backlog": the receiver held every request until the fan-out had handled every event, then answered them all and every later one at once. The jobs service projects the same events meanwhile, on the same cores, and its CPU per delivery includes that.`,
        'The receiver answers 200 as soon as the body has arrived and runs in the benchmark process, whose work it shares the cores with.',
      ],
    };
  },
};
export default bench;

/** Idle time after each delivery of the latency run, so that every job meets an idle system. */
const GAP_MS = 5;

async function deliveryLatency(ctx: BenchContext, count: number, warmup: number): Promise<{ fromStored: number[]; fromOccurred: number[]; unsigned: number }> {
  const fw = await new FramewireUnderTest(ctx).open();
  const receiver = await WebhookSink.start();
  try {
    await fw.startJobs(WEBHOOK_ENV);
    const base = await startGateway(fw);
    await fw.start('worker', 'worker', { WORKER_CONCURRENCY: '1' });
    const auth = await fw.adminKey();
    receiver.secrets.push((await createEndpoint(base, auth, receiver.url, ['job.completed'])).secret);
    const jsm = await jetstreamManager(fw.nc);
    const waiting = new Map<string, (receivedAt: number) => void>();
    receiver.onReceive((webhook) => waiting.get(webhook.jobId)?.(webhook.receivedAt));

    const fromStored: number[] = [];
    const fromOccurred: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      ctx.signal?.throwIfAborted();
      const submitted = fw.noopJob();
      const heard = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no webhook for job ${submitted.jobId} within 30 s (${receiver.received.length} received so far)`)), 30_000);
        waiting.set(submitted.jobId, (at) => (clearTimeout(timer), resolve(at)));
      });
      await fw.store.append(submitted, 0);
      const receivedAt = await heard;
      waiting.delete(submitted.jobId);
      const completed = (await fw.store.readJob(submitted.jobId)).find((item) => item.ok && item.stored.event.type === 'JobCompleted');
      if (!completed?.ok) throw new Error(`job ${submitted.jobId} was heard of but has no JobCompleted`);
      const stored = await jsm.direct.getMessage(fw.subjects.streamName, { seq: completed.stored.seq });
      if (!stored) throw new Error(`sequence ${completed.stored.seq} is gone`);
      if (i >= warmup) {
        fromStored.push(receivedAt - epochMsOf(stored.timestamp));
        fromOccurred.push(receivedAt - Date.parse(completed.stored.event.occurredAt));
      }
      await sleep(GAP_MS);
    }
    return { fromStored, fromOccurred, unsigned: receiver.received.filter((w) => !w.signed).length };
  } finally {
    await fw.close();
    await receiver.close();
  }
}

interface RateResult {
  deliveries: number;
  /** Receipts per second between 10% and 90% of them. */
  steadyPerSecond: number;
  /** From the service's start (or the release) to the last receipt. */
  overallPerSecond: number;
  /** Gated only: lifecycle events the fan-out handled per second, between 10% and 90% of them. */
  fanoutEventsPerSecond?: number;
  maxQueueDepth: number;
  duplicates: number;
  jobsCpuMsPerDelivery: number;
  unsigned: number;
}

/**
 * Delivers `jobs` synthetic lifecycles' webhooks from a backlog in the stream. Together: the fan-out
 * and the sender work at once, as after an outage, and the receiver counts. Gated: the receiver
 * holds every request (the sender's slots fill, the rest waits in PostgreSQL) until the fan-out has
 * handled every event, then answers: the fan-out's rate and the sender's from a stored backlog, apart.
 */
async function deliveryRate(ctx: BenchContext, jobs: number, gated: boolean): Promise<RateResult> {
  const fw = await new FramewireUnderTest(ctx).open();
  const receiver = await WebhookSink.start();
  try {
    const opsPort = await freeTcpPort();
    // Gated, a held attempt must outlast the whole fan-out rather than time out and be retried later.
    const env = { ...WEBHOOK_ENV, OPS_PORT: String(opsPort), ...(gated ? { WEBHOOK_TIMEOUT_MS: '120000' } : {}) };
    await fw.startJobs(env);
    const base = await startGateway(fw);
    const auth = await fw.adminKey();
    for (let i = 0; i < ENDPOINTS; i++) receiver.secrets.push((await createEndpoint(base, auth, receiver.url, ALL_EVENTS)).secret);
    // The fan-out's durable consumer stays at the end of the stream while the service is away.
    await fw.stopService('gateway');
    await fw.stopService('jobs');
    await appendLifecycles(fw, jobs);
    const total = jobs * HEARD_PER_JOB * ENDPOINTS;
    // The fan-out hears the lifecycle subjects only: not the submissions.
    const events = jobs * HEARD_PER_JOB;
    if (gated) receiver.hold();

    let startedAt = performance.timeOrigin + performance.now();
    const service = await fw.startJobs(env);
    const cpuBefore = await cpuMs(service.child.pid!);
    const fanned: Array<{ at: number; count: number }> = [];
    let maxQueueDepth = 0;
    let released = false;
    const distinct = () => new Set(receiver.received.map((w) => w.id)).size;
    let lastCount = -1;
    for (let lastProgress = Date.now(); distinct() < total; await sleep(100)) {
      ctx.signal?.throwIfAborted();
      const metrics = await scrape(opsPort).catch(() => null);
      if (metrics) {
        maxQueueDepth = Math.max(maxQueueDepth, metrics.queueDepth);
        fanned.push({ at: performance.timeOrigin + performance.now(), count: metrics.fanned });
        if (gated && !released && metrics.fanned >= events) {
          released = true;
          startedAt = performance.timeOrigin + performance.now();
          receiver.release();
        }
      }
      const progress = receiver.received.length + (fanned.at(-1)?.count ?? 0);
      if (progress > lastCount) {
        lastCount = progress;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 30_000) {
        const said = service.output().split('\n').slice(-20).join('\n');
        throw new Error(`the deliveries stopped at ${receiver.received.length} of ${total} (fan-out: ${fanned.at(-1)?.count ?? '?'} of ${events} events); the jobs service's last lines:\n${said}`);
      }
    }
    const cpuAfter = await cpuMs(service.child.pid!);
    const times = receiver.received.map((w) => w.receivedAt);
    return {
      deliveries: total,
      steadyPerSecond: steadyRate(times),
      overallPerSecond: (total * 1000) / (Math.max(...times) - startedAt),
      ...(gated ? { fanoutEventsPerSecond: counterRate(fanned, events) } : {}),
      maxQueueDepth,
      duplicates: receiver.received.length - total,
      jobsCpuMsPerDelivery: (cpuAfter - cpuBefore) / total,
      unsigned: receiver.received.filter((w) => !w.signed).length,
    };
  } finally {
    await fw.close();
    await receiver.close();
  }
}

/** Per second, between the readings where a counter passed 10% and 90% of `total`. */
function counterRate(readings: ReadonlyArray<{ at: number; count: number }>, total: number): number {
  const from = readings.find((r) => r.count >= 0.1 * total);
  const to = readings.find((r) => r.count >= 0.9 * total);
  return from && to && to.at > from.at ? ((to.count - from.count) * 1000) / (to.at - from.at) : Number.NaN;
}

/** Appends `jobs` noop jobs' whole lifecycles (submitted, started, progressed, completed), 64 jobs at a time. */
async function appendLifecycles(fw: FramewireUnderTest, jobs: number): Promise<void> {
  const now = <E extends JobEvent>(event: E): E => ({ ...event, occurredAt: new Date().toISOString() });
  const one = async () => {
    const submitted = fw.noopJob();
    let seq = (await fw.store.append(submitted, 0)).seq;
    const started = now(jobStarted(submitted));
    seq = (await fw.store.append(started, seq)).seq;
    const progressed = now(jobProgressed(started, 50));
    seq = (await fw.store.append(progressed, seq)).seq;
    await fw.store.append(now(jobCompleted(progressed)), seq);
  };
  for (let i = 0; i < jobs; i += 64) await Promise.all(Array.from({ length: Math.min(64, jobs - i) }, one));
}

async function startGateway(fw: FramewireUnderTest): Promise<string> {
  const gateway = await fw.start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_REQUESTS: '0' });
  const port = (JSON.parse(await gateway.waitForLine(/gateway listening/)) as { port: number }).port;
  return `http://127.0.0.1:${port}`;
}

async function createEndpoint(base: string, auth: Record<string, string>, url: string, events: WebhookEventType[]): Promise<WebhookWithSecret> {
  const res = await fetch(`${base}/v1/webhooks`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ url, events, description: 'bench receiver' }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as WebhookWithSecret;
}

/** From the jobs service's ops port: framewire_webhook_queue_depth and framewire_webhook_fanout_events_total, each summed over its labels. */
async function scrape(port: number): Promise<{ queueDepth: number; fanned: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { queueDepth: sum('framewire_webhook_queue_depth'), fanned: sum('framewire_webhook_fanout_events_total') };
}
