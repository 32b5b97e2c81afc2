import type { DataSource, EntityManager } from 'typeorm';
import type { EventStore, MalformedMessage, ReadItem, StreamIdentity } from '@app/event-store';
import {
  adoptStreamIdentity,
  migrateModelSchema,
  projectionItemOf,
  ProjectionWriter,
  sameStream,
  schemaTarget,
  type ApplyResult,
  type CatchUp,
  type ParkedEvent,
  type ProjectionItem,
} from '@app/read-model';
import { guardedByStream, StreamChangedError, streamStillThere } from './stream-guard.js';

/** Folds one batch into a model: a ProjectionWriter's apply, or applyIn inside a transaction. */
export type ApplyBatch = (items: ProjectionItem[], fromSeq: number, throughSeq: number) => Promise<ApplyResult>;

export interface RebuildProgress {
  fromSeq: number;
  toSeq: number;
  /** The last sequence applied so far. */
  throughSeq: number;
  /** Stream messages read and applied (events and malformed messages). */
  messages: number;
  /** Row upserts written (several events of one job in one batch make one). */
  rows: number;
  elapsedMs: number;
}

export interface RebuildStats extends RebuildProgress {
  malformed: number;
  /** Events whose row could not be written, parked in the model (see ProjectionWriter). */
  parked: number;
  /** Messages per second over the whole rebuild. */
  eventsPerSecond: number;
}

export interface RebuildRangeOptions {
  store: EventStore;
  apply: ApplyBatch;
  fromSeq: number;
  toSeq: number;
  /** Events per batch (one transaction each). */
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
  onMalformed?: (message: MalformedMessage) => void;
  /** Called for each event the writer parked. */
  onParked?: (parked: ParkedEvent) => void;
  signal?: AbortSignal;
  /** Fail when the stream is deleted under the read rather than wait for it to come back (see EventStore.readRange). */
  stopIfStreamGone?: boolean;
}

/**
 * Events per transaction of a rebuild. Larger than the live projector's micro-batches: a job's
 * events more often fall in one batch, so fewer intermediate rows are written (rows still go to
 * PostgreSQL in statements of UPSERT_CHUNK).
 */
export const DEFAULT_REBUILD_BATCH = 2000;

/**
 * Reads `fromSeq..toSeq` of the stream with an ordered consumer and folds it into a model batch by
 * batch, each batch in one transaction with the checkpoint. Sequences that hold nothing are
 * covered too, so the checkpoint ends at `toSeq`. The building block of the projector's catch-up,
 * of `framewire replay`, of a version upgrade and of a switch's last catch-up.
 */
export async function rebuildRange(options: RebuildRangeOptions): Promise<RebuildStats> {
  const { store, apply, fromSeq, toSeq, onProgress, signal } = options;
  const started = performance.now();
  const progress: RebuildProgress = { fromSeq, toSeq, throughSeq: fromSeq - 1, messages: 0, rows: 0, elapsedMs: 0 };
  let malformed = 0;
  let parked = 0;
  const applyBatch = async (items: ProjectionItem[], through: number) => {
    signal?.throwIfAborted();
    const result = await apply(items, progress.throughSeq + 1, through);
    parked += result.parked.length;
    for (const event of result.parked) options.onParked?.(event);
    progress.throughSeq = through;
    progress.messages += items.length;
    progress.rows += result.rows;
    progress.elapsedMs = performance.now() - started;
    onProgress?.({ ...progress });
  };
  if (toSeq >= fromSeq) {
    await store.readRange(
      fromSeq,
      toSeq,
      async (batch) => {
        const items = batch.map((item) => {
          if (item.ok) return projectionItemOf(item.stored);
          malformed += 1;
          options.onMalformed?.(item.malformed);
          return { seq: item.malformed.seq, event: null };
        });
        await applyBatch(items, seqOf(batch.at(-1)!));
      },
      options.batchSize ?? DEFAULT_REBUILD_BATCH,
      { stopIfGone: options.stopIfStreamGone },
    );
    // Sequences at the end that hold nothing (none, unless messages were removed) are covered too.
    if (progress.throughSeq < toSeq) await applyBatch([], toSeq);
  }
  progress.elapsedMs = performance.now() - started;
  const seconds = progress.elapsedMs / 1000;
  return { ...progress, malformed, parked, eventsPerSecond: seconds > 0 ? progress.messages / seconds : 0 };
}

