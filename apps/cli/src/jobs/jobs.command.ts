import { Command, InvalidArgumentError } from 'commander';
import type { ListJobsQuery } from '@framewire/client';
import { clientFor, runAction, table, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

/** The gateway checks the status (400 VALIDATION_FAILED with the statuses it knows). */
type JobStatus = NonNullable<ListJobsQuery['status']>;

interface JobsOptions extends GatewayOptions {
  status?: string;
  pipeline?: string;
  limit: number;
  cursor?: string;
}

/** `framewire jobs`: the newest jobs, filtered and paged like GET /v1/jobs. */
export function jobsCommand(): Command {
  return withGatewayOptions(
    new Command('jobs')
      .description('list jobs, newest first')
      .option('-s, --status <status>', 'only jobs in this status (queued, running, completed, failed, cancelled)')
      .option('-p, --pipeline <name>', 'only jobs of this pipeline')
      .option('-n, --limit <n>', 'jobs per page (1-100)', limitArg, 20)
      .option('--cursor <cursor>', 'the next page (printed under the list)'),
  ).action(
    runAction(async (options: JobsOptions) => {
      const page = await clientFor(options).listJobs({
        limit: options.limit,
        ...(options.status ? { status: options.status as JobStatus } : {}),
        ...(options.pipeline ? { pipeline: options.pipeline } : {}),
        ...(options.cursor ? { cursor: options.cursor } : {}),
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(page)}\n`);
        return;
      }
      if (page.jobs.length === 0) {
        process.stdout.write('no jobs\n');
        return;
      }
      const rows = page.jobs.map((j) => [
        j.job_id,
        j.status,
        `${Math.round(j.progress)}%`,
        j.pipeline,
        String(j.attempts),
        j.video.filename,
        j.created_at,
        j.error ? j.error.code : '',
      ]);
      process.stdout.write(`${table(['JOB', 'STATUS', 'PROGRESS', 'PIPELINE', 'ATTEMPTS', 'FILE', 'SUBMITTED', 'ERROR'], rows)}\n`);
      if (page.next_cursor) process.stdout.write(`\nmore: framewire jobs --cursor ${page.next_cursor}\n`);
    }),
  );
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('expected an integer from 1 to 100');
  return n;
}
