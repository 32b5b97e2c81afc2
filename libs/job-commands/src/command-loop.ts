import { isPartEvent, isPartWork, isWorkRequest, type JobEvent, type JobSplit, type VideoSubmitted, type WorkRequest } from '@app/contracts';
import { ConcurrencyError, type EventStore, type SubjectEntry } from '@app/event-store';
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
   * submission assumes a job with nothing after it; a running attempt knows its own last event; a new
   * job id has nothing). A refused append reads the real one: the server checks every append against
   * the job's real last event, so a wrong assumption costs a round, never a wrong append.
   */
  assumed?: JobHistory;
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
  let history = options.assumed ?? (await readJobHistory(store, command.jobId));
  let next: Decision | null = null;
  for (let round = 1; ; round++) {
    const decision = next ?? decide(history, command);
    next = null;
    if (decision.kind === 'refused') return { kind: 'refused', decision, history };
    const stored: StoredAppend[] = [];
    try {
      if (decision.atomic) {
        const [first, ...rest] = decision.appends;
        const expected = first.expectSeq === 'previous' ? history.last : first.expectSeq;
        const appending = store.appendAtomic([first.event, ...rest.map((a) => a.event)], expected);
        options.sending?.();
        const results = await appending;
        if (results[0]!.duplicate) throw new ConcurrencyError(store.subjects.ofJob(command.jobId), expected);
        decision.appends.forEach(({ event }, i) => stored.push({ event, seq: results[i]!.seq }));
      }
      for (const { event, expectSeq } of decision.atomic ? [] : decision.appends) {
        const expected = expectSeq === 'previous' ? stored.at(-1)!.seq : expectSeq;
        const appending = store.append(event, expected);
        if (stored.length === 0) options.sending?.();
        const result = await appending;
        if (result.duplicate) throw new ConcurrencyError(store.subjects.ofJob(command.jobId), expected);
        stored.push({ event, seq: result.seq });
      }
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      const [first, ...rest] = stored;
      if (first) return { kind: 'appended', stored: [first, ...rest], complete: false, history: after(history, stored), decision };
      if (round >= MAX_ROUNDS || (round >= rounds && !options.pastRounds)) throw error;
      history = await readJobHistory(store, command.jobId);
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
 * What the stream says of a job (see JobHistory): its first submission, and the last message of each
 * of its subjects as of one moment (EventStore.lastPerSubjectOfJob), from which its lifecycle, its
 * latest work request and its last sequence are taken together, so that the sequence every append
 * expects is never newer than what the decision was made from. Two direct gets, at once. A
 * submission the caller already read is not read again (a job's first submission never changes).
 */
export async function readJobHistory(store: EventStore, jobId: string, submission?: Stored<VideoSubmitted>): Promise<JobHistory> {
  const [first, latest] = await Promise.all([submission ? null : store.firstSubmission(jobId), store.lastPerSubjectOfJob(jobId)]);
  const known: Stored<VideoSubmitted> | null =
    submission ??
    (!first
      ? null
      : first.ok && first.stored.event.type === 'VideoSubmitted'
        ? { seq: first.stored.seq, event: first.stored.event }
        : { seq: first.ok ? first.stored.seq : first.malformed.seq, event: null });
  return historyOf(store, jobId, known, latest);
}

/** The history of a job from its first submission and the last message of each of its subjects, read together. */
function historyOf(store: EventStore, jobId: string, submission: Stored<VideoSubmitted> | null, latest: SubjectEntry[]): JobHistory {
  const lifecycleSubject = store.subjects.lifecycle(jobId);
  // Redrives keep the job's priority, so they share the submission's subject.
  const priority = submission?.event?.data.priority;
  const workSubject = priority ? store.subjects.submitted(jobId, priority) : null;
  const lifecycle = latest.find((entry) => entry.subject === lifecycleSubject);
  const work = latest.find((entry) => entry.subject === workSubject);
  const splitSubject = store.subjects.split(jobId);
  const split = latest.find((entry) => entry.subject === splitSubject);
  const parts = new Map<number, Stored<JobEvent>>();
  for (const entry of latest) {
    const parsed = store.subjects.parse(entry.subject);
    if (parsed?.role === 'part' && parsed.index !== undefined) parts.set(parsed.index, { seq: entry.seq, event: entry.event });
  }
  return {
    submission,
    lifecycle: lifecycle ? { seq: lifecycle.seq, event: lifecycle.event } : null,
    latestWork: work ? workEntry(work) : submission,
    last: latest.reduce((max, entry) => Math.max(max, entry.seq), 0),
    split: split ? { seq: split.seq, event: split.event?.type === 'JobSplit' ? split.event : null } : null,
    parts,
  };
}

/** The stamp of events decided now: this clock's time and this generator's ids. */
export function stampNow(clock: Clock, ids: IdGenerator): Stamp {
  return { at: clock.now().toISOString(), nextId: () => ids.next() };
}

/**
 * The history a worker assumes on the first delivery of a submission: the job has nothing but it.
 * Its claim expects the submission to be the job's last event, which the server checks.
 */
export function firstDeliveryHistory(request: VideoSubmitted, seq: number): JobHistory {
  return { submission: { seq, event: request }, lifecycle: null, latestWork: { seq, event: request }, last: seq };
}

/** The history of a job id that was just made up: nothing. */
export const NO_JOB: JobHistory = { submission: null, lifecycle: null, latestWork: null, last: 0 };

function workEntry(entry: SubjectEntry): Stored<WorkRequest> {
  const event = entry.event;
  return { seq: entry.seq, event: event && isWorkRequest(event) ? event : null };
}

/** The history after `stored` were appended to it. */
function after(history: JobHistory, stored: StoredAppend[]): JobHistory {
  let next = history;
  for (const { event, seq } of stored) {
    if (event.type === 'VideoSubmitted') next = { ...next, submission: next.submission ?? { seq, event }, latestWork: next.latestWork ?? { seq, event } };
    else if (event.type === 'JobRedriven') next = { ...next, latestWork: { seq, event } };
    else if (event.type === 'JobSplit') next = { ...next, split: { seq, event: event satisfies JobSplit } };
    else if (isPartEvent(event)) next = { ...next, parts: new Map(next.parts ?? []).set(event.data.index, { seq, event }) };
    else if (!isPartWork(event)) next = { ...next, lifecycle: { seq, event } };
    next = { ...next, last: seq };
  }
  return next;
}
