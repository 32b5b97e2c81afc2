import { Injectable, Logger } from '@nestjs/common';
import {
  ErrorCode,
  inScope,
  type DeadLettersPage,
  type DeadLetterView,
  parseAsOf,
  type AsOfPosition,
  type JobFiles,
  type JobScope,
  type JobsPage,
  type JobView,
  PARKED_EVENTS_SHOWN,
  type ParkedEventsView,
  type StoredEventView,
} from '@app/contracts';
import { EventStore, storedTraceId, type StoredJobEvent } from '@app/event-store';
import { foldWithMeta, toDeadLetterView, toJobView, type JobState } from '@app/job-state';
import { InvalidCursorError, JobReadRepository, parkedEventView, PROJECTION_NAME, type ListJobsQuery } from '@app/read-model';
import { jobViewAsOf } from '@app/replay';
import { QueryError } from '../rpc/rpc-answer.js';

/**
 * Answers the gateway's questions from the read model, or from the stream where it must. Every
 * question comes with the caller's scope, and a job outside it is answered exactly like a job that
 * does not exist: one tenant can never tell another's job from no job at all.
 */
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
  async get(jobId: string, scope: JobScope): Promise<JobView | null> {
    const found = await this.visibleState(jobId, scope);
    return found ? toJobView(found.state, found.lastSeq) : null;
  }

  /** Where the job's upload, stored result and artifacts are, for the gateway to serve them (null outside the scope). */
  async files(jobId: string, scope: JobScope): Promise<JobFiles | null> {
    const found = await this.visibleState(jobId, scope);
    if (!found) return null;
    const { state } = found;
    return { job_id: state.jobId, status: state.status, video: state.video, result_ref: state.resultRef, artifacts: state.artifacts };
  }

  /**
   * The job's state, or null when it does not exist, is deleted, or its tenant is outside the scope
   * (the same answer for all three).
   */
  private async visibleState(jobId: string, scope: JobScope): Promise<{ state: JobState; lastSeq: number } | null> {
    const found = await this.state(jobId);
    return found && !found.state.deletedAt && inScope(scope, found.state.tenant) ? found : null;
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
      const state = foldWithMeta(newer.map(withMeta), record.state);
      return state ? { state, lastSeq: newer.at(-1)?.seq ?? record.lastSeq } : record;
    }
    const events = await this.readEvents(jobId, 0, Number.MAX_SAFE_INTEGER);
    const state = foldWithMeta(events.map(withMeta));
    return state ? { state, lastSeq: events.at(-1)!.seq } : null;
  }

  /**
   * The job as it was at a point of its history (as-of.ts), folded from its events in the stream with
   * the projector's `evolve`, whatever the read model says. The scope is checked first, before
   * anything that depends on the job's events (how many there are, whether the point is past its end
   * or before its start): a job outside the scope is "no job", as of any point, after the same one
   * read as a job that does not exist.
   */
  async getAsOf(jobId: string, asOf: string, scope: JobScope): Promise<{ job: JobView; as_of: AsOfPosition }> {
    const parsed = parseAsOf(asOf);
    if (!parsed.ok) throw new QueryError(ErrorCode.InvalidAsOf, parsed.reason);
    await this.assertVisible(jobId, scope);
    // A deleted job is not found at any point of its history (its events stay readable for an admin).
    if (await this.isDeleted(jobId)) throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
    const found = await jobViewAsOf(this.store, jobId, parsed.point);
    if (!found.ok) throw new QueryError(found.code, found.message);
    return { job: found.job, as_of: found.as_of };
  }

  async list(query: Omit<ListJobsQuery, 'tenant'>, scope: JobScope): Promise<JobsPage> {
    const page = await withCursor(() => this.jobs.list({ ...query, ...tenantOf(scope) }));
    return { jobs: page.jobs.map((r) => toJobView(r.state, r.lastSeq)), next_cursor: page.nextCursor };
  }

  /** The dead-letter list in the caller's scope, from the read model (a projection of the JobFailed events that made them). */
  async deadLetters(query: { limit: number; cursor?: string }, scope: JobScope): Promise<DeadLettersPage> {
    const page = await withCursor(() => this.jobs.listDeadLetters({ ...query, ...tenantOf(scope) }));
    const views = page.jobs.map((r) => toDeadLetterView(r.state)).filter((v): v is DeadLetterView => v !== null);
    return { dead_letters: views, next_cursor: page.nextCursor };
  }

  /**
   * How far the read model is: the checkpoint PostgreSQL holds (the truth, shared by every instance),
   * and the events it parked (how many, and the most recent).
   */
  async projection(): Promise<{ checkpoint: number; updated_at: string | null; parked: ParkedEventsView }> {
    const [state, parked] = await Promise.all([this.jobs.checkpointState(PROJECTION_NAME), this.jobs.parkedEvents(PARKED_EVENTS_SHOWN)]);
    return {
      checkpoint: state.lastSeq,
      updated_at: state.updatedAt?.toISOString() ?? null,
      parked: {
        count: parked.count,
        recent: parked.recent.map(parkedEventView),
      },
    };
  }

  /**
   * The job's events in stream order, read from the stream (never the read model). A deleted job's
   * events stay readable for an admin (the record of what happened, JobDeleted included); for a tenant
   * it is not found, like every other route of a deleted job.
   */
  async events(jobId: string, afterSeq: number, limit: number, scope: JobScope) {
    await this.assertVisible(jobId, scope);
    if (scope.kind === 'tenant' && (await this.isDeleted(jobId))) throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
    const events = await this.readEvents(jobId, afterSeq, limit + 1);
    const page = events.slice(0, limit);
    return {
      job_id: jobId,
      events: page.map(toEventView),
      next_after_seq: events.length > limit ? page.at(-1)!.seq : null,
    };
  }

  /**
   * The owner of a job is in its first event, its `VideoSubmitted`, read by direct get: the answer
   * holds even before the projector has seen the job. Unknown and foreign jobs get the same error.
   */
  private async assertVisible(jobId: string, scope: JobScope): Promise<void> {
    const tenant = await this.store.tenantOf(jobId);
    if (tenant === null || !inScope(scope, tenant)) throw new QueryError(ErrorCode.JobNotFound, `no job ${jobId}`);
  }

  /** True when the job's last lifecycle event is its JobDeleted: nothing can follow it. */
  private async isDeleted(jobId: string): Promise<boolean> {
    const last = await this.store.lastLifecycle(jobId);
    return Boolean(last?.ok && last.stored.event.type === 'JobDeleted');
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

async function withCursor<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new QueryError(ErrorCode.InvalidCursor, error.message);
    throw error;
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

/** The read model's tenant filter for a scope: none for an admin's. */
function tenantOf(scope: JobScope): { tenant?: string } {
  return scope.kind === 'tenant' ? { tenant: scope.tenant } : {};
}

/** A stored event with the trace id of its append, as the projector folds it. */
function withMeta(stored: StoredJobEvent) {
  return { event: stored.event, traceId: storedTraceId(stored) };
}
