import { access } from 'node:fs/promises';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { GatewayError, runAction, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';
import { followJob } from './follow-job.js';
import { uploadResumable } from './resumable-upload.js';
import { uploadVideo } from './upload.js';

interface SubmitOptions extends GatewayOptions {
  pipeline?: string;
  params?: string;
  priority?: string;
  wait: boolean;
  /** false with --no-resumable: one POST /v1/jobs instead of the resumable upload. */
  resumable: boolean;
}

/**
 * `framewire submit <file>`: uploads a video as a job (the resumable upload, which goes on after a
 * dropped connection from where the gateway says it is; --no-resumable: one POST), with an upload progress bar; with --wait,
 * then a job progress bar until the job ends (exit 0 when it completed, 1 otherwise). Bars go to
 * stderr, the answer to stdout (JSON with --json, where no bars are drawn).
 */
export function submitCommand(): Command {
  return withGatewayOptions(
    new Command('submit')
      .description('upload a video as a new job')
      .argument('<file>', 'the video file')
      .option('-p, --pipeline <name>', 'pipeline to run (default: the gateway\'s, probe)')
      .option('--params <json>', 'the pipeline\'s params, a JSON object')
      .addOption(new Option('--priority <priority>', 'queue priority').choices(['high', 'normal', 'low']))
      .option('-w, --wait', 'follow the job until it ends', false)
      .option('--no-resumable', 'send the file in one POST /v1/jobs instead of the resumable upload (tus), which survives a dropped connection'),
  ).action(
    runAction(async (file: string, options: SubmitOptions) => {
      await access(file).catch(() => {
        throw new GatewayError(0, 'FILE_NOT_FOUND', `cannot read ${file}`);
      });
      if (options.params !== undefined) {
        try {
          const value: unknown = JSON.parse(options.params);
          if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
        } catch {
          throw new GatewayError(0, 'INVALID_PARAMS', '--params must be a JSON object, for example \'{"frame_stride":10}\'');
        }
      }
      const bars = options.json
        ? null
        : new cliProgress.MultiBar(
            {
              format: ' {label} |{bar}| {percentage}% {detail}',
              hideCursor: true,
              clearOnComplete: false,
              stopOnComplete: false,
              noTTYOutput: true,
              notTTYSchedule: 1000,
              autopadding: true,
            },
            cliProgress.Presets.shades_classic,
          );
      try {
        const uploadBar = bars?.create(100, 0, { label: 'upload', detail: '' });
        const send = options.resumable ? uploadResumable : uploadVideo;
        const submitted = await send(options, file, options, (sent, total) =>
          uploadBar?.update(Math.floor((sent / total) * 100), { detail: `${mib(sent)}/${mib(total)} MiB` }),
        );
        uploadBar?.update(100, { detail: `job ${submitted.job_id}` });
        if (!options.wait) {
          bars?.stop();
          process.stdout.write(options.json ? `${JSON.stringify(submitted)}\n` : `${submitted.job_id}\n`);
          return 0;
        }
        const jobBar = bars?.create(100, 0, { label: 'job   ', detail: 'queued' });
        const job = await followJob(options, submitted.job_id, (update) =>
          jobBar?.update(Math.round(update.progress), { detail: `${update.status}${update.detail ? ` (${update.detail})` : ''}` }),
        );
        jobBar?.update(Math.round(job.progress), { detail: job.status });
        bars?.stop();
        if (options.json) process.stdout.write(`${JSON.stringify(job)}\n`);
        else {
          process.stdout.write(`${job.job_id} ${job.status}${job.error ? `: ${job.error.code} ${job.error.message}` : ''}\n`);
        }
        return job.status === 'completed' ? 0 : 1;
      } finally {
        bars?.stop();
      }
    }),
  );
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
