import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/utils';
import { inSpan, SpanKind, TraceAttr, tracingActive } from '@app/observability';
import type { Clock, IdGenerator } from '@app/runtime';
import { ApiError } from '../http/api-error.js';
import { ChecksumMismatchError, type AppendOptions, type ResumableUploadStore } from './resumable-upload.store.js';
import { UploadStateConflict, type UploadState } from './upload-state.js';

/** Who is asking, for the request the store serves now (an AsyncLocalStorage around each tus request). */
export interface UploadRequestContext {
  tenant: string;
  /** The PATCH's Upload-Checksum digest (base64 sha256), if it had one. */
  sha256?: string;
  /** Why the store failed this request's write (the stream pipeline around it reports an abort instead). */
  failure?: Error;
}

/**
 * @tus/server's view of ResumableUploadStore: the tus handlers call these, and every one acts for the
 * current request's tenant only: another tenant's upload is not found (404), like a missing one.
 */
export class TusDataStore extends DataStore {
  override extensions = ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum'];

  constructor(
    private readonly uploads: ResumableUploadStore,
    private readonly context: () => UploadRequestContext,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly expiresMs: number,
    private readonly appendOptions: Pick<AppendOptions, 'inspectHead' | 'headBytes'>,
  ) {
    super();
  }

  /** An upload id: a UUIDv7, which is a KV key and a subject token. */
  newId(): string {
    return this.ids.next();
  }

  override async create(upload: Upload): Promise<Upload> {
    const createdAt = this.clock.now();
    await this.uploads.create({
      id: upload.id,
      tenant: this.context().tenant,
      length: upload.size ?? 0,
      metadata: upload.metadata ?? {},
      createdAt,
      expiresAt: new Date(createdAt.getTime() + this.expiresMs),
    });
    upload.creation_date = createdAt.toISOString();
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const state = await this.visible(id);
    return new Upload({ id, size: state.length, offset: state.offset, metadata: state.metadata, creation_date: state.createdAt });
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    await this.visible(id);
    const { sha256 } = this.context();
    try {
      const append = () => this.uploads.append(id, offset, stream, { ...this.appendOptions, ...(sha256 ? { sha256 } : {}) });
      return await (tracingActive() ? traceAppend(id, offset, append) : append());
    } catch (error) {
      if (error instanceof ApiError || error instanceof UploadStateConflict || error instanceof ChecksumMismatchError) this.context().failure = error;
      // The first bytes were refused (not a video container): the upload can never become a job.
      if (error instanceof ApiError) await this.uploads.remove(id).catch(() => undefined);
      throw error;
    }
  }

  override async remove(id: string): Promise<void> {
    await this.visible(id);
    await this.uploads.remove(id);
  }

  override getExpiration(): number {
    return this.expiresMs;
  }

  override async deleteExpired(): Promise<number> {
    return this.uploads.sweep(this.clock.now());
  }

  private async visible(id: string): Promise<UploadState> {
    const found = await this.uploads.get(id);
    if (!found || found.state.tenant !== this.context().tenant) throw ERRORS.FILE_NOT_FOUND;
    return found.state;
  }
}

/**
 * One request's bytes of a resumable upload into the bucket, as an `upload chunk` span: the upload,
 * where the bytes started and how many were stored. The job is not known yet (the last byte makes
 * it, under its own `upload video` span).
 */
async function traceAppend(id: string, offset: number, append: () => Promise<number>): Promise<number> {
  return inSpan('upload chunk', { kind: SpanKind.INTERNAL, attributes: { [TraceAttr.uploadId]: id, [TraceAttr.uploadOffset]: offset } }, async (span) => {
    const end = await append();
    span.setAttribute(TraceAttr.uploadBytes, end - offset);
    return end;
  });
}
