import type { AsOfPoint } from '@app/contracts';
import type { EventStore, ReadItem } from '@app/event-store';
import { stateAsOf, type AsOfOutcome, type HistoryEntry } from '@app/job-state';

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
    ? { number, seq: item.stored.seq, storedAt: item.stored.storedAt, event: item.stored.event }
    : { number, seq: item.malformed.seq, storedAt: item.malformed.storedAt, event: null };
}

/** The job as it was at `point`, folded from its events in the stream with the projector's `evolve`. */
export async function jobAsOf(store: EventStore, jobId: string, point: AsOfPoint): Promise<AsOfOutcome> {
  return stateAsOf(await readJobHistory(store, jobId), point);
}
