import { describe, expect, it } from '@jest/globals';
import { jobCompleted, jobFailed, jobProgressed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { fold, toJobView } from './job-state.js';

describe('evolve with progress', () => {
  it('given JobProgressed, the running job shows the latest progress', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const progressed = jobProgressed(started, 40, 1, { currentFrame: 20, totalFrames: 50, currentTool: 'thumbnails', toolsCompleted: 1, toolsTotal: 2 });
    const state = fold([submitted, started, progressed])!;
    expect(state.progress).toBe(40);
    expect(toJobView(state, 3).progress_detail).toEqual({
      percent: 40,
      current_frame: 20,
      total_frames: 50,
      current_tool: 'thumbnails',
      tools_completed: 1,
      tools_total: 2,
    });
  });

  it('never moves progress backwards within an attempt', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const state = fold([submitted, started, jobProgressed(started, 60), jobProgressed(started, 30)])!;
    expect(state.progress).toBe(60);
    expect(state.progressDetail?.percent).toBe(60);
  });

  it('starts progress again from zero on a new attempt, and ignores reports of an old one', () => {
    const submitted = videoSubmitted();
    const first = jobStarted(submitted, 1);
    const failed = jobFailed(first, 1, false, 'WORKER_ERROR');
    const second = jobStarted(failed, 2);
    const state = fold([submitted, first, jobProgressed(first, 80), failed, second, jobProgressed(first, 90, 1), jobProgressed(second, 10, 2)])!;
    expect(state).toMatchObject({ attempts: 2, status: 'running', progress: 10 });
  });

  it('ignores progress for a job that is not running', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const done = jobCompleted(started);
    const state = fold([submitted, started, done, jobProgressed(started, 50)])!;
    expect(state).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('shows the artifacts of a completed job by name, size and type', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const done = jobCompleted(started);
    done.data.artifacts = [
      { name: 'sprite.jpg', bucket: 'b', objectName: `artifacts/${done.jobId}/1/sprite.jpg`, size: 1234, contentType: 'image/jpeg', sha256: 'b'.repeat(64) },
    ];
    const view = toJobView(fold([submitted, started, done])!, 3);
    expect(view.artifacts).toEqual([{ name: 'sprite.jpg', size: 1234, content_type: 'image/jpeg' }]);
    expect(view.result_location).toBe('inline');
  });
});
