import { describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { jobCancelled, jobCancelRequested, jobCompleted, jobDeadLettered, jobFailed, jobRedriven, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { evolve, fold, foldWithMeta, toJobView } from './job-state.js';

describe('evolve', () => {
  it('given a second VideoSubmitted of the job (one Idempotency-Key at another priority), changes nothing: the first one is the job', () => {
    const first = videoSubmitted(undefined, { priority: 'high', pipeline: 'probe' });
    const later = videoSubmitted(first.jobId, { priority: 'normal', pipeline: 'noop' });
    const state = fold([first])!;
    expect(evolve(state, later)).toBe(state);
  });

  it('given VideoSubmitted, the job is queued with its pipeline, params and video', () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'probe', params: { a: 1 } });
    const state = evolve(null, submitted)!;
    expect(state).toMatchObject({
      jobId: submitted.jobId,
      status: 'queued',
      pipeline: 'probe',
      params: { a: 1 },
      attempts: 0,
      progress: 0,
      workerId: null,
      createdAt: submitted.occurredAt,
      updatedAt: submitted.occurredAt,
      correlationId: submitted.correlationId,
    });
    expect(state.video.sha256).toBe('a'.repeat(64));
  });

  it("keeps the trace its VideoSubmitted was appended in (the message's, not the body's) through the job's life; untraced, none", () => {
    const submitted = videoSubmitted();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const later = [jobStarted(submitted, 1, 'w-1'), jobCompleted(submitted, 1)];
    // A later event's trace (its attempt's, say) is not the job's.
    const state = foldWithMeta([{ event: submitted, traceId }, ...later.map((event) => ({ event, traceId: 'f'.repeat(32) }))])!;
    expect(state.traceId).toBe(traceId);
    expect(toJobView(state, 3).trace_id).toBe(traceId);
    expect(evolve(state, videoSubmitted(submitted.jobId), { traceId: 'e'.repeat(32) })!.traceId).toBe(traceId);
    expect(fold([submitted, ...later])!.traceId).toBeNull();
  });

  it('given JobStarted, the job runs on that worker as that attempt', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted, 1, 'w-7');
    const state = fold([submitted, started])!;
    expect(state).toMatchObject({ status: 'running', attempts: 1, workerId: 'w-7', startedAt: started.occurredAt, updatedAt: started.occurredAt });
  });

  it('given JobCompleted, the job is completed with its result and 100% progress', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const completed = jobCompleted(started, 1, { width: 640 });
    const state = fold([submitted, started, completed])!;
    expect(state).toMatchObject({ status: 'completed', progress: 100, result: { width: 640 }, durationMs: 42, completedAt: completed.occurredAt, error: null });
  });

  it('given a final JobFailed, the job is failed with the error', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const failed = jobFailed(started, 1, true, 'INVALID_MEDIA');
    const state = fold([submitted, started, failed])!;
    expect(state).toMatchObject({ status: 'failed', error: { code: 'INVALID_MEDIA' }, completedAt: failed.occurredAt });
  });

  it('given a dead-lettering JobFailed, the job is failed and a dead letter; a new attempt takes it off the list', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted, 3);
    const dead = jobDeadLettered(started, 3, 10, 42);
    const state = fold([submitted, started, dead])!;
    expect(state).toMatchObject({
      status: 'failed',
      error: { code: 'MAX_DELIVERIES' },
      deadLetter: { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: 10, streamSeq: 42, at: dead.occurredAt },
    });
    expect(toJobView(state, 9).dead_letter).toEqual({ reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: 10, stream_seq: 42, at: dead.occurredAt });
    expect(evolve(state, jobStarted(dead, 4))).toMatchObject({ status: 'running', deadLetter: null });
    expect(fold([submitted, started, jobFailed(started, 3, true, 'TOOL_FAILED')])).toMatchObject({ status: 'failed', deadLetter: null });
  });

  it('given a JobFailed that is not final, the job waits for its next attempt, keeping the error', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const state = fold([submitted, started, jobFailed(started, 1, false, 'WORKER_ERROR')])!;
    expect(state).toMatchObject({ status: 'queued', attempts: 1, completedAt: null, error: { code: 'WORKER_ERROR' } });
  });

  it('a second attempt clears the previous error and counts the attempt', () => {
    const submitted = videoSubmitted();
    const first = jobStarted(submitted, 1, 'w-1');
    const failed = jobFailed(first, 1, false, 'WORKER_ERROR');
    const second = jobStarted(failed, 2, 'w-2');
    const state = fold([submitted, first, failed, second])!;
    expect(state).toMatchObject({ status: 'running', attempts: 2, workerId: 'w-2', error: null });
  });

  it('lifecycle events of a job that was never submitted leave no state', () => {
    const orphan = jobStarted(videoSubmitted());
    expect(evolve(null, orphan)).toBeNull();
  });

  it('a repeated VideoSubmitted does not reset the job', () => {
    const submitted = videoSubmitted();
    const running = fold([submitted, jobStarted(submitted)]);
    expect(evolve(running, { ...submitted })).toBe(running);
  });

  it('normalizes event times to UTC ISO strings', () => {
    const submitted = { ...videoSubmitted(), occurredAt: '2026-03-01T12:00:00.000+02:00' };
    expect(evolve(null, submitted)!.createdAt).toBe('2026-03-01T10:00:00.000Z');
  });

  it('is pure: it never changes the state it is given', () => {
    const submitted = videoSubmitted();
    const queued = evolve(null, submitted)!;
    const snapshot = structuredClone(queued);
    evolve(queued, jobStarted(submitted));
    expect(queued).toEqual(snapshot);
  });
});

