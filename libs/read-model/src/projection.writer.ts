import type { DataSource, EntityManager } from 'typeorm';
import { evolve, type JobState } from '@app/job-state';
import type { JobEvent } from '@app/contracts';
import { JobRow } from './job.entity.js';
import { rowToState, stateToRecord } from './job-row.mapper.js';

/** One position of the stream handed to the writer: an event, or a sequence to step over. */
export type ProjectionItem = { seq: number; event: JobEvent | null };

export interface ApplyResult {
  /** The checkpoint after the commit. */
  lastSeq: number;
  /** Events folded into rows. */
  applied: number;
  /** Items at or below the checkpoint: already projected, so ignored. */
  duplicates: number;
}

/** The batch does not start where the checkpoint ends; the caller must read the missing range first. */
export class ProjectionGapError extends Error {
  constructor(
    readonly checkpoint: number,
    readonly fromSeq: number,
  ) {
    super(`projection is at ${checkpoint} but the batch starts at ${fromSeq}`);
    this.name = 'ProjectionGapError';
  }
}

const UPSERT_COLUMNS = `job_id uuid, status text, tenant text, priority text, pipeline text, params jsonb, video jsonb, progress double precision,
  progress_detail jsonb, attempts integer, worker_id text, created_at timestamptz, updated_at timestamptz, started_at timestamptz,
  completed_at timestamptz, duration_ms integer, error jsonb, result jsonb, result_ref jsonb, artifacts jsonb, correlation_id text,
  dead_letter jsonb, last_seq bigint`;
const COLUMN_NAMES = UPSERT_COLUMNS.split(',').map((column) => column.trim().split(/\s+/)[0]!);

/**
 * Folds a batch of events into the read model in one transaction, together with the checkpoint, so
 * the rows and the position they reflect can never disagree. Idempotent by stream sequence: items at
 * or below the checkpoint change nothing. Events are applied with the same `evolve` as every other view.
 */
export class ProjectionWriter {
  constructor(
    private readonly ds: DataSource,
    readonly name: string,
  ) {}

  /**
   * @param fromSeq the first sequence this batch covers (items may skip sequences that hold no event)
   * @param throughSeq the last sequence this batch covers; the checkpoint moves here
   */
  async apply(items: ProjectionItem[], fromSeq: number, throughSeq: number): Promise<ApplyResult> {
    return this.ds.transaction(async (tx) => {
      const checkpoint = await this.lockCheckpoint(tx);
      if (fromSeq > checkpoint + 1) throw new ProjectionGapError(checkpoint, fromSeq);
      const fresh = items.filter((item) => item.seq > checkpoint).sort((a, b) => a.seq - b.seq);
      const duplicates = items.length - fresh.length;
      if (throughSeq <= checkpoint) return { lastSeq: checkpoint, applied: 0, duplicates };

      const events = fresh.filter((item): item is { seq: number; event: JobEvent } => item.event !== null);
      const states = await this.loadStates(tx, [...new Set(events.map((item) => item.event.jobId))]);
      const changed = new Map<string, { state: JobState; lastSeq: number }>();
      for (const { seq, event } of events) {
        const before = changed.get(event.jobId)?.state ?? states.get(event.jobId) ?? null;
        const after = evolve(before, event);
        if (after) changed.set(event.jobId, { state: after, lastSeq: seq });
      }
      if (changed.size > 0) await this.upsert(tx, [...changed.values()]);
      await tx.query(`UPDATE projection_checkpoints SET last_seq = $2, updated_at = now() WHERE name = $1`, [
        this.name,
        throughSeq,
      ]);
      return { lastSeq: throughSeq, applied: events.length, duplicates };
    });
  }

  async checkpoint(): Promise<number> {
    const rows: { last_seq: string }[] = await this.ds.query(
      `SELECT last_seq FROM projection_checkpoints WHERE name = $1`,
      [this.name],
    );
    return rows.length ? Number(rows[0]!.last_seq) : 0;
  }

  private async lockCheckpoint(tx: EntityManager): Promise<number> {
    await tx.query(
      `INSERT INTO projection_checkpoints (name, last_seq, updated_at) VALUES ($1, 0, now()) ON CONFLICT (name) DO NOTHING`,
      [this.name],
    );
    const rows: { last_seq: string }[] = await tx.query(
      `SELECT last_seq FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
      [this.name],
    );
    return Number(rows[0]!.last_seq);
  }

  private async loadStates(tx: EntityManager, jobIds: string[]): Promise<Map<string, JobState>> {
    if (jobIds.length === 0) return new Map();
    const rows = await tx
      .getRepository(JobRow)
      .createQueryBuilder('j')
      .where('j.job_id = ANY(:ids)', { ids: jobIds })
      .getMany();
    return new Map(rows.map((row) => [row.jobId, rowToState(row)]));
  }

  private async upsert(tx: EntityManager, rows: { state: JobState; lastSeq: number }[]): Promise<void> {
    const records = rows.map(({ state, lastSeq }) => stateToRecord(state, lastSeq));
    const updates = COLUMN_NAMES.filter((column) => column !== 'job_id')
      .map((column) => `${column} = EXCLUDED.${column}`)
      .join(', ');
    await tx.query(
      `INSERT INTO jobs (${COLUMN_NAMES.join(', ')})
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${UPSERT_COLUMNS})
       ON CONFLICT (job_id) DO UPDATE SET ${updates}`,
      [JSON.stringify(records)],
    );
  }
}
