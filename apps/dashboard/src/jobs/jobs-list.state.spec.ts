import { describe, expect, it } from '@jest/globals';
import type { JobChange, JobView } from '@app/contracts';
import { applyChange, cancellable, rememberDeleted, shownStatus, withoutDeleted } from './jobs-list.state';

const ID = '0193a0b0-0000-7000-8000-000000000001';
const OTHER = '0193a0b0-0000-7000-8000-000000000002';

const change = (seq: number, over: Partial<JobChange>): JobChange => ({
  seq,
  job_id: ID,
  tenant: 'acme',
  type: 'JobStarted',
  occurred_at: new Date(1_800_000_000_000 + seq * 1000).toISOString(),
  correlation_id: 'req-1',
  status: 'running',
  progress: 0,
  attempt: 1,
  worker_id: 'w1',
  error: null,
  submitted: null,
  ...over,
});

const submitted = (seq: number, jobId = ID, pipeline = 'probe'): JobChange =>
  change(seq, { job_id: jobId, type: 'VideoSubmitted', status: 'queued', attempt: 0, worker_id: null, submitted: { pipeline, priority: 'normal', filename: 'clip.mp4', size: 10 } });

const opts = { firstPage: true, limit: 20 };

describe('the jobs list under live changes', () => {
  it('shows a new job at the top of the first page, then follows it to completion', () => {
    let rows: JobView[] = [];
    rows = applyChange(rows, submitted(1), {}, opts);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ job_id: ID, status: 'queued', pipeline: 'probe', video: { filename: 'clip.mp4' } });
    rows = applyChange(rows, change(2, {}), {}, opts);
    rows = applyChange(rows, change(3, { type: 'JobProgressed', progress: 40 }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'running', progress: 40, attempts: 1, worker_id: 'w1' });
    rows = applyChange(rows, change(4, { type: 'JobCompleted', status: 'completed', progress: 100, worker_id: null }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'completed', progress: 100, worker_id: 'w1', last_seq: 4 });
  });

  it('shows a running job as cancelling once a cancel is asked for, then cancelled; a redrive queues it again', () => {
    let rows = applyChange([], submitted(1), {}, opts);
    rows = applyChange(rows, change(2, {}), {}, opts);
    expect(cancellable(rows[0]!)).toBe(true);
    rows = applyChange(rows, change(3, { type: 'JobCancelRequested', status: null, progress: null }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'running', cancel_requested_at: change(3, {}).occurred_at });
    expect([shownStatus(rows[0]!), cancellable(rows[0]!)]).toEqual(['cancelling', false]);
    rows = applyChange(rows, change(4, { type: 'JobCancelled', status: 'cancelled', progress: null }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'cancelled', completed_at: change(4, {}).occurred_at });
    expect(shownStatus(rows[0]!)).toBe('cancelled');
    rows = applyChange(rows, change(5, { type: 'JobRedriven', status: 'queued', progress: 0, attempt: 1, worker_id: null }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'queued', completed_at: null, cancel_requested_at: null, error: null });
    expect(cancellable(rows[0]!)).toBe(true);
  });

  it('removes a deleted job from the list', () => {
    let rows = applyChange([], submitted(1), {}, opts);
    rows = applyChange(rows, change(2, { type: 'JobCompleted', status: 'completed', progress: 100 }), {}, opts);
    expect(rows).toHaveLength(1);
    rows = applyChange(rows, change(3, { type: 'JobDeleted', status: null, progress: null }), {}, opts);
    expect(rows).toEqual([]);
  });

  it('ignores a change the row already reflects (snapshot and feed overlap)', () => {
    let rows = applyChange([], submitted(1), {}, opts);
    rows = applyChange(rows, change(5, { type: 'JobCompleted', status: 'completed', progress: 100 }), {}, opts);
    const same = applyChange(rows, change(3, { type: 'JobProgressed', progress: 30 }), {}, opts);
    expect(same).toBe(rows);
  });

  it('never moves progress backwards within an attempt, but restarts it for a new attempt', () => {
    let rows = applyChange([], submitted(1), {}, opts);
    rows = applyChange(rows, change(2, {}), {}, opts);
    rows = applyChange(rows, change(3, { type: 'JobProgressed', progress: 60 }), {}, opts);
    rows = applyChange(rows, change(4, { type: 'JobProgressed', progress: 50 }), {}, opts);
    expect(rows[0]!.progress).toBe(60);
    rows = applyChange(rows, change(5, { type: 'JobFailed', status: 'queued', progress: 0, error: { code: 'TOOL_FAILED', message: 'x' } }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'queued', progress: 0, error: { code: 'TOOL_FAILED' } });
    rows = applyChange(rows, change(6, { attempt: 2 }), {}, opts);
    expect(rows[0]).toMatchObject({ status: 'running', attempts: 2, error: null });
  });

  it('adds new jobs only on the first page and only when they match the filter', () => {
    expect(applyChange([], submitted(1), {}, { firstPage: false, limit: 20 })).toHaveLength(0);
    expect(applyChange([], submitted(1), { status: 'failed' }, opts)).toHaveLength(0);
    expect(applyChange([], submitted(1, ID, 'probe'), { pipeline: 'thumbnails' }, opts)).toHaveLength(0);
    expect(applyChange([], submitted(1, ID, 'probe'), { pipeline: 'probe', status: 'queued' }, opts)).toHaveLength(1);
    // A change for a job that is not on screen and is no submission is ignored.
    expect(applyChange([], change(2, { job_id: OTHER }), {}, opts)).toHaveLength(0);
  });

  it('keeps the page at its size', () => {
    let rows: JobView[] = [];
    for (let i = 1; i <= 5; i++) rows = applyChange(rows, submitted(i, `0193a0b0-0000-7000-8000-00000000000${i}`), {}, { firstPage: true, limit: 3 });
    expect(rows.map((r) => r.job_id.slice(-1))).toEqual(['5', '4', '3']);
  });
});

describe('jobs heard deleted', () => {
  it('are left out of a page loaded after the JobDeleted went by (the read model may not have caught up)', () => {
    const kept = { job_id: '0193a0b0-0000-7000-8000-0000000000a1' } as JobView;
    const gone = { job_id: '0193a0b0-0000-7000-8000-0000000000a2' } as JobView;
    rememberDeleted({ type: 'JobCompleted', job_id: kept.job_id });
    expect(withoutDeleted([kept, gone])).toEqual([kept, gone]);
    rememberDeleted({ type: 'JobDeleted', job_id: gone.job_id });
    expect(withoutDeleted([kept, gone])).toEqual([kept]);
  });
});
