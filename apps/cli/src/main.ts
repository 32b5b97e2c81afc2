#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '@app/config';
import { registerEventsCommand } from './events/events.command.js';
import { dlqCommand } from './dead-letters/dlq.command.js';
import { doctorCommand } from './doctor/doctor.command.js';
import { cancelCommand, deleteCommand, redriveCommand } from './jobs/job-commands.command.js';
import { jobsCommand } from './jobs/jobs.command.js';
import { registerKeysCommand } from './keys/keys.command.js';
import { registerReplayCommand } from './replay/replay.command.js';
import { EXIT_CODES_HELP, ExitCode } from './shared/exit-codes.js';
import { defaultDataDir } from './connection.js';
import { start } from './start/launcher.js';
import { registerStateCommand } from './state/state.command.js';
import { submitCommand } from './submit/submit.command.js';
import { webhooksCommand } from './webhooks/webhooks.command.js';
import { workersCommand } from './workers/workers.command.js';

function positiveInt(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

const program = new Command()
  .name('framewire')
  .description('Framewire: event-sourced video jobs on NATS JetStream, PostgreSQL and ffmpeg')
  .showHelpAfterError()
  // Usage errors exit 2 (commander's own default is 1, which here means "a finding").
  .exitOverride()
  .addHelpText(
    'after',
    `
Environment: submit, jobs, workers, cancel, delete, dlq, redrive and webhooks talk to the gateway
(FRAMEWIRE_URL, FRAMEWIRE_API_KEY); events, state and replay read NATS and PostgreSQL like the
services (NATS_URL, FRAMEWIRE_NAMESPACE, DATABASE_URL, DATABASE_SCHEMA).

Exit codes of events, state and replay:${EXIT_CODES_HELP.replace(/^\nExit codes:/, '')}`,
  );

program
  .command('start')
  .description('start the whole system: NATS and PostgreSQL (reused or started), the jobs service, the gateway and workers')
  .option('-w, --workers <n>', 'worker processes', positiveInt(1, 64), Number(process.env['WORKERS'] ?? 1))
  .option('-p, --port <port>', 'gateway HTTP port', positiveInt(0, 65535), Number(process.env['PORT'] ?? 3000))
  .option('--data-dir <dir>', 'where a started NATS or PostgreSQL keeps its data (FRAMEWIRE_DATA_DIR sets the default)', defaultDataDir())
  .option('--local-services', 'always start nats-server and an embedded PostgreSQL under --data-dir, even if others are reachable', false)
  .action((opts: { workers: number; port: number; dataDir: string; localServices: boolean }) => start(opts));

program.addCommand(doctorCommand());
registerKeysCommand(program);
program.addCommand(submitCommand());
program.addCommand(jobsCommand());
program.addCommand(workersCommand());
program.addCommand(cancelCommand());
program.addCommand(dlqCommand());
program.addCommand(redriveCommand());
program.addCommand(deleteCommand());
program.addCommand(webhooksCommand());

// Debugging from the event log.
registerEventsCommand(program);
registerStateCommand(program);
registerReplayCommand(program);

// addCommand() passes no settings down: every command's usage errors go to the handler below (exit 2).
const exitThroughHandler = (command: Command): void => {
  command.exitOverride().showHelpAfterError();
  command.commands.forEach(exitThroughHandler);
};
exitThroughHandler(program);

try {
  await program.parseAsync();
} catch (error) {
  // --help and --version exit 0; anything else commander refuses is a usage error.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
  process.stderr.write(`framewire: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError ? ExitCode.Config : ExitCode.Internal);
}
