import type { DataSource, EntityManager } from 'typeorm';
import { evolve, type JobState } from '@app/job-state';
import type { JobEvent } from '@app/contracts';
import { storedTraceId, type StoredJobEvent, type StoredTrace } from '@app/event-store';
import { rawRowToState, stateToRecord, type RawJobRow } from './job-row.mapper.js';
import { qualified } from './model-schema.js';
import { dataErrorOf, insertParkedEvent, parkedEventOf, readParkedEvents, UnprojectableEventError, type ParkedEvent } from './parked-events.js';

/**
 * One position of the stream handed to the writer: an event (with the trace context its message was
 * stored with, if any), or a sequence to step over.
 */
export type ProjectionItem = { seq: number; event: JobEvent | null; trace?: StoredTrace };

/** The item of an event read from the stream: its headers' trace context goes along (the job's trace id comes from it). */
export function projectionItemOf(stored: StoredJobEvent): ProjectionItem {
  return stored.trace ? { seq: stored.seq, event: stored.event, trace: stored.trace } : { seq: stored.seq, event: stored.event };
}

/** The name of the checkpoint row of the jobs projection in every model schema. */
export const PROJECTION_NAME = 'jobs';

export interface ApplyResult {
  /** The checkpoint after the commit. */
  lastSeq: number;
  /** Events folded into rows. */
  applied: number;
  /** Items at or below the checkpoint: already projected, so ignored. */
  duplicates: number;
  /** Rows inserted or updated. */
  rows: number;
  /**
   * Events stepped over because their row could not be written (see parked-events.ts), recorded in
   * the model's parked_events in the transaction that moved the checkpoint past them.
   */
  parked: ParkedEvent[];
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

/**
 * Which model schema a writer folds into. `lock` is called first in every write transaction: the
 * live target locks the projection registry there, so the model cannot be switched under a batch.
 */
export interface ProjectionTarget {
  lock(tx: EntityManager): Promise<string>;
  /** The schema as of now, for reads outside a write (the checkpoint). */
  current(): Promise<string>;
}

/** A fixed model schema: a rebuild, a shadow, a test. */
export function schemaTarget(schema: string): ProjectionTarget {
  qualified(schema, 'jobs');
  return { lock: async () => schema, current: async () => schema };
}

export interface ProjectionWriterOptions {
  /**
   * For a writer that is the only one writing its schema (a rebuild): keep job states in memory
   * instead of reading them back, up to this many jobs. Beyond that the oldest are dropped and read
   * from PostgreSQL again when needed.
   */
  cacheJobs?: number;
  /** With cacheJobs: the schema was empty when this writer began, so a job not cached has no row yet. */
  startsEmpty?: boolean;
}

export const UPSERT_COLUMNS = `job_id uuid, status text, tenant text, priority text, pipeline text, params jsonb, video jsonb, progress double precision,
  progress_detail jsonb, attempts integer, worker_id text, created_at timestamptz, updated_at timestamptz, started_at timestamptz,
  completed_at timestamptz, duration_ms integer, error jsonb, result jsonb, result_ref jsonb, artifacts jsonb, correlation_id text,
  dead_letter jsonb, cancel_requested_at timestamptz, delete_request jsonb, deleted_at timestamptz, split jsonb, trace_id text, last_seq bigint`;
/** Every column of the jobs table, in the order of UPSERT_COLUMNS. */
export const JOB_COLUMNS = UPSERT_COLUMNS.split(',').map((column) => column.trim().split(/\s+/)[0]!);

/** Rows per upsert statement: the size PostgreSQL takes fastest here (see the replay benchmark). */
export const UPSERT_CHUNK = 500;

type Changed = Map<string, { state: JobState; lastSeq: number }>;

/**
 * Folds a batch of events into the read model in one transaction, together with the checkpoint, so
 * the rows and the position they reflect can never disagree. Idempotent by stream sequence: items at
 * or below the checkpoint change nothing. Events are applied with the same `evolve` as every other view.
 *
 * No single event can stop it: when a batch fails because of its data (PostgreSQL refuses a row with
 * a data error, or folding an event throws; see dataErrorOf), the batch is split in halves under
 * savepoints, recursively, down to the event at fault, which is parked: recorded in parked_events
 * while the checkpoint moves past it, and left out of its job's row. Every other failure (a
 * connection lost, PostgreSQL down) fails the whole batch, as before, and parks nothing.
 */
export class ProjectionWriter {
  private readonly cache: Changed | null;
  private startsEmpty: boolean;

