import { describe, expect, it } from '@jest/globals';
import { isWorkRequest, type JobEvent, type JobScope, type JobStarted, type VideoSubmitted, type WorkRequest } from '@app/contracts';
import {
  jobCancelled,
  jobCancelRequested,
  jobCompleted,
  jobDeadLettered,
  jobDeleted,
  jobFailed,
  jobProgressed,
  jobRedriven,
  jobStarted,
  videoSubmitted,
} from '../../../test/support/events.js';
import { decide, retryDelayMs, type Decision, type JobCommand, type JobHistory, type Stamp, type Stored } from './decide.js';

/** A message of the given stream that this release cannot read (a newer release wrote it), on the lifecycle or the work subject. */
const UNREADABLE = { unreadable: 'lifecycle' } as const;
type Entry = JobEvent | typeof UNREADABLE;

/**
 * The history a stream holding `entries` in this order gives (each at a sequence 3 apart from the
 * one before, as if other jobs' events came in between), and the sequence of each entry. The last
 * entry is the job's last message, whatever its subject.
 */
function given(...entries: Entry[]): { history: JobHistory; seq: (entry: Entry) => number } {
  const seqs = new Map<Entry, number>();
  const history: JobHistory = { submission: null, lifecycle: null, latestWork: null, last: 0 };
  entries.forEach((entry, i) => {
    const seq = 10 + 3 * i;
    seqs.set(entry, seq);
    history.last = seq;
    if ('unreadable' in entry) {
      history.lifecycle = { seq, event: null };
    } else if (isWorkRequest(entry)) {
      const first = history.submission?.event;
      if (entry.type === 'VideoSubmitted' && !history.submission) history.submission = { seq, event: entry };
      // The latest work request on the submission's own subject (a later submission at another priority is on another one).
      if (!first || first.data.priority === entry.data.priority) history.latestWork = { seq, event: entry } as Stored<WorkRequest>;
    } else {
      history.lifecycle = { seq, event: entry };
    }
  });
  return { history, seq: (entry) => seqs.get(entry)! };
}

