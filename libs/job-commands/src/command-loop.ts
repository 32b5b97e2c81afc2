import { isWorkRequest, type JobEvent, type JobPriority, type VideoSubmitted, type WorkRequest } from '@app/contracts';
import { ConcurrencyError, type EventStore } from '@app/event-store';
import { decide, type Decision, type JobCommand, type JobHistory, type Stamp, type Stored } from '@app/job-state';
import type { Clock, IdGenerator } from '@app/runtime';

/**
 * How many times a command is decided in a row when its appends are refused (someone else appended
 * first each time): a job has few actors (a worker, a request, the dead-letter handler), so more
 * than this in a row means something is wrong, and the command fails.
 */
export const MAX_ROUNDS = 5;

/** One event a command stored, with its stream sequence. */
export interface StoredAppend {
  event: JobEvent;
  seq: number;
}

export type CommandOutcome =
  /**
   * The decision's events were stored in order. `complete` is false when a later one was refused
   * (someone settled the job first: the jobs service's JobCancelled after its JobCancelRequested,
   * when a worker settled the request meanwhile). `history` is the job's history after them.
   */
  | { kind: 'appended'; stored: [StoredAppend, ...StoredAppend[]]; complete: boolean; history: JobHistory; decision: Extract<Decision, { kind: 'append' }> }
  /** Nothing was stored: `decision` says why, from `history`. */
  | { kind: 'refused'; decision: Extract<Decision, { kind: 'refused' }>; history: JobHistory };

export interface RunOptions {
  /**
   * The history to decide the first round from, without reading it (the worker's first delivery of a
   * submission assumes a job with no lifecycle yet; a running attempt knows its own last event). A
   * refused append reads the real one.
   */
  assumed?: JobHistory;
  /** The job's priority when the caller knows it: the reads of the history then go out together. */
  priority?: JobPriority;
  /** At most this many rounds instead of MAX_ROUNDS (a claim that loses a race after reading walks away). */
  rounds?: number;
  /**
   * Past `rounds` (and up to MAX_ROUNDS), whether the decision made again from a fresh read is still
   * acted on: a refusal returned, an append tried. When not (the default), the ConcurrencyError is
   * thrown. A claim that lost a race walks away rather than take the job over from the attempt that
   * won, but a cancel it was settling is settled (after a newer request) or found settled.
   */
  pastRounds?: (decision: Decision) => boolean;
  /** Called right after the first append is handed to the connection, in the same turn. */
  sending?: () => void;
}

/**
 * The one loop around `decide`: reads the job's history from the stream, decides, appends the
 * decision's events with the sequences they expect and, when an append is refused because someone
 * else appended first (ConcurrencyError, or a duplicate event id), reads again and decides again,
 * at most MAX_ROUNDS times. Any other error is the caller's.
 */
export async function runCommand(store: EventStore, command: JobCommand, options: RunOptions = {}): Promise<CommandOutcome> {
  const rounds = options.rounds ?? MAX_ROUNDS;
  let history = options.assumed ?? (await readJobHistory(store, command.jobId, options.priority));
  let next: Decision | null = null;
  for (let round = 1; ; round++) {
    const decision = next ?? decide(history, command);
    next = null;
    if (decision.kind === 'refused') return { kind: 'refused', decision, history };
    const stored: StoredAppend[] = [];
    try {
      for (const { event, expectSeq } of decision.appends) {
        const expected = expectSeq === 'previous' ? stored.at(-1)!.seq : expectSeq;
        const appending = store.append(event, expected);
        if (stored.length === 0) options.sending?.();
        const result = await appending;
        if (result.duplicate) throw new ConcurrencyError(store.subjectOf(event), expected);
        stored.push({ event, seq: result.seq });
      }
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      const [first, ...rest] = stored;
      if (first) return { kind: 'appended', stored: [first, ...rest], complete: false, history: after(history, stored), decision };
      if (round >= MAX_ROUNDS || (round >= rounds && !options.pastRounds)) throw error;
      history = await readJobHistory(store, command.jobId, options.priority);
      if (round >= rounds) {
        next = decide(history, command);
        if (!options.pastRounds!(next)) throw error;
      }
      continue;
    }
    const [first, ...rest] = stored;
    return { kind: 'appended', stored: [first!, ...rest], complete: true, history: after(history, stored), decision };
  }
}

/**
 * What the stream says of a job (see JobHistory): its first submission, the last message of its
 * lifecycle, and the last work request on the submission's subject. Direct gets, at once when the
 * priority is known (the work subject is then known too); else the work request after the submission.
 */
export async function readJobHistory(store: EventStore, jobId: string, priority?: JobPriority): Promise<JobHistory> {
  const work = (p: JobPriority) => store.lastEntryOn(store.subjects.submitted(jobId, p));
  const [first, lifecycle, guessed] = await Promise.all([store.firstSubmission(jobId), store.lastLifecycleEntry(jobId), priority ? work(priority) : null]);
  const submission: Stored<VideoSubmitted> | null = !first
    ? null
    : first.ok && first.stored.event.type === 'VideoSubmitted'
      ? { seq: first.stored.seq, event: first.stored.event }
      : { seq: first.ok ? first.stored.seq : first.malformed.seq, event: null };
  const actual = submission?.event?.data.priority;
  // Redrives keep the job's priority, so they share the submission's exact subject.
  const latest = !actual ? guessed : actual === priority ? guessed : await work(actual);
  return { submission, lifecycle, latestWork: latest ? workEntry(latest) : submission };
}

/** The stamp of events decided now: this clock's time and this generator's ids. */
export function stampNow(clock: Clock, ids: IdGenerator): Stamp {
  return { at: clock.now().toISOString(), nextId: () => ids.next() };
}

/** The history a worker assumes on the first delivery of a submission: the job has nothing but it. */
export function firstDeliveryHistory(request: VideoSubmitted, seq: number): JobHistory {
  return { submission: { seq, event: request }, lifecycle: null, latestWork: { seq, event: request } };
}

function workEntry(entry: { seq: number; event: JobEvent | null }): Stored<WorkRequest> {
  const event = entry.event;
  return { seq: entry.seq, event: event && isWorkRequest(event) ? event : null };
}

/** The history after `stored` were appended to it. */
function after(history: JobHistory, stored: StoredAppend[]): JobHistory {
  let next = history;
  for (const { event, seq } of stored) {
    if (event.type === 'VideoSubmitted') next = { ...next, submission: next.submission ?? { seq, event }, latestWork: next.latestWork ?? { seq, event } };
    else if (event.type === 'JobRedriven') next = { ...next, latestWork: { seq, event } };
    else next = { ...next, lifecycle: { seq, event } };
  }
  return next;
}
