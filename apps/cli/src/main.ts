#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { jobsCommand } from './jobs/jobs.command.js';
import { start } from './start/launcher.js';
import { submitCommand } from './submit/submit.command.js';
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
  .showHelpAfterError();

program
  .command('start')
  .description('start the whole system: NATS and PostgreSQL (reused or started), the jobs service, the gateway and workers')
  .option('-w, --workers <n>', 'worker processes', positiveInt(1, 64), Number(process.env['WORKERS'] ?? 1))
  .option('-p, --port <port>', 'gateway HTTP port', positiveInt(0, 65535), Number(process.env['PORT'] ?? 3000))
  .option('--data-dir <dir>', 'where a started NATS or PostgreSQL keeps its data', '.data')
  .option('--local-services', 'always start nats-server and an embedded PostgreSQL under --data-dir, even if others are reachable', false)
  .action((opts: { workers: number; port: number; dataDir: string; localServices: boolean }) => start(opts));

program.addCommand(submitCommand());
program.addCommand(jobsCommand());
program.addCommand(workersCommand());

await program.parseAsync();
