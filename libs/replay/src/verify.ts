import type { DataSource, EntityManager } from 'typeorm';
import type { EventStore } from '@app/event-store';
import {
  JOB_COLUMNS,
  ProjectionWriter,
  qualified,
  readCheckpoint,
  readParkedEvents,
  schemaTarget,
  type ParkedEventRecord,
  type ProjectionRegistry,
} from '@app/read-model';
import { rebuildRange } from './rebuild.js';

export interface ColumnDifference {
  column: string;
  live: unknown;
  rebuilt: unknown;
}

export interface RowDifference {
  jobId: string;
  /** `changed`: both have the row and some columns differ; `missing_in_live` / `missing_in_rebuilt`: only one has it. */
  kind: 'changed' | 'missing_in_live' | 'missing_in_rebuilt';
  /** For `changed`, every column that differs. */
  columns: ColumnDifference[];
}

export interface VerifyReport {
  liveSchema: string;
  rebuiltSchema: string;
  /** The stream position both models reflect when they were compared. */
  checkpoint: number;
  rowsLive: number;
  rowsRebuilt: number;
  differences: RowDifference[];
  /**
   * Events each model goes on without (their rows could not be written), lowest sequence first: a
   * finding like a difference, since the job they belong to is not what its events say.
   */
  parked: { live: ParkedEventRecord[]; rebuilt: ParkedEventRecord[] };
}

/** Parked events a verify lists per model, at most: the most recent ones. */
const PARKED_LISTED = 1000;

type Query = Pick<EntityManager, 'query'>;

/**
 * Every difference between the jobs of two models, row by row and column by column, computed in
 * PostgreSQL (only differing rows come back). Columns are compared with IS DISTINCT FROM on their
 * own types, so jsonb compares by value and timestamps by instant.
 */
export async function diffModels(q: Query, liveSchema: string, rebuiltSchema: string): Promise<RowDifference[]> {
  const columns = await commonColumns(q, liveSchema, rebuiltSchema);
  const differs = columns.map((c) => `CASE WHEN l.${c} IS DISTINCT FROM r.${c} THEN '${c}' END`).join(', ');
  const rows: Array<{ job_id: string; live: Record<string, unknown> | null; rebuilt: Record<string, unknown> | null; columns: string[] }> =
    await q.query(
      `SELECT COALESCE(l.job_id, r.job_id)::text AS job_id,
              CASE WHEN l.job_id IS NULL THEN NULL ELSE to_jsonb(l) END AS live,
              CASE WHEN r.job_id IS NULL THEN NULL ELSE to_jsonb(r) END AS rebuilt,
              array_remove(ARRAY[${differs}], NULL) AS columns
         FROM ${qualified(liveSchema, 'jobs')} l
         FULL OUTER JOIN ${qualified(rebuiltSchema, 'jobs')} r ON l.job_id = r.job_id
        WHERE l.job_id IS NULL OR r.job_id IS NULL OR (${columns.map((c) => `l.${c} IS DISTINCT FROM r.${c}`).join(' OR ')})
        ORDER BY 1`,
    );
  return rows.map((row) => {
    if (!row.live) return { jobId: row.job_id, kind: 'missing_in_live', columns: [] };
    if (!row.rebuilt) return { jobId: row.job_id, kind: 'missing_in_rebuilt', columns: [] };
    return {
      jobId: row.job_id,
      kind: 'changed',
      columns: row.columns.map((column) => ({ column, live: row.live![column] ?? null, rebuilt: row.rebuilt![column] ?? null })),
    };
  });
}

/** The jobs columns both models have (a model of another version may have more or fewer). */
async function commonColumns(q: Query, a: string, b: string): Promise<string[]> {
  const rows: { column_name: string }[] = await q.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'jobs'
     INTERSECT SELECT column_name FROM information_schema.columns WHERE table_schema = $2 AND table_name = 'jobs'`,
    [a, b],
  );
  const present = new Set(rows.map((r) => r.column_name));
  return JOB_COLUMNS.filter((c) => c !== 'job_id' && present.has(c));
}

/**
 * Compares a rebuilt model with the live one at the same stream position, without stopping the live
 * projector: in one REPEATABLE READ transaction it takes a snapshot of the live model and its
 * checkpoint (written together, so they agree), brings the rebuilt model up to that checkpoint
 * inside the same transaction, then diffs the two. The rebuilt model must not be ahead of the live
 * one: rebuild it up to the live checkpoint first.
 */
export async function verifyAgainstLive(options: {
  ds: DataSource;
  registry: ProjectionRegistry;
  store: EventStore;
  rebuiltSchema: string;
  batchSize?: number;
}): Promise<VerifyReport> {
  const { ds, registry, store, rebuiltSchema } = options;
  return ds.transaction('REPEATABLE READ', async (tx) => {
    const active = await registry.active(tx);
    const live = await readCheckpoint(tx, active.schema);
    const built = await readCheckpoint(tx, rebuiltSchema);
    if (built > live) {
      throw new Error(`the rebuilt model (at ${built}) is ahead of the live one (at ${live}); rebuild up to the live checkpoint`);
    }
    if (built < live) {
      const writer = new ProjectionWriter(ds, schemaTarget(rebuiltSchema));
      await rebuildRange({ store, apply: (items, f, t) => writer.applyIn(tx, items, f, t), fromSeq: built + 1, toSeq: live, batchSize: options.batchSize });
    }
    const differences = await diffModels(tx, active.schema, rebuiltSchema);
    const [counts] = (await tx.query(
      `SELECT (SELECT count(*) FROM ${qualified(active.schema, 'jobs')})::int AS live, (SELECT count(*) FROM ${qualified(rebuiltSchema, 'jobs')})::int AS rebuilt`,
    )) as [{ live: number; rebuilt: number }];
    const parked = {
      live: (await readParkedEvents(tx, active.schema, PARKED_LISTED)).recent.reverse(),
      rebuilt: (await readParkedEvents(tx, rebuiltSchema, PARKED_LISTED)).recent.reverse(),
    };
    return { liveSchema: active.schema, rebuiltSchema, checkpoint: live, rowsLive: counts.live, rowsRebuilt: counts.rebuilt, differences, parked };
  });
}
