import {
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobSubjects } from '@app/contracts';

const DUPLICATE_WINDOW_NS = 2 * 60 * 1_000_000_000;
const ADVISORY_MAX_AGE_NS = 30 * 24 * 3600 * 1_000_000_000;

export interface StreamOptions {
  /**
   * How many servers of a cluster keep each stream (NATS_STREAM_REPLICAS): 1 on a single server,
   * 3 on a three-node cluster, where an acknowledged event then survives the loss of one node.
   */
  replicas?: number;
  /**
   * The event stream's size limit in bytes (NATS_STREAM_MAX_BYTES; -1: none). Left out, an existing
   * stream keeps the limit it has: only the jobs service, which owns the storage settings, sets it.
   */
  maxBytes?: number;
}

/**
 * The event log: file storage, Limits retention (kept after acks), direct gets for per-job reads,
 * and DiscardNew: when a size limit is set and reached, appends are refused (the gateway answers 507
 * STORAGE_FULL), never old events deleted.
 */
export function eventStreamConfig(subjects: JobSubjects, options: StreamOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: subjects.streamName,
    description: 'Framewire job events: the source of truth',
    subjects: [subjects.all],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // The source of truth never drops an event to make room: at its size limit, new appends are refused.
    discard: DiscardPolicy.New,
    max_msgs: -1,
    ...(options.maxBytes !== undefined ? { max_bytes: options.maxBytes } : {}),
    max_age: 0,
    max_msg_size: -1,
    num_replicas: options.replicas ?? 1,
    duplicate_window: DUPLICATE_WINDOW_NS,
    allow_direct: true,
    // Atomic batch publishes (nats-server 2.12+): group commit sends appends that wait together as
    // one batch, which shares one fsync (docs/adr/0003-group-commit.md).
    allow_atomic: true,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: false,
  };
}

/**
 * Captures the server's MAX_DELIVERIES advisories about the event stream's consumers. Advisories are
 * core NATS messages, lost if nobody listens when they fire; stored here, they wait for the jobs
 * service's durable consumer, which turns each into a dead letter and acks it (work-queue retention:
 * an acked advisory is removed). Advisories nobody consumes expire after 30 days.
 */
export function advisoryStreamConfig(subjects: JobSubjects, options: StreamOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: subjects.advisoryStreamName,
    description: 'Framewire: MAX_DELIVERIES advisories of the event stream, until they become dead letters',
    subjects: [subjects.maxDeliveriesAdvisories],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.Old,
    max_msgs: -1,
    max_bytes: -1,
    max_age: ADVISORY_MAX_AGE_NS,
    num_replicas: options.replicas ?? 1,
    duplicate_window: DUPLICATE_WINDOW_NS,
  };
}

/**
 * Creates the advisory capture and the event stream, in that order, or brings existing ones up to the
 * expected configuration. Safe to call at every start, concurrently. Only the jobs service calls it
 * (the other services' NATS users may not manage streams: they wait for the event stream with
 * awaitEventStream); since the capture is made first, it exists whenever the event stream does, so
 * before any consumer of the event stream can run out of deliveries.
 */
export async function ensureEventStream(nc: NatsConnection, subjects: JobSubjects, options: StreamOptions = {}): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, advisoryStreamConfig(subjects, options));
  return ensureStream(jsm, eventStreamConfig(subjects, options));
}

/**
 * Makes the event stream and its advisory capture (or brings them up to date) with the options the
 * service was started with: for the jobs service, which owns the stream and makes it again when it is
 * deleted, or lost with NATS's data, while the service runs.
 */
export class EventStreamSetup {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: JobSubjects,
    private readonly options: StreamOptions,
  ) {}

  ensure(): Promise<StreamInfo> {
    return ensureEventStream(this.nc, this.subjects, this.options);
  }
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<StreamInfo> {
  const existing = await streamInfoOrNull(jsm, config.name);
  if (!existing) {
    try {
      return await jsm.streams.add(config);
    } catch (error) {
      // Another service created it in the meantime: fall through to the update path.
      const raced = await streamInfoOrNull(jsm, config.name);
      if (!raced) throw error;
      return updateIfChanged(jsm, raced, config);
    }
  }
  return updateIfChanged(jsm, existing, config);
}

async function updateIfChanged(
  jsm: JetStreamManager,
  info: StreamInfo,
  wanted: Partial<StreamConfig> & { name: string },
): Promise<StreamInfo> {
  const current = info.config as unknown as Record<string, unknown>;
  // Storage cannot change after creation; everything else here can.
  const mutable = Object.entries(wanted).filter(([key]) => key !== 'storage' && key !== 'name');
  const differs = mutable.some(([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value));
  if (!differs) return info;
  return jsm.streams.update(wanted.name, Object.fromEntries(mutable));
}

async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
    throw error;
  }
}

/**
 * Waits until the event stream exists, without creating or changing it: for services that may only
 * read its configuration. Logs nothing; fails after `timeoutMs` with a message naming the stream.
 */
export async function awaitEventStream(nc: NatsConnection, subjects: JobSubjects, timeoutMs = 60_000): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await streamInfoOrNull(jsm, subjects.streamName);
    if (info) return info;
    if (Date.now() > deadline) throw new Error(`the event stream ${subjects.streamName} does not exist (is the jobs service running?)`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
