import { describe, expect, it } from '@jest/globals';
import { jobCompleted, jobDeadLettered, jobFailed, jobStarted, videoSubmitted } from '../support/events.js';
import { checkJob } from './chaos.js';

/** The chaos run's judge of one job's history: it must catch every kind of duplicate it looks for. */
describe('checkJob', () => {
  const submitted = videoSubmitted();
  const first = jobStarted(submitted, 1);

  it('passes a job that ran twice and ended once', () => {
    const retried = jobFailed(first, 1, false, 'WORKER_ERROR');
    const second = jobStarted(retried, 2);
    expect(checkJob([submitted, first, retried, second, jobCompleted(second, 2)])).toEqual({ duplicates: 0, problems: [], ended: true });
  });

  it('passes a dead letter that ended an attempt a worker never finished', () => {
    expect(checkJob([submitted, first, jobDeadLettered(first, 1)])).toEqual({ duplicates: 0, problems: [], ended: true });
  });

  it('counts a second terminal event, an attempt started twice and an attempt ended twice', () => {
    expect(checkJob([submitted, first, jobCompleted(first), jobFailed(first, 1, true)])).toMatchObject({ duplicates: 2, ended: true });
    expect(checkJob([submitted, first, jobStarted(submitted, 1), jobCompleted(first)]).duplicates).toBe(1);
    expect(checkJob([submitted, submitted, first, jobCompleted(first)]).duplicates).toBe(1);
  });

  it('reports a job that never ended', () => {
    expect(checkJob([submitted, first])).toEqual({ duplicates: 0, problems: [], ended: false });
  });
});