export function seqOf(item: ReadItem): number {
  return item.ok ? item.stored.seq : item.malformed.seq;
}

export interface RebuildIntoSchemaOptions {
  store: EventStore;
  /** A data source on the same database (any schema: every statement names its schema). */
  ds: DataSource;
  /** The model schema to fill. */
  schema: string;
  /** When given, the schema is created and migrated through this URL first. */
  url?: string;
  /** Where the stream is read up to; the stream's last sequence when left out. */
  toSeq?: number;
  batchSize?: number;
  /** Jobs whose state a rebuild keeps in memory instead of reading rows back (default 200 000). */
  cacheJobs?: number;
  onProgress?: (progress: RebuildProgress) => void;
  onMalformed?: (message: MalformedMessage) => void;
  onParked?: (parked: ParkedEvent) => void;
  signal?: AbortSignal;
}

/**
 * Rebuilds (or resumes building) the read model in `schema` from its checkpoint to `toSeq`: what
 * `framewire replay`, a projection-version upgrade and the replay benchmark run. The model records
 * the stream it folds, like every model (see stream-identity.ts), so that a switch to it and the
 * jobs service's check at start can tell its stream; it fails with StreamChangedError when it
 * resumes a model of another stream, or when the stream changed while it was read.
 */
export async function rebuildIntoSchema(options: RebuildIntoSchemaOptions): Promise<RebuildStats> {
  const { ds, schema, store } = options;
  if (options.url) await migrateModelSchema(options.url, schema);
  const stream = await store.streamState();
  const model = await adoptStreamIdentity(ds, schema, stream.identity);
  if (model.identity && !sameStream(model.identity, stream.identity)) throw new StreamChangedError(model.identity, stream.identity);
  const empty = await isEmpty(ds, schema);
  const writer = new ProjectionWriter(ds, schemaTarget(schema), { cacheJobs: options.cacheJobs ?? 200_000, startsEmpty: empty });
  const stats = await rebuildRange({
    store,
    apply: (items, f, t) => writer.apply(items, f, t),
    fromSeq: model.checkpoint + 1,
    toSeq: options.toSeq ?? stream.lastSeq,
    batchSize: options.batchSize,
    onProgress: options.onProgress,
    onMalformed: options.onMalformed,
    onParked: options.onParked,
    signal: options.signal,
  });
  // An ordered consumer goes on reading a stream made again under it: what was read must be of one stream.
  await streamStillThere(store, stream.identity);
  return stats;
}

/**
 * A switch's last catch-up: the missing range read from the stream and folded inside the switch's
 * transaction (an event that cannot be written is parked there too, under a savepoint). With
 * `stream`, each batch is folded only if the stream is still that one (see guardedByStream).
 */
export function catchUpFromStream(
  store: EventStore,
  ds: DataSource,
  batchSize = DEFAULT_REBUILD_BATCH,
  options: { stream?: StreamIdentity; onParked?: (parked: ParkedEvent) => void } = {},
): CatchUp {
  return async (tx: EntityManager, schema: string, fromSeq: number, throughSeq: number) => {
    const writer = new ProjectionWriter(ds, schemaTarget(schema));
    const apply: ApplyBatch = (items, f, t) => writer.applyIn(tx, items, f, t);
    const guarded = options.stream ? guardedByStream(store, options.stream, apply) : apply;
    await rebuildRange({ store, apply: guarded, fromSeq, toSeq: throughSeq, batchSize, onParked: options.onParked });
  };
}

async function isEmpty(ds: DataSource, schema: string): Promise<boolean> {
  const rows: unknown[] = await ds.query(`SELECT 1 FROM "${schema}".jobs LIMIT 1`);
  return rows.length === 0;
}
