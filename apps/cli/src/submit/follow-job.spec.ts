import { describe, expect, it } from '@jest/globals';
import type { JobStatusUpdate } from '@framewire/client';
import { jobLine } from './follow-job.js';

const status = (over: Partial<JobStatusUpdate>): JobStatusUpdate => ({ job_id: 'j', status: 'running', attempt: 1, worker_id: 'w', error: null, progress: null, ...over });

describe("the job bar's line for a live update", () => {
  it('shows the percent and the running tool of a progress update', () => {
    const progress = { job_id: 'j', status: 'running' as const, attempt: 1, percent: 42, current_frame: 10, total_frames: 24, current_tool: 'thumbnails', tools_completed: 0, tools_total: 2 };
    expect(jobLine({ kind: 'progress', seq: 9, data: progress }, 10)).toEqual({ status: 'running', progress: 42, detail: 'thumbnails' });
  });

  it('keeps the shown progress when an update does not say it, and names why a job failed', () => {
    const failed = status({ status: 'failed', error: { code: 'TOOL_FAILED', message: 'ffmpeg exited 1' } });
    expect(jobLine({ kind: 'failed', seq: 12, data: failed }, 37)).toEqual({ status: 'failed', progress: 37, detail: 'TOOL_FAILED' });
    expect(jobLine({ kind: 'completed', seq: 13, data: status({ status: 'completed' }) }, 90)).toEqual({ status: 'completed', progress: 100, detail: '' });
    expect(jobLine({ kind: 'deleted', seq: 14, data: { job_id: 'j' } }, 5)).toEqual({ status: 'deleted', progress: 5, detail: '' });
  });
});
