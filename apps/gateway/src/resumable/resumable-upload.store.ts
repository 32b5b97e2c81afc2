import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { JobSubjects } from '@app/contracts';
import { isStreamNotFound } from '@app/nats';
import { UploadStateConflict, type UploadSegment, type UploadState } from './upload-state.js';

/** Bytes per chunk message: well under NATS's default 1 MiB max_payload. */
export const CHUNK_BYTES = 256 * 1024;
/** Chunk publishes awaiting their ack at once (8 MiB in flight). */
const PUBLISH_WINDOW = 32;
/** While a PATCH streams, the offset is committed every this many acknowledged bytes. */
const COMMIT_EVERY_BYTES = 8 * 1024 * 1024;
/** Kept past an upload's expiry by the chunk stream's max_age: a backstop for a sweep that never ran. */
const STREAM_AGE_SLACK_MS = 3_600_000;

export interface NewUpload {
  id: string;
  tenant: string;
  length: number;
  metadata: Record<string, string | null>;
  createdAt: Date;
  expiresAt: Date;
}

export interface AppendOptions {
  /** The PATCH's `Upload-Checksum` (base64 sha256): the bytes are kept only if they match it. */
  sha256?: string;
  /**
   * Judges the upload's first bytes (up to `headBytes` of them, fewer when the upload is shorter) as
   * soon as they have arrived: throws to refuse the upload, else returns the content type to store.
   */
  inspectHead?: (head: Buffer) => string;
  headBytes?: number;
}

export class ChecksumMismatchError extends Error {
  constructor() {
    super('the PATCH body does not match its Upload-Checksum');
    this.name = 'ChecksumMismatchError';
  }
}

/**
 * Resumable uploads on JetStream: each upload's state is a value in a KV bucket (compare-and-set on
 * its revision), its bytes are messages on `<ns>.upload.<id>.<segment>` in a file-storage stream, one
 * segment per PATCH. An offset is committed to the state only after JetStream has acknowledged every
 * chunk below it, so any gateway that reads the state can continue the upload, and a gateway killed
 * mid-PATCH loses only the bytes it had not committed (they stay behind the committed length of the
 * segment and are never read). See docs/adr/0009-resumable-uploads.md.
 */
