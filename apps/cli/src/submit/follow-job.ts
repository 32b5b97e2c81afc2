import type { Job, JobUpdate } from '@framewire/client';
import { clientFor, type GatewayOptions } from '../gateway/gateway-client.js';

/** What the job bar shows of an update. */
export interface JobLine {
  status: string;
  progress: number;
  detail: string;
}

/**
 * Follows one job until it ends, over its live stream (the client's `wait`: GET /v1/jobs/{id}/stream,
 * resumed after a dropped connection without a gap), showing each update; resolves with the final job
 * as GET /v1/jobs/{id} shows it.
 */
export function followJob(options: GatewayOptions, jobId: string, onUpdate: (line: JobLine) => void): Promise<Job> {
  let shown = 0;
  return clientFor(options).wait(jobId, {
    onUpdate: (update) => {
      const line = jobLine(update, shown);
      shown = line.progress;
      onUpdate(line);
    },
  });
}

/**
 * An update as a line: its status, its progress (an update that does not say it, such as a final
 * failure, leaves what was shown) and what is running or why it ended.
 */
export function jobLine(update: JobUpdate, shown: number): JobLine {
  switch (update.kind) {
    case 'progress':
      return { status: update.data.status, progress: update.data.percent, detail: update.data.current_tool ?? '' };
    case 'deleted':
      return { status: 'deleted', progress: shown, detail: '' };
    default:
      return {
        status: update.data.status,
        progress: update.kind === 'completed' ? 100 : (update.data.progress?.percent ?? shown),
        detail: update.data.error?.code ?? update.data.progress?.current_tool ?? '',
      };
  }
}
