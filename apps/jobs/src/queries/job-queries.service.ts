import { Injectable, Logger } from '@nestjs/common';
import {
  ErrorCode,
  type JobFiles,
  type JobView,
  type StoredEventView,
} from '@app/contracts';
import { EventStore, type StoredJobEvent } from '@app/event-store';
import { fold, toJobView, type JobState } from '@app/job-state';
import { InvalidCursorError, JobReadRepository, type ListJobsQuery } from '@app/read-model';
import { PROJECTION_NAME } from '../read-model/read-model.module.js';

export class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Answers the gateway's questions from the read model, or from the stream where it must. */
@Injectable()
export class JobQueriesService {
  private readonly logger = new Logger(JobQueriesService.name);

  constructor(
    private readonly jobs: JobReadRepository,
    private readonly store: EventStore,
  ) {}

  /**
   * Read-your-writes: a job that the projector has not reached yet is folded straight from its events
   * in the stream, with the same `evolve`, so a GET right after the 202 never answers 404 (see state()).
   */
  async get(jobId: string): Promise<JobView | null> {
    const found = await this.state(jobId);
    return found ? toJobView(found.state, found.lastSeq) : null;
  }

  /** Where the job's upload, stored result and artifacts are, for the gateway to serve them. */
  async files(jobId: string): Promise<JobFiles | null> {
    const found = await this.state(jobId);
    if (!found) return null;
    const { state } = found;
    return { job_id: state.jobId, status: state.status, video: state.video, result_ref: state.resultRef, artifacts: state.artifacts };
  }

  /**
   * The job as of its latest event. The row is used when it is current; when the stream holds newer
   * events of the job than the row (the projector is a moment behind), they are folded onto it with
   * the same `evolve`, so a client that has just seen an event (over SSE, say) never reads an older state.
   */
  private async state(jobId: string): Promise<{ state: JobState; lastSeq: number } | null> {
    const record = await this.jobs.get(jobId);
    if (record) {
      const last = await this.store.lastLifecycle(jobId);
      const lastSeq = last ? (last.ok ? last.stored.seq : last.malformed.seq) : 0;
      if (lastSeq <= record.lastSeq) return record;
      const newer = await this.readEvents(jobId, record.lastSeq, Number.MAX_SAFE_INTEGER);
      const state = fold(newer.map((stored) => stored.event), record.state);
      return state ? { state, lastSeq: newer.at(-1)?.seq ?? record.lastSeq } : record;
    }
    const events = await this.readEvents(jobId, 0, Number.MAX_SAFE_INTEGER);
    const state = fold(events.map((stored) => stored.event));
    return state ? { state, lastSeq: events.at(-1)!.seq } : null;
  }

  async list(query: ListJobsQuery): Promise<{ jobs: JobView[]; next_cursor: string | null }> {
    try {
      const page = await this.jobs.list(query);
      return { jobs: page.jobs.map((r) => toJobView(r.state, r.lastSeq)), next_cursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new QueryError(ErrorCode.InvalidCursor, error.message);
      throw error;
    }
  }

  /** How far the read model is: the checkpoint PostgreSQL holds (the truth, shared by every instance). */
  async projection(): Promise<{ checkpoint: number; updated_at: string | null }> {
    const state = await this.jobs.checkpointState(PROJECTION_NAME);
    return { checkpoint: state.lastSeq, updated_at: state.updatedAt?.toISOString() ?? null };
  }

  /** The job's events in stream order, read from the stream (never the read model). */
  async events(jobId: string, afterSeq: number, limit: number) {
    const events = await this.readEvents(jobId, afterSeq, limit + 1);
    const page = events.slice(0, limit);
    return {
      job_id: jobId,
      events: page.map(toEventView),
      next_after_seq: events.length > limit ? page.at(-1)!.seq : null,
    };
  }

  private async readEvents(jobId: string, afterSeq: number, limit: number): Promise<StoredJobEvent[]> {
    const items = await this.store.readJob(jobId, afterSeq, limit);
    const events: StoredJobEvent[] = [];
    for (const item of items) {
      if (item.ok) events.push(item.stored);
      else this.logger.warn(`job ${jobId}: malformed message at seq ${item.malformed.seq}: ${item.malformed.reason}`);
    }
    return events;
  }
}

function toEventView(stored: StoredJobEvent): StoredEventView {
  const { event } = stored;
  return {
    seq: stored.seq,
    stored_at: stored.storedAt.toISOString(),
    subject: stored.subject,
    type: event.type,
    version: event.version,
    eventId: event.eventId,
    jobId: event.jobId,
    occurredAt: event.occurredAt,
    correlationId: event.correlationId,
    causationId: event.causationId,
    data: event.data as Record<string, unknown>,
  };
}