const AT = '2026-03-01T12:00:00.000Z';
function stamp(): Stamp {
  let n = 0;
  return { at: AT, nextId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
}
const ALL = { kind: 'all' } as const;

const claim = (request: WorkRequest, deliverySeq: number): JobCommand => ({ kind: 'Claim', jobId: request.jobId, request, deliverySeq, workerId: 'w-new', stamp: stamp() });
const progress = (started: JobStarted): JobCommand => ({
  kind: 'Progress',
  jobId: started.jobId,
  started,
  progress: { percent: 40, currentFrame: 4, totalFrames: 10, currentTool: 'probe', toolsCompleted: 0, toolsTotal: 1 },
  stamp: stamp(),
});
const complete = (started: JobStarted): JobCommand => ({
  kind: 'Complete',
  jobId: started.jobId,
  started,
  result: { durationMs: 5, result: { ok: true }, resultRef: null, artifacts: [] },
  stamp: stamp(),
});
const fail = (started: JobStarted, code = 'WORKER_ERROR', options: { permanent?: boolean; previousFailure?: string | null; maxAttempts?: number; jitter?: number } = {}): JobCommand => ({
  kind: 'Fail',
  jobId: started.jobId,
  started,
  failure: { code, message: `failed with ${code}`, permanent: options.permanent ?? false },
  previousFailure: options.previousFailure ?? null,
  maxAttempts: options.maxAttempts ?? 3,
  jitter: options.jitter ?? 0,
  stamp: stamp(),
});
const cancel = (started: JobStarted): JobCommand => ({ kind: 'Cancel', jobId: started.jobId, started, stamp: stamp() });
const requestCancel = (submitted: VideoSubmitted, scope: JobScope = ALL): JobCommand => ({
  kind: 'RequestCancel',
  jobId: submitted.jobId,
  scope,
  requestedBy: 'key_a',
  reason: null,
  stamp: stamp(),
});
const redrive = (submitted: VideoSubmitted): JobCommand => ({ kind: 'Redrive', jobId: submitted.jobId, scope: ALL, requestedBy: 'key_a', stamp: stamp() });
const deadLetter = (request: WorkRequest, deliverySeq: number): JobCommand => ({
  kind: 'DeadLetter',
  jobId: request.jobId,
  request,
  deliverySeq,
  exhausted: { consumer: 'workers', deliveries: 5 },
  stamp: stamp(),
});
const remove = (submitted: VideoSubmitted): JobCommand => ({ kind: 'Delete', jobId: submitted.jobId, scope: ALL, requestedBy: 'key_a', reason: 'request', stamp: stamp() });

/** The appends of a decision as [type, expected sequence, data]; fails when it refused. */
function appends(decision: Decision): Array<[string, number | 'previous', unknown]> {
  if (decision.kind !== 'append') throw new Error(`refused: ${decision.reason}: ${decision.message}`);
  return decision.appends.map(({ event, expectSeq }) => [event.type, expectSeq, event.data]);
}
const refusal = (decision: Decision) => (decision.kind === 'refused' ? decision.reason : 'appended');

const submitted = videoSubmitted();
const started = jobStarted(submitted, 1, 'w-1');

describe('decide: Submit', () => {
  const data = submitted.data;
  it('given no submission, stores the job: VideoSubmitted at the current version, expecting none, with the stamp and the request ids', () => {
    const decision = decide(given().history, { kind: 'Submit', jobId: submitted.jobId, correlationId: 'req-1', data, stamp: stamp() });
    expect(decision).toMatchObject({ kind: 'append', appends: [{ expectSeq: 0, event: { type: 'VideoSubmitted', version: 2, jobId: submitted.jobId, occurredAt: AT, correlationId: 'req-1', causationId: null, data } }] });
  });
  it('given a submission, refuses: the job id (its Idempotency-Key) is taken, whatever the priority', () => {
    const high = videoSubmitted(submitted.jobId, { priority: 'high' });
    expect(refusal(decide(given(high).history, { kind: 'Submit', jobId: submitted.jobId, correlationId: 'req-2', data, stamp: stamp() }))).toBe('already-submitted');
  });
  it('given events under the id but no submission, refuses too: the first event of a job is its submission', () => {
    const { history, seq } = given(started);
    expect(decide(history, { kind: 'Submit', jobId: submitted.jobId, correlationId: 'req-3', data, stamp: stamp() })).toEqual({ kind: 'refused', reason: 'already-submitted', message: expect.any(String), seq: seq(started) });
  });
});

describe('decide: Claim', () => {
  it('given a new submission, starts attempt 1 expecting the submission (the job has nothing after it), caused by the submission', () => {
    const { history, seq } = given(submitted);
    const decision = decide(history, claim(submitted, seq(submitted)));
    expect(appends(decision)).toEqual([['JobStarted', seq(submitted), { workerId: 'w-new', attempt: 1 }]]);
    expect(decision).toMatchObject({ appends: [{ event: { causationId: submitted.eventId, correlationId: submitted.correlationId } }], previousFailure: null });
  });

  it('given a redelivery of a job that ended after it, refuses with ended (the ack was lost)', () => {
    const { history, seq } = given(submitted, started, jobCompleted(started));
    expect(refusal(decide(history, claim(submitted, seq(submitted))))).toBe('ended');
  });

  it('given a failed attempt waiting for its retry, starts the next attempt after it, and names the failure for the escalation rule', () => {
    const failed = jobFailed(started, 1, false, 'TOOL_TIMEOUT');
    const { history, seq } = given(submitted, started, failed);
    const decision = decide(history, claim(submitted, seq(submitted)));
    expect(appends(decision)).toEqual([['JobStarted', seq(failed), { workerId: 'w-new', attempt: 2 }]]);
    expect(decision).toMatchObject({ appends: [{ event: { causationId: failed.eventId } }], previousFailure: 'TOOL_TIMEOUT' });
  });

  it('given a running attempt (its worker died and the message came back), a new attempt takes over', () => {
    const progressed = jobProgressed(started, 30);
    const { history, seq } = given(submitted, started, progressed);
    expect(appends(decide(history, claim(submitted, seq(submitted))))).toEqual([['JobStarted', seq(progressed), { workerId: 'w-new', attempt: 2 }]]);
  });

  it('given a cancel requested before any attempt started, settles it with JobCancelled by this worker, so the job never starts', () => {
    const asked = jobCancelRequested(submitted, 0);
    const { history, seq } = given(submitted, asked);
    expect(appends(decide(history, claim(submitted, seq(submitted))))).toEqual([['JobCancelled', seq(asked), { attempt: 0, cancelledBy: 'w-new' }]]);
  });

  it('given a deleted job, refuses with deleted, a redrive that raced the deletion included', () => {
    const failed = jobFailed(started);
    const deleted = jobDeleted(failed, 1);
    const redriven = jobRedriven(submitted, failed, 2);
    const { history, seq } = given(submitted, started, failed, deleted, redriven);
    expect(refusal(decide(history, claim(redriven, seq(redriven))))).toBe('deleted');
  });

  it('given a redrive after the job ended, starts attempt firstAttempt after the redrive, caused by it', () => {
    const failed = jobFailed(started);
    const redriven = jobRedriven(submitted, failed, 2);
    const { history, seq } = given(submitted, started, failed, redriven);
    const decision = decide(history, claim(redriven, seq(redriven)));
    expect(appends(decision)).toEqual([['JobStarted', seq(redriven), { workerId: 'w-new', attempt: 2 }]]);
    expect(decision).toMatchObject({ appends: [{ event: { causationId: redriven.eventId } }], previousFailure: null });
  });

  describe('defect: a stale work message took over a redriven run', () => {
    // The first run failed and waited for its retry; it was cancelled and redriven meanwhile.
    const failed = jobFailed(started, 1, false, 'WORKER_ERROR');
    const asked = jobCancelRequested(failed, 1);
    const cancelled = jobCancelled(asked, 1);
    const redriven = jobRedriven(submitted, cancelled, 2);
    const restarted = jobStarted(redriven, 2, 'w-2');

    it('given the redriven attempt runs, the old message back from its backoff is refused as stale (acked, skipped)', () => {
      const { history, seq } = given(submitted, started, failed, asked, cancelled, redriven, restarted);
      expect(decide(history, claim(submitted, seq(submitted)))).toEqual({ kind: 'refused', reason: 'stale', message: expect.any(String), seq: seq(redriven) });
    });
    it('given the redrive waits for a worker, the old message is stale too, and the redrive itself starts', () => {
      const { history, seq } = given(submitted, started, failed, asked, cancelled, redriven);
      expect(refusal(decide(history, claim(submitted, seq(submitted))))).toBe('stale');
      expect(appends(decide(history, claim(redriven, seq(redriven))))).toEqual([['JobStarted', seq(redriven), { workerId: 'w-new', attempt: 2 }]]);
    });
    it('given two redrives, the first one is stale once the second is stored', () => {
      const failedAgain = jobFailed(restarted, 2);
      const second = jobRedriven(submitted, failedAgain, 3);
      const { history, seq } = given(submitted, started, failed, asked, cancelled, redriven, restarted, failedAgain, second);
      expect(refusal(decide(history, claim(redriven, seq(redriven))))).toBe('stale');
      expect(appends(decide(history, claim(second, seq(second))))).toEqual([['JobStarted', seq(second), { workerId: 'w-new', attempt: 3 }]]);
    });
  });

  describe('defect: one Idempotency-Key at two priorities ran the job twice', () => {
    // A release before the whole-job check could store the later one; this one cannot (its Submit expects an empty job).
    it('given the job first submitted at high, a later VideoSubmitted at normal is inert: its delivery is refused', () => {
      const first = videoSubmitted(submitted.jobId, { priority: 'high' });
      const later = videoSubmitted(submitted.jobId, { priority: 'normal' });
      const { history, seq } = given(first, later);
      expect(refusal(decide(history, claim(later, seq(later))))).toBe('not-first-submission');
      // The first one starts, after the later one: that is the job's last event, on whichever subject.
      expect(appends(decide(history, claim(first, seq(first))))).toEqual([['JobStarted', seq(later), { workerId: 'w-new', attempt: 1 }]]);
    });
  });

  describe('defect: an unreadable lifecycle event read as a waiting job', () => {
    it('given a last lifecycle message of a type or version this release cannot read, refuses with unreadable and its sequence', () => {
      const { history, seq } = given(submitted, started, jobCompleted(started), UNREADABLE);
      expect(decide(history, claim(submitted, seq(submitted)))).toEqual({ kind: 'refused', reason: 'unreadable', message: expect.any(String), seq: seq(UNREADABLE) });
    });
    it('given a submission this release cannot read, refuses with unreadable', () => {
      const history: JobHistory = { submission: { seq: 10, event: null }, lifecycle: null, latestWork: { seq: 10, event: null }, last: 10 };
      expect(refusal(decide(history, claim(submitted, 10)))).toBe('unreadable');
    });
  });
});

describe('decide: Progress, Complete and Fail of a running attempt', () => {
  it('given its own last event, appends after it', () => {
    const progressed = jobProgressed(started, 20);
    const { history, seq } = given(submitted, started, progressed);
    expect(appends(decide(history, progress(started)))).toEqual([['JobProgressed', seq(progressed), expect.objectContaining({ attempt: 1, percent: 40 })]]);
    expect(appends(decide(history, complete(started)))).toEqual([['JobCompleted', seq(progressed), { attempt: 1, durationMs: 5, result: { ok: true }, resultRef: null, artifacts: [] }]]);
  });

  it('given a cancel request stored before its end (cancel racing completion), refuses with cancel-requested and the request sequence', () => {
    const asked = jobCancelRequested(started, 1);
    const { history, seq } = given(submitted, started, asked);
    expect(decide(history, complete(started))).toEqual({ kind: 'refused', reason: 'cancel-requested', message: expect.any(String), seq: seq(asked) });
    expect(refusal(decide(history, progress(started)))).toBe('cancel-requested');
  });

  it('given the completion stored before the cancel (completion winning the race), the cancel is refused: the job has ended', () => {
    const { history } = given(submitted, started, jobCompleted(started));
    expect(refusal(decide(history, requestCancel(submitted)))).toBe('ended');
  });

  it('given another attempt took the job over, refuses with lost', () => {
    const { history } = given(submitted, started, jobStarted(started, 2, 'w-2'));
    expect(refusal(decide(history, progress(started)))).toBe('lost');
    expect(refusal(decide(history, fail(started)))).toBe('lost');
  });

  it('given an unreadable last event, refuses with unreadable', () => {
    const { history } = given(submitted, started, UNREADABLE);
    expect(refusal(decide(history, complete(started)))).toBe('unreadable');
  });

  describe('the retry rule', () => {
    const { history, seq } = given(submitted, started);
    it('retries a transient failure below the attempt limit, after an equal-jitter backoff', () => {
      expect(appends(decide(history, fail(started, 'WORKER_ERROR', { jitter: 0 })))).toEqual([
        ['JobFailed', seq(started), { attempt: 1, final: false, error: { code: 'WORKER_ERROR', message: 'failed with WORKER_ERROR' }, deadLetter: null, retryDelayMs: 500 }],
      ]);
      expect(appends(decide(history, fail(started, 'WORKER_ERROR', { jitter: 0.5 })))[0]![2]).toMatchObject({ retryDelayMs: 750 });
    });
    it('ends the job at the pipeline attempt limit, and at once for a permanent failure', () => {
      const third = jobStarted(submitted, 3, 'w-3');
      const late = given(submitted, third).history;
      expect(appends(decide(late, fail(third, 'WORKER_ERROR', { maxAttempts: 3 })))[0]![2]).toMatchObject({ final: true, retryDelayMs: null });
      expect(appends(decide(history, fail(started, 'INVALID_MEDIA', { permanent: true })))[0]![2]).toMatchObject({ final: true, retryDelayMs: null });
    });
    it("counts a redrive's attempts from its firstAttempt", () => {
      const failed = jobFailed(started);
      const redriven = jobRedriven(submitted, failed, 4);
      const fourth = jobStarted(redriven, 4, 'w-4');
      const { history: after } = given(submitted, started, failed, redriven, fourth);
      expect(appends(decide(after, fail(fourth, 'WORKER_ERROR', { maxAttempts: 2 })))[0]![2]).toMatchObject({ attempt: 4, final: false, retryDelayMs: 500 });
    });
    it('escalates a second time or memory stop in a row to a final RESOURCE_LIMIT; a first one, or after another failure, is retried', () => {
      const second = jobStarted(submitted, 2, 'w-2');
      const { history: after } = given(submitted, started, jobFailed(started, 1, false, 'TOOL_TIMEOUT'), second);
      expect(appends(decide(after, fail(second, 'RESOURCE_LIMIT', { previousFailure: 'TOOL_TIMEOUT' })))[0]![2]).toMatchObject({
        final: true,
        error: { code: 'RESOURCE_LIMIT', message: 'failed with RESOURCE_LIMIT (the attempt before was stopped for TOOL_TIMEOUT too: not retried again)' },
      });
      expect(appends(decide(after, fail(second, 'TOOL_TIMEOUT', { previousFailure: null })))[0]![2]).toMatchObject({ final: false, error: { code: 'TOOL_TIMEOUT' } });
      expect(appends(decide(after, fail(second, 'TOOL_TIMEOUT', { previousFailure: 'WORKER_ERROR' })))[0]![2]).toMatchObject({ final: false });
    });
    it('doubles the backoff ceiling per attempt up to 60 s, the delay between half of it and all of it', () => {
      expect([1, 2, 3, 8].map((attempt) => [retryDelayMs(attempt, 0), retryDelayMs(attempt, 1)])).toEqual([
        [500, 1000],
        [1000, 2000],
        [2000, 4000],
        [30_000, 60_000],
      ]);
    });
  });
});

describe('decide: Cancel by the worker whose attempt was stopped', () => {
  it('given the request, appends JobCancelled right after it; after a newer request (a DELETE asking again), after that one', () => {
    const asked = jobCancelRequested(started, 1);
    const { history, seq } = given(submitted, started, asked);
    expect(appends(decide(history, cancel(started)))).toEqual([['JobCancelled', seq(asked), { attempt: 1, cancelledBy: 'w-1' }]]);
    const again = jobCancelRequested(asked, 1, 'key_b', true);
    const newer = given(submitted, started, asked, again);
    expect(appends(decide(newer.history, cancel(started)))).toEqual([['JobCancelled', newer.seq(again), { attempt: 1, cancelledBy: 'w-1' }]]);
  });
  it('given the request settled by someone else, refuses with settled', () => {
    const asked = jobCancelRequested(started, 1);
    expect(refusal(decide(given(submitted, started, asked, jobCancelled(asked, 1)).history, cancel(started)))).toBe('settled');
  });
});

describe('decide: RequestCancel', () => {
  it('given a waiting job, cancels it at once: JobCancelRequested, then JobCancelled expecting the first one', () => {
    const { history, seq } = given(submitted);
    const decision = decide(history, requestCancel(submitted));
    expect(appends(decision)).toEqual([
      ['JobCancelRequested', seq(submitted), { attempt: 0, reason: null, requestedBy: 'key_a', deletion: false }],
      ['JobCancelled', 'previous', { attempt: 0, cancelledBy: 'jobs-service' }],
    ]);
    if (decision.kind === 'append') expect(decision.appends[1].event.causationId).toBe(decision.appends[0].event.eventId);
  });
  it('given a running job, only asks: its worker stops the attempt and settles', () => {
    const { history, seq } = given(submitted, started);
    expect(appends(decide(history, requestCancel(submitted)))).toEqual([['JobCancelRequested', seq(started), { attempt: 1, reason: null, requestedBy: 'key_a', deletion: false }]]);
  });
  it('given a request not settled yet, refuses with cancel-requested (answered as the first one was)', () => {
    expect(refusal(decide(given(submitted, started, jobCancelRequested(started, 1)).history, requestCancel(submitted)))).toBe('cancel-requested');
  });
  it("given a job of another tenant, a deleted job or an unreadable history: not-found, deleted, unreadable", () => {
    expect(refusal(decide(given(submitted).history, requestCancel(submitted, { kind: 'tenant', tenant: 'other' })))).toBe('not-found');
    expect(refusal(decide(given().history, requestCancel(submitted)))).toBe('not-found');
    expect(refusal(decide(given(submitted, jobDeleted(submitted)).history, requestCancel(submitted)))).toBe('deleted');
    expect(refusal(decide(given(submitted, started, jobCompleted(started), UNREADABLE).history, requestCancel(submitted)))).toBe('unreadable');
  });
  it("given a submission this release cannot read: unreadable for a caller who sees every tenant, not-found for a tenant's key (whose job it is can't be checked)", () => {
    const history: JobHistory = { submission: { seq: 10, event: null }, lifecycle: null, latestWork: { seq: 10, event: null }, last: 10 };
    expect(refusal(decide(history, requestCancel(submitted)))).toBe('unreadable');
    expect(refusal(decide(history, requestCancel(submitted, { kind: 'tenant', tenant: submitted.data.tenant })))).toBe('not-found');
  });
});

describe('decide: Redrive', () => {
  const failed = jobFailed(started, 1, true);
  it('given a failed job, appends JobRedriven on the work subject expecting the ending (the job\'s last event), from the next attempt, caused by the ending', () => {
    const { history, seq } = given(submitted, started, failed);
    const decision = decide(history, redrive(submitted));
    expect(appends(decision)).toEqual([['JobRedriven', seq(failed), expect.objectContaining({ firstAttempt: 2, requestedBy: 'key_a', priority: 'normal' })]]);
    expect(decision).toMatchObject({ appends: [{ event: { causationId: failed.eventId, correlationId: submitted.correlationId } }] });
  });
  it('given two redrives, the second is refused: the job has not ended since the first', () => {
    const redriven = jobRedriven(submitted, failed, 2);
    expect(refusal(decide(given(submitted, started, failed, redriven).history, redrive(submitted)))).toBe('not-ended');
  });
  it('refuses a running job, a completed one, a deleted one and an unreadable history', () => {
    expect(refusal(decide(given(submitted, started).history, redrive(submitted)))).toBe('not-ended');
    expect(refusal(decide(given(submitted, started, jobCompleted(started)).history, redrive(submitted)))).toBe('completed');
    expect(refusal(decide(given(submitted, started, failed, jobDeleted(failed, 1)).history, redrive(submitted)))).toBe('deleted');
    expect(refusal(decide(given(submitted, started, failed, UNREADABLE).history, redrive(submitted)))).toBe('unreadable');
  });
});

describe('decide: DeadLetter', () => {
  it('given a running attempt whose worker hangs, ends the job: a final JobFailed MAX_DELIVERIES with its dead letter', () => {
    const { history, seq } = given(submitted, started);
    const decision = decide(history, deadLetter(submitted, seq(submitted)));
    expect(appends(decision)).toEqual([
      [
        'JobFailed',
        seq(started),
        {
          attempt: 1,
          final: true,
          error: { code: 'MAX_DELIVERIES', message: expect.stringContaining('delivered 5 times') },
          deadLetter: { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: 5, streamSeq: seq(submitted) },
          retryDelayMs: null,
        },
      ],
    ]);
  });
  it('given no attempt ever started, dead-letters attempt 0 expecting the submission', () => {
    const { history, seq } = given(submitted);
    expect(appends(decide(history, deadLetter(submitted, seq(submitted))))[0]!.slice(0, 2)).toEqual(['JobFailed', seq(submitted)]);
  });
  it('given a late worker that completed first (a dead letter racing it), refuses with ended', () => {
    const { history, seq } = given(submitted, started, jobCompleted(started));
    expect(refusal(decide(history, deadLetter(submitted, seq(submitted))))).toBe('ended');
    expect(refusal(decide(given(submitted, started, jobDeadLettered(started)).history, deadLetter(submitted, 10)))).toBe('ended');
  });
  it('given an advisory about a message older than the latest work request, refuses with stale', () => {
    const failed = jobFailed(started);
    const redriven = jobRedriven(submitted, failed, 2);
    const { history, seq } = given(submitted, started, failed, redriven, jobStarted(redriven, 2, 'w-2'));
    expect(refusal(decide(history, deadLetter(submitted, seq(submitted))))).toBe('stale');
    expect(appends(decide(history, deadLetter(redriven, seq(redriven))))[0]![2]).toMatchObject({ attempt: 2, final: true });
  });
  it('given an unreadable last lifecycle message, refuses with unreadable: the advisory waits for a release that can read it', () => {
    expect(refusal(decide(given(submitted, started, UNREADABLE).history, deadLetter(submitted, 10)))).toBe('unreadable');
  });
});

describe('decide: Delete', () => {
  it("given an ended job, or one that never started, or waits for a retry, deletes it at once expecting the job's last event", () => {
    const completed = jobCompleted(started);
    const ended = given(submitted, started, completed);
    expect(appends(decide(ended.history, remove(submitted)))).toEqual([['JobDeleted', ended.seq(completed), { attempt: 1, reason: 'request', requestedBy: 'key_a' }]]);
    const waiting0 = given(submitted);
    expect(appends(decide(waiting0.history, remove(submitted)))).toEqual([['JobDeleted', waiting0.seq(submitted), { attempt: 0, reason: 'request', requestedBy: 'key_a' }]]);
    const retrying = jobFailed(started, 1, false);
    const waiting = given(submitted, started, retrying);
    expect(appends(decide(waiting.history, remove(submitted)))[0]!.slice(0, 2)).toEqual(['JobDeleted', waiting.seq(retrying)]);
  });
  it('given a running job, or a plain cancel not settled yet, asks it to stop first, with the deletion', () => {
    const running = given(submitted, started);
    expect(appends(decide(running.history, remove(submitted)))).toEqual([['JobCancelRequested', running.seq(started), { attempt: 1, reason: 'the job is being deleted', requestedBy: 'key_a', deletion: true }]]);
    const plain = jobCancelRequested(started, 1);
    expect(appends(decide(given(submitted, started, plain).history, remove(submitted)))[0]![2]).toMatchObject({ deletion: true });
  });
  it('given a deletion already asked for, refuses with deletion-pending; given a deleted job, with deleted', () => {
    const asked = jobCancelRequested(started, 1, 'key_a', true);
    expect(refusal(decide(given(submitted, started, asked).history, remove(submitted)))).toBe('deletion-pending');
    expect(refusal(decide(given(submitted, jobDeleted(submitted)).history, remove(submitted)))).toBe('deleted');
  });
  it('given an unreadable history, refuses with unreadable', () => {
    expect(refusal(decide(given(submitted, started, jobCompleted(started), UNREADABLE).history, remove(submitted)))).toBe('unreadable');
  });
});

describe('decide: one expected sequence for the whole job', () => {
  const failed = jobFailed(started, 1, true);
  it('given a failed job, a redrive (work subject) and a deletion (lifecycle subject) expect the same sequence: of the two, one is stored', () => {
    const { history, seq } = given(submitted, started, failed);
    const [[, redriveExpects]] = appends(decide(history, redrive(submitted)));
    const [[, deleteExpects]] = appends(decide(history, remove(submitted)));
    expect([redriveExpects, deleteExpects]).toEqual([seq(failed), seq(failed)]);
  });
  it('given a redrive waiting for a worker, a cancel, a deletion and the claim of the redrive all expect the redrive', () => {
    const redriven = jobRedriven(submitted, failed, 2);
    const { history, seq } = given(submitted, started, failed, redriven);
    const expected = [decide(history, requestCancel(submitted)), decide(history, remove(submitted)), decide(history, claim(redriven, seq(redriven)))].map((d) => appends(d)[0]![1]);
    expect(expected).toEqual([seq(redriven), seq(redriven), seq(redriven)]);
  });
});
