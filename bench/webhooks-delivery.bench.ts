import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JobEvent, WebhookEventType, WebhookWithSecret } from '@app/contracts';
import { jobCompleted, jobProgressed, jobStarted } from '../test/support/events.js';
import { freeTcpPort } from '../test/support/processes.js';
import { WebhookReceiver } from '../test/support/webhook-receiver.js';
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
 * receiver counts what arrives between 10% and 90% of it. The receiver (node:http, on loopback,
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
    const rate = await deliveryRate(ctx, backlogJobs);
    ctx.log(`${rate.deliveries} deliveries, ${round(rate.steadyPerSecond, 0)}/s at steady state`);

    const unsigned = latency.unsigned + rate.unsigned;
    if (unsigned > 0) throw new Error(`${unsigned} deliveries without a valid signature`);
    return {
      id: 'webhooks',
      title: 'Webhook delivery: latency and rate',
      measurements: [
        ...latencyMeasurements('JobCompleted stored→webhook received', latency.fromStored),
        ...latencyMeasurements('JobCompleted occurredAt→webhook received', latency.fromOccurred).filter((m) => / p(50|99)$/.test(m.name)),
        {
          name: 'webhook deliveries per second, one jobs service, steady backlog',
          unit: 'deliveries/s',
          value: round(rate.steadyPerSecond, 0),
          extra: {
            deliveries: rate.deliveries,
            endpoints: ENDPOINTS,
            overallPerSecond: round(rate.overallPerSecond, 0),
            maxQueueDepth: rate.maxQueueDepth,
            queueDepthAtHalf: rate.queueDepthAtHalf,
            duplicates: rate.duplicates,
          },
        },
        { name: 'jobs service CPU per webhook delivery (backlog)', unit: 'ms', value: round(rate.jobsCpuMsPerDelivery, 4) },
      ],
      samples: { 'JobCompleted stored→webhook received': latency.fromStored },
      notes: [
        `Latency: ${count} noop jobs after ${warmup} warm-up jobs, one at a time (the next ${GAP_MS} ms after the last was received), one worker (WORKER_CONCURRENCY=1), one endpoint hearing job.completed. The start is the stream's stored time of the JobCompleted (nats-server's clock, nanoseconds); the occurredAt rows start from the worker's clock when it made the event, before the append.`,
        `Rate: ${backlogJobs} synthetic jobs appended while the jobs service was stopped, ${rate.deliveries} deliveries to ${ENDPOINTS} endpoints (default WEBHOOK_CONCURRENCY and WEBHOOK_ENDPOINT_CONCURRENCY); receipts per second between 10% and 90% of them (overall, from the service's start to the last: ${round(rate.overallPerSecond, 0)}/s). The jobs service projects the same events meanwhile, on the same cores, and its CPU per delivery includes that. Queue depth (framewire_webhook_queue_depth, all endpoints) at half-way: ${rate.queueDepthAtHalf ?? 'not read'}; above 0, the sender was the bottleneck, not the fan-out.`,
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
  const receiver = await WebhookReceiver.start();
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
  steadyPerSecond: number;
  overallPerSecond: number;
  maxQueueDepth: number;
  queueDepthAtHalf: number | null;
  duplicates: number;
  jobsCpuMsPerDelivery: number;
  unsigned: number;
}

async function deliveryRate(ctx: BenchContext, jobs: number): Promise<RateResult> {
  const fw = await new FramewireUnderTest(ctx).open();
  const receiver = await WebhookReceiver.start();
  try {
    const opsPort = await freeTcpPort();
    const env = { ...WEBHOOK_ENV, OPS_PORT: String(opsPort) };
    await fw.startJobs(env);
    const base = await startGateway(fw);
    const auth = await fw.adminKey();
    for (let i = 0; i < ENDPOINTS; i++) receiver.secrets.push((await createEndpoint(base, auth, receiver.url, ALL_EVENTS)).secret);
    // The fan-out's durable consumer stays at the end of the stream while the service is away.
    await fw.stopService('gateway');
    await fw.stopService('jobs');
    await appendLifecycles(fw, jobs);
    const total = jobs * HEARD_PER_JOB * ENDPOINTS;

    const startedAt = performance.timeOrigin + performance.now();
    const service = await fw.startJobs(env);
    const cpuBefore = await cpuMs(service.child.pid!);
    const depths: Array<{ received: number; depth: number }> = [];
    let lastCount = -1;
    for (let lastProgress = Date.now(); new Set(receiver.received.map((w) => w.id)).size < total; await sleep(250)) {
      ctx.signal?.throwIfAborted();
      const depth = await queueDepth(opsPort).catch(() => null);
      if (depth !== null) depths.push({ received: receiver.received.length, depth });
      if (receiver.received.length > lastCount) {
        lastCount = receiver.received.length;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 30_000) {
        throw new Error(`the deliveries stopped at ${lastCount} of ${total}`);
      }
    }
    const cpuAfter = await cpuMs(service.child.pid!);
    const times = receiver.received.map((w) => w.receivedAt);
    const half = depths.find((d) => d.received >= receiver.received.length / 2);
    return {
      deliveries: total,
      steadyPerSecond: steadyRate(times),
      overallPerSecond: (total * 1000) / (Math.max(...times) - startedAt),
      maxQueueDepth: Math.max(0, ...depths.map((d) => d.depth)),
      queueDepthAtHalf: half?.depth ?? null,
      duplicates: receiver.received.length - total,
      jobsCpuMsPerDelivery: (cpuAfter - cpuBefore) / total,
      unsigned: receiver.received.filter((w) => !w.signed).length,
    };
  } finally {
    await fw.close();
    await receiver.close();
  }
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

/** framewire_webhook_queue_depth summed over the endpoints, from the jobs service's ops port. */
async function queueDepth(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('framewire_webhook_queue_depth{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
