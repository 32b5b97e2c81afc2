import { describe, expect, it } from '@jest/globals';
import { jobCancelled, jobCancelRequested, jobCompleted, jobDeadLettered, jobFailed, jobRedriven, jobStarted, videoSubmitted } from '../support/events.js';
import { joinRequested, jobSplit, partCompleted, partFailed, partProgressed, partRequested, partStarted, splitParts } from '../support/split-events.js';
import { checkJob, checkSplit, owedEnd, tallyWebhooks } from './chaos.js';

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

/** The same judge on split jobs (issue #19): the parts, the join and the attempt's one end. */
describe('checkJob on split jobs', () => {
  const submitted = videoSubmitted();
  const first = jobStarted(submitted, 1);
  const parts = splitParts(3, 2);
  const split = jobSplit(first, parts);
  const requested = parts.map((part) => partRequested(split, part));
  /** Every part started and completed once on worker-1, then the join asked for and the job completed. */
  const wholeRun = () => [
    submitted,
    first,
    split,
    ...requested,
    ...parts.flatMap((part) => [partStarted(split, { index: part.index }), partProgressed(split, { index: part.index }, 50), partCompleted(split, { index: part.index })]),
    joinRequested(split),
    jobCompleted(split),
  ];

  it('passes a split job whose killed part ran twice, each part completed once, then joined and completed', () => {
    const killed = partStarted(split, { index: 1 }, 'killed');
    const events = [
      submitted, first, split, ...requested,
      partStarted(split, { index: 0 }), killed, partCompleted(split, { index: 0 }),
      partStarted(split, { index: 2 }), partFailed(split, { index: 2 }), partStarted(split, { index: 2, partAttempt: 2 }), partCompleted(split, { index: 2, partAttempt: 2 }),
      partStarted(split, { index: 1, partAttempt: 2 }, 'worker-2'), partCompleted(split, { index: 1, partAttempt: 2 }, 'worker-2'),
      joinRequested(split), jobCompleted(split),
    ];
    expect(checkJob(events)).toEqual({ duplicates: 0, problems: [], ended: true });
    expect(checkJob(wholeRun())).toEqual({ duplicates: 0, problems: [], ended: true });
  });

  it('passes a cancelled split job redriven with the parts it made kept, whose new attempt makes only the others', () => {
    // checkJob takes a chaos run's jobs, which are never redriven (its end is its first terminal
    // event); the split's own rules hold across a redrive.
    const asked = jobCancelRequested(split, 1);
    const cancelled = jobCancelled(asked, 1);
    const second = jobStarted(jobRedriven(submitted, cancelled, 2), 2);
    const again = jobSplit(second, parts, 2, [0, 1]);
    const lifecycle = [
      first, split, ...requested,
      partStarted(split, { index: 0 }), partCompleted(split, { index: 0 }), partStarted(split, { index: 1 }), partCompleted(split, { index: 1 }), partStarted(split, { index: 2 }),
      asked, cancelled, jobRedriven(submitted, cancelled, 2), second, again, partRequested(again, parts[2]!, 2),
      partStarted(again, { index: 2, attempt: 2 }), partCompleted(again, { index: 2, attempt: 2 }), joinRequested(again, 2), jobCompleted(again, 2),
    ];
    expect(checkSplit(lifecycle)).toEqual({ duplicates: 0, problems: [] });
    // Without the kept parts, the second attempt's join came too early.
    const notKept = lifecycle.map((e) => (e === again ? jobSplit(second, parts, 2) : e));
    expect(checkSplit(notKept).problems).toEqual(['join of attempt 2 before parts 0, 1 completed']);
  });

  it('counts a part completed twice, a part attempt started twice, a join asked for twice and a split made twice as duplicates', () => {
    const run = wholeRun();
    const at = (type: string) => run.findIndex((e) => e.type === type);
    const twiceCompleted = [...run.slice(0, at('JoinRequested')), partCompleted(split, { index: 1, partAttempt: 1 }, 'worker-2'), ...run.slice(at('JoinRequested'))];
    expect(checkJob(twiceCompleted)).toMatchObject({ duplicates: 1, problems: ['part 1 of attempt 1 completed twice'] });
    const twiceStarted = [...run.slice(0, at('JoinRequested')), partStarted(split, { index: 2 }, 'worker-2'), ...run.slice(at('JoinRequested'))];
    expect(checkJob(twiceStarted)).toMatchObject({ duplicates: 1, problems: ['attempt 1 of part 2 (attempt 1) started twice'] });
    const twiceJoined = [...run.slice(0, -1), joinRequested(split), run.at(-1)!];
    expect(checkJob(twiceJoined)).toMatchObject({ duplicates: 1, problems: ['attempt 1 asked for its join twice'] });
    const twiceSplit = [...run.slice(0, 3), jobSplit(first, parts), ...run.slice(3)];
    expect(checkJob(twiceSplit)).toMatchObject({ duplicates: 1, problems: ['attempt 1 split twice'] });
  });

  it('reports a join before every part completed, a completion without a join, and an attempt that ended twice', () => {
    const run = wholeRun();
    const early = run.filter((e) => !(e.type === 'PartCompleted' && e.data.index === 2));
    expect(checkJob(early).problems).toEqual(['join of attempt 1 before parts 2 completed']);
    expect(checkJob(run.filter((e) => e.type !== 'JoinRequested')).problems).toEqual(['attempt 1 completed without its join']);
    const failedToo = [...run, jobFailed(split, 1, true, 'MAX_DELIVERIES')];
    expect(checkJob(failedToo).problems).toEqual(expect.arrayContaining(['split attempt 1 ended 2 times']));
  });

  it('reports part events of no split, a part completed that never started, and a split attempt that never ended in a job that did', () => {
    const stray = [submitted, first, partStarted(first, { index: 0 })];
    expect(checkJob(stray).problems).toEqual(['PartStarted of part 0 of attempt 1, which no split of that attempt has']);
    const unstarted = wholeRun().filter((e) => !(e.type === 'PartStarted' && e.data.index === 0));
    expect(checkJob(unstarted).problems).toEqual(['PartProgressed of attempt 1 of part 0 (attempt 1), which never started', 'PartCompleted of attempt 1 of part 0 (attempt 1), which never started']);
    const abandoned = [submitted, first, split, ...requested, jobStarted(split, 2), jobCompleted(split, 2)];
    expect(checkJob(abandoned).problems).toEqual(['split attempt 1 never ended']);
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