describe('toJobView', () => {
  it('shows the state in the API shape with the last sequence', () => {
    const submitted = videoSubmitted();
    const view = toJobView(evolve(null, submitted)!, 17);
    expect(view).toMatchObject({
      job_id: submitted.jobId,
      status: 'queued',
      last_seq: 17,
      video: { filename: 'clip.mp4', size: 1234, content_type: 'video/mp4', sha256: 'a'.repeat(64) },
    });
    expect(Object.keys(view)).toEqual(
      expect.arrayContaining(['job_id', 'status', 'pipeline', 'progress', 'attempts', 'worker_id', 'created_at', 'updated_at', 'started_at', 'completed_at', 'error', 'result', 'video']),
    );
  });
});

describe('cancel and redrive', () => {
  it('given JobCancelRequested, a running job keeps running, with when the cancel was asked', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted, 1, 'w-1');
    const asked = jobCancelRequested(started, 1);
    const state = fold([submitted, started, asked])!;
    expect(state).toMatchObject({ status: 'running', workerId: 'w-1', cancelRequestedAt: asked.occurredAt, completedAt: null });
    expect(toJobView(state, 3)).toMatchObject({ status: 'running', cancel_requested_at: asked.occurredAt });
  });

  it('given JobCancelled, the job is cancelled, ended, with no error', () => {
    const submitted = videoSubmitted();
    const asked = jobCancelRequested(submitted, 0);
    const cancelled = jobCancelled(asked, 0);
    const state = fold([submitted, asked, cancelled])!;
    expect(state).toMatchObject({ status: 'cancelled', attempts: 0, completedAt: cancelled.occurredAt, cancelRequestedAt: asked.occurredAt, error: null });
  });

  it('given JobRedriven after a dead letter, the job is queued again, off the dead-letter list, with nothing of the run that ended', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const dead = jobDeadLettered(started, 1);
    const redriven = jobRedriven(submitted, dead, 2);
    const state = fold([submitted, started, dead, redriven])!;
    expect(state).toMatchObject({ status: 'queued', attempts: 1, error: null, deadLetter: null, completedAt: null, progress: 0, cancelRequestedAt: null, updatedAt: redriven.occurredAt });
    const restarted = jobStarted(redriven, 2, 'w-2');
    expect(evolve(state, restarted)).toMatchObject({ status: 'running', attempts: 2, workerId: 'w-2' });
  });
});
