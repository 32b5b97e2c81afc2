import { ErrorCode, formatAsOf, type AsOfPoint, type AsOfPosition, type JobView } from '@app/contracts';
import { storedTraceId, type EventStore, type ReadItem } from '@app/event-store';
import { stateAsOf, toJobView, type AsOfOutcome, type HistoryEntry } from '@app/job-state';

/**
 * A job's whole history from the stream, in order and numbered (its aggregate versions), malformed
 * messages included as entries without an event so the numbering matches what the stream holds.
 */
export async function readJobHistory(store: EventStore, jobId: string): Promise<HistoryEntry[]> {
  const items = await store.readJob(jobId, 0, Number.MAX_SAFE_INTEGER);
  return items.map((item, i) => toEntry(item, i + 1));
}

export function toEntry(item: ReadItem, number: number): HistoryEntry {
  return item.ok
    ? { number, seq: item.stored.seq, storedAt: item.stored.storedAt, event: item.stored.event, traceId: storedTraceId(item.stored) }
    : { number, seq: item.malformed.seq, storedAt: item.malformed.storedAt, event: null };
}

/** The job as it was at `point`, folded from its events in the stream with the projector's `evolve`. */
export async function jobAsOf(store: EventStore, jobId: string, point: AsOfPoint): Promise<AsOfOutcome> {
  return stateAsOf(await readJobHistory(store, jobId), point);
}

export type JobViewAsOf =
  | { ok: true; job: JobView; as_of: AsOfPosition }
  | { ok: false; code: typeof ErrorCode.JobNotFound | typeof ErrorCode.EventNotFound; message: string };

/**
 * The API's view of a job at `point` (null: its latest event), with where that is in its history:
 * what GET /v1/jobs/{id}?as_of= and `framewire state --as-of` show.
 */
export async function jobViewAsOf(store: EventStore, jobId: string, point: AsOfPoint | null): Promise<JobViewAsOf> {
  const history = await readJobHistory(store, jobId);
  const requested = point ? formatAsOf(point) : 'latest';
  const outcome = stateAsOf(history, point ?? { kind: 'event', number: Math.max(1, history.length) });
  if (!outcome.ok) {
    switch (outcome.reason) {
      case 'no_job':
        return { ok: false, code: ErrorCode.JobNotFound, message: `no job ${jobId}` };
      case 'before_job':
        return { ok: false, code: ErrorCode.JobNotFound, message: `job ${jobId} did not exist yet at ${requested}` };
      case 'past_end':
        return { ok: false, code: ErrorCode.EventNotFound, message: `job ${jobId} has ${outcome.total} events; there is no event ${requested}` };
    }
  }
  const { state, entry, total } = outcome;
  return {
    ok: true,
    job: toJobView(state, entry.seq),
    as_of: { requested, event: entry.number, seq: entry.seq, stored_at: entry.storedAt.toISOString(), events_total: total },
  };
}
