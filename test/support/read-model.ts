import pg from 'pg';
import { EventStore } from '@app/event-store';
import { createReadModelDataSource } from '@app/read-model';
import { rebuildIntoSchema } from '@app/replay';

/**
 * A fresh replay of the whole stream into schema `schema`, with the rebuild `framewire replay` runs
 * (the projector's own writer): what the read model must equal once the projector has caught up,
 * however often it was interrupted.
 */
export async function replayInto(store: EventStore, url: string, schema: string): Promise<number> {
  const ds = await createReadModelDataSource({ url, schema, poolSize: 2 }).initialize();
  try {
    const last = await store.lastSeq();
    await rebuildIntoSchema({ ds, schema, store, url, toSeq: last });
    return last;
  } finally {
    await ds.destroy();
  }
}

/** Every row of a schema's jobs table in job order, and its projection checkpoint. */
export async function readModel(url: string, schema: string): Promise<{ rows: Record<string, unknown>[]; checkpoint: number }> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const rows = (await client.query('SELECT * FROM jobs ORDER BY job_id')).rows;
    const checkpoint = Number((await client.query('SELECT max(last_seq) AS seq FROM projection_checkpoints')).rows[0]?.seq ?? 0);
    return { rows, checkpoint };
  } finally {
    await client.end();
  }
}

/** The rows of `actual` that differ from `expected` (by job id), both in job order. */
export function differingRows(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): string[] {
  const byId = new Map(expected.map((row) => [String(row['job_id']), JSON.stringify(row)]));
  const differing = actual.filter((row) => byId.get(String(row['job_id'])) !== JSON.stringify(row)).map((row) => String(row['job_id']));
  const missing = [...byId.keys()].filter((id) => !actual.some((row) => String(row['job_id']) === id));
  return [...differing, ...missing];
}

/** For each row of `actual` that differs from `expected` (by job id), the columns that differ, as `job: col, col`. */
export function describeDifferences(actual: Record<string, unknown>[], expected: Record<string, unknown>[], limit = 3): string[] {
  const byId = new Map(expected.map((row) => [String(row['job_id']), row]));
  const out: string[] = [];
  for (const row of actual) {
    const other = byId.get(String(row['job_id']));
    if (!other) continue;
    const columns = Object.keys(row).filter((column) => JSON.stringify(row[column]) !== JSON.stringify(other[column]));
    if (columns.length > 0) out.push(`${String(row['job_id'])}: ${columns.map((c) => `${c} live=${JSON.stringify(row[c])?.slice(0, 120)} replay=${JSON.stringify(other[c])?.slice(0, 120)}`).join('; ')}`);
    if (out.length >= limit) break;
  }
  return out;
}
