import type { LastLifecycle } from './work-phase.js';
import { workPhase } from './work-phase.js';

/**
 * What a deletion of a job may do next, decided from the last event of its lifecycle and the sequence
 * of its latest work request, like every other command (see work-phase.ts):
 * - `gone`: the job is already deleted; there is nothing left to delete (answered as not found).
 * - `delete`: no attempt runs (it ended, or it waits to start or to be retried): append JobDeleted now,
 *   expecting `expectSeq` on the lifecycle subject. A worker that claims the job at the same moment
 *   appends JobStarted against the same sequence, so exactly one of the two wins.
 * - `cancel-first`: an attempt runs (or a cancel without deletion waits to be settled): append a
 *   JobCancelRequested with `deletion: true` expecting `expectSeq`; the job is deleted once it ends.
 * - `wait`: a deletion is already requested and the job has not ended yet; ask nothing new.
 * `attempt` is the job's latest attempt, which the appended event carries.
 */
export type DeletionStep =
  | { kind: 'gone'; attempt: number }
  | { kind: 'delete'; expectSeq: number; attempt: number }
  | { kind: 'cancel-first'; expectSeq: number; attempt: number }
  | { kind: 'wait'; attempt: number };

export function decideDeletion(last: LastLifecycle | null, workSeq: number): DeletionStep {
  const phase = workPhase(last, workSeq);
  const expectSeq = last?.seq ?? 0;
  switch (phase.kind) {
    case 'deleted':
      return { kind: 'gone', attempt: phase.attempt };
    case 'ended':
    case 'waiting':
      return { kind: 'delete', expectSeq, attempt: phase.attempt };
    case 'running':
      return { kind: 'cancel-first', expectSeq, attempt: phase.attempt };
    case 'cancel-requested': {
      const event = last?.event;
      const asked = event?.type === 'JobCancelRequested' && event.data.deletion;
      return asked ? { kind: 'wait', attempt: phase.attempt } : { kind: 'cancel-first', expectSeq, attempt: phase.attempt };
    }
  }
}
