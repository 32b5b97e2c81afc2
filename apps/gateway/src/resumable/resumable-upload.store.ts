import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { createSHA256, type IHasher } from 'hash-wasm';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { JobSubjects } from '@app/contracts';
import { BlobStore } from '@app/blob-store';
import { isStreamNotFound } from '@app/nats';
import { UploadStateConflict, type UploadState } from './upload-state.js';

/** Bytes per chunk message: well under NATS's default 1 MiB max_payload. */
export const CHUNK_BYTES = 256 * 1024;
/** Chunk publishes awaiting their ack at once (8 MiB in flight). */
const PUBLISH_WINDOW = 32;
/** Chunks read per direct-get batch when the completion reads the upload back (8 MiB). */
const READ_BATCH = 32;
/** While a PATCH streams, the offset is committed every this many acknowledged bytes. */
const COMMIT_EVERY_BYTES = 8 * 1024 * 1024;

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
 * Resumable uploads on JetStream, written straight into the video bucket's object format (NATS ADR-20):
 * each upload's state is a value in a KV bucket (compare-and-set on its revision), its bytes are chunk
 * messages on `$O.<bucket>.C.<nuid>` with a nuid of its own, and completion publishes the object's
 * metadata over them (BlobStore.adopt): no copy. An offset is committed to the state only after
 * JetStream has acknowledged every chunk below it, with the chunk count, the last chunk's stream
 * sequence and the SHA-256 of the bytes so far (a hasher's saved state), so any gateway that reads the
 * state can continue the upload. Chunks past the committed point (a PATCH refused by its checksum, a
 * body that failed, a gateway killed mid-PATCH) are deleted by sequence before the next write or the
 * completion. See docs/adr/0009-resumable-uploads.md.
 */
export class ResumableUploadStore {
  private constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** The video bucket (the Object Store the upload becomes an object of). */
    readonly bucket: string,
  ) {}

  /** Opens (creating if needed, idempotently) the state bucket, and the video bucket if it is not there yet. */
  static async open(nc: NatsConnection, subjects: JobSubjects, options: { replicas?: number }): Promise<ResumableUploadStore> {
    const replicas = options.replicas ?? 1;
    const kv = await new Kvm(nc).create(subjects.uploadsBucket, { history: 1, replicas, storage: StorageType.File, description: 'Framewire resumable uploads (tus): state' });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(`OBJ_${subjects.videoBucket}`);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await BlobStore.open(nc, subjects.videoBucket, replicas);
    }
    return new ResumableUploadStore(kv, jetstream(nc), jsm, subjects.videoBucket);
  }

  private get streamName(): string {
    return `OBJ_${this.bucket}`;
  }

  /** The chunk subject of an upload's bytes. */
  chunkSubject(state: Pick<UploadState, 'nuid'>): string {
    return `$O.${this.bucket}.C.${state.nuid}`;
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
      nuid: nuid.next(),
      chunks: 0,
      lastSeq: 0,
      hashState: '',
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
   * Deletes every chunk on the upload's subject stored after its last committed one: what a gateway
   * killed mid-PATCH (or a publish whose ack never came) left behind. Called under the upload's lock
   * before a write and before the completion, so the chunk set is exactly the committed chunks.
   */
  async trimUncommitted(state: UploadState): Promise<number> {
    let deleted = 0;
    for (;;) {
      const last = await this.jsm.streams.getMessage(this.streamName, { last_by_subj: this.chunkSubject(state) }).catch((error: unknown) => {
        if (/no message found|not found/i.test(String(error))) return null;
        throw error;
      });
      if (!last || last.seq <= state.lastSeq) return deleted;
      await this.deleteSeq(last.seq);
      deleted += 1;
    }
  }

  /** The SHA-256 of the committed bytes, as the Object Store's metadata holds it (`SHA-256=<base64url>`). */
  async digestOf(state: UploadState): Promise<string> {
    const hasher = await hasherAt(state);
    return `SHA-256=${Buffer.from(hasher.digest('binary')).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
  }

  /**
   * Appends `body` at `offset` and returns the new offset. Every COMMIT_EVERY_BYTES, and when the body
   * ends or fails, the acknowledged chunks are committed to the state; with a checksum, nothing is
   * committed until the whole body is there and matches it. What was published past the committed
   * point (a mismatch, a failure) is deleted by sequence.
   */
  async append(id: string, offset: number, body: Readable, options: AppendOptions = {}): Promise<number> {
    const current = await this.get(id);
    if (!current) throw new Error(`no upload ${id}`);
    let { state, revision } = current;
    if (state.offset !== offset) throw new UploadStateConflict(id);
    await this.trimUncommitted(state);
    const subject = this.chunkSubject(state);
    const hash = options.sha256 ? createHash('sha256') : null;
    const hasher = await hasherAt(state);
    const headNeeded = state.contentType === null && options.inspectHead ? Math.min(options.headBytes ?? 0, state.length) : 0;
    let head: Buffer = Buffer.from(state.head, 'base64');
    let contentType = state.contentType;
    let received = 0;
    /** Acknowledged so far by this PATCH: bytes, chunks, and the last chunk's sequence. */
    let acked = 0;
    let ackedChunks = 0;
    let ackedLastSeq = state.lastSeq;
    let committedAt = 0;
    let refused = false;
    const published: number[] = [];
    const inFlight: Array<{ ack: Promise<PubAck>; data: Buffer }> = [];
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
      if (acked === committedAt && contentType === state.contentType) return;
      const end = offset + acked;
      const next: UploadState = {
        ...state,
        offset: end,
        chunks: current.state.chunks + ackedChunks,
        lastSeq: ackedLastSeq,
        hashState: Buffer.from(hasher.save()).toString('base64'),
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
      ack.then((a) => published.push(a.seq), () => undefined);
      inFlight.push({ ack, data });
      while (inFlight.length >= PUBLISH_WINDOW) await settleOne();
    };
    const acknowledged = (data: Buffer, seq: number) => {
      hasher.update(data);
      acked += data.length;
      ackedChunks += 1;
      ackedLastSeq = seq;
    };
    const settleOne = async () => {
      const first = inFlight[0]!;
      const { seq } = await first.ack;
      inFlight.shift();
      acknowledged(first.data, seq);
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
      for (const { ack, data } of inFlight.splice(0)) {
        const seq = await ack.then((a) => a.seq, () => null);
        if (seq === null) break;
        acknowledged(data, seq);
      }
      const keep = !hash && !refused && !(error instanceof UploadStateConflict);
      if (keep) await commit().catch(() => undefined);
      // Everything this PATCH published past what it committed goes, by sequence (under the lock, no
      // other writer's chunk is above the committed one; a publish whose ack never came is trimmed
      // before the next write).
      const committedSeq = keep ? state.lastSeq : current.state.lastSeq;
      for (const seq of published.filter((s) => s > committedSeq)) await this.deleteSeq(seq).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The upload's committed bytes, in order, read from its chunks (the completion's structure check
   * reads them; nothing is copied). The count, the size and the SHA-256 are checked as it streams.
   */
  read(state: UploadState): Readable {
    const jsm = this.jsm;
    const stream = this.streamName;
    const subject = this.chunkSubject(state);
    // Batched direct gets, READ_BATCH chunks a request: each batch is asked for when the reader wants
    // more, so nothing outruns a slow reader (an ordered consumer stalled here under load).
    async function* bytes(): AsyncGenerator<Uint8Array> {
      const hash = createHash('sha256');
      let count = 0;
      let size = 0;
      let from = 1;
      while (count < state.chunks) {
        const batch = await jsm.direct.getBatch(stream, { seq: from, next_by_subj: subject, batch: Math.min(READ_BATCH, state.chunks - count) });
        let got = 0;
        for await (const msg of batch) {
          if (msg.seq > state.lastSeq) break;
          got += 1;
          count += 1;
          size += msg.data.length;
          hash.update(msg.data);
          from = msg.seq + 1;
          yield msg.data;
          if (count === state.chunks) break;
        }
        if (got === 0) break;
      }
      if (count !== state.chunks || size !== state.offset) throw new Error(`upload ${state.id}: read ${count} chunks, ${size} bytes; committed ${state.chunks}, ${state.offset}`);
      const expected = Buffer.from(await hasherAt(state).then((h) => h.digest('binary'))).toString('hex');
      if (hash.digest('hex') !== expected) throw new Error(`upload ${state.id}: its chunks do not match the SHA-256 of its committed bytes`);
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Deletes the upload's bytes (its chunk subject). Never for a completed upload: the chunks are its object's. */
  async purgeBytes(state: UploadState): Promise<void> {
    if (state.jobId) return;
    await this.jsm.streams.purge(this.streamName, { filter: this.chunkSubject(state) });
  }

  /** Deletes the upload: its bytes (unless they became the job's object), then its state. */
  async remove(id: string): Promise<void> {
    const found = await this.get(id);
    if (found) await this.purgeBytes(found.state);
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
      await this.purgeBytes(found.state);
      try {
        await this.kv.purge(key, { previousSeq: found.revision });
        removed += 1;
      } catch {
        // Changed since it was read (another gateway swept it, or it was just completed): left for the next sweep.
      }
    }
    return removed;
  }

  private async deleteSeq(seq: number): Promise<void> {
    try {
      await this.jsm.streams.deleteMessage(this.streamName, seq, false);
    } catch (error) {
      // Already gone (another cleanup got there first) is what was wanted.
      if (!/no message found|not found/i.test(String(error))) throw error;
    }
  }
}

/** A SHA-256 hasher at the upload's committed point. */
async function hasherAt(state: UploadState): Promise<IHasher> {
  const hasher = await createSHA256();
  hasher.init();
  if (state.hashState) hasher.load(Buffer.from(state.hashState, 'base64'));
  return hasher;
}

function encode(state: UploadState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

function isKeyToken(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

