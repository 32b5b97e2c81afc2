import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Server as TusServer } from '@tus/server';
import { ERRORS, type Upload } from '@tus/utils';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { ErrorCode, type JobSubjects } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { JOB_SUBJECTS, NATS_CONNECTION, START_UNAVAILABLE_MS, whileNatsUnavailable, type NatsConnection } from '@app/nats';
import { Clock, IdGenerator } from '@app/runtime';
import { ToolCatalog } from '@app/tools';
import { ApiError, statusOf } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { checkFieldsSoFar, parseSubmissionFields, SubmitJobService } from '../jobs/submit-job.service.js';
import { judgeHead } from '../uploads/media-guard.js';
import { SNIFF_BYTES } from '../uploads/media-sniffer.js';
import { sanitizeFilename } from '../uploads/multipart-reader.js';
import { KvUploadLocker } from './kv-upload.locker.js';
import { CHUNK_BYTES, ChecksumMismatchError, ResumableUploadStore } from './resumable-upload.store.js';
import { TusDataStore, type UploadRequestContext } from './tus-data.store.js';
import { parseChecksumHeader, submissionKeyOf, submissionOf, UploadStateConflict, type UploadState } from './upload-state.js';

export const UPLOADS_PATH = '/v1/uploads';
/** The response header that names the job a completed upload made (final PATCH, and HEAD afterwards). */
export const JOB_ID_HEADER = 'Framewire-Job-Id';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** One tus request as the controller hands it over: who asks, and the raw request and response. */
export interface TusCall {
  req: IncomingMessage;
  res: ServerResponse;
  tenant: string;
  correlationId: string;
}

/**
 * Resumable uploads (tus 1.0.0 with creation, creation-with-upload, termination, expiration and
 * checksum): @tus/server speaks the protocol, over a store of our own on JetStream (state in a KV
 * bucket, bytes as chunks in the video bucket) and a KV locker, so any gateway continues any upload.
 * When the last byte is committed, the upload becomes a job exactly as POST /v1/jobs makes one:
 * SubmitJobService reads its chunks through the same sniffing and structure check, adopts them as
 * the object (its metadata is published over them: no copy) and appends VideoSubmitted, under an idempotency key of the upload's, so that a retried final PATCH
 * or another gateway finishing the same upload finds the same job.
 */
