import { describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { jobCompleted, jobFailed, jobProgressed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { stateAsOf, timeline, type HistoryEntry } from './history.js';
import { fold } from './job-state.js';

/** A job's history as the stream would hold it: other jobs' events in between (seq gaps), stored a second apart. */
function history(events: Array<JobEvent | null>, firstSeq = 10): HistoryEntry[] {
  return events.map((event, i) => ({
    number: i + 1,
    seq: firstSeq + i * 3,
    storedAt: new Date(Date.parse('2026-11-24T10:00:00.000Z') + i * 1000),
    event,
  }));
}

describe('a job as of a point in its history', () => {
  const submitted = videoSubmitted();
  const started = jobStarted(submitted, 1, 'w-1');
  const failed = jobFailed(started, 1, false, 'WORKER_ERROR');
  const restarted = jobStarted(failed, 2, 'w-2');
  const completed = jobCompleted(restarted, 2);
  const events = [submitted, started, failed, restarted, completed];
  const h = history(events); // seqs 10, 13, 16, 19, 22

  it('as of event N is the fold of the first N events', () => {
    for (let n = 1; n <= events.length; n++) {
      const outcome = stateAsOf(h, { kind: 'event', number: n });
      expect(outcome).toMatchObject({ ok: true, entry: { number: n }, total: 5 });
      if (outcome.ok) expect(outcome.state).toEqual(fold(events.slice(0, n)));
    }
    expect(stateAsOf(h, { kind: 'event', number: 1 })).toMatchObject({ ok: true, state: { status: 'queued', attempts: 0 } });
  });

  it('as of seq N is the state after the last of its events at or before N', () => {
    expect(stateAsOf(h, { kind: 'seq', seq: 15 })).toMatchObject({ ok: true, entry: { number: 2, seq: 13 }, state: { status: 'running', workerId: 'w-1' } });
    expect(stateAsOf(h, { kind: 'seq', seq: 16 })).toMatchObject({ ok: true, entry: { number: 3 }, state: { status: 'queued', attempts: 1 } });
    expect(stateAsOf(h, { kind: 'seq', seq: 10_000 })).toMatchObject({ ok: true, entry: { number: 5 }, state: { status: 'completed', attempts: 2 } });
  });

  it('as of a time is the state after the last event stored at or before it', () => {
    expect(stateAsOf(h, { kind: 'time', at: new Date('2026-11-24T10:00:03.000Z') })).toMatchObject({ ok: true, entry: { number: 4 }, state: { workerId: 'w-2' } });
    expect(stateAsOf(h, { kind: 'time', at: new Date('2026-11-24T10:00:02.999Z') })).toMatchObject({ ok: true, entry: { number: 3 } });
  });

  it('is an error before the job existed, past its last event number, and for a job with no events', () => {
    expect(stateAsOf(h, { kind: 'seq', seq: 9 })).toEqual({ ok: false, reason: 'before_job', total: 5 });
    expect(stateAsOf(h, { kind: 'seq', seq: 0 })).toEqual({ ok: false, reason: 'before_job', total: 5 });
    expect(stateAsOf(h, { kind: 'time', at: new Date('2026-11-24T09:59:59.999Z') })).toEqual({ ok: false, reason: 'before_job', total: 5 });
    expect(stateAsOf(h, { kind: 'event', number: 6 })).toEqual({ ok: false, reason: 'past_end', total: 5 });
    expect(stateAsOf([], { kind: 'event', number: 1 })).toEqual({ ok: false, reason: 'no_job', total: 0 });
  });

  it('counts a malformed message as an event that changes nothing', () => {
    const withJunk = history([submitted, null, started]);
    expect(stateAsOf(withJunk, { kind: 'event', number: 2 })).toMatchObject({ ok: true, entry: { number: 2, event: null }, state: { status: 'queued' } });
    expect(stateAsOf(withJunk, { kind: 'event', number: 3 })).toMatchObject({ ok: true, state: { status: 'running' } });
  });
});

describe('timeline', () => {
  it('numbers the events, times the gaps, and names the attempt, worker, status and cause of each', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted, 1, 'w-1');
    const progressed = jobProgressed(started, 50);
    const completed = jobCompleted(progressed, 1);
    const lines = timeline(history([submitted, started, progressed, null, completed]));
    expect(lines.map((l) => [l.number, l.type, l.attempt, l.workerId, l.status, l.causedBy, l.sincePreviousMs])).toEqual([
      [1, 'VideoSubmitted', null, null, 'queued', null, null],
      [2, 'JobStarted', 1, 'w-1', 'running', 1, 1000],
      [3, 'JobProgressed', 1, 'w-1', 'running', 2, 1000],
      [4, 'malformed', null, null, 'running', null, 1000],
      [5, 'JobCompleted', 1, 'w-1', 'completed', 3, 1000],
    ]);
    expect(lines[0]).toMatchObject({ seq: 10, correlationId: submitted.correlationId, causationId: null, eventId: submitted.eventId });
    expect(lines[1]).toMatchObject({ causationId: submitted.eventId, storedAt: '2026-11-24T10:00:01.000Z' });
    expect(lines[2]!.summary).toBe('50% in probe');
  });
});
