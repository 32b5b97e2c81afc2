import { describe, expect, it } from '@jest/globals';
import { ProgressTracker } from './progress-tracker.js';

describe('progress of an attempt over its tools', () => {
  it('counts completed tools plus the current tool\'s fraction', () => {
    const tracker = new ProgressTracker(4, 1200);
    tracker.startTool(0, 'probe');
    expect(tracker.snapshot()).toEqual({ percent: 0, currentFrame: 0, totalFrames: 1200, currentTool: 'probe', toolsCompleted: 0, toolsTotal: 4 });
    tracker.finishTool(0);
    tracker.startTool(1, 'thumbnails');
    tracker.report(0.5, 600, 1200);
    expect(tracker.snapshot()).toMatchObject({ percent: 37.5, currentFrame: 600, currentTool: 'thumbnails', toolsCompleted: 1 });
  });

  it('never goes backwards, whatever a tool reports', () => {
    const tracker = new ProgressTracker(2, 100);
    tracker.startTool(0, 'a');
    tracker.report(0.8, 80);
    expect(tracker.snapshot().percent).toBe(40);
    tracker.report(0.2, 20);
    expect(tracker.snapshot().percent).toBe(40);
    tracker.finishTool(0);
    tracker.startTool(1, 'b');
    expect(tracker.snapshot().percent).toBe(50);
    tracker.report(5, 10);
    expect(tracker.snapshot().percent).toBe(100);
  });

  it('keeps the current frame within the total and ignores nonsense', () => {
    const tracker = new ProgressTracker(1, 10);
    tracker.startTool(0, 'a');
    tracker.report(Number.NaN, 50);
    expect(tracker.snapshot()).toMatchObject({ percent: 0, currentFrame: 10 });
  });
});
