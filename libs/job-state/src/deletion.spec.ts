import { describe, expect, it } from '@jest/globals';
import { decodeEvent, type JobEvent } from '@app/contracts';
import {
  jobCancelled,
  jobCancelRequested,
  jobCompleted,
  jobDeleted,
  jobFailed,
  jobProgressed,
  jobRedriven,
  jobStarted,
  videoSubmitted,
} from '../../../test/support/events.js';
import { evolve, fold } from './job-state.js';

describe('evolve: deletion', () => {
  it('given JobDeleted, the job is deleted: it keeps what it was, and points at no result or artifact any more', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const completed = jobCompleted(started, 1, { width: 640 });
    const deleted = jobDeleted(completed, 1, 'request', 'key_a');
    const before = fold([submitted, started, completed])!;
    const state = evolve(before, deleted)!;
    expect(state).toMatchObject({
      status: 'completed',
      completedAt: completed.occurredAt,
      result: null,
      resultRef: null,
      artifacts: [],
      deletedAt: deleted.occurredAt,
      deleteRequest: { at: deleted.occurredAt, by: 'key_a' },
      updatedAt: deleted.occurredAt,
    });
    expect(before.deletedAt).toBeNull();
  });

  it('given a cancel asked for a deletion, the deletion is pending until JobDeleted; a plain cancel asks for none', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const plain = jobCancelRequested(started, 1, 'key_a');
    expect(fold([submitted, started, plain])).toMatchObject({ deleteRequest: null, deletedAt: null });
    const asked = jobCancelRequested(plain, 1, 'key_b', true);
    const cancelled = jobCancelled(asked, 1, 'w-1');
    const state = fold([submitted, started, plain, asked, cancelled])!;
    expect(state).toMatchObject({ status: 'cancelled', deleteRequest: { at: asked.occurredAt, by: 'key_b' }, deletedAt: null });
    // A redrive that raced the deletion keeps it pending.
    expect(evolve(state, jobRedriven(submitted, cancelled, 2))).toMatchObject({ status: 'queued', deleteRequest: { by: 'key_b' } });
  });

  it('a deleted job is frozen: a redrive or any later event changes nothing', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    const failed = jobFailed(started, 1, true);
    const deleted = jobDeleted(failed, 1);
    const state = fold([submitted, started, failed, deleted])!;
    const redriven = jobRedriven(submitted, failed, 2);
    expect(fold([redriven, jobStarted(redriven, 2), jobProgressed(redriven, 50, 2)], state)).toBe(state);
  });

  it('reads a stored JobCancelRequested v1 as v2 without a deletion', () => {
    const v2 = jobCancelRequested(videoSubmitted(), 0, 'key_a');
    const v1 = { ...v2, version: 1, data: { attempt: 0, reason: null, requestedBy: 'key_a' } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(v1)))).toEqual({ ok: true, event: { ...v2, data: { ...v2.data, deletion: false } } });
  });
});