  constructor(
    private readonly ds: DataSource,
    readonly target: ProjectionTarget,
    private readonly options: ProjectionWriterOptions = {},
  ) {
    this.cache = options.cacheJobs ? new Map() : null;
    this.startsEmpty = Boolean(options.cacheJobs && options.startsEmpty);
  }

  /**
   * @param fromSeq the first sequence this batch covers (items may skip sequences that hold no event)
   * @param throughSeq the last sequence this batch covers; the checkpoint moves here
   */
  async apply(items: ProjectionItem[], fromSeq: number, throughSeq: number): Promise<ApplyResult> {
    let changed: Changed = new Map();
    try {
      const result = await this.ds.transaction(async (tx) => {
        const outcome = await this.write(tx, items, fromSeq, throughSeq);
        changed = outcome.changed;
        return outcome.result;
      });
      this.remember(changed);
      return result;
    } catch (error) {
      // What the cache holds may not have been committed: forget it and read rows back from now on.
      this.cache?.clear();
      this.startsEmpty = false;
      if (!dataErrorOf(error)) throw error;
      // An event of the batch cannot be written: find it and park it, in a transaction of its own.
      return this.ds.transaction((tx) => this.isolate(tx, bySeq(items), fromSeq, throughSeq, error));
    }
  }

  /** The same as apply, inside a transaction the caller owns (the cache is not used; parking uses savepoints). */
  async applyIn(tx: EntityManager, items: ProjectionItem[], fromSeq: number, throughSeq: number): Promise<ApplyResult> {
    return this.isolate(tx, bySeq(items), fromSeq, throughSeq, null);
  }

  /**
   * Writes `items` inside `tx`, parking what cannot be written: the batch is tried under a savepoint
   * (unless `failed` says how it fails already); on a data error it is rolled back to the savepoint
   * and split in two halves of its events, each written the same way, down to a single event, which
   * is parked. The halves commit with the caller's transaction, so a batch with one bad event costs
   * about 2·log2(n) tries, and the rest of it is written.
   */
  private async isolate(tx: EntityManager, items: ProjectionItem[], fromSeq: number, throughSeq: number, failed: unknown): Promise<ApplyResult> {
    let failure = failed;
    if (failure === null) {
      const tried = await this.tryUnderSavepoint(tx, () => this.write(tx, items, fromSeq, throughSeq, false).then((outcome) => outcome.result));
      if (tried.ok) return tried.value;
      failure = tried.error;
    }
    const events = items.filter((item): item is { seq: number; event: JobEvent } => item.event !== null);
    // A data error without an event to blame is not one that parking can get past.
    if (events.length === 0) throw failure;
    if (events.length === 1) return this.park(tx, items, fromSeq, throughSeq, events[0]!, failure);
    const split = items.indexOf(events[Math.floor(events.length / 2)]!);
    const leftThrough = items[split - 1]!.seq;
    const left = await this.isolate(tx, items.slice(0, split), fromSeq, leftThrough, null);
    const right = await this.isolate(tx, items.slice(split), leftThrough + 1, throughSeq, null);
    return {
      lastSeq: Math.max(left.lastSeq, right.lastSeq),
      applied: left.applied + right.applied,
      duplicates: left.duplicates + right.duplicates,
      rows: left.rows + right.rows,
      parked: [...left.parked, ...right.parked],
    };
  }