export class ResumableUploadStore {
  private constructor(
    private readonly subjects: JobSubjects,
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /** Opens (creating if needed, idempotently) the state bucket and the chunk stream. */
  static async open(nc: NatsConnection, subjects: JobSubjects, options: { expiresMs: number; replicas?: number }): Promise<ResumableUploadStore> {
    const replicas = options.replicas ?? 1;
    const kv = await new Kvm(nc).create(subjects.uploadsBucket, { history: 1, replicas, storage: StorageType.File, description: 'Framewire resumable uploads (tus): state' });
    const jsm = await jetstreamManager(nc);
    const maxAgeNanos = (options.expiresMs + STREAM_AGE_SLACK_MS) * 1_000_000;
    const name = subjects.uploadChunksStreamName;
    try {
      const info = await jsm.streams.info(name);
      // The longest expiry any gateway was started with wins: a shorter one must not cut another's uploads short.
      if (info.config.max_age < maxAgeNanos) await jsm.streams.update(name, { max_age: maxAgeNanos });
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await jsm.streams
        .add({ name, subjects: [subjects.allUploadChunks], storage: StorageType.File, num_replicas: replicas, max_age: maxAgeNanos, duplicate_window: 60_000_000_000, description: 'Framewire resumable uploads (tus): bytes' })
        .catch(async (added: unknown) => {
          // Another gateway made it at the same moment.
          await jsm.streams.info(name).catch(() => Promise.reject(added));
        });
    }
    return new ResumableUploadStore(subjects, kv, jetstream(nc), jsm);
  }

  async create(upload: NewUpload): Promise<UploadState> {
    const state: UploadState = {
      id: upload.id,
      tenant: upload.tenant,
      length: upload.length,
      offset: 0,
      metadata: upload.metadata,
      createdAt: upload.createdAt.toISOString(),
      expiresAt: upload.expiresAt.toISOString(),
      segments: [],
      head: '',
      contentType: null,
      jobId: null,
    };
    await this.kv.create(upload.id, encode(state));
    return state;
  }

  /** The upload's state with the revision to update it at, or null when there is none. */
  async get(id: string): Promise<{ state: UploadState; revision: number } | null> {
    if (!isKeyToken(id)) return null;
    const entry = await this.kv.get(id);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return null;
    return { state: JSON.parse(entry.string()) as UploadState, revision: entry.revision };
  }

  /** Writes `state` if the stored one is still at `revision`; UploadStateConflict otherwise. */
  async put(state: UploadState, revision: number): Promise<number> {
    try {
      return await this.kv.update(state.id, encode(state), revision);
    } catch (error) {
      if (/wrong last sequence/i.test(String(error))) throw new UploadStateConflict(state.id);
      throw error;
    }
  }

  /**
   * Appends `body` at `offset` as a new segment and returns the new offset. Every COMMIT_EVERY_BYTES,
   * and when the body ends or fails, the acknowledged bytes are committed to the state; with a
   * checksum, nothing is committed until the whole body is there and matches it (a body that fails
   * or does not match leaves the offset where it was, and its segment is purged).
   */
  async append(id: string, offset: number, body: Readable, options: AppendOptions = {}): Promise<number> {
    const current = await this.get(id);
    if (!current) throw new Error(`no upload ${id}`);
    let { state, revision } = current;
    if (state.offset !== offset) throw new UploadStateConflict(id);
    const segment: UploadSegment = { id: randomBytes(10).toString('hex'), start: offset, length: 0 };
    const subject = this.subjects.uploadChunks(id, segment.id);
    const hash = options.sha256 ? createHash('sha256') : null;
    const headNeeded = state.contentType === null && options.inspectHead ? Math.min(options.headBytes ?? 0, state.length) : 0;
    let head: Buffer = Buffer.from(state.head, 'base64');
    let contentType = state.contentType;
    let received = 0;
    let acked = 0;
    let committedAt = 0;
    let refused = false;
    const inFlight: Array<{ ack: Promise<PubAck>; size: number }> = [];
    let pending: Buffer = Buffer.alloc(0);

    const inspect = () => {
      try {
        contentType = options.inspectHead!(head);
      } catch (error) {
        refused = true;
        throw error;
      }
    };
    const commit = async () => {
      const end = segment.start + acked;
      if (acked === committedAt && contentType === state.contentType) return;
      const others = state.segments.filter((s) => s.id !== segment.id);
      const next: UploadState = {
        ...state,
        offset: end,
        segments: acked > 0 ? [...others, { ...segment, length: acked }] : others,
        // Only committed bytes of the head are kept: the next body starts right after them.
        head: contentType === null ? head.subarray(0, end).toString('base64') : '',
        contentType,
      };
      revision = await this.put(next, revision);
      state = next;
      committedAt = acked;
    };
    const publish = async (data: Buffer) => {
      const ack = this.js.publish(subject, data, { timeout: 30_000 });
      // Awaited in order below; one left behind by a failure must not be an unhandled rejection.
      ack.catch(() => undefined);
      inFlight.push({ ack, size: data.length });
      while (inFlight.length >= PUBLISH_WINDOW) await settleOne();
    };
    const settleOne = async () => {
      const first = inFlight[0]!;
      await first.ack;
      inFlight.shift();
      acked += first.size;
    };

    try {
      for await (const part of body) {
        const data = part as Buffer;
        received += data.length;
        hash?.update(data);
        if (contentType === null && head.length < headNeeded) {
          head = Buffer.concat([head, data.subarray(0, headNeeded - head.length)]);
          if (head.length >= headNeeded) inspect();
        }
        pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
        while (pending.length >= CHUNK_BYTES) {
          await publish(Buffer.from(pending.subarray(0, CHUNK_BYTES)));
          pending = pending.subarray(CHUNK_BYTES);
        }
        if (!hash && acked - committedAt >= COMMIT_EVERY_BYTES) await commit();
      }
      // The upload ends with this body: its head is whatever it has, however short.
      if (headNeeded > 0 && contentType === null && offset + received >= state.length) inspect();
      if (pending.length > 0) await publish(Buffer.from(pending));
      while (inFlight.length > 0) await settleOne();
      if (hash && hash.digest('base64') !== options.sha256) throw new ChecksumMismatchError();
      await commit();
      return state.offset;
    } catch (error) {
      // What was acknowledged before a failure stays (the client resumes after it), unless the body
      // had a checksum (a partial body cannot be checked), or it was refused or overtaken.
      // The publishes still in flight count up to the first that failed (JetStream stores them in order).
      for (const { ack, size } of inFlight.splice(0)) {
        const ok = await ack.then(() => true, () => false);
        if (!ok) break;
        acked += size;
      }
      const keep = !hash && !refused && !(error instanceof UploadStateConflict);
      if (keep) await commit().catch(() => undefined);
      if (!keep || committedAt === 0) await this.purge(subject).catch(() => undefined);
      throw error;
    }
  }

  /** The upload's committed bytes, in order, each chunk read once from the stream. */
  read(state: UploadState): Readable {
    const js = this.js;
    const stream = this.subjects.uploadChunksStreamName;
    const subjectOf = (segment: UploadSegment) => this.subjects.uploadChunks(state.id, segment.id);
    const segments = [...state.segments].sort((a, b) => a.start - b.start);
    async function* bytes(): AsyncGenerator<Uint8Array> {
      let position = 0;
      for (const segment of segments) {
        if (segment.start !== position) throw new Error(`upload ${state.id}: segment ${segment.id} starts at ${segment.start}, expected ${position}`);
        if (segment.length === 0) continue;
        const consumer = await js.consumers.get(stream, { filter_subjects: subjectOf(segment) });
        const messages = await consumer.consume({ max_messages: 64 });
        let read = 0;
        try {
          for await (const msg of messages) {
            const take = Math.min(msg.data.length, segment.length - read);
            read += take;
            yield take === msg.data.length ? msg.data : msg.data.subarray(0, take);
            if (read >= segment.length) break;
          }
        } finally {
          await messages.close().catch(() => undefined);
          await consumer.delete().catch(() => undefined);
        }
        if (read !== segment.length) throw new Error(`upload ${state.id}: segment ${segment.id} has ${read} of its ${segment.length} bytes`);
        position += read;
      }
      if (position !== state.offset) throw new Error(`upload ${state.id}: read ${position} bytes, its offset is ${state.offset}`);
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Deletes the upload's bytes (every segment, committed or not). */
  async purgeBytes(id: string): Promise<void> {
    await this.purge(this.subjects.uploadChunks(id, '*'));
  }

  /** Deletes the upload: its bytes, then its state. */
  async remove(id: string): Promise<void> {
    await this.purgeBytes(id);
    await this.kv.purge(id);
  }

  /**
   * Deletes every upload whose expiry has passed (bytes, then state, the state only if unchanged
   * since it was read). Any number of gateways may sweep at once: each deletion is idempotent.
   */
  async sweep(now: Date): Promise<number> {
    let removed = 0;
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const key of keys) {
      const found = await this.get(key).catch(() => null);
      if (!found || new Date(found.state.expiresAt).getTime() > now.getTime()) continue;
      await this.purgeBytes(key);
      try {
        await this.kv.purge(key, { previousSeq: found.revision });
        removed += 1;
      } catch {
        // Changed since it was read (another gateway swept it, or it was just completed): left for the next sweep.
      }
    }
    return removed;
  }

  private async purge(filter: string): Promise<void> {
    await this.jsm.streams.purge(this.subjects.uploadChunksStreamName, { filter });
  }
}

function encode(state: UploadState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

function isKeyToken(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

