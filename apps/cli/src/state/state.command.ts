import type { Command } from 'commander';
import { AS_OF_SYNTAX, parseAsOf, type AsOfPosition, type JobView } from '@app/contracts';
import { jobViewAsOf } from '@app/replay';
import { loadCliConfig, parseJobIdArg, withEventStore } from '../shared/cli-context.js';
import { CliError, ExitCode } from '../shared/exit-codes.js';
import { out, outJson, runCommand, table } from '../shared/output.js';

interface StateOptions {
  asOf?: string;
  json?: boolean;
}

export function registerStateCommand(program: Command): void {
  program
    .command('state')
    .argument('<jobId>', 'the job id (a UUID)')
    .description("a job as it was at a point of its history, folded from the event stream with the projector's own evolve()")
    .option('--as-of <point>', `${AS_OF_SYNTAX}; the latest state when left out`)
    .option('--json', 'the job as GET /v1/jobs/{id}?as_of= returns it, with "as_of" saying where in its history it stands')
    .addHelpText(
      'after',
      `
Points:
  N                     after the job's N-th event (the # column of "framewire events"); the
                        same whatever other jobs do, and across replays
  seq:N                 after the job's last event at or before stream sequence N
  2026-11-24T10:00:00Z  after the job's last event stored at or before that time (no zone: UTC)

A point before the job's first event is "not found" (exit 3), like an event number past its last.

Examples:
  framewire state 0193a6f0-0000-7000-8000-000000000002 --as-of 1
  framewire state 0193a6f0-0000-7000-8000-000000000002 --as-of seq:1200 --json`,
    )
    .action((jobId: string, options: StateOptions) =>
      runCommand(options, async () => {
        const id = parseJobIdArg(jobId);
        let point = null;
        if (options.asOf !== undefined) {
          const parsed = parseAsOf(options.asOf);
          if (!parsed.ok) throw new CliError(ExitCode.Usage, 'INVALID_AS_OF', parsed.reason);
          point = parsed.point;
        }
        const config = loadCliConfig();
        return withEventStore(config, async (store) => {
          const found = await jobViewAsOf(store, id, point);
          if (!found.ok) throw new CliError(ExitCode.NotFound, found.code, found.message);
          if (options.json) outJson({ ...found.job, as_of: found.as_of });
          else printState(found.job, found.as_of);
          return ExitCode.Ok;
        });
      }),
    );
}

function printState(job: JobView, at: AsOfPosition): void {
  out(`job ${job.job_id} as of event ${at.event} of ${at.events_total} (seq ${at.seq}, stored ${at.stored_at})`);
  const json = (value: unknown) => (value === null || value === undefined ? '-' : JSON.stringify(value));
  const rows: Array<[string, string]> = [
    ['status', job.status],
    ['pipeline', job.pipeline],
    ['priority', job.priority],
    ['tenant', job.tenant],
    ['attempts', String(job.attempts)],
    ['worker', job.worker_id ?? '-'],
    ['progress', `${job.progress}%`],
    ['created', job.created_at],
    ['updated', job.updated_at],
    ['started', job.started_at ?? '-'],
    ['completed', job.completed_at ?? '-'],
    ['duration', job.duration_ms === null ? '-' : `${job.duration_ms} ms`],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : '-'],
    ['result', job.result_location === 'object_store' ? '(in the Object Store)' : json(job.result)],
    ['artifacts', job.artifacts.length ? job.artifacts.map((a) => a.name).join(', ') : '-'],
    ['video', `${job.video.filename} (${job.video.size} bytes, ${job.video.content_type})`],
    ['correlation', job.correlation_id],
  ];
  for (const line of table(['', ''], rows).slice(1)) out(`  ${line}`);
}
