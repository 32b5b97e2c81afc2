import type { AsOfPoint, JobEvent } from '@app/contracts';
import { evolve, type EventMeta, type JobState } from './job-state.js';

/**
 * One message of a job's history, in stream order. `number` is the job's own event number (its
 * aggregate version, 1-based), counting every message on the job's subjects; `event` is null for a
 * message that could not be read as an event (it folds to nothing but keeps its number).
 */
export interface HistoryEntry extends EventMeta {
  number: number;
  seq: number;
  storedAt: Date;
  event: JobEvent | null;
}

export type AsOfOutcome =
  | { ok: true; state: JobState; entry: HistoryEntry; total: number }
  /**
   * - `no_job`: the stream holds nothing of this job;
   * - `before_job`: the point comes before the job existed (before its first event);
   * - `past_end`: an event number past the job's last event.
   */
  | { ok: false; reason: 'no_job' | 'before_job' | 'past_end'; total: number };

/** The state of a job after the last of its events at or before `point`, folded with `evolve`. */
export function stateAsOf(history: readonly HistoryEntry[], point: AsOfPoint): AsOfOutcome {
  const total = history.length;
  if (total === 0) return { ok: false, reason: 'no_job', total };
  if (point.kind === 'event' && point.number > total) return { ok: false, reason: 'past_end', total };
  const atOrBefore = (entry: HistoryEntry): boolean => {
    switch (point.kind) {
      case 'event':
        return entry.number <= point.number;
      case 'seq':
        return entry.seq <= point.seq;
      case 'time':
        return entry.storedAt.getTime() <= point.at.getTime();
    }
  };
  let state: JobState | null = null;
  let last: HistoryEntry | null = null;
  for (const entry of history) {
    if (!atOrBefore(entry)) break;
    if (entry.event) state = evolve(state, entry.event, entry);
    last = entry;
  }
  if (!state || !last) return { ok: false, reason: 'before_job', total };
  return { ok: true, state, entry: last, total };
}

/** One line of a job's timeline: what happened, when, by whom, and what caused it. */
export interface TimelineEntry {
  number: number;
  seq: number;
  storedAt: string;
  /** Milliseconds since the previous event of the job was stored; null for the first. */
  sincePreviousMs: number | null;
  /** The event type, or `malformed` for a message that is not a valid event. */
  type: string;
  version: number | null;
  eventId: string | null;
  occurredAt: string | null;
  attempt: number | null;
  /** The worker that ran the attempt this event belongs to. */
  workerId: string | null;
  correlationId: string | null;
  causationId: string | null;
  /** The number of the causing event when it is one of this job's own. */
  causedBy: number | null;
  /** The job's status after this event. */
  status: string | null;
  /** A short human summary of the event's data. */
  summary: string;
}

/** The timeline of a job's history, with the worker and status derived by folding as it goes. */
export function timeline(history: readonly HistoryEntry[]): TimelineEntry[] {
  const numberById = new Map<string, number>();
  let state: JobState | null = null;
  let previous: Date | null = null;
  return history.map((entry) => {
    const sincePreviousMs = previous ? entry.storedAt.getTime() - previous.getTime() : null;
    previous = entry.storedAt;
    const { event } = entry;
    if (!event) {
      return {
        number: entry.number,
        seq: entry.seq,
        storedAt: entry.storedAt.toISOString(),
        sincePreviousMs,
        type: 'malformed',
        version: null,
        eventId: null,
        occurredAt: null,
        attempt: null,
        workerId: null,
        correlationId: null,
        causationId: null,
        causedBy: null,
        status: state?.status ?? null,
        summary: 'not a valid event: folded as nothing',
      };
    }
    numberById.set(event.eventId, entry.number);
    state = evolve(state, event);
    const attempt = event.type === 'VideoSubmitted' ? null : event.type === 'JobRedriven' ? event.data.firstAttempt : event.data.attempt;
    const workerId =
      event.type === 'JobStarted' || event.type === 'PartStarted' || event.type === 'PartCompleted' || event.type === 'PartFailed' ? event.data.workerId : attempt !== null && state && attempt === state.attempts ? state.workerId : null;
    return {
      number: entry.number,
      seq: entry.seq,
      storedAt: entry.storedAt.toISOString(),
      sincePreviousMs,
      type: event.type,
      version: event.version,
      eventId: event.eventId,
      occurredAt: event.occurredAt,
      attempt,
      workerId,
      correlationId: event.correlationId,
      causationId: event.causationId,
      causedBy: event.causationId ? (numberById.get(event.causationId) ?? null) : null,
      status: state?.status ?? null,
      summary: summarize(event),
    };
  });
}

function summarize(event: JobEvent): string {
  switch (event.type) {
    case 'VideoSubmitted':
      return `${event.data.pipeline} of ${event.data.video.filename} (${event.data.video.size} bytes), ${event.data.priority} priority, tenant ${event.data.tenant}`;
    case 'JobStarted':
      return `attempt ${event.data.attempt} on ${event.data.workerId}`;
    case 'JobProgressed':
      return `${Math.round(event.data.percent * 10) / 10}%${event.data.currentTool ? ` in ${event.data.currentTool}` : ''}`;
    case 'JobCompleted':
      return `in ${event.data.durationMs} ms${event.data.artifacts.length ? `, ${event.data.artifacts.length} artifact(s)` : ''}`;
    case 'JobFailed':
      return `${event.data.error.code}${event.data.final ? ' (final)' : event.data.retryDelayMs !== null ? ` (retry in ${(event.data.retryDelayMs / 1000).toFixed(1)} s)` : ' (will retry)'}: ${event.data.error.message}`;
    case 'JobRedriven':
      return `redriven as attempt ${event.data.firstAttempt}${event.data.requestedBy ? ` by ${event.data.requestedBy}` : ''}`;
    case 'JobCancelRequested':
      return `${event.data.deletion ? 'cancel (to delete)' : 'cancel'} asked${event.data.attempt ? ` during attempt ${event.data.attempt}` : ' before any attempt'}${event.data.requestedBy ? ` by ${event.data.requestedBy}` : ''}${event.data.reason ? `: ${event.data.reason}` : ''}`;
    case 'JobCancelled':
      return `cancelled by ${event.data.cancelledBy}`;
    case 'JobDeleted':
      return `deleted (${event.data.reason})${event.data.requestedBy ? ` by ${event.data.requestedBy}` : ''}`;
    case 'JobSplit':
      return `split into ${event.data.parts.length} parts of about ${event.data.splitSeconds} s${event.data.kept.length ? `, ${event.data.kept.length} kept from an earlier attempt` : ''}`;
    case 'PartRequested':
      return `part ${event.data.part.index} (${event.data.part.start.toFixed(3)} s to ${event.data.part.end === null ? 'the end' : `${event.data.part.end.toFixed(3)} s`}) requested`;
    case 'JoinRequested':
      return 'every part is done: join requested';
    case 'PartStarted':
      return `part ${event.data.index}, its attempt ${event.data.partAttempt}, on ${event.data.workerId}`;
    case 'PartProgressed':
      return `part ${event.data.index} at ${Math.round(event.data.percent * 10) / 10}%`;
    case 'PartCompleted':
      return `part ${event.data.index} done in ${event.data.durationMs} ms on ${event.data.workerId}`;
    case 'PartFailed':
      return `part ${event.data.index} ${event.data.error.code}${event.data.final ? ' (final)' : event.data.retryDelayMs !== null ? ` (retry in ${(event.data.retryDelayMs / 1000).toFixed(1)} s)` : ''}: ${event.data.error.message}`;
  }
}
