import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { jetstream, JetStreamError, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import { isConnectionLossError, streamGone } from '@app/nats';

export interface StoredBlob {
  bucket: string;
  name: string;
  size: number;
  /** Hex SHA-256 of the content, as computed by the Object Store while it stored the chunks. */
  sha256: string;
}

/** An object as the bucket lists it, for the storage sweep. */
export interface BlobEntry {
  name: string;
  size: number;
  /** When the object was stored (its metadata's mtime). */
  storedAt: Date;
}

/** Chunks in the bucket that no object refers to: an upload cut off before its metadata was written. */
export interface OrphanChunks {
  /** The chunk set's id (`$O.<bucket>.C.<nuid>`). */
  nuid: string;
  chunks: number;
  /** When its last chunk was stored. */
  lastAt: Date;
}

/** Chunks already in the bucket that BlobStore.adopt makes an object of. */
export interface AdoptedChunks {
  nuid: string;
  size: number;
  chunks: number;
  /** `SHA-256=<base64url>` of the content, as the Object Store's metadata holds it. */
  digest: string;
  /** The largest chunk's size (the metadata's options.max_chunk_size). */
  maxChunkSize: number;
}

/** What one listing of the bucket found (see BlobStore.survey). */
export interface BucketSurvey {
  objects: BlobEntry[];
  orphans: OrphanChunks[];
}

export class BlobNotFoundError extends Error {
  constructor(
    readonly bucket: string,
    readonly objectName: string,
  ) {
    super(`no object "${objectName}" in bucket ${bucket}`);
    this.name = 'BlobNotFoundError';
  }
}

/**
 * Uploads and artifacts in the NATS Object Store. Content streams through in 128 KiB chunks, each
 * published and acknowledged before the next is read, so memory stays flat whatever the size.
 */
export class BlobStore {
  private constructor(
    readonly bucket: string,
    private store: ObjectStore,
    private readonly js: JetStreamClient,
    /** Creates the bucket (or opens it) with the options it was opened with. */
    private readonly create: () => Promise<ObjectStore>,
    /** The size limit this process owns (the jobs service), or undefined: the bucket keeps its own. */
    private readonly maxBytes?: number,
    /** The copies on a cluster; applied to an existing bucket only by the owner of the size limit. */
    private readonly replicas = 1,
  ) {}

  /**
   * Opens the bucket, creating it if needed. `maxBytes` (NATS_BUCKET_MAX_BYTES; -1: none) is its size
   * limit, applied to an existing bucket too; left out, the bucket keeps the limit it has (only the
   * jobs service, which owns the storage settings, sets it). The bucket discards new data when full,
   * so a put over the limit fails (and purges what it wrote) instead of removing older objects.
   */
  static async open(nc: NatsConnection, bucket: string, replicas = 1, maxBytes?: number): Promise<BlobStore> {
    // A bucket found gone later (NATS lost its data) is made again with these same options.
    const create = () => new Objm(nc).create(bucket, { storage: StorageType.File, replicas, ...(maxBytes !== undefined ? { max_bytes: maxBytes } : {}) });
    const blobs = new BlobStore(bucket, await create(), jetstream(nc), create, maxBytes, replicas);
    await blobs.applySizeLimit();
    return blobs;
  }

  /**
   * Sets the bucket's size limit and its replicas (NATS_STREAM_REPLICAS) to the ones this process owns,
   * if it owns the settings (the jobs service, which passes a size limit) and the bucket has others.
   * Called at open, and by the storage sweep: a bucket that another service made again after NATS
   * lost it has no limit until then, and one made by an older version may have one replica on a cluster.
   */
  async applySizeLimit(): Promise<void> {
    if (this.maxBytes === undefined) return;
    const jsm = await this.js.jetstreamManager();
    const info = await jsm.streams.info(this.streamName);
    const changes = {
      ...(info.config.max_bytes !== this.maxBytes ? { max_bytes: this.maxBytes } : {}),
      ...(info.config.num_replicas !== this.replicas ? { num_replicas: this.replicas } : {}),
    };
    if (Object.keys(changes).length > 0) await jsm.streams.update(this.streamName, changes);
  }

  private get streamName(): string {
    return `OBJ_${this.bucket}`;
  }

  /** Bytes the bucket can still take before its size limit (Infinity without one). */
  async room(): Promise<number> {
    const jsm = await this.js.jetstreamManager();
    const info = await jsm.streams.info(this.streamName);
    return info.config.max_bytes > 0 ? Math.max(0, info.config.max_bytes - info.state.bytes) : Number.POSITIVE_INFINITY;
  }

  /**
   * Stores `source` under `name`. If the source fails midway (a client that aborts, a size limit),
   * the chunks written so far are purged and the error is rethrown: nothing is left behind.
   */
  async put(name: string, source: Readable, contentType: string): Promise<StoredBlob> {
    const h = natsHeaders();
    h.set('Content-Type', contentType);
    const web = Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>;
    const info = await this.writing(() => this.store.put({ name, headers: h }, web));
    return this.describe(info);
  }

  async putBytes(name: string, data: Uint8Array, contentType: string): Promise<StoredBlob> {
    const h = natsHeaders();
    h.set('Content-Type', contentType);
    const info = await this.writing(() => this.store.putBlob({ name, headers: h }, data));
    return this.describe(info);
  }

  /**
   * Makes an object of chunks already in the bucket (a resumable upload writes its bytes as chunks on
   * `$O.<bucket>.C.<nuid>` as they arrive): publishes the metadata a put would write last, with the
   * same fields, content type header and digest form, so every reader sees it as a put object.
   * Idempotent: the metadata is a rollup on its subject, so writing it twice leaves one object.
   */
  async adopt(name: string, chunkSet: AdoptedChunks, contentType: string): Promise<StoredBlob> {
    const h = natsHeaders();
    h.set('Nats-Rollup', 'sub');
    const info = {
      name,
      description: '',
      options: { max_chunk_size: chunkSet.maxChunkSize },
      headers: { 'Content-Type': [contentType] },
      bucket: this.bucket,
      nuid: chunkSet.nuid,
      size: chunkSet.size,
      chunks: chunkSet.chunks,
      mtime: new Date().toISOString(),
      digest: chunkSet.digest,
      deleted: false,
    };
    await this.writing(() => this.js.publish(`$O.${this.bucket}.M.${metaToken(name)}`, JSON.stringify(info), { headers: h }));
    return { bucket: this.bucket, name, size: chunkSet.size, sha256: digestToHex(chunkSet.digest) };
  }

  /**
   * Removes an object's metadata only, leaving its chunks (an adopted object whose job could not be
   * made for a passing reason: the resumable upload still owns the chunks and completes again later).
   */
  async forget(name: string): Promise<void> {
    const jsm = await this.js.jetstreamManager();
    await jsm.streams.purge(this.streamName, { filter: `$O.${this.bucket}.M.${metaToken(name)}` });
  }

  /**
   * A write that fails because the bucket is gone (NATS lost its data, or its stream was deleted)
   * makes the bucket again and fails as NATS being unavailable, so that the caller's retry (a 503 with
   * Retry-After for an upload) succeeds; the service does not need a restart.
   */
  private async writing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      // A timeout or a lost connection says nothing about the bucket, and asking would wait again.
      if (isConnectionLossError(error) || !(await this.bucketGone())) throw error;
      this.store = await this.create();
      throw new JetStreamError(`the object store bucket ${this.bucket} was gone and has been made again; try again`, { cause: error });
    }
  }

  private async bucketGone(): Promise<boolean> {
    return streamGone(await this.js.jetstreamManager(), this.streamName);
  }

  async info(name: string): Promise<StoredBlob | null> {
    const info = await this.store.info(name);
    return info && !info.deleted ? this.describe(info) : null;
  }

  /** Streams an object into a file and checks its digest on the way. */
  async downloadToFile(name: string, path: string): Promise<StoredBlob> {
    const info = await this.store.info(name);
    if (!info || info.deleted) throw new BlobNotFoundError(this.bucket, name);
    await pipeline(this.read(info), createWriteStream(path));
    return this.describe(info);
  }

  /**
   * Streams an object, or only bytes `range.start` to `range.end` (inclusive) of it. The Object Store
   * has no range reads: the chunks before the range are read and dropped as they pass (never held),
   * and the read stops once the range is complete.
   */
  async open(name: string, range?: { start: number; end: number }): Promise<{ blob: StoredBlob; stream: Readable } | null> {
    const info = await this.store.info(name);
    if (!info || info.deleted) return null;
    const source = this.read(info);
    if (!range) return { blob: this.describe(info), stream: source };
    return { blob: this.describe(info), stream: sliceStream(source, range.start, range.end) };
  }

  /**
   * An object's content, read with an ordered consumer on its chunk subject, a window of chunks in
   * flight: several times faster than the client's own get, which asks for them with little
   * flow-control room. The chunk count, the size and the SHA-256 digest are checked as it streams:
   * a mismatch fails the stream instead of ending it.
   */
  private read(info: ObjectInfo): Readable {
    const js = this.js;
    const stream = `OBJ_${this.bucket}`;
    const subject = `$O.${this.bucket}.C.${info.nuid}`;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (info.chunks === 0) {
        if (info.size !== 0) throw new Error(`object ${info.name} has no chunks but ${info.size} bytes`);
        return;
      }
      const consumer = await js.consumers.get(stream, { filter_subjects: subject });
      const messages = await consumer.consume({ max_messages: 256 });
      const hash = createHash('sha256');
      let count = 0;
      let size = 0;
      try {
        for await (const msg of messages) {
          count += 1;
          size += msg.data.length;
          hash.update(msg.data);
          yield msg.data;
          if (count === info.chunks) break;
        }
      } finally {
        await messages.close().catch(() => undefined);
        // An ordered consumer outlives its reader by 5 minutes on the server unless deleted: a worker
        // reading many uploads would pile them up until the server refuses more (it said "maximum
        // consumers limit reached" at 1000 on the bucket's stream in the 2000-job chaos run).
        await consumer.delete().catch(() => undefined);
      }
      if (count !== info.chunks || size !== info.size) throw new Error(`object ${info.name}: read ${count} chunks, ${size} bytes; expected ${info.chunks}, ${info.size}`);
      if (hash.digest('hex') !== digestToHex(info.digest)) throw new Error(`object ${info.name}: its content does not match its SHA-256 digest`);
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /** Deletes an object; deleting one that is not there is not an error. True when there was one to delete. */
  async delete(name: string): Promise<boolean> {
    const info = await this.store.info(name);
    if (!info || info.deleted) return false;
    await this.store.delete(name);
    return true;
  }

  /** Names of the objects that exist now (for tests and orphan checks). */
  async names(): Promise<string[]> {
    const list = await this.store.list();
    return list.filter((info) => !info.deleted).map((info) => info.name);
  }

  /**
   * The whole bucket in one pass, for the storage sweep: every object that exists now (with when it
   * was stored), and the chunk sets that no object's metadata refers to whose last chunk is older than
   * `orphansBefore`. An Object Store put writes the chunks first and the metadata last, so a writer
   * killed midway (a gateway that crashed during an upload) leaves chunks without metadata that
   * nothing will ever read or remove. An upload in progress keeps adding chunks, so its last chunk is
   * always recent. The metadata is listed once and serves both answers.
   */
  async survey(orphansBefore: Date): Promise<BucketSurvey> {
    const jsm = await this.js.jetstreamManager();
    const chunkPrefix = `$O.${this.bucket}.C.`;
    // Chunk subjects first, then the metadata: a put that completes in between has its metadata seen.
    const info = await jsm.streams.info(this.streamName, { subjects_filter: `${chunkPrefix}>` });
    const listed = (await this.store.list()).filter((o) => !o.deleted);
    const referenced = new Set(listed.map((o) => o.nuid));
    const orphans: OrphanChunks[] = [];
    for (const [subject, chunks] of Object.entries(info.state.subjects ?? {})) {
      const nuid = subject.slice(chunkPrefix.length);
      if (referenced.has(nuid)) continue;
      const last = await jsm.direct.getMessage(this.streamName, { last_by_subj: subject });
      if (!last || last.time >= orphansBefore) continue;
      orphans.push({ nuid, chunks, lastAt: last.time });
    }
    const objects = listed.map((o) => ({ name: o.name, size: o.size, storedAt: new Date(o.mtime) }));
    return { objects, orphans };
  }

  /** Removes one chunk set by its subject (the storage sweep's repair of an upload cut off midway). */
  async purgeChunks(nuid: string): Promise<number> {
    const jsm = await this.js.jetstreamManager();
    const { purged } = await jsm.streams.purge(this.streamName, { filter: `$O.${this.bucket}.C.${nuid}` });
    return purged;
  }

  private describe(info: ObjectInfo): StoredBlob {
    return { bucket: this.bucket, name: info.name, size: info.size, sha256: digestToHex(info.digest) };
  }
}

/** Bytes start..end (inclusive) of `source`, read in order; the source is closed once they are through. */
function sliceStream(source: Readable, start: number, end: number): Readable {
  let offset = 0;
  const out = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    const from = Math.max(0, start - offset);
    const to = Math.min(chunk.length, end + 1 - offset);
    offset += chunk.length;
    if (to > from && !out.write(chunk.subarray(from, to))) {
      source.pause();
      out.once('drain', () => source.resume());
    }
    if (offset > end) {
      out.end();
      source.destroy();
    }
  });
  source.on('end', () => out.end());
  source.on('error', (error) => out.destroy(error));
  out.on('close', () => source.destroy());
  return out;
}

/** `SHA-256=<base64url>` as the Object Store writes it, to lower-case hex. */
export function digestToHex(digest: string): string {
  const encoded = digest.replace(/^SHA-256=/i, '');
  return Buffer.from(encoded, 'base64url').toString('hex');
}

/** An object name as its metadata subject's last token: base64url, padded (as @nats-io/obj names it). */
function metaToken(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
