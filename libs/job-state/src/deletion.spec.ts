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
import { decideDeletion } from './deletion.js';
import { evolve, fold } from './job-state.js';
import { workPhase } from './work-phase.js';

const at = (seq: number, event: JobEvent | null) => ({ seq, event });

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

describe('workPhase and decideDeletion', () => {
  const submitted = videoSubmitted();
  const started = jobStarted(submitted, 1);
  const completed = jobCompleted(started);

  it('a JobDeleted makes the job deleted for every work request, a redrive after it included', () => {
    const deleted = jobDeleted(completed, 1);
    expect(workPhase(at(4, deleted), 1)).toEqual({ kind: 'deleted', attempt: 1 });
    expect(workPhase(at(4, deleted), 9)).toEqual({ kind: 'deleted', attempt: 1 });
    expect(decideDeletion(at(4, deleted), 1)).toEqual({ kind: 'gone', attempt: 1 });
  });

  it('deletes at once a job that ended, that never started or that waits for a retry, expecting its last lifecycle sequence', () => {
    expect(decideDeletion(at(3, completed), 1)).toEqual({ kind: 'delete', expectSeq: 3, attempt: 1 });
    expect(decideDeletion(null, 1)).toEqual({ kind: 'delete', expectSeq: 0, attempt: 0 });
    expect(decideDeletion(at(3, jobFailed(started, 1, false)), 1)).toEqual({ kind: 'delete', expectSeq: 3, attempt: 1 });
    expect(decideDeletion(at(3, jobCancelled(started, 1)), 1)).toEqual({ kind: 'delete', expectSeq: 3, attempt: 1 });
  });

  it('cancels first a running job, or one whose plain cancel is not settled yet; then waits', () => {
    expect(decideDeletion(at(2, started), 1)).toEqual({ kind: 'cancel-first', expectSeq: 2, attempt: 1 });
    expect(decideDeletion(at(3, jobProgressed(started, 40)), 1)).toEqual({ kind: 'cancel-first', expectSeq: 3, attempt: 1 });
    expect(decideDeletion(at(3, jobCancelRequested(started, 1)), 1)).toEqual({ kind: 'cancel-first', expectSeq: 3, attempt: 1 });
    expect(decideDeletion(at(4, jobCancelRequested(started, 1, 'key_a', true)), 1)).toEqual({ kind: 'wait', attempt: 1 });
  });
});
