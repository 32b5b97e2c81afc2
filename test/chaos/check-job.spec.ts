import { describe, expect, it } from '@jest/globals';
import { jobCompleted, jobDeadLettered, jobFailed, jobStarted, videoSubmitted } from '../support/events.js';
import { checkJob, owedEnd, tallyWebhooks } from './chaos.js';

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

/** The chaos run's judge of the webhooks: each job's end heard at least once, nothing else heard. */
describe('tallyWebhooks', () => {
  const submitted = videoSubmitted();
  const first = jobStarted(submitted, 1);
  const heard = (type: string, id: string, status = type.slice(4)) => ({ id, receivedAt: 0, type, jobId: submitted.jobId, status, signed: true });

  it('owes the end of a job that ended, in its webhook type, and nothing before', () => {
    expect(owedEnd([submitted, first, jobCompleted(first)])).toBe(`${submitted.jobId} job.completed`);
    expect(owedEnd([submitted, first, jobFailed(first, 1, false), jobStarted(first, 2), jobFailed(first, 2, true)])).toBe(`${submitted.jobId} job.failed`);
    expect(owedEnd([submitted, first, jobFailed(first, 1, false)])).toBeNull();
  });

  it('counts an end heard again with the same webhook-id apart from one recorded twice', () => {
    const owed = new Set([`${submitted.jobId} job.completed`]);
    const tally = tallyWebhooks(owed, [heard('job.completed', 'a'), heard('job.completed', 'a'), heard('job.completed', 'b')]);
    expect(tally).toEqual({ delivered: 1, missing: [], duplicates: { sameId: 1, otherId: 1 }, unsigned: 0, unexpected: [] });
  });

  it('reports an end never heard, one that was not owed, a body whose status is not its type, and a bad signature', () => {
    const owed = new Set([`${submitted.jobId} job.completed`]);
    const tally = tallyWebhooks(owed, [heard('job.failed', 'a'), heard('job.completed', 'b', 'running'), { ...heard('job.completed', 'c'), signed: false }]);
    expect(tally).toMatchObject({ delivered: 1, unsigned: 1, unexpected: [`${submitted.jobId} job.failed (status failed)`, `${submitted.jobId} job.completed (status running)`] });
    expect(tallyWebhooks(owed, []).missing).toEqual([`${submitted.jobId} job.completed`]);
  });
});
