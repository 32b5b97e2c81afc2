import { Command } from 'commander';
import { getJson, runAction, table, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

/** A worker as GET /v1/workers lists it (its heartbeat in the registry). */
interface WorkerInfo {
  worker_id: string;
  host: string;
  pid: number;
  concurrency: number;
  in_flight: string[];
  pipelines: string[];
  started_at: string;
  last_heartbeat: string;
}

/** `framewire workers`: the workers that heartbeat into the registry. */
export function workersCommand(): Command {
  return withGatewayOptions(new Command('workers').description('list the live workers (from their heartbeats)')).action(
    runAction(async (options: GatewayOptions) => {
      const body = await getJson<unknown>(options, 'v1/workers');
      const workers = (Array.isArray(body) ? body : ((body as { workers?: WorkerInfo[] }).workers ?? [])) as WorkerInfo[];
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