  /** Steps over `culprit`: the rest of the items are written, the checkpoint moves to throughSeq, and the event is recorded as parked. */
  private async park(
    tx: EntityManager,
    items: ProjectionItem[],
    fromSeq: number,
    throughSeq: number,
    culprit: { seq: number; event: JobEvent },
    failure: unknown,
  ): Promise<ApplyResult> {
    const parked = parkedEventOf(culprit.seq, culprit.event, dataErrorOf(failure)!);
    const rest = items.map((item) => (item === culprit ? { seq: item.seq, event: null } : item));
    const { result, schema } = await this.write(tx, rest, fromSeq, throughSeq, false);
    await insertParkedEvent(tx, schema, parked);
    return { ...result, parked: [parked] };
  }

  /** Runs `work` under a savepoint of `tx`: a data error rolls back to it and is returned; any other error is thrown. */
  private async tryUnderSavepoint<T>(tx: EntityManager, work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    await tx.query('SAVEPOINT framewire_batch');
    try {
      const value = await work();
      await tx.query('RELEASE SAVEPOINT framewire_batch');
      return { ok: true, value };
    } catch (error) {
      if (!dataErrorOf(error)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT framewire_batch');
      await tx.query('RELEASE SAVEPOINT framewire_batch');
      return { ok: false, error };
    }
  }

  async checkpoint(): Promise<number> {
    return readCheckpoint(this.ds, await this.target.current());
  }

  /** How many events are parked in the model this writer writes. */
  async parkedCount(): Promise<number> {
    return (await readParkedEvents(this.ds, await this.target.current(), 0)).count;
  }

  private async write(
    tx: EntityManager,
    items: ProjectionItem[],
    fromSeq: number,
    throughSeq: number,
    useCache = true,
  ): Promise<{ result: ApplyResult; changed: Changed; schema: string }> {
    const schema = await this.target.lock(tx);
    const checkpoint = await lockCheckpoint(tx, schema);
    if (fromSeq > checkpoint + 1) throw new ProjectionGapError(checkpoint, fromSeq);
    const fresh = items.filter((item) => item.seq > checkpoint).sort((a, b) => a.seq - b.seq);
    const duplicates = items.length - fresh.length;
    const changed: Changed = new Map();
    if (throughSeq <= checkpoint) return { result: { lastSeq: checkpoint, applied: 0, duplicates, rows: 0, parked: [] }, changed, schema };

    const events = fresh.filter((item): item is ProjectionItem & { event: JobEvent } => item.event !== null);
    // Jobs by their id in lower case, as the uuid column gives it back: the schema takes either case,
    // and two spellings of one id must fold into one row (in one upsert they would be refused).
    const states = await this.loadStates(tx, schema, [...new Set(events.map((item) => rowKey(item.event)))], useCache);
    for (const item of events) {
      const { seq, event } = item;
      const key = rowKey(event);
      const before = changed.get(key)?.state ?? states.get(key) ?? null;
      let after: JobState | null;
      try {
        after = evolve(before, event, { traceId: storedTraceId(item) });
      } catch (error) {
        throw new UnprojectableEventError('EVOLVE_FAILED', error);
      }
      if (after) changed.set(key, { state: after, lastSeq: seq });
    }
    // Rows go in statements of at most UPSERT_CHUNK rows; the last one also moves the checkpoint
    // (one round trip fewer per batch).
    const moveCheckpoint = `UPDATE ${qualified(schema, 'projection_checkpoints')} SET last_seq = $2, updated_at = now() WHERE name = $1`;
    const rows = [...changed.values()];
    for (let i = 0; i + UPSERT_CHUNK < rows.length; i += UPSERT_CHUNK) await upsertRows(tx, schema, rows.slice(i, i + UPSERT_CHUNK));
    const tail = rows.slice(Math.floor(Math.max(rows.length - 1, 0) / UPSERT_CHUNK) * UPSERT_CHUNK);
    if (tail.length > 0) {
      await tx.query(`WITH upserted AS (${UPSERT_SQL(schema, '$3')}) ${moveCheckpoint}`, [PROJECTION_NAME, throughSeq, recordsJson(tail)]);
    } else {
      await tx.query(moveCheckpoint, [PROJECTION_NAME, throughSeq]);
    }
    return { result: { lastSeq: throughSeq, applied: events.length, duplicates, rows: changed.size, parked: [] }, changed, schema };
  }

  private async loadStates(tx: EntityManager, schema: string, jobIds: string[], useCache: boolean): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    let missing = jobIds;
    if (useCache && this.cache) {
      missing = [];
      for (const id of jobIds) {
        const cached = this.cache.get(id);
        if (cached) states.set(id, cached.state);
        else missing.push(id);
      }
      if (this.startsEmpty) return states;
    }
    if (missing.length === 0) return states;
    const rows: RawJobRow[] = await tx.query(`SELECT * FROM ${qualified(schema, 'jobs')} WHERE job_id = ANY($1::uuid[])`, [missing]);
    for (const row of rows) states.set(row.job_id, rawRowToState(row));
    return states;
  }

