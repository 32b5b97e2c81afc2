/** BullMQ's worker with a no-op processor, in its own process: the peer a team would pick instead. */
import { Worker } from 'bullmq';
import { now, onStop, peerEnv, send, Tally } from './protocol.js';

const { mode, concurrency, expect } = peerEnv();
const tally = new Tally(expect);
const worker = new Worker(
  process.env['QUEUE']!,
  async (job) => {
    if (mode === 'latency') send({ type: 'started', id: job.id!, t: now() });
    else tally.started();
  },
  { connection: { host: '127.0.0.1', port: Number(process.env['REDIS_PORT']) }, concurrency, autorun: false },
);
if (mode === 'throughput') worker.on('completed', () => tally.completed());
worker.on('error', (error) => send({ type: 'error', message: error.message }));
onStop(() => worker.close());
await worker.waitUntilReady();
send({ type: 'ready' });
await worker.run();
