/** graphile-worker with a no-op task, in its own process: the PostgreSQL queue a team would pick instead. */
import { Logger, run } from 'graphile-worker';
import { now, onStop, peerEnv, send, Tally } from './protocol.js';

const { mode, concurrency, expect } = peerEnv();
const tally = new Tally(expect);
const runner = await run({
  connectionString: process.env['DATABASE_URL']!,
  schema: process.env['GRAPHILE_SCHEMA']!,
  concurrency,
  noHandleSignals: true,
  logger: new Logger(() => () => undefined),
  taskList: {
    noop: async (payload) => {
      if (mode === 'latency') send({ type: 'started', id: (payload as { id: string }).id, t: now() });
      else tally.started();
    },
  },
});
if (mode === 'throughput') runner.events.on('job:complete', () => tally.completed());
onStop(() => runner.stop());
send({ type: 'ready' });
await runner.promise;
