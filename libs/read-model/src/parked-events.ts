import type { DataSource, EntityManager } from 'typeorm';
import { cleanText, type JobEvent, type ParkedEventView } from '@app/contracts';
import { qualified } from './model-schema.js';

/**
 * An event the projection stepped over because its row could not be written: PostgreSQL refused
 * the row with a data error, or folding the event threw. The checkpoint moved past it in the same
 * transaction that recorded it, so the events after it still project.
 */
export interface ParkedEvent {
  seq: number;
  jobId: string;
  eventId: string;
  type: string;
  version: number;
  /** The SQLSTATE PostgreSQL answered (`22P02`, `22008`, `23502`, `54000`...), or EVOLVE_FAILED / ROW_MAPPING_FAILED. */
  code: string;
  message: string;
}

/** A parked event as the read model holds it. */
export interface ParkedEventRecord extends ParkedEvent {
  parkedAt: Date;
}

/** A parked event as the API and `framewire replay --json` show it. */
export function parkedEventView(p: ParkedEventRecord): ParkedEventView {
  return {
    seq: p.seq,
    job_id: p.jobId,
    event_id: p.eventId,
    event_type: p.type,
    event_version: p.version,
    error_code: p.code,
    error_message: p.message,
    parked_at: p.parkedAt.toISOString(),
  };
}

/**
 * SQLSTATE classes that say the data is at fault, so that writing the same row again can only fail
 * again: 22 data exception (invalid JSON text, a value out of range, an untranslatable character),
 * 23 integrity constraint violation, 54 program limit exceeded (a row too large). Anything else (a
 * connection that died, PostgreSQL shutting down, a serialization failure, a full disk) is the
 * database's own trouble: the batch fails whole and is tried again, and nothing is parked.
 */
const DATA_ERROR_CLASSES = new Set(['22', '23', '54']);

/** Folding an event, or turning its job's state into a row, threw: the event cannot be projected by this code. */
export class UnprojectableEventError extends Error {
  /** What the fold or the mapping threw, as a line. */
  readonly reason: string;

  constructor(
    readonly code: 'EVOLVE_FAILED' | 'ROW_MAPPING_FAILED',
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`${code}: ${reason}`, { cause });
    this.name = 'UnprojectableEventError';
    this.reason = reason;
  }
}

/**
 * Why writing a batch failed, when the failure is one an event of it can be parked for (see
 * DATA_ERROR_CLASSES); null for every other failure, which must never park anything.
 */
export function dataErrorOf(error: unknown): { code: string; message: string } | null {
  if (error instanceof UnprojectableEventError) {
    return { code: error.code, message: error.reason };
  }
  if (!(error instanceof Error)) return null;
  const fields = error as Error & { code?: unknown; detail?: unknown; driverError?: { code?: unknown; detail?: unknown } };
  const code = typeof fields.code === 'string' ? fields.code : fields.driverError?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || !DATA_ERROR_CLASSES.has(code.slice(0, 2))) return null;
  const detail = fields.detail ?? fields.driverError?.detail;
  return { code, message: typeof detail === 'string' && detail ? `${error.message} (${detail})` : error.message };
}

/** The parked event of `event` at `seq` for a failure that dataErrorOf accepted. */
export function parkedEventOf(seq: number, event: JobEvent, cause: { code: string; message: string }): ParkedEvent {
  return {
    seq,
    jobId: event.jobId,
    eventId: event.eventId,
    type: event.type,
    version: event.version,
    code: cause.code,
    // The message may quote the data that was refused: stored as clean text, and short.
    message: cleanText(cause.message, { maxLength: 1000 }),
  };
}

/** Records a parked event in `schema`, inside the transaction that moves the checkpoint past it. */
export async function insertParkedEvent(tx: Pick<EntityManager, 'query'>, schema: string, parked: ParkedEvent): Promise<void> {
  await tx.query(
    `INSERT INTO ${qualified(schema, 'parked_events')} AS p (seq, job_id, event_id, event_type, event_version, error_code, error_message, parked_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT (seq) DO UPDATE SET error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, parked_at = EXCLUDED.parked_at`,
    [parked.seq, parked.jobId, parked.eventId, parked.type, parked.version, parked.code, parked.message],
  );
}

export interface ParkedEvents {
  count: number;
  /** The most recent ones (highest sequence first). */
  recent: ParkedEventRecord[];
}

/**
 * How many events are parked in the model `schema` (the home schema's view shows the active model's;
 * null reads `parked_events` through the connection's search_path), and the most recent `limit` of
 * them. A model made before parked events existed has none.
 */
export async function readParkedEvents(q: Pick<DataSource, 'query'> | EntityManager, schema: string | null, limit = 20): Promise<ParkedEvents> {
  const table = schema === null ? 'parked_events' : qualified(schema, 'parked_events');
  const [exists] = (await q.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table])) as [{ ok: boolean }];
  if (!exists.ok) return { count: 0, recent: [] };
  const [{ count }] = (await q.query(`SELECT count(*)::int AS count FROM ${table}`)) as [{ count: number }];
  const rows: ParkedRow[] = limit > 0 ? await q.query(`SELECT * FROM ${table} ORDER BY seq DESC LIMIT $1`, [limit]) : [];
  return {
    count,
    recent: rows.map((row) => ({
      seq: Number(row.seq),
      jobId: row.job_id,
      eventId: row.event_id,
      type: row.event_type,
      version: row.event_version,
      code: row.error_code,
      message: row.error_message,
      parkedAt: row.parked_at,
    })),
  };
}

interface ParkedRow {
  seq: string;
  job_id: string;
  event_id: string;
  event_type: string;
  event_version: number;
  error_code: string;
  error_message: string;
  parked_at: Date;
}
