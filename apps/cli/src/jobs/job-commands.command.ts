import { Command, InvalidArgumentError } from 'commander';
import { jobIdSchema } from '@app/contracts';
import { clientFor, runAction, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

/** A bad job id is a usage error (exit 2), found before anything is sent. */
function jobIdArgument(value: string): string {
  if (!jobIdSchema.safeParse(value).success) throw new InvalidArgumentError('a job id is a UUID');
  return value;
}

/** `framewire redrive <jobId>`: run a failed (or dead-lettered, or cancelled) job again as a new attempt. */
export function redriveCommand(): Command {
  return withGatewayOptions(
    new Command('redrive').description('run a failed, dead-lettered or cancelled job again, as a new attempt (POST /v1/jobs/{id}/retry)').argument('<jobId>', 'the job', jobIdArgument),
  ).action(
    runAction(async (jobId: string, options: GatewayOptions) => {
      const outcome = await clientFor(options).redrive(jobId);
      if (options.json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
      else process.stdout.write(`job ${outcome.job_id} queued again as attempt ${outcome.attempt} (seq ${outcome.redriven_seq}, caused by event ${outcome.caused_by})\n`);
    }),
  );
}

/** `framewire cancel <jobId>`: stop a queued or running job. */
export function cancelCommand(): Command {
  return withGatewayOptions(
    new Command('cancel').description('stop a queued or running job (POST /v1/jobs/{id}/cancel)').argument('<jobId>', 'the job', jobIdArgument),
  ).action(
    runAction(async (jobId: string, options: GatewayOptions) => {
      const outcome = await clientFor(options).cancel(jobId);
      if (options.json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
      else if (outcome.status === 'cancelled') process.stdout.write(`job ${outcome.job_id} cancelled\n`);
      else process.stdout.write(`job ${outcome.job_id} is being cancelled: its worker stops it\n`);
    }),
  );
}

/** `framewire delete <jobId>`: delete a job and its media (a running job is stopped first). */
export function deleteCommand(): Command {
  return withGatewayOptions(
    new Command('delete')
      .description('delete a job: its upload, result and artifacts leave the Object Store, JobDeleted is appended (DELETE /v1/jobs/{id}); a running job is stopped first')
      .argument('<jobId>', 'the job', jobIdArgument),
  ).action(
    runAction(async (jobId: string, options: GatewayOptions) => {
      const outcome = await clientFor(options).deleteJob(jobId);
      if (options.json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
      else if (outcome.status === 'deleted') process.stdout.write(`job ${outcome.job_id} deleted (seq ${outcome.deleted_seq}, ${outcome.objects_deleted} object(s) removed)\n`);
      else process.stdout.write(`job ${outcome.job_id} is being deleted: its worker stops it first\n`);
    }),
  );
}