@Injectable()
export class ResumableUploadsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ResumableUploadsService.name);
  private readonly requests = new AsyncLocalStorage<UploadRequestContext & { correlationId: string }>();
  private store!: ResumableUploadStore;
  private tus!: TusServer;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly submitJob: SubmitJobService,
    private readonly catalog: ToolCatalog,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async onModuleInit(): Promise<void> {
    const replicas = this.config.NATS_STREAM_REPLICAS;
    this.store = await whileNatsUnavailable(() => ResumableUploadStore.open(this.nc, this.subjects, { replicas }), { timeoutMs: START_UNAVAILABLE_MS });
    const locker = await whileNatsUnavailable(() => KvUploadLocker.open(this.nc, this.subjects, replicas), { timeoutMs: START_UNAVAILABLE_MS });
    const context = () => {
      const current = this.requests.getStore();
      if (!current) throw new Error('a tus store call outside of a request');
      return current;
    };
    const datastore = new TusDataStore(this.store, context, this.clock, this.ids, this.config.UPLOAD_EXPIRES_MS, { inspectHead, headBytes: SNIFF_BYTES });
    this.tus = new TusServer({
      path: UPLOADS_PATH,
      datastore,
      locker,
      relativeLocation: true,
      maxSize: this.config.MAX_UPLOAD_BYTES,
      // CORS is the gateway's (CORS_ORIGINS); the tus server must not answer `*` of its own.
      allowedOrigins: this.config.CORS_ORIGINS,
      exposedHeaders: [JOB_ID_HEADER],
      namingFunction: () => datastore.newId(),
      onUploadCreate: async (_req, upload) => this.checkCreation(upload),
      onUploadFinish: async (_req, upload) => {
        const { tenant, correlationId } = context();
        const jobId = await this.complete(upload.id, tenant, correlationId);
        return { headers: { [JOB_ID_HEADER]: jobId } };
      },
      onResponseError: (_req, error) => this.errorResponse(error),
    });
    this.sweeper = setInterval(() => void this.sweep().catch((error: unknown) => this.logger.warn(`the sweep of expired uploads failed (the next one tries again): ${String(error)}`)), this.config.UPLOAD_SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** Serves one tus request (POST, HEAD, PATCH, DELETE, OPTIONS) for `call.tenant`. */
  async handle(call: TusCall): Promise<void> {
    const checksum = parseChecksumHeader(firstHeader(call.req.headers['upload-checksum']));
    if (checksum.kind === 'unsupported' || checksum.kind === 'malformed') {
      throw new ApiError(ErrorCode.BadRequest, checksum.kind === 'unsupported' ? `checksum algorithm "${checksum.algorithm.slice(0, 32)}" is not supported: use sha256` : 'Upload-Checksum must be "sha256 <base64 digest>"');
    }
    const context: UploadRequestContext & { correlationId: string } = { tenant: call.tenant, correlationId: call.correlationId };
    if (checksum.kind === 'sha256') context.sha256 = checksum.digest;
    await this.requests.run(context, async () => {
      if (call.req.method === 'HEAD') await this.headExtras(call);
      const response = await this.tus.handleWeb(new NodeRequest({ req: call.req, res: call.res }));
      if (response.status >= 400 && response.body !== null) response.headers.set('Content-Type', 'application/json; charset=utf-8');
      if (call.req.method === 'OPTIONS') response.headers.set('Tus-Checksum-Algorithm', 'sha256');
      await sendNodeResponse(call.res, response);
    });
  }

  /** The upload's state as its tenant sees it (null: none, or another tenant's). */
  async find(id: string, tenant: string): Promise<UploadState | null> {
    const found = await this.store.get(id);
    return found && found.state.tenant === tenant ? found.state : null;
  }

  /** Deletes every expired upload now (the periodic sweep; tests call it too). */
  async sweep(): Promise<number> {
    const removed = await this.store.sweep(this.clock.now());
    if (removed > 0) this.logger.log({ removed }, 'expired resumable uploads deleted');
    return removed;
  }

  /**
   * Makes the job of a completed upload, once: with the job id recorded in its state, the bytes are
   * deleted. Called by the final PATCH, and by HEAD for an upload whose last byte was committed by a
   * gateway that died before it made the job.
   */
  async complete(id: string, tenant: string, correlationId: string): Promise<string> {
    const found = await this.store.get(id);
    if (!found || found.state.tenant !== tenant) throw new ApiError(ErrorCode.UploadNotFound, 'no such upload');
    const { state } = found;
    if (state.jobId) return state.jobId;
    if (state.offset !== state.length) throw new ApiError(ErrorCode.UploadOffsetMismatch, 'the upload is not complete');
    // The object is exactly the committed chunks: any a dead gateway left past them go first.
    await this.store.trimUncommitted(state);
    const digest = await this.store.digestOf(state);
    const submission = submissionOf(state.metadata);
    if ('unknownKey' in submission) throw new ApiError(ErrorCode.ValidationFailed, `unknown Upload-Metadata key "${submission.unknownKey}"`);
    let jobId: string;
    try {
      const result = await this.submitJob.submit({
        source: async (sink) => {
          const file = await sink({
            stream: this.store.read(state),
            filename: sanitizeFilename(submission.filename),
            contentType: state.contentType ?? 'application/octet-stream',
            fieldsBefore: submission.fields,
            // Already in the video bucket: adopted as the object, not copied.
            stored: { objectId: id, nuid: state.nuid, size: state.offset, chunks: state.chunks, digest, maxChunkSize: CHUNK_BYTES },
          });
          return { fields: submission.fields, file };
        },
        tenant,
        idempotencyKey: submissionKeyOf(id, submission.idempotencyKey),
        correlationId,
      });
      jobId = result.job_id;
    } catch (error) {
      // Another gateway finished it first.
      const now = await this.store.get(id);
      if (now?.state.jobId) return now.state.jobId;
      // A refusal of the content or the fields is final: the upload goes, bytes and all.
      if (error instanceof ApiError && statusOf(error.code) < 500 && statusOf(error.code) !== 429) await this.store.remove(id).catch(() => undefined);
      throw error;
    }
    await this.recordJob(id, jobId);
    return jobId;
  }

  private async recordJob(id: string, jobId: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const found = await this.store.get(id);
      if (!found || found.state.jobId) break;
      try {
        await this.store.put({ ...found.state, jobId, head: '' }, found.revision);
        break;
      } catch (error) {
        if (!(error instanceof UploadStateConflict)) throw error;
      }
    }
  }

  /** HEAD of a completed upload: its job (made now if the gateway that took the last byte died first). */
  private async headExtras(call: TusCall): Promise<void> {
    const id = (call.req.url ?? '').split('?')[0]!.split('/').pop() ?? '';
    const state = await this.find(id, call.tenant).catch(() => null);
    if (!state || state.offset !== state.length || state.length === 0) return;
    const jobId = state.jobId ?? (await this.complete(id, call.tenant, call.correlationId).catch(() => null));
    if (jobId) call.res.setHeader(JOB_ID_HEADER, jobId);
  }

  /** Refuses at creation what would be refused at the end: unknown metadata, bad fields, no room. */
  private async checkCreation(upload: Upload): Promise<{ metadata?: Upload['metadata'] }> {
    const submission = submissionOf(upload.metadata);
    if ('unknownKey' in submission) {
      throw new ApiError(ErrorCode.ValidationFailed, `unknown Upload-Metadata key "${submission.unknownKey.slice(0, 64)}"; known: filename, pipeline, params, priority, idempotency_key`);
    }
    if (submission.idempotencyKey !== null && !IDEMPOTENCY_KEY.test(submission.idempotencyKey)) {
      throw new ApiError(ErrorCode.InvalidIdempotencyKey, 'idempotency_key must be 1-255 visible ASCII characters');
    }
    checkFieldsSoFar(submission.fields, this.catalog);
    parseSubmissionFields(submission.fields, this.catalog);
    if (upload.size === 0) throw new ApiError(ErrorCode.EmptyFile, 'the upload is empty (Upload-Length: 0)');
    await this.submitJob.assertRoomFor(upload.size ?? 0, 0);
    return {};
  }

  /** Every error as the API's JSON body, with its status (tus's own errors get a code of their status). */
  private errorResponse(reported: Error | { status_code: number; body: string }): { status_code: number; body: string } {
    // The store's own failure, which the stream pipeline around it reports as an abort.
    const error = this.requests.getStore()?.failure ?? reported;
    const json = (code: ErrorCode, message: string, status = statusOf(code)) => ({ status_code: status, body: JSON.stringify({ error: { code, message } }) });
    if (error instanceof ApiError) return json(error.code, error.message);
    if (error instanceof ChecksumMismatchError) return json(ErrorCode.ChecksumMismatch, 'the body does not match its Upload-Checksum: none of it was kept');
    if (error instanceof UploadStateConflict) return json(ErrorCode.UploadOffsetMismatch, 'the upload was moved on by another request: HEAD it and resume from its Upload-Offset');
    if ('status_code' in error) {
      const message = error.body.trim();
      const code: Record<number, ErrorCode> = {
        400: ErrorCode.BadRequest,
        403: ErrorCode.Forbidden,
        404: ErrorCode.UploadNotFound,
        409: ErrorCode.UploadOffsetMismatch,
        410: ErrorCode.UploadExpired,
        412: ErrorCode.BadRequest,
        413: ErrorCode.PayloadTooLarge,
        415: ErrorCode.UnsupportedContentType,
        460: ErrorCode.ChecksumMismatch,
      };
      if (error === ERRORS.ABORTED) return json(ErrorCode.ClientClosedRequest, message);
      return json(code[error.status_code] ?? (error.status_code >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest), message, error.status_code);
    }
    this.logger.error(error, 'a resumable upload request failed');
    return json(ErrorCode.Internal, 'internal error');
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The upload's first bytes decide what it is, as POST /v1/jobs decides it, before more is stored. */
function inspectHead(head: Buffer): string {
  return judgeHead(head).contentType;
}
