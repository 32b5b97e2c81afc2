import { Command } from 'commander';
import { call } from '@framewire/client';
import { clientFor, runAction, table, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

/** `framewire workers`: the workers that heartbeat into the registry. */
export function workersCommand(): Command {
  return withGatewayOptions(new Command('workers').description('list the live workers (from their heartbeats)')).action(
    runAction(async (options: GatewayOptions) => {
      const { workers } = await call(clientFor(options).api.GET('/v1/workers'));
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ workers })}\n`);
        return;
      }
      if (workers.length === 0) {
        process.stdout.write('no live workers\n');
        return;
      }
      const rows = workers.map((w) => [
        w.worker_id,
        w.host,
        String(w.pid),
        `${w.in_flight.length}/${w.concurrency}`,
        w.pipelines.join(','),
        w.last_heartbeat,
        w.in_flight.join(' '),
      ]);
      process.stdout.write(`${table(['WORKER', 'HOST', 'PID', 'BUSY', 'PIPELINES', 'LAST HEARTBEAT', 'IN FLIGHT'], rows)}\n`);
    }),
  );
}
