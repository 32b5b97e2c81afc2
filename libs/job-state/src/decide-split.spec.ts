import { describe, expect, it } from '@jest/globals';
import { isPartEvent, isPartWork, isWorkRequest, type JobEvent, type PartStarted, type WorkRequest } from '@app/contracts';
import { jobCancelled, jobCancelRequested, jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { jobSplit, partCompleted, partFailed, partProgressed, partRequested, partStarted, splitParts } from '../../../test/support/split-events.js';
import { decide, partStanding, type Decision, type JobCommand, type JobHistory, type Stamp, type Stored } from './decide.js';

/**
 * The history a stream holding `events` in this order gives, each on its own subject as the event
 * store puts it (work requests, lifecycle, split, each part), three sequences apart.
 */
function given(...events: JobEvent[]): JobHistory {
  const history: JobHistory = { submission: null, lifecycle: null, latestWork: null, last: 0, split: null, parts: new Map() };
  const parts = new Map<number, Stored<JobEvent>>();
  events.forEach((event, i) => {
    const seq = 10 + 3 * i;
    history.last = seq;
    if (isWorkRequest(event)) {
      if (event.type === 'VideoSubmitted' && !history.submission) history.submission = { seq, event };
      history.latestWork = { seq, event: event as WorkRequest };
    } else if (event.type === 'JobSplit') history.split = { seq, event };
    else if (isPartEvent(event)) parts.set(event.data.index, { seq, event });
    else if (!isPartWork(event)) history.lifecycle = { seq, event };
  });
  history.parts = parts;
  return history;
}

function stamp(): Stamp {
  let n = 0;
  return { at: '2026-03-01T12:00:00.000Z', nextId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
}

function types(decision: Decision): string[] {
  return decision.kind === 'append' ? decision.appends.map((a) => a.event.type) : [`refused:${decision.reason}`];
}

const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { split_seconds: 60 } });
const started = jobStarted(submitted, 1, 'splitter');
const parts = splitParts(3);
const split = jobSplit(started, parts);
const requests = parts.map((part) => partRequested(split, part));
const claimPart = (index: number, maxAttempts = 3): JobCommand => ({ kind: 'ClaimPart', jobId: submitted.jobId, request: requests[index]!, workerId: 'w-part', maxAttempts, stamp: stamp() });
const complete = (s: PartStarted): JobCommand => ({ kind: 'CompletePart', jobId: s.jobId, started: s, durationMs: 10, artifacts: [], stamp: stamp() });
const fail = (s: PartStarted, permanent = false, maxAttempts = 3): JobCommand => ({ kind: 'FailPart', jobId: s.jobId, started: s, failure: { code: 'TOOL_FAILED', message: 'x', permanent }, maxAttempts, jitter: 0.5, stamp: stamp() });

