import { attemptOf, isTerminal, type JobEvent } from '@app/contracts';

/** The last event on a job's lifecycle subject, with its stream sequence. */
export interface LastLifecycle {
  seq: number;
  /** Null when the message there is not a valid event (it still holds the sequence). */
  event: JobEvent | null;
}

/**
 * Where a job stands with respect to its latest work request (its submission or a redrive, stored at
 * stream sequence `workSeq`), decided from the last event of its lifecycle alone:
 * - `ended`: a terminal event came after the request; nothing is left to do for it.
 * - `cancel-requested`: a cancel waits to be settled with `JobCancelled` by whoever holds the job.
 * - `running`: an attempt has started and not ended.
 * - `waiting`: no attempt runs (never started, waiting for a retry, or redriven after its end).
 * - `deleted`: the job is deleted (its last event is JobDeleted); nothing may run or change it again,
 *   whatever work request comes after (a redrive that raced the deletion).
 * `attempt` is the attempt the last event belongs to; the next one to start is `attempt + 1`.
 */
export type WorkPhase =
  | { kind: 'deleted'; attempt: number }
  | { kind: 'ended'; attempt: number }
  | { kind: 'cancel-requested'; attempt: number }
  | { kind: 'running'; attempt: number }
  | { kind: 'waiting'; attempt: number };

export function workPhase(last: LastLifecycle | null, workSeq: number): WorkPhase {
  const event = last?.event ?? null;
  if (!last || !event) return { kind: 'waiting', attempt: 0 };
  const attempt = attemptOf(event);
  if (event.type === 'JobDeleted') return { kind: 'deleted', attempt };
  if (isTerminal(event)) return last.seq > workSeq ? { kind: 'ended', attempt } : { kind: 'waiting', attempt };
  switch (event.type) {
    case 'JobCancelRequested':
      return { kind: 'cancel-requested', attempt };
    case 'JobStarted':
    case 'JobProgressed':
      return { kind: 'running', attempt };
    default:
      // A JobFailed that is not final: the attempt ended and the next waits for its retry.
      return { kind: 'waiting', attempt };
  }
}
