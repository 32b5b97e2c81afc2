import type { DataSource, SelectQueryBuilder } from 'typeorm';
import type { JobStatus } from '@app/contracts';
import type { JobState } from '@app/job-state';
import { JobRow, ProjectionCheckpoint } from './job.entity.js';
import { rowToState } from './job-row.mapper.js';
import { readParkedEvents, type ParkedEvents } from './parked-events.js';

export interface JobRecord {
  state: JobState;
  lastSeq: number;
}

export interface ListJobsQuery {
  /** Only this tenant's jobs; every tenant's when absent (an admin's view). */
  tenant?: string;
  status?: JobStatus;
  pipeline?: string;
  limit: number;
  cursor?: string;
}

export interface JobPage {
  jobs: JobRecord[];
  nextCursor: string | null;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursorError';
  }
}

/** Reads of the jobs read model: by id, and newest first with keyset paging. */
export class JobReadRepository {
  constructor(private readonly ds: DataSource) {}

  async get(jobId: string): Promise<JobRecord | null> {
    const row = await this.ds.getRepository(JobRow).findOneBy({ jobId });
    return row ? { state: rowToState(row), lastSeq: row.lastSeq } : null;
  }

  async list(query: ListJobsQuery): Promise<JobPage> {
    // A deleted job's row stays as a tombstone, never listed.
    const qb = this.ds.getRepository(JobRow).createQueryBuilder('j').where('j.deleted_at IS NULL');
    if (query.tenant !== undefined) qb.andWhere('j.tenant = :tenant', { tenant: query.tenant });
    if (query.status) qb.andWhere('j.status = :status', { status: query.status });
    if (query.pipeline) qb.andWhere('j.pipeline = :pipeline', { pipeline: query.pipeline });
    return this.keysetPage(qb, 'created_at', query);
  }

  /** Dead letters, most recently dead-lettered first (the final JobFailed's time), with keyset paging. */
  async listDeadLetters(query: { limit: number; cursor?: string; tenant?: string }): Promise<JobPage> {
    const qb = this.ds.getRepository(JobRow).createQueryBuilder('j').where('j.dead_letter IS NOT NULL').andWhere('j.deleted_at IS NULL');
    if (query.tenant !== undefined) qb.andWhere('j.tenant = :tenant', { tenant: query.tenant });
    return this.keysetPage(qb, 'completed_at', query);
  }

  /** Newest first by `column`, then job id; the cursor is the position of the last row of a page. */
  private async keysetPage(
    qb: SelectQueryBuilder<JobRow>,
    column: 'created_at' | 'completed_at',
    query: { limit: number; cursor?: string },
  ): Promise<JobPage> {
    qb.addOrderBy(`j.${column}`, 'DESC').addOrderBy('j.job_id', 'DESC').limit(query.limit + 1);
    if (query.cursor) {
      const { createdAt: at, jobId } = decodeCursor(query.cursor);
      qb.andWhere(`(j.${column}, j.job_id) < (:at, :jobId)`, { at, jobId });
    }
    const rows = await qb.getMany();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const lastAt = last && (column === 'created_at' ? last.createdAt : last.completedAt);
    const nextCursor = rows.length > query.limit && last && lastAt ? encodeCursor(lastAt, last.jobId) : null;
    return { jobs: page.map((row) => ({ state: rowToState(row), lastSeq: row.lastSeq })), nextCursor };
  }

  /**
   * Jobs whose deletion was asked for (a running job that was stopped first) and is not done yet,
   * those that have ended first: they can be deleted now, whatever number of others still run.
   */
  async pendingDeletions(limit: number): Promise<string[]> {
    const rows = await this.ds
      .getRepository(JobRow)
      .createQueryBuilder('j')
      .select('j.job_id', 'job_id')
      .where('j.delete_request IS NOT NULL')
      .andWhere('j.deleted_at IS NULL')
      .orderBy(`CASE WHEN j.status IN ('completed', 'failed', 'cancelled') THEN 0 ELSE 1 END`)
      .addOrderBy('j.job_id')
      .limit(limit)
      .getRawMany<{ job_id: string }>();
    return rows.map((row) => row.job_id);
  }

  /** Jobs that ended (completed, failed for good, cancelled) before `cutoff` and are not deleted, oldest first. */
  async endedBefore(cutoff: Date, limit: number): Promise<string[]> {
    const rows = await this.ds
      .getRepository(JobRow)
      .createQueryBuilder('j')
      .select('j.job_id', 'job_id')
      .where('j.deleted_at IS NULL')
      .andWhere('j.status IN (:...ended)', { ended: ['completed', 'failed', 'cancelled'] })
      .andWhere('j.completed_at < :cutoff', { cutoff })
      .orderBy('j.completed_at')
      .limit(limit)
      .getRawMany<{ job_id: string }>();
    return rows.map((row) => row.job_id);
  }

  /** The records of these jobs that the read model has (deleted ones included). */
  async getMany(jobIds: string[]): Promise<Map<string, JobRecord>> {
    const found = new Map<string, JobRecord>();
    if (jobIds.length === 0) return found;
    const rows = await this.ds.getRepository(JobRow).createQueryBuilder('j').where('j.job_id IN (:...ids)', { ids: jobIds }).getMany();
    for (const row of rows) found.set(row.jobId, { state: rowToState(row), lastSeq: row.lastSeq });
    return found;
  }

  async checkpoint(name: string): Promise<number> {
    const row = await this.ds.getRepository(ProjectionCheckpoint).findOneBy({ name });
    return row?.lastSeq ?? 0;
  }

  /** The events the projection parked (see parked-events.ts): how many, and the most recent `limit`. */
  parkedEvents(limit: number): Promise<ParkedEvents> {
    return readParkedEvents(this.ds, null, limit);
  }

  /** The projection's checkpoint with the time it last moved (null before the first batch). */
  async checkpointState(name: string): Promise<{ lastSeq: number; updatedAt: Date | null }> {
    const row = await this.ds.getRepository(ProjectionCheckpoint).findOneBy({ name });
    return { lastSeq: row?.lastSeq ?? 0, updatedAt: row?.updatedAt ?? null };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(createdAt: Date, jobId: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), jobId])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; jobId: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [createdAt, jobId] = value as unknown[];
      if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof jobId === 'string' && UUID.test(jobId)) {
        return { createdAt, jobId };
      }
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}