describe('decide: split jobs', () => {
  it('the attempt that holds the job splits it: the split and a work request per part, all or nothing, expecting its last sequence', () => {
    const history = given(submitted, started);
    const decision = decide(history, { kind: 'Split', jobId: submitted.jobId, started, splitSeconds: 60, parts, stamp: stamp() });
    expect(types(decision)).toEqual(['JobSplit', 'PartRequested', 'PartRequested', 'PartRequested']);
    expect(decision.kind === 'append' && decision.atomic).toBe(true);
    expect(decision.kind === 'append' && decision.appends[0].expectSeq).toBe(history.last);
  });

  it('a second split by the same attempt, or a split by an attempt that lost the job, is refused', () => {
    expect(types(decide(given(submitted, started, split), { kind: 'Split', jobId: submitted.jobId, started, splitSeconds: 60, parts, stamp: stamp() }))).toEqual(['refused:stale']);
    const other = jobStarted(submitted, 2, 'other');
    expect(types(decide(given(submitted, started, other), { kind: 'Split', jobId: submitted.jobId, started, splitSeconds: 60, parts, stamp: stamp() }))).toEqual(['refused:lost']);
  });

  it('a redrive keeps the earlier cut points and the parts made, and asks only for the others; with all made, straight for the join', () => {
    const p0 = partStarted(requests[0]!, { index: 0 });
    const p2 = partStarted(requests[2]!, { index: 2 });
    const failed = jobFailed(p2, 1, true);
    const second = jobStarted(failed, 2, 'again');
    const history = given(submitted, started, split, ...requests, p0, partCompleted(p0, { index: 0 }), p2, partFailed(p2, { index: 2 }, true), failed, second);
    const decision = decide(history, { kind: 'Split', jobId: submitted.jobId, started: second, splitSeconds: 10, parts: splitParts(7, 10), stamp: stamp() });
    expect(types(decision)).toEqual(['JobSplit', 'PartRequested', 'PartRequested']);
    const appended = decision.kind === 'append' ? decision.appends.map((a) => a.event) : [];
    expect(appended[0]).toMatchObject({ type: 'JobSplit', data: { attempt: 2, splitSeconds: 60, parts, kept: [0] } });
    expect(appended.slice(1).map((e) => (e.type === 'PartRequested' ? [e.data.attempt, e.data.part.index] : null))).toEqual([[2, 1], [2, 2]]);

    const allMade = given(submitted, started, split, ...[0, 1, 2].flatMap((i) => [partCompleted(requests[i]!, { index: i })]), jobFailed(split, 1, true), second);
    expect(types(decide(allMade, { kind: 'Split', jobId: submitted.jobId, started: second, splitSeconds: 60, parts, stamp: stamp() }))).toEqual(['JobSplit', 'JoinRequested']);
  });

  it('a part is claimed once per attempt of it: the first claim starts attempt 1, a redelivery after its worker died starts the next, a made part is not started again', () => {
    const base = [submitted, started, split, ...requests] as const;
    const first = decide(given(...base), claimPart(1));
    expect(first.kind === 'append' && first.appends[0].event).toMatchObject({ type: 'PartStarted', data: { attempt: 1, index: 1, partAttempt: 1, workerId: 'w-part' } });
    const running = partStarted(requests[1]!, { index: 1 });
    const again = decide(given(...base, running, partProgressed(running, { index: 1 }, 40)), claimPart(1));
    expect(again.kind === 'append' && again.appends[0].event).toMatchObject({ type: 'PartStarted', data: { partAttempt: 2 } });
    expect(types(decide(given(...base, running, partCompleted(running, { index: 1 })), claimPart(1)))).toEqual(['refused:ended']);
  });

  it('no part starts once a cancel is asked for or the job ended, nor for an attempt that no longer runs the job', () => {
    const base = [submitted, started, split, ...requests] as const;
    const asked = jobCancelRequested(split, 1);
    expect(types(decide(given(...base, asked), claimPart(0)))).toEqual(['refused:cancel-requested']);
    expect(types(decide(given(...base, asked, jobCancelled(asked, 1)), claimPart(0)))).toEqual(['refused:ended']);
    expect(types(decide(given(...base, jobStarted(split, 2, 'other')), claimPart(0)))).toEqual(['refused:stale']);
  });

  it('a part started as often as its attempts allow, with none ending, fails the job (workers that die on it)', () => {
    const base = [submitted, started, split, ...requests] as const;
    const third = partStarted(requests[0]!, { index: 0, partAttempt: 3 });
    const decision = decide(given(...base, third), claimPart(0, 3));
    expect(types(decision)).toEqual(['PartFailed', 'JobFailed']);
    expect(decision.kind === 'append' && decision.atomic).toBe(true);
    expect(decision.kind === 'append' && decision.appends[1]!.event).toMatchObject({ data: { attempt: 1, final: true, error: { code: 'MAX_DELIVERIES' } } });
  });

  it('the part that completes last asks for the join in the same batch; the others do not', () => {
    const base = [submitted, started, split, ...requests] as const;
    const s0 = partStarted(requests[0]!, { index: 0 });
    const s1 = partStarted(requests[1]!, { index: 1 });
    const s2 = partStarted(requests[2]!, { index: 2 });
    expect(types(decide(given(...base, s0, s1, s2), complete(s0)))).toEqual(['PartCompleted']);
    const last = decide(given(...base, s0, partCompleted(s0, { index: 0 }), s1, partCompleted(s1, { index: 1 }), s2), complete(s2));
    expect(types(last)).toEqual(['PartCompleted', 'JoinRequested']);
    expect(last.kind === 'append' && last.atomic).toBe(true);
  });

  it("a part's failure is retried with its own backoff until its attempts run out; then, or when permanent, the job fails with it", () => {
    const base = [submitted, started, split, ...requests] as const;
    const s1 = partStarted(requests[1]!, { index: 1 });
    const retry = decide(given(...base, s1), fail(s1));
    expect(types(retry)).toEqual(['PartFailed']);
    expect(retry.kind === 'append' && retry.appends[0].event).toMatchObject({ data: { final: false, retryDelayMs: 750 } });
    const s1c = partStarted(requests[1]!, { index: 1, partAttempt: 3 });
    expect(types(decide(given(...base, s1c), fail(s1c)))).toEqual(['PartFailed', 'JobFailed']);
    expect(types(decide(given(...base, s1), fail(s1, true)))).toEqual(['PartFailed', 'JobFailed']);
  });

  it("a part attempt's appends are refused once it no longer holds the part: another attempt took it, the job was cancelled, or another part failed the job", () => {
    const base = [submitted, started, split, ...requests] as const;
    const s1 = partStarted(requests[1]!, { index: 1 });
    const s1b = partStarted(requests[1]!, { index: 1, partAttempt: 2 });
    expect(partStanding(given(...base, s1), s1)).toBe('holds');
    expect(partStanding(given(...base, s1, partProgressed(s1, { index: 1 }, 10)), s1)).toBe('holds');
    expect(types(decide(given(...base, s1, s1b), complete(s1)))).toEqual(['refused:lost']);
    expect(types(decide(given(...base, s1, jobCancelRequested(s1, 1)), complete(s1)))).toEqual(['refused:cancel-requested']);
    const s2 = partStarted(requests[2]!, { index: 2 });
    expect(types(decide(given(...base, s1, s2, partFailed(s2, { index: 2 }, true), jobFailed(s2, 1, true)), complete(s1)))).toEqual(['refused:lost']);
  });

  it('a job running in parts is cancelled and deleted at once (no one worker holds it), and its work message coming back is stale', () => {
    const history = given(submitted, started, split, ...requests);
    expect(types(decide(history, { kind: 'RequestCancel', jobId: submitted.jobId, scope: { kind: 'all' }, requestedBy: null, reason: null, stamp: stamp() }))).toEqual(['JobCancelRequested', 'JobCancelled']);
    expect(types(decide(history, { kind: 'Delete', jobId: submitted.jobId, scope: { kind: 'all' }, requestedBy: null, reason: 'request', stamp: stamp() }))).toEqual(['JobCancelRequested', 'JobCancelled']);
    expect(types(decide(history, { kind: 'Claim', jobId: submitted.jobId, request: submitted, deliverySeq: 10, workerId: 'w', stamp: stamp() }))).toEqual(['refused:stale']);
    // A whole run is still stopped by its worker.
    expect(types(decide(given(submitted, started), { kind: 'RequestCancel', jobId: submitted.jobId, scope: { kind: 'all' }, requestedBy: null, reason: null, stamp: stamp() }))).toEqual(['JobCancelRequested']);
    // And a completed split job is not cancelled.
    expect(types(decide(given(submitted, started, split, jobCompleted(split, 1)), { kind: 'RequestCancel', jobId: submitted.jobId, scope: { kind: 'all' }, requestedBy: null, reason: null, stamp: stamp() }))).toEqual(['refused:ended']);
  });

  it("a part's or the join's work message whose deliveries ran out fails the job's attempt as a dead letter, unless the attempt no longer runs", () => {
    const exhausted = { consumer: 'workers', deliveries: 5 };
    const deadLetter = (request: (typeof requests)[number]): JobCommand => ({ kind: 'DeadLetterPart', jobId: submitted.jobId, request, deliverySeq: 99, exhausted, stamp: stamp() });
    const decision = decide(given(submitted, started, split, ...requests), deadLetter(requests[1]!));
    expect(types(decision)).toEqual(['JobFailed']);
    expect(decision.kind === 'append' && decision.appends[0].event).toMatchObject({ data: { attempt: 1, final: true, error: { code: 'MAX_DELIVERIES' }, deadLetter: { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: 5, streamSeq: 99 } } });
    expect(types(decide(given(submitted, started, split, ...requests, jobFailed(split, 1, true)), deadLetter(requests[1]!)))).toEqual(['refused:ended']);
    expect(types(decide(given(submitted, started, split, ...requests, jobStarted(split, 2, 'other')), deadLetter(requests[1]!)))).toEqual(['refused:stale']);
  });
});