  private remember(changed: Changed): void {
    if (!this.cache) return;
    const limit = this.options.cacheJobs!;
    for (const [id, value] of changed) {
      this.cache.delete(id);
      this.cache.set(id, value);
    }
    if (this.cache.size > limit) {
      this.startsEmpty = false;
      for (const id of this.cache.keys()) {
        if (this.cache.size <= limit) break;
        this.cache.delete(id);
      }
    }
  }
}

/** The checkpoint of the model in `schema` (0 when it has none yet). */
export async function readCheckpoint(q: Pick<DataSource, 'query'> | EntityManager, schema: string): Promise<number> {
  const rows: { last_seq: string }[] = await q.query(`SELECT last_seq FROM ${qualified(schema, 'projection_checkpoints')} WHERE name = $1`, [
    PROJECTION_NAME,
  ]);
  return rows.length ? Number(rows[0]!.last_seq) : 0;
}

/** Creates the checkpoint row if needed and locks it for this transaction, in one statement; returns its position. */
async function lockCheckpoint(tx: EntityManager, schema: string): Promise<number> {
  const rows: { last_seq: string }[] = await tx.query(
    `INSERT INTO ${qualified(schema, 'projection_checkpoints')} AS c (name, last_seq, updated_at) VALUES ($1, 0, now())
     ON CONFLICT (name) DO UPDATE SET name = c.name RETURNING c.last_seq`,
    [PROJECTION_NAME],
  );
  return Number(rows[0]!.last_seq);
}

/** The batched upsert of whole rows: one statement per batch, rows passed as one jsonb array. */
export async function upsertRows(
  q: Pick<EntityManager, 'query'>,
  schema: string,
  rows: { state: JobState; lastSeq: number }[],
): Promise<void> {
  await q.query(UPSERT_SQL(schema, '$1'), [recordsJson(rows)]);
}

function recordsJson(rows: { state: JobState; lastSeq: number }[]): string {
  try {
    return JSON.stringify(rows.map(({ state, lastSeq }) => stateToRecord(state, lastSeq)));
  } catch (error) {
    throw new UnprojectableEventError('ROW_MAPPING_FAILED', error);
  }
}

function rowKey(event: JobEvent): string {
  return event.jobId.toLowerCase();
}

function bySeq(items: ProjectionItem[]): ProjectionItem[] {
  return [...items].sort((a, b) => a.seq - b.seq);
}

const UPDATES = JOB_COLUMNS.filter((column) => column !== 'job_id')
  .map((column) => `${column} = EXCLUDED.${column}`)
  .join(', ');

const UPSERT_SQL = (schema: string, param: string) => `INSERT INTO ${qualified(schema, 'jobs')} (${JOB_COLUMNS.join(', ')})
  SELECT * FROM jsonb_to_recordset(${param}::jsonb) AS r(${UPSERT_COLUMNS})
  ON CONFLICT (job_id) DO UPDATE SET ${UPDATES}`;
